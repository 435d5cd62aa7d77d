"""Action « Retirer le signalement » (``reports.withdraw``), mirroring the ``withdraw`` row of
``registre.workflow.REPORT_TRANSITIONS`` (the declaring side, a report « Réponse attendue »
only) and SPEC §3/§5: a Déclarant withdraws only the reports it declared, a Référent (within
its specialties) or Coordinateur PDSES any of its establishment's; a reason is required;
nothing is deleted; the withdrawal is audited with its reason.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registre import report_queries, reports
from registre.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from registre.models import (
    AuditEntry,
    OutboxMail,
    Report,
    ReportState,
    Role,
)
from registre.reports import ReportAnswerInput
from registre.timeutil import now

from .factories import ACTOR_NAMES

# The report is declared by ``declarant_req``: it, and the Référent and Coordinateur of
# ``req``, may withdraw it; nobody of ``ref``, no director, no ARS, no admin.
ALLOWED_ROLES = {"declarant_req", "referent_req", "coordinateur_req"}
STATES = ["awaiting", "answered", "withdrawn"]
ALLOWED_STATES = {"awaiting"}
REASON = "Erreur d'établissement concerné"


def make_report(world, state: str, by: str = "declarant_req", **overrides) -> int:
    ref = world.report(by, **overrides)
    if state == "answered":
        reports.answer(
            world.db,
            world.actor("coordinateur_ref"),
            ref.id,
            ReportAnswerInput(analysis="Astreinte non joignable"),
        )
    elif state == "withdrawn":
        reports.withdraw(world.db, world.actor("coordinateur_req"), ref.id, "Saisie en double")
    return ref.id


def load_report(world, report_id: int) -> Report:
    with world.db.read() as s:
        report = s.get(Report, report_id)
        assert report is not None
        return report


def counts(world) -> dict[str, int]:
    with world.db.read() as s:
        return {
            model.__tablename__: s.scalar(select(func.count()).select_from(model)) or 0
            for model in (Report, AuditEntry, OutboxMail)
        }


def withdrawals(world) -> list[AuditEntry]:
    with world.db.read() as s:
        return list(
            s.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "report_withdrawn")
                .order_by(AuditEntry.id)
            )
        )


def snapshot(report: Report) -> tuple:
    return (report.state, report.withdrawn_at, report.updated_at, report.version)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("name", ACTOR_NAMES)
def test_who_may_withdraw_in_which_state(world, clock, name, state):
    report_id = make_report(world, state)
    before = load_report(world, report_id)
    before_counts = counts(world)
    earlier = len(withdrawals(world))
    clock.advance(hours=3)
    actor = world.actor(name)
    if name in ALLOWED_ROLES and state in ALLOWED_STATES:
        result = reports.withdraw(world.db, actor, report_id, REASON)
        report = load_report(world, report_id)
        assert result.state is report.state is ReportState.WITHDRAWN
        assert report.withdrawn_at == report.updated_at == now()
        assert report.version == before.version + 1
        assert report.number == before.number
        assert counts(world)["reports"] == before_counts["reports"]  # kept, not deleted
        assert [(e.actor_id, e.details["reason"]) for e in withdrawals(world)] == [
            (actor.id, REASON)
        ]
    else:
        with pytest.raises(PermissionDenied):
            reports.withdraw(world.db, actor, report_id, REASON)
        assert snapshot(load_report(world, report_id)) == snapshot(before)
        assert counts(world) == before_counts
        assert len(withdrawals(world)) == earlier


def test_a_declarant_withdraws_only_its_own_reports(world):
    """The referent declared: the establishment's Déclarant may not withdraw it."""
    report_id = make_report(world, "awaiting", by="referent_req")
    with pytest.raises(PermissionDenied) as exc:
        reports.withdraw(world.db, world.actor("declarant_req"), report_id, REASON)
    assert exc.value.message == (
        "Ce signalement a été déclaré par un autre membre de votre établissement."
    )
    assert load_report(world, report_id).state is ReportState.AWAITING
    reports.withdraw(world.db, world.actor("coordinateur_req"), report_id, REASON)
    assert load_report(world, report_id).state is ReportState.WITHDRAWN


