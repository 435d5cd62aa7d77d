"""PostgreSQL restarted while the app runs: the action caught in the restart fails with a
French message (``DatabaseUnavailable``) and writes nothing; while the server refuses
connections every action says so; once it is back the next action works on the same
``Database`` (the pool drops its dead connections, ``pool_pre_ping`` checks the others),
without restarting the app. A bug in a page shows French too, never a traceback.

The restart is simulated on this test session's own database only (the server is shared):
``ALTER DATABASE … ALLOW_CONNECTIONS false`` then ``pg_terminate_backend`` on its backends,
from an admin connection to ``postgres`` – what clients see of a restart: their connections
killed (``terminating connection due to administrator command``), new ones refused until
the server is back (``ALLOW_CONNECTIONS true``). To cut an action between two of its
statements, a SQLAlchemy event listener on the engine does it just before the statement.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from registre import dossiers, queries
from registre.db import Database, get_database
from registre.errors import (
    DATABASE_CUT_AT_COMMIT,
    DATABASE_UNREACHABLE,
    DATABASE_UNREACHABLE_WRITE,
    DatabaseUnavailable,
)
from registre.models import Dossier, DossierState, LineState
from registre.web.actions import UNEXPECTED_ACTION, UNEXPECTED_PAGE

from . import apptest_helpers
from .apptest_helpers import REFUS, button, click, errors, line_id, open_page, page_text, widget
from .conftest import PG_URL
from .readers import counts, lines_of, load

app_env = apptest_helpers.app_env  # the fixture

# PostgreSQL's restart has no SQLite counterpart (tests/test_fault_sqlite.py has its faults):
# these run in the PostgreSQL pass of the suite (« make test-pg », which CI runs too).
postgres_only = pytest.mark.skipif(
    not PG_URL, reason="Redémarrage de PostgreSQL : testé par « make test-pg » (CI comprise)."
)

_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


class Outage:
    """The server of this test session's database going down and coming back, as its clients
    see it; only this database is touched."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.name = parsed.database
        self.admin = create_engine(
            parsed.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
        )

    def down(self) -> None:
        """New connections refused, every open one killed (waiting until each backend ended)."""
        with self.admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": self.name},
            )

    def up(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true'))

    def restart(self) -> None:
        """A quick restart: everything open is killed, the next connection is accepted."""
        self.down()
        self.up()


@pytest.fixture
def outage(database_url: str) -> Iterator[Outage]:
    out = Outage(database_url)
    try:
        yield out
    finally:
        out.up()  # whatever the test did, the database is back for the next ones
        out.admin.dispose()


@contextmanager
def cut_mid_transaction(engine: Engine, cut: Callable[[], None]) -> Iterator[dict[str, int]]:
    """Call ``cut`` once, just before the second write statement of a transaction (one write
    done, more to come: the middle of the action). Yields ``{"writes": n}``, the writes the
    cut transaction had sent."""
    seen = {"writes": 0}
    state = {"writes": 0, "cut": 0}

    def begin(conn: Any) -> None:
        state["writes"] = 0

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not _WRITE.match(statement) or state["cut"]:
            return
        if state["writes"] == 1:
            state["cut"] = 1
            seen["writes"] = state["writes"]
            cut()
        state["writes"] += 1

    event.listen(engine, "begin", begin)
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "begin", begin)


@contextmanager
def cut_at_commit(engine: Engine, cut: Callable[[], None]) -> Iterator[None]:
    """Call ``cut`` just before the first COMMIT is sent."""
    done: list[bool] = []

    def before_commit(conn: Any) -> None:
        if not done:
            done.append(True)
            cut()

    event.listen(engine, "commit", before_commit)
    try:
        yield
    finally:
        event.remove(engine, "commit", before_commit)


def _logged(caplog: pytest.LogCaptureFixture, *parts: str) -> bool:
    return any(
        r.name == "registre.db" and all(p in r.getMessage() for p in parts) for r in caplog.records
    )


# --- registre level -------------------------------------------------------------------------


def _create(world, _dossier_id):
    return dossiers.create_draft(world.db, world.actor("declarant_req"), world.dossier_input())


def _finalise(world, dossier_id):
    return dossiers.finalise(world.db, world.actor("declarant_req"), dossier_id)


def _answer(world, dossier_id):
    return dossiers.answer(
        world.db,
        world.actor("coordinateur_ref"),
        dossier_id,
        line_id(world, dossier_id),
        dossiers.AnswerInput(
            understood_motif_id=world.request_motif["Avis spécialisé"],
            refusal_motif_id=world.refusal_motif["Absence de praticien disponible"],
        ),
    )


