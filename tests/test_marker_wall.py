"""The confidentiality wall from every side (issue 14): each account reads every path, and no
marker it may not see (``tests/marker_wall.py``: the markers, the world, ``may_see``) is
anywhere in what it gets. Each test also asserts that the markers the account may see do
reach it through some path, so that an empty page cannot pass for a tight wall."""

from __future__ import annotations

import dataclasses
import io
from contextlib import redirect_stdout

import pytest
from sqlalchemy import select

from registre import audit_log, cli, exports, report_statistics, statistics
from registre.models import Account, Establishment, OutboxMail
from registre.permissions import statistics_perspectives
from registre.web.navigation import (
    ACCUEIL,
    ADMIN_COMPTES,
    ADMIN_JOURNAL,
    DOSSIER,
    MON_COMPTE,
    NON_CONFORME,
    REFUS,
    REGISTRE,
    SIGNALEMENT,
    STATISTIQUES,
)

from . import apptest_helpers, marker_wall
from .apptest_helpers import logged_in, page_text
from .marker_wall import MARKERS, OPERATOR, PROBED_ACCOUNTS, Marker, may_see

app_env = apptest_helpers.app_env  # the fixture

MENU_PAGES = (
    ACCUEIL,
    REGISTRE,
    NON_CONFORME,
    STATISTIQUES,
    MON_COMPTE,
    ADMIN_COMPTES,
    ADMIN_JOURNAL,
)


def _username(name: str) -> str:
    return name.replace("_", "-")


def _found(text: str) -> set[Marker]:
    return {m for m in MARKERS if m.text in text}


def _actor(world, name):
    from registre.auth import load_actor

    actor = load_actor(world.db, _username(name))
    assert actor is not None
    return actor


@pytest.fixture
def wall(app_env):
    return app_env, marker_wall.build(app_env)


def _pages(world, records, name: str) -> dict[str, str]:
    """Every page of the account's menu, then every record by its address, in one session
    (as a person clicking through): the text of each run."""
    at = logged_in(_username(name)).run()
    assert not at.exception, at.exception
    seen = {"accueil": page_text(at)}
    targets: list[tuple[str, dict[str, str]]] = [(p, {}) for p in MENU_PAGES[1:]]
    targets += [(DOSSIER, {"numero": d.number}) for d in records["dossiers"]]
    targets += [(REFUS, {"id": str(d.id)}) for d in records["dossiers"]]
    targets += [(SIGNALEMENT, {"numero": r.number}) for r in records["reports"]]
    for page, params in targets:
        try:
            at.switch_page(page)
        except ValueError:
            continue  # not in this role's menu (its guard is tested in test_page_*.py)
        at.query_params.clear()
        at.query_params.update(params)
        at.run()
        assert not at.exception, (page, params, at.exception)
        seen[f"{page} {params}"] = page_text(at)
    return seen


def _exports_and_statistics(world, name: str) -> tuple[str, str]:
    actor = _actor(world, name)
    filters = statistics.default_filters()
    exported, figures = [], []
    for perspective in statistics_perspectives(actor):
        statistics.clear_cache()
        figures.append(repr(statistics.compute(world.db, actor, perspective, filters)))
        figures.append(repr(report_statistics.compute(world.db, actor, perspective, filters)))
        for table in exports.export_tables(world.db, actor, perspective, filters):
            exported.append(exports.to_csv(table).decode("utf-8-sig"))
        table = exports.report_table(world.db, actor, perspective, filters)
        exported.append(exports.to_csv(table).decode("utf-8-sig"))
    return "\n".join(exported), "\n".join(figures)


def _mail_readers(world) -> dict[str, str]:
    """Who reads the mails sent to an address: the account that has it, or for an
    establishment's director address, that establishment's Directeur."""
    readers = {}
    with world.db.read() as s:
        for username, email in s.execute(select(Account.username, Account.email)):
            readers[email] = username.replace("-", "_")
        for key, est_id in world.est.items():
            est = s.get(Establishment, est_id)
            if est is not None and est.director_email:
                readers.setdefault(est.director_email, f"directeur_{key}")
    return readers


def _mails(world) -> dict[str, str]:
    readers = _mail_readers(world)
    texts: dict[str, list[str]] = {}
    with world.db.read() as s:
        for mail in s.scalars(select(OutboxMail)):
            reader = readers.get(mail.recipient)
            assert reader is not None, f"un mail à une adresse inconnue : {mail.recipient}"
            texts.setdefault(reader, []).append(f"{mail.subject}\n{mail.body}")
    return {reader: "\n".join(parts) for reader, parts in texts.items()}


def _leaks(name: str, by_path: dict[str, str]) -> list[tuple[str, str]]:
    return [
        (path, m.text)
        for path, text in by_path.items()
        for m in sorted(_found(text), key=lambda m: m.text)
        if not may_see(name, m)
    ]


@pytest.mark.parametrize("name", PROBED_ACCOUNTS)
def test_no_account_reads_a_marker_it_may_not_see_through_any_path(wall, name):
    world, records = wall
    by_path = {f"page {k}": v for k, v in _pages(world, records, name).items()}
    exported, figures = _exports_and_statistics(world, name)
    by_path["exports"] = exported
    by_path["statistiques"] = figures
    by_path["mails"] = _mails(world).get(name, "")
    assert _leaks(name, by_path) == []
    # The control: what the account may read does reach it (a text replaced by an edit is
    # kept in the audit trail only).
    reached = set().union(*(_found(text) for text in by_path.values()))
    expected = {m for m in MARKERS if may_see(name, m) and m.current}
    assert expected - reached == set(), sorted(m.text for m in expected - reached)


def test_the_audit_journal_and_its_export_show_no_marker_to_the_administrator(wall):
    world, _records = wall
    admin = world.actor("admin")
    filters = audit_log.AuditFilters()
    rows, page = [], 1
    while True:
        listed = audit_log.list_entries(world.db, admin, filters, page=page, page_size=200)
        rows += [repr(dataclasses.asdict(r)) for r in listed.items]
        if page >= listed.pages:
            break
        page += 1
    exported = audit_log.export_csv(world.db, admin, filters).decode("utf-8-sig")
    assert len(rows) > 40  # the world's changes are all there
    leaks = _leaks("admin", {"journal": "\n".join(rows), "journal (CSV)": exported})
    assert leaks == []


def test_the_command_line_lists_the_outbox_without_a_marker(wall, monkeypatch, database_url):
    monkeypatch.setenv("REGISTRE_DATABASE_URL", database_url)
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(["outbox", "--limit", "500"]) == 0
    listed = out.getvalue()
    assert listed.count("@example.org") >= 5  # mails were queued and listed
    assert _leaks(OPERATOR, {"cli": listed}) == []