def test_another_declarant_of_the_same_establishment_may_not_withdraw(world):
    colleague = world.add_account("declarant-req-nuit", Role.DECLARANT, "req")
    report_id = make_report(world, "awaiting", by="declarant_req")
    with pytest.raises(PermissionDenied):
        reports.withdraw(world.db, colleague, report_id, REASON)
    assert load_report(world, report_id).state is ReportState.AWAITING
    # the colleague's own report is its to withdraw
    own = reports.declare(world.db, colleague, world.report_input())
    reports.withdraw(world.db, colleague, own.id, REASON)
    assert load_report(world, own.id).state is ReportState.WITHDRAWN


@pytest.mark.parametrize(("specialty", "allowed"), [("Neurochirurgie", False), ("ORL", True)])
def test_the_orl_limited_referent_withdraws_only_orl(world, specialty, allowed):
    """``referent_ref_orl`` on the declaring side: ``ref`` declares about ``req``."""
    report_id = make_report(
        world,
        "awaiting",
        by="coordinateur_ref",
        concerned="req",
        specialty_id=world.specialty[specialty],
    )
    actor = world.actor("referent_ref_orl")
    if allowed:
        reports.withdraw(world.db, actor, report_id, REASON)
        assert load_report(world, report_id).state is ReportState.WITHDRAWN
    else:
        with pytest.raises(PermissionDenied):
            reports.withdraw(world.db, actor, report_id, REASON)
        assert load_report(world, report_id).state is ReportState.AWAITING


@pytest.mark.parametrize("reason", [None, "", "   \n"])
def test_the_reason_is_required(world, reason):
    report_id = make_report(world, "awaiting")
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        reports.withdraw(world.db, world.actor("declarant_req"), report_id, reason)
    assert exc.value.by_field() == {"reason": ["« Motif du retrait » est obligatoire."]}
    assert load_report(world, report_id).state is ReportState.AWAITING
    assert counts(world) == before


@pytest.mark.parametrize("reason", ["doublon de M. Durand", "rappeler le 06 12 34 56 78"])
def test_the_reason_is_checked_for_nominative_data(world, reason):
    report_id = make_report(world, "awaiting")
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        reports.withdraw(world.db, world.actor("declarant_req"), report_id, reason)
    assert set(exc.value.by_field()) == {"reason"}
    assert "nominative" in exc.value.by_field()["reason"][0]
    assert load_report(world, report_id).state is ReportState.AWAITING
    assert counts(world) == before


def test_after_withdrawal_the_concerned_side_cannot_answer(world):
    report_id = make_report(world, "awaiting")
    reports.withdraw(world.db, world.actor("declarant_req"), report_id, REASON)
    for name in ("declarant_ref", "referent_ref", "coordinateur_ref"):
        with pytest.raises(PermissionDenied) as exc:
            reports.answer(
                world.db, world.actor(name), report_id, ReportAnswerInput(analysis="Trop tard")
            )
        assert "état actuel du signalement" in exc.value.message
    report = load_report(world, report_id)
    assert (report.state, report.analysis, report.answered_at) == (
        ReportState.WITHDRAWN,
        None,
        None,
    )
    view = report_queries.get_report(world.db, world.actor("coordinateur_ref"), report_id=report_id)
    assert view.state is ReportState.WITHDRAWN
    assert view.abilities["answer_report"] is False


def test_a_withdrawn_report_cannot_be_withdrawn_again(world):
    report_id = make_report(world, "withdrawn")
    with pytest.raises(PermissionDenied):
        reports.withdraw(world.db, world.actor("coordinateur_req"), report_id, REASON)
    assert [e.details["reason"] for e in withdrawals(world)] == ["Saisie en double"]


