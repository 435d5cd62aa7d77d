"""Reading the audit trail (issue 5): the Administrateur filters it by user, action, dossier
and period (Paris days), pages through it latest first, and exports it as CSV (UTF-8 with
BOM, ``;``, oldest first, Paris dates, formula-like cells neutralised).

The entries are produced by the real actions: a login, a dossier created and finalised, an
account created by the administrator; each at a chosen instant of the test clock.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from registre import administration, audit, audit_log, auth, dossiers, exports, queries, reports
from registre.accounts import AccountFields
from registre.audit_log import AuditFilters
from registre.errors import PermissionDenied, ValidationError
from registre.models import Account, AuditEntry, Role

from .factories import NON_ADMINS, PASSWORD

# 01/12 23:30 in Paris (UTC+1), then 00:30 on 02/12, then 10:00 on 02/12.
LOGIN_AT = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)
DOSSIER_AT = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
ACCOUNT_AT = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
CSV_HEADERS = [
    "Date et heure",
    "Utilisateur",
    "Action",
    "Code de l'action",
    "Objet",
    "Identifiant de l'objet",
    "Dossier ou signalement",
    "Détails",
]


@dataclass
class Trail:
    number: str
    dossier_id: int
    account_id: int
    baseline: int  # entries written when the test world was built


def admin(world):
    return world.actor("admin")


def count(world) -> int:
    with world.db.read() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry)) or 0


@pytest.fixture
def trail(world, clock) -> Trail:
    baseline = count(world)
    clock.set(LOGIN_AT)
    assert auth.authenticate(world.db, "declarant-req", PASSWORD).ok
    clock.set(DOSSIER_AT)
    dossier = world.finalised("declarant_req", lines=("ref",))
    clock.set(ACCOUNT_AT)
    saved = administration.create(
        world.db,
        admin(world),
        AccountFields(
            username="nouveau-compte",
            display_name="Nouveau compte",
            email="pdses@foch.example.org",
            role=Role.COORDINATEUR,
            establishment_id=world.est["other"],
        ),
        "provisoire-2026-abc",
    )
    return Trail(dossier.number, dossier.id, saved.id, baseline)


def entries(world, page: int = 1, page_size: int = 200, **filters) -> list:
    return audit_log.list_entries(
        world.db, admin(world), AuditFilters(**filters), page=page, page_size=page_size
    ).items


def actions(rows) -> list[str]:
    return [r.action for r in rows]


def read_csv(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


# --- filters --------------------------------------------------------------------------------


def test_filter_by_user_whatever_the_case(world, trail):
    rows = entries(world, username="  DECLARANT-Req ")
    assert {r.who for r in rows} == {"declarant-req"}
    assert actions(rows) == [
        "dossier_finalised",
        "line_added",
        "dossier_created",
        "login_succeeded",
    ]
    assert actions(entries(world, username="admin")) == ["account_created"]
    assert entries(world, username="personne") == []


def test_filter_by_action(world, trail):
    [login] = entries(world, action="login_succeeded")
    assert (login.who, login.action_label, login.entity) == (
        "declarant-req",
        "Connexion",
        "account",
    )
    assert login.entity_id == world.actor("declarant_req").id
    created = entries(world, action="account_created")
    assert len(created) == trail.baseline + 1  # the world's accounts, then the new one
    assert created[0].entity_id == trail.account_id and created[0].who == "admin"
    assert created[0].action_label == "Compte créé"
    assert {r.who for r in created[1:]} == {"—"}  # created by the command line: no actor


def test_filter_by_dossier_number(world, trail):
    rows = entries(world, dossier_number=f" {trail.number.lower()} ")
    assert actions(rows) == ["dossier_finalised", "line_added", "dossier_created"]
    assert {r.dossier_number for r in rows} == {trail.number}
    assert [r.action_label for r in rows] == [
        "Dossier finalisé",
        "Établissement refuseur ajouté",
        "Dossier créé",
    ]
    assert entries(world, dossier_number="R-1999-000001") == []


def test_filter_by_period_in_paris_days(world, trail):
    # 22:30 UTC on 01/12 is still 01/12 in Paris; 23:30 UTC is already 02/12
    first = entries(world, start=date(2026, 12, 1), end=date(2026, 12, 1))
    assert actions(first) == ["login_succeeded"]
    second = entries(world, start=date(2026, 12, 2), end=date(2026, 12, 2))
    assert actions(second) == [
        "account_created",
        "dossier_finalised",
        "line_added",
        "dossier_created",
    ]
    assert len(entries(world, start=date(2026, 12, 1))) == 5
    assert len(entries(world, end=date(2026, 11, 30))) == trail.baseline
    assert entries(world, start=date(2026, 12, 3)) == []


def test_filters_combine(world, trail):
    rows = entries(
        world,
        username="declarant-req",
        action="dossier_created",
        dossier_number=trail.number,
        start=date(2026, 12, 2),
        end=date(2026, 12, 2),
    )
    assert actions(rows) == ["dossier_created"]
    assert entries(world, username="admin", dossier_number=trail.number) == []


def test_latest_first_and_paginated(world, trail):
    rows = entries(world)
    assert len(rows) == trail.baseline + 5
    assert [(r.at, r.id) for r in rows] == sorted(((r.at, r.id) for r in rows), reverse=True)
    assert rows[0].action == "account_created" and rows[0].at == ACCOUNT_AT
    page = audit_log.list_entries(world.db, admin(world), AuditFilters(), page=2, page_size=2)
    assert (page.page, page.total) == (2, trail.baseline + 5)
    assert [r.id for r in page.items] == [r.id for r in rows[2:4]]
    last = audit_log.list_entries(world.db, admin(world), AuditFilters(), page=999, page_size=2)
    assert last.page == last.pages and last.items == rows[2 * (last.pages - 1) :]


def test_details_are_shown_as_json(world, trail):
    [created] = entries(world, action="account_created", username="admin")
    assert created.details == '{"role": "coordinateur", "username": "nouveau-compte"}'
    [login] = entries(world, action="login_succeeded")
    assert login.details == ""


def test_every_action_written_by_the_code_has_a_label():
    for code in (
        "login_failed",
        "account_locked",
        "password_reset",
        "account_unlocked",
        "reference_deactivated",
        "establishments_imported",
        "document_removed",
        "line_answered",
    ):
        assert audit_log.ACTION_LABELS[code] != code
    codes = [code for code, _label in audit_log.action_choices()]
    assert sorted(codes) == sorted(audit_log.ACTION_LABELS)


@pytest.mark.parametrize("call", ["list_entries", "export_csv"])
def test_a_period_ending_before_it_starts_is_refused(world, call):
    filters = AuditFilters(start=date(2026, 12, 2), end=date(2026, 12, 1))
    with pytest.raises(ValidationError) as exc:
        getattr(audit_log, call)(world.db, admin(world), filters)
    assert exc.value.by_field() == {
        "period": ["La date de début de la période doit précéder sa date de fin."]
    }


# --- the CSV export -------------------------------------------------------------------------


def test_export_oldest_first_with_paris_dates(world, trail):
    rows = read_csv(
        audit_log.export_csv(world.db, admin(world), AuditFilters(start=date(2026, 12, 1)))
    )
    assert rows[0] == CSV_HEADERS
    body = rows[1:]
    assert [r[3] for r in body] == [
        "login_succeeded",
        "dossier_created",
        "line_added",
        "dossier_finalised",
        "account_created",
    ]
    assert [r[0] for r in body] == [
        "01/12/2026 23:30",
        "02/12/2026 00:30",
        "02/12/2026 00:30",
        "02/12/2026 00:30",
        "02/12/2026 10:00",
    ]
    declarant = world.actor("declarant_req").id
    assert body[0] == [
        "01/12/2026 23:30",
        "declarant-req",
        "Connexion",
        "login_succeeded",
        "account",
        str(declarant),
        "",
        "",
    ]
    assert body[1][1:3] == ["declarant-req", "Dossier créé"]
    assert body[1][6] == trail.number
    assert body[4][1] == "admin" and body[4][5] == str(trail.account_id)
    assert body[4][7] == '{"role": "coordinateur", "username": "nouveau-compte"}'


def test_export_follows_the_filters(world, trail):
    rows = read_csv(
        audit_log.export_csv(world.db, admin(world), AuditFilters(dossier_number=trail.number))
    )
    assert [r[3] for r in rows[1:]] == ["dossier_created", "line_added", "dossier_finalised"]
    empty = read_csv(audit_log.export_csv(world.db, admin(world), AuditFilters(username="x")))
    assert empty == [CSV_HEADERS]


def test_export_uses_crlf_and_semicolons(world, trail):
    content = audit_log.export_csv(world.db, admin(world), AuditFilters(action="login_succeeded"))
    text = content.decode("utf-8-sig")
    assert text.startswith(";".join(CSV_HEADERS[:2]))
    assert text.count("\r\n") == 2 and text.endswith("\r\n")


def test_a_cell_that_a_spreadsheet_would_run_is_neutralised(world, clock):
    """An identifier stored before the rules (or by hand) that starts like a formula."""
    with world.db.transaction() as s:
        odd = Account(
            username="=hyperlink(1)",
            display_name="x",
            email="x@example.org",
            role=Role.ARS,
            password_hash="x",
            created_at=clock.current,
        )
        s.add(odd)
        s.flush()
        audit.record(
            s, actor_id=odd.id, action="logout", entity="account", entity_id=odd.id, number="=1+1"
        )
    rows = read_csv(audit_log.export_csv(world.db, admin(world), AuditFilters(action="logout")))
    [row] = rows[1:]
    assert row[1] == "'=hyperlink(1)"
    assert row[7] == '{"number": "=1+1"}'  # a JSON object: it never starts like a formula
    assert not any(cell.startswith(exports.FORMULA_STARTS) for cell in row)


def test_an_export_above_the_limit_is_refused(world, trail, monkeypatch):
    monkeypatch.setattr(exports, "MAX_EXPORT_ROWS", 3)
    with pytest.raises(ValidationError) as exc:
        audit_log.export_csv(world.db, admin(world), AuditFilters(start=date(2026, 12, 1)))
    assert set(exc.value.by_field()) == {"export"}
    # within the limit, the same filters narrowed down pass
    audit_log.export_csv(world.db, admin(world), AuditFilters(dossier_number=trail.number))


def test_the_limit_message_speaks_of_entries_not_refusals(world, trail, monkeypatch):
    monkeypatch.setattr(exports, "MAX_EXPORT_ROWS", 3)
    with pytest.raises(ValidationError) as exc:
        audit_log.export_csv(world.db, admin(world), AuditFilters(start=date(2026, 12, 1)))
    [message] = exc.value.by_field()["export"]
    assert "refus" not in message


# --- only the Administrateur ----------------------------------------------------------------


@pytest.mark.parametrize("call", ["list_entries", "export_csv"])
@pytest.mark.parametrize("name", NON_ADMINS)
def test_the_audit_log_is_refused_to_every_other_role(world, name, call):
    before = count(world)
    with pytest.raises(PermissionDenied) as exc:
        getattr(audit_log, call)(world.db, world.actor(name), AuditFilters())
    assert exc.value.message == "Seul l'administrateur a accès à l'administration."
    assert count(world) == before


# --- « fonctionnement non conforme » reports ------------------------------------------------


def test_filter_by_report_number_typed_in_lowercase(world, trail, clock):
    """A report's number (``F-…``) finds its entries, and only them: the report and the
    dossier both have id 1, the filter must not mix them up."""
    clock.set(datetime(2026, 12, 2, 10, 0, tzinfo=UTC))
    report = world.report("declarant_req")
    other = world.report("referent_req")
    clock.set(datetime(2026, 12, 2, 11, 0, tzinfo=UTC))
    reports.answer(
        world.db,
        world.actor("referent_ref"),
        report.id,
        reports.ReportAnswerInput(analysis="Astreinte en intervention"),
    )
    clock.set(datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
    reports.withdraw(world.db, world.actor("referent_req"), other.id, "Erreur de saisie")
    assert report.id == trail.dossier_id  # the ambiguity the filter must resolve

    rows = entries(world, dossier_number=f"  {report.number.lower()} ")
    assert actions(rows) == ["report_answered", "report_declared"]
    assert {r.dossier_number for r in rows} == {report.number}
    assert {(r.entity, r.entity_id) for r in rows} == {("report", report.id)}
    assert [r.who for r in rows] == ["referent-ref", "declarant-req"]
    assert [r.action_label for r in rows] == [
        "Réponse de l'établissement concerné enregistrée",
        "Fonctionnement non conforme déclaré",
    ]
    assert actions(entries(world, dossier_number=other.number.lower())) == [
        "report_withdrawn",
        "report_declared",
    ]
    # the dossier's own number still finds only the dossier's entries
    dossier_rows = entries(world, dossier_number=trail.number.lower())
    assert actions(dossier_rows) == ["dossier_finalised", "line_added", "dossier_created"]
    assert entries(world, dossier_number="f-1999-000001") == []
    # the report's entries also carry its number in the unfiltered log and the export
    listed = {r.action: r.dossier_number for r in entries(world) if r.entity == "report"}
    assert listed["report_answered"] == report.number
    rows_csv = read_csv(
        audit_log.export_csv(world.db, admin(world), AuditFilters(dossier_number=report.number))
    )
    assert [row[3] for row in rows_csv[1:]] == ["report_declared", "report_answered"]
    assert {row[6] for row in rows_csv[1:]} == {report.number}


def test_every_report_action_has_a_label():
    for code in ("report_declared", "report_answered", "report_withdrawn", "report_reminded"):
        assert audit_log.ACTION_LABELS[code] != code


# --- what the administrator may not read (issue 14 § 2) --------------------------------------

# One marker per free text of either side that an audit entry records (xss_inventory's clinical
# fields and the three reasons), and two the administrator types itself.
MARKERS = {
    key: f"MARQUEUR-{key}-{i:02d}"
    for i, key in enumerate(
        [
            "request_other_motif",
            "impact_description",
            "comments",
            "line_other_motif",
            "line_comments",
            "answer_other_motif",
            "answer_comments",
            "report_description",
            "report_impact",
            "analysis",
            "corrective_measures",
            "reopen_reason",
            "abandon_reason",
            "withdraw_reason",
            "display_name",
        ]
    )
}


@pytest.fixture
def typed_everywhere(world):
    """Every free text typed, then changed once (an edit records old and new values)."""
    w, m = world, MARKERS
    author, coordinator = w.actor("declarant_req"), w.actor("coordinateur_req")
    ref = w.draft(
        comments=m["comments"],
        request_motif_id=w.request_motif["Autre"],
        request_other_motif=m["request_other_motif"],
        impact=True,
        impact_description=m["impact_description"],
        final_destination_id=w.destination["Retour à domicile"],
    )
    line_id = dossiers.add_line(
        w.db,
        author,
        ref.id,
        w.line_input(
            refusal_motif_id=w.refusal_motif["Autre"],
            other_motif=m["line_other_motif"],
            comments=m["line_comments"],
        ),
    )
    dossiers.finalise(w.db, author, ref.id)
    dossiers.answer(
        w.db,
        w.actor("coordinateur_ref"),
        ref.id,
        line_id,
        dossiers.AnswerInput(
            understood_motif_id=w.request_motif["Avis spécialisé"],
            refusal_motif_id=w.refusal_motif["Autre"],
            other_motif=m["answer_other_motif"],
            comments=m["answer_comments"],
        ),
    )
    dossiers.reopen(w.db, coordinator, ref.id, m["reopen_reason"])
    current = queries.get_dossier(w.db, author, dossier_id=ref.id)
    dossiers.update_draft(
        w.db,
        author,
        ref.id,
        w.dossier_input(
            comments="Commentaire corrigé",
            impact=True,
            impact_description="Impact corrigé",
            final_destination_id=w.destination["Retour à domicile"],
        ),
        expected_version=current.version,
    )
    draft = w.draft(lines=("other",))
    dossiers.abandon(w.db, author, draft.id, m["abandon_reason"])
    answered = w.report(
        description=m["report_description"], impact=True, impact_description=m["report_impact"]
    )
    reports.answer(
        w.db,
        w.actor("coordinateur_ref"),
        answered.id,
        reports.ReportAnswerInput(
            analysis=m["analysis"], corrective_measures=m["corrective_measures"]
        ),
    )
    withdrawn = w.report(concerned="other")
    reports.withdraw(w.db, author, withdrawn.id, m["withdraw_reason"])
    admin_actor = admin(w)
    account_id = w.actor("declarant_ref").id
    detail = administration.get_account(w.db, admin_actor, account_id)
    fields = replace(detail.fields, display_name=m["display_name"])
    administration.update(w.db, admin_actor, account_id, fields)
    return ref


def test_the_journal_shows_no_typed_text_only_which_fields_changed(world, typed_everywhere):
    rows = entries(world, page_size=100)
    shown = "\n".join(r.details for r in rows)
    exported = audit_log.export_csv(world.db, admin(world), AuditFilters()).decode("utf-8-sig")
    for key, marker in MARKERS.items():
        assert marker not in shown, key
        assert marker not in exported, key
    assert "Commentaire corrigé" not in shown and "Impact corrigé" not in exported
    # what an investigation needs is there: the fields, the lengths, the codes
    [updated] = [r for r in rows if r.action == "dossier_updated"]
    details = json.loads(updated.details)
    assert set(details["changes"]) >= {"comments", "impact_description"}
    old, new = details["changes"]["comments"]
    assert old == audit_log.masked(MARKERS["comments"])
    assert new == "‹ texte masqué, 19 caractères ›"
    [reopened] = [r for r in rows if r.action == "dossier_reopened"]
    assert json.loads(reopened.details)["reason"] == audit_log.masked(MARKERS["reopen_reason"])
    [answered] = [r for r in rows if r.action == "line_answered"]
    changes = json.loads(answered.details)["changes"]
    assert changes["answer_refusal_motif_id"][1] == world.refusal_motif["Autre"]
    assert json.loads(updated.details)["side"] == "requester"


def test_a_failed_login_keeps_its_coded_reason(world):
    assert not auth.authenticate(world.db, "personne", PASSWORD).ok
    [failed] = entries(world, action="login_failed")
    assert json.loads(failed.details)["reason"] == "unknown"
