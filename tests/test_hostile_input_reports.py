"""Hostile input on the « Fonctionnement non conforme » actions (issue « Hostile input »),
property-based: declare (description, impact, date and time), the concerned establishment's
answer (analysis, corrective measures), withdraw (reason), reminders (delay).

What is asserted is said in ``tests/test_hostile_input_dossiers.py``: a ``ValidationError``
with exactly the expected French messages and nothing written, or the text read back
(``report_queries.get_report``, ``report_queries.history``) exactly in its stored normal
form; never another exception, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import event, given
from hypothesis import strategies as st
from sqlalchemy import func, select

from registre import report_queries, reports
from registre.errors import ValidationError
from registre.models import Report, ReportState
from registre.reports import ReportAnswerInput
from registre.timeutil import as_utc

from .hostile_input import (
    FEW,
    HOSTILE,
    HUGE_INT,
    MAYBE_TEXT,
    Text,
    issue_samples,
    normal_text,
    outcome,
    snapshot,
)
from .test_hostile_input_dossiers import _aware_or_naive

START = datetime(2026, 11, 26, 2, 15, tzinfo=UTC)

DESCRIPTION = Text("description", "Description", 5000, required=True)
IMPACT = Text("impact_description", "Description de l'impact", 5000)
ANALYSIS = Text("analysis", "Analyse de l'établissement", 5000, required=True)
MEASURES = Text("corrective_measures", "Mesures correctives", 5000)
WITHDRAW_REASON = Text("reason", "Motif du retrait", 1000, required=True)


def _record(ok: bool) -> None:
    event("accepted" if ok else "refused")


@HOSTILE
@issue_samples("description", "impact_description", impact=True)
@given(description=MAYBE_TEXT, impact=st.booleans(), impact_description=MAYBE_TEXT)
def test_declare(world, description, impact, impact_description):
    actor = world.actor("declarant_req")
    data = world.report_input(
        description=description, impact=impact, impact_description=impact_description
    )
    ok, ref = outcome(
        world.db,
        lambda: reports.declare(world.db, actor, data),
        {
            "description": DESCRIPTION.errors(description),
            "impact_description": IMPACT.errors(impact_description, required=impact),
        },
    )
    _record(ok)
    if ok:
        for reader in ("declarant_req", "ars"):
            view = report_queries.get_report(world.db, world.actor(reader), report_id=ref.id)
            assert view.description == normal_text(description)
            assert view.impact_description == (normal_text(impact_description) if impact else None)
        concerned = report_queries.get_report(
            world.db, world.actor("coordinateur_ref"), report_id=ref.id
        )
        assert concerned.description == normal_text(description)


INSTANT_MESSAGES = {
    "Cette heure n'existe pas ce jour-là (passage à l'heure d'été) : vérifiez l'heure.",
    "La date et l'heure ne peuvent pas être dans le futur.",
    "La date est invalide.",
}


@HOSTILE
@given(occurred_at=_aware_or_naive())
def test_any_date_and_time_of_a_report(world, occurred_at):
    actor = world.actor("declarant_req")
    before = snapshot(world.db)
    try:
        ref = reports.declare(world.db, actor, world.report_input(occurred_at=occurred_at))
    except ValidationError as exc:
        _record(False)
        assert set(exc.by_field()) == {"occurred_at"}
        assert set(exc.by_field()["occurred_at"]) <= INSTANT_MESSAGES, exc.by_field()
        assert snapshot(world.db) == before
        return
    _record(True)
    view = report_queries.get_report(world.db, actor, report_id=ref.id)
    assert view.occurred_at == as_utc(occurred_at)


@HOSTILE
@issue_samples("analysis", "measures")
@given(analysis=MAYBE_TEXT, measures=MAYBE_TEXT)
def test_answer(world, analysis, measures):
    ref = world.report()
    concerned = world.actor("coordinateur_ref")
    ok, _ = outcome(
        world.db,
        lambda: reports.answer(world.db, concerned, ref.id, ReportAnswerInput(analysis, measures)),
        {"analysis": ANALYSIS.errors(analysis), "corrective_measures": MEASURES.errors(measures)},
    )
    _record(ok)
    for reader in ("coordinateur_ref", "ars"):
        view = report_queries.get_report(world.db, world.actor(reader), report_id=ref.id)
        if ok:
            assert view.state is ReportState.ANSWERED
            assert view.answer.analysis == normal_text(analysis)
            assert view.answer.corrective_measures == normal_text(measures)
        else:
            assert view.state is ReportState.AWAITING
            assert view.answer is None


@HOSTILE
@issue_samples("reason")
@given(reason=MAYBE_TEXT)
def test_withdraw(world, reason):
    actor = world.actor("declarant_req")
    ref = world.report()
    ok, _ = outcome(
        world.db,
        lambda: reports.withdraw(world.db, actor, ref.id, reason),
        {"reason": WITHDRAW_REASON.errors(reason)},
    )
    _record(ok)
    view = report_queries.get_report(world.db, actor, report_id=ref.id)
    reasons = [
        detail
        for entry in report_queries.history(world.db, actor, ref.id)
        for detail in entry.details
        if detail.startswith("Motif : ")
    ]
    if ok:
        assert view.state is ReportState.WITHDRAWN
        assert reasons == [f"Motif : {normal_text(reason)}"]
    else:
        assert view.state is ReportState.AWAITING
        assert reasons == []


@FEW
@given(days=HUGE_INT)
def test_reminders_with_any_delay(world, clock, days):
    """The delay comes from the configuration or ``registre remind --days``."""
    clock.set(START)
    world.report()
    clock.set(START + timedelta(days=30))
    with world.db.read() as s:
        due = s.scalar(select(func.count()).where(Report.reminded_at.is_(None)))
    before = snapshot(world.db)
    try:
        count = reports.send_reminders(world.db, days)
    except ValidationError as exc:
        _record(False)
        assert list(exc.by_field()) == ["days"]
        assert snapshot(world.db) == before
        assert not 0 <= days <= 3650
        return
    _record(True)
    assert 0 <= days <= 3650
    assert count == (due if days < 30 else 0)