def test_a_stale_version_is_a_conflict(world):
    """Two declarers read version 1; the first withdraws, the second gets a conflict."""
    report_id = make_report(world, "awaiting")
    seen = report_queries.get_report(world.db, world.actor("referent_req"), report_id=report_id)
    assert seen.version == 1
    reports.withdraw(world.db, world.actor("coordinateur_req"), report_id, REASON, seen.version)
    with pytest.raises(ConflictError):
        reports.withdraw(world.db, world.actor("referent_req"), report_id, "Autre", seen.version)
    assert [e.details["reason"] for e in withdrawals(world)] == [REASON]


def test_a_reminder_since_reading_is_a_conflict_too(world, clock):
    report_id = make_report(world, "awaiting")
    version = report_queries.get_report(
        world.db, world.actor("declarant_req"), report_id=report_id
    ).version
    clock.advance(days=8)
    assert reports.send_reminders(world.db, days=7) == 1
    with pytest.raises(ConflictError):
        reports.withdraw(world.db, world.actor("declarant_req"), report_id, REASON, version)
    assert load_report(world, report_id).state is ReportState.AWAITING
    assert withdrawals(world) == []
    fresh = report_queries.get_report(world.db, world.actor("declarant_req"), report_id=report_id)
    reports.withdraw(world.db, world.actor("declarant_req"), report_id, REASON, fresh.version)
    assert load_report(world, report_id).state is ReportState.WITHDRAWN


def test_the_withdrawal_is_audited_with_its_reason(world, clock):
    report_id = make_report(world, "awaiting")
    clock.advance(minutes=20)
    actor = world.actor("referent_req")
    reports.withdraw(world.db, actor, report_id, f"  {REASON}  ")
    [entry] = withdrawals(world)
    assert entry.actor_id == actor.id
    assert entry.entity == "report"
    assert entry.entity_id == report_id
    assert entry.at == now()
    assert entry.details["side"] == "requester"
    assert entry.details["reason"] == REASON
    history = report_queries.history(world.db, actor, report_id)
    assert history[-1].action == "Signalement retiré par l'établissement déclarant"
    assert f"Motif : {REASON}" in history[-1].details


def test_withdrawing_tells_those_who_were_asked_to_answer(world):
    """The concerned establishment's coordinator and référent got « réponse attendue »: they
    learn that no answer is expected any more, and never the reason."""
    report_id = make_report(world, "awaiting")
    reports.withdraw(world.db, world.actor("declarant_req"), report_id, REASON)
    with world.db.read() as s:
        mails = s.scalars(select(OutboxMail).where(OutboxMail.kind == "non_conforme_retire")).all()
    assert sorted(m.recipient for m in mails) == [
        "coordinateur-ref@example.org",
        "referent-ref@example.org",
    ]
    for mail in mails:
        assert "retiré" in mail.subject and "aucune réponse n'est plus attendue" in mail.body
        assert REASON not in mail.body and "/signalement?numero=F-2026-" in mail.body


def test_an_unknown_report_is_not_found(world):
    with pytest.raises(NotFound):
        reports.withdraw(world.db, world.actor("coordinateur_req"), 999_999, REASON)


def test_a_withdrawn_report_stays_in_both_lists_on_demand(world):
    report_id = make_report(world, "awaiting")
    reports.withdraw(world.db, world.actor("declarant_req"), report_id, REASON)
    by_default = (
        report_queries.list_declared_reports(world.db, world.actor("declarant_req")),
        report_queries.list_concerning_reports(world.db, world.actor("referent_ref")),
    )
    assert [page.items for page in by_default] == [[], []]
    withdrawn = ReportState.WITHDRAWN
    declared = report_queries.list_declared_reports(
        world.db, world.actor("declarant_req"), state=withdrawn
    )
    concerning = report_queries.list_concerning_reports(
        world.db, world.actor("referent_ref"), state=withdrawn
    )
    for page in (declared, concerning):
        assert [(r.id, r.state, r.state_label) for r in page.items] == [
            (report_id, ReportState.WITHDRAWN, "Retiré")
        ]
    assert report_queries.count_awaiting_reports(world.db, world.actor("referent_ref")).value == 0