ACTIONS = {"create": _create, "finalise": _finalise, "answer": _answer}


def _prepare(world, action: str) -> int | None:
    if action == "create":
        return None
    if action == "finalise":
        return world.draft(lines=("ref",), final_destination_id=_destination(world)).id
    return world.finalised().id


def _destination(world) -> int:
    return world.destination["Retour à domicile"]


def _outcome(world, dossier_id: int | None) -> tuple[Any, ...]:
    """What an action may change of its dossier (a creation: the dossiers themselves)."""
    if dossier_id is None:
        return tuple(d.number for d in _all_dossiers(world))
    dossier = load(world, dossier_id)
    return (
        dossier.state,
        dossier.version,
        dossier.finalised_at,
        [
            (ln.state, ln.answered_at, ln.answer_refusal_motif_id)
            for ln in lines_of(world, dossier_id)
        ],
    )


def _all_dossiers(world) -> list[Dossier]:
    with world.db.read() as s:
        return list(s.scalars(select(Dossier).order_by(Dossier.id)))


@postgres_only
@pytest.mark.postgres
@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("server", ["restarted", "still down"])
def test_an_action_cut_by_a_restart_writes_nothing_then_the_next_one_works(
    world, outage, caplog, action, server
):
    dossier_id = _prepare(world, action)
    before_counts, before = counts(world), _outcome(world, dossier_id)
    cut = outage.restart if server == "restarted" else outage.down
    with (
        cut_mid_transaction(world.db.engine, cut) as cut_after,
        pytest.raises(DatabaseUnavailable) as caught,
    ):
        ACTIONS[action](world, dossier_id)
    assert cut_after["writes"] == 1  # cut in the middle: one write sent, the next one not
    assert caught.value.message == DATABASE_UNREACHABLE_WRITE
    assert _logged(caplog, "écriture", "AdminShutdown", "terminating connection")
    if server == "still down":
        with pytest.raises(DatabaseUnavailable) as refused:
            ACTIONS[action](world, dossier_id)
        # (the answer reads its line first: the refusal comes from that read)
        assert refused.value.message in (DATABASE_UNREACHABLE, DATABASE_UNREACHABLE_WRITE)
        assert _logged(caplog, "not currently accepting connections")
        outage.up()
    # Nothing of the cut action is in the database: no row, no state change, no number.
    assert counts(world) == before_counts
    assert _outcome(world, dossier_id) == before
    # Back: the same Database object serves the next action, no restart of the app.
    ACTIONS[action](world, dossier_id)
    if action == "create":
        assert [d.number for d in _all_dossiers(world)] == ["R-2026-000001"]  # none consumed
    elif action == "finalise":
        assert load(world, dossier_id).state is DossierState.FINALISED
    else:
        assert [ln.state for ln in lines_of(world, dossier_id)] == [LineState.ANSWERED]


@postgres_only
@pytest.mark.postgres
def test_a_restart_at_the_commit_asks_the_user_to_check(world, outage, caplog):
    """The COMMIT itself cut: the server may or may not have had it, the user is told to
    check (here it had not: the dossier is still a draft, and can be finalised)."""
    draft = world.draft(lines=("ref",), final_destination_id=_destination(world))
    before = counts(world)
    with (
        cut_at_commit(world.db.engine, outage.restart),
        pytest.raises(DatabaseUnavailable) as caught,
    ):
        _finalise(world, draft.id)
    assert caught.value.message == DATABASE_CUT_AT_COMMIT
    assert _logged(caplog, "pendant le COMMIT", "AdminShutdown")
    assert counts(world) == before
    assert load(world, draft.id).state is DossierState.DRAFT
    assert _finalise(world, draft.id).state is DossierState.FINALISED


@postgres_only
@pytest.mark.postgres
def test_while_the_server_refuses_connections_reads_and_writes_say_so(world, outage, caplog):
    draft = world.draft(lines=("ref",))
    actor = world.actor("declarant_req")
    before = counts(world)
    outage.down()
    with pytest.raises(DatabaseUnavailable) as read:
        queries.get_dossier(world.db, actor, dossier_id=draft.id)
    assert read.value.message == DATABASE_UNREACHABLE
    with pytest.raises(DatabaseUnavailable) as write:
        dossiers.create_draft(world.db, actor, world.dossier_input())
    assert write.value.message == DATABASE_UNREACHABLE_WRITE
    assert _logged(caplog, "lecture", "not currently accepting connections")
    assert _logged(caplog, "écriture", "not currently accepting connections")
    outage.up()
    assert counts(world) == before
    assert queries.get_dossier(world.db, actor, dossier_id=draft.id).state is DossierState.DRAFT
    dossiers.create_draft(world.db, actor, world.dossier_input())
    assert counts(world)["dossiers"] == before["dossiers"] + 1


@postgres_only
@pytest.mark.postgres
def test_connections_idle_in_the_pool_through_a_restart_are_replaced(world, outage):
    with world.db.read() as s:
        assert s.execute(text("SELECT 1")).scalar() == 1
    outage.restart()  # the pooled connection is dead now
    with world.db.read() as s:
        assert s.execute(text("SELECT 1")).scalar() == 1


# --- page level -----------------------------------------------------------------------------


def _refus_with_destination(world, draft_id: int):
    app = open_page(REFUS, "declarant-req", id=str(draft_id))
    widget(app.selectbox, "Destination finale du patient").select(_destination(world))
    return app


def _app_database(database_url: str) -> Database:
    """The app's own Database object (one per URL for the process: the pages' pool)."""
    return get_database(database_url)


@postgres_only
@pytest.mark.postgres
def test_a_page_action_cut_by_a_restart_shows_french_then_the_next_click_works(
    app_env, outage, database_url
):
    world = app_env
    draft = world.draft(lines=("ref",))
    app = _refus_with_destination(world, draft.id)
    with cut_mid_transaction(_app_database(database_url).engine, outage.restart) as cut_after:
        app = click(app, "Finaliser le dossier")
    assert cut_after["writes"] == 1
    assert not app.exception, app.exception
    assert errors(app) == [DATABASE_UNREACHABLE_WRITE]
    assert "Traceback" not in page_text(app) and "psycopg" not in page_text(app)
    assert load(world, draft.id).state is DossierState.DRAFT
    assert counts(world)["outbox"] == 0
    # The same session, the same form: the user clicks again and it works.
    app = click(app, "Finaliser le dossier")
    assert not app.exception, app.exception
    assert errors(app) == []
    assert load(world, draft.id).state is DossierState.FINALISED
    assert [s.value for s in app.success] == [
        f"Dossier {draft.number} finalisé : les établissements refuseurs sont informés par mail."
    ]


@postgres_only
@pytest.mark.postgres
def test_a_page_action_while_the_server_is_down_shows_french_then_works_once_back(app_env, outage):
    world = app_env
    draft = world.draft(lines=("ref",))
    app = _refus_with_destination(world, draft.id)
    outage.down()
    app = click(app, "Finaliser le dossier")
    # The run stops at the first read (the gate reloads the account): a French error only.
    assert not app.exception, app.exception
    assert errors(app) == [DATABASE_UNREACHABLE]
    assert "Traceback" not in page_text(app) and "psycopg" not in page_text(app)
    outage.up()
    app = _finalise_again(app, world)
    assert not app.exception, app.exception
    assert load(world, draft.id).state is DossierState.FINALISED


def _finalise_again(app, world):
    """The user reloads the page (the same browser session) and finalises again."""
    app.run()
    assert not app.exception, app.exception
    assert app.query_params.get("id") is not None
    widget(app.selectbox, "Destination finale du patient").select(_destination(world))
    return click(app, "Finaliser le dossier")


# --- a bug, on any database -----------------------------------------------------------------


def _boom(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("boom: détail interne, table secrète")


def _logged_traceback(caplog: pytest.LogCaptureFixture) -> bool:
    return any(
        r.name == "registre.web.actions"
        and r.levelno == logging.ERROR
        and r.exc_info is not None
        and "boom" in str(r.exc_info[1])
        for r in caplog.records
    )


def test_a_bug_while_a_page_renders_shows_french_not_a_traceback(app_env, monkeypatch, caplog):
    monkeypatch.setattr(queries, "count_awaiting_answers", _boom)
    app = apptest_helpers.logged_in("declarant-req").run()
    assert not app.exception, app.exception
    assert errors(app) == [UNEXPECTED_PAGE]
    assert "boom" not in page_text(app) and "RuntimeError" not in page_text(app)
    assert _logged_traceback(caplog)


def test_a_bug_in_an_action_shows_french_and_the_page_stays(app_env, monkeypatch, caplog):
    world = app_env
    draft = world.draft(lines=("ref",))
    app = _refus_with_destination(world, draft.id)
    monkeypatch.setattr(dossiers, "finalise", _boom)
    app = click(app, "Finaliser le dossier")
    assert not app.exception, app.exception
    assert errors(app) == [UNEXPECTED_ACTION]
    assert "boom" not in page_text(app)
    assert _logged_traceback(caplog)
    button(app, "Finaliser le dossier")  # the rest of the page is there
    assert load(world, draft.id).state is DossierState.DRAFT
