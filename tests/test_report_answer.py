"""Action « Enregistrer la réponse » to a « fonctionnement non conforme »
(``reports.answer``), mirroring the ``answer_report`` row of
``registre.workflow.REPORT_TRANSITIONS`` (the concerned side, a report « Réponse attendue »
only, once) and SPEC §9/§3: only a Déclarant, Référent PDSES (within its specialties) or
Coordinateur PDSES of the concerned establishment answers; the analysis is required, the
corrective measures optional; no nominative data (SPEC §8); the answer is audited.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registre import report_queries, reports
from registre.errors import NotFound, PermissionDenied, ValidationError
from registre.models import AuditEntry, OutboxMail, Report, ReportState
from registre.reports import ReportAnswerInput
from registre.timeutil import now

from .factories import ACTOR_NAMES

# The report is ``req``'s about ``ref``, in Neurochirurgie: the ORL-limited référent of
# ``ref`` is out of scope, the declaring side never answers, the directors only read.
ALLOWED_ROLES = {"declarant_ref", "referent_ref", "coordinateur_ref"}
STATES = ["awaiting", "answered", "withdrawn"]
ALLOWED_STATES = {"awaiting"}
ANALYSIS = "Praticien d'astreinte en intervention, relais non organisé"
MEASURES = "Second numéro d'astreinte communiqué au SAMU"


def make_report(world, state: str, **overrides) -> int:
    ref = world.report("coordinateur_req", **overrides)
    if state == "answered":
        reports.answer(
            world.db,
            world.actor("coordinateur_ref"),
            ref.id,
            ReportAnswerInput(analysis="Première analyse"),
        )
    elif state == "withdrawn":
        reports.withdraw(world.db, world.actor("coordinateur_req"), ref.id, "Erreur de saisie")
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


def answers(world) -> list[AuditEntry]:
    with world.db.read() as s:
        return list(
            s.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "report_answered")
                .order_by(AuditEntry.id)
            )
        )


def snapshot(report: Report) -> tuple:
    return (
        report.state,
        report.analysis,
        report.corrective_measures,
        report.answered_at,
        report.answered_by_id,
        report.version,
    )


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("name", ACTOR_NAMES)
def test_who_may_answer_in_which_state(world, clock, name, state):
    report_id = make_report(world, state)
    before = load_report(world, report_id)
    before_counts = counts(world)
    earlier_answers = len(answers(world))
    clock.advance(days=2)
    actor = world.actor(name)
    data = ReportAnswerInput(analysis=ANALYSIS, corrective_measures=MEASURES)
    if name in ALLOWED_ROLES and state in ALLOWED_STATES:
        result = reports.answer(world.db, actor, report_id, data)
        report = load_report(world, report_id)
        assert result.state is report.state is ReportState.ANSWERED
        assert report.analysis == ANALYSIS
        assert report.corrective_measures == MEASURES
        assert report.answered_by_id == actor.id
        assert report.answered_at == report.updated_at == now()
        assert report.version == before.version + 1
        # the declarer's statement is untouched
        assert (report.description, report.created_by_id) == (
            before.description,
            before.created_by_id,
        )
        assert [e.actor_id for e in answers(world)] == [actor.id]
    else:
        with pytest.raises(PermissionDenied):
            reports.answer(world.db, actor, report_id, data)
        assert snapshot(load_report(world, report_id)) == snapshot(before)
        assert counts(world) == before_counts
        assert len(answers(world)) == earlier_answers


@pytest.mark.parametrize("name", sorted(ALLOWED_ROLES))
def test_a_second_answer_is_refused_with_its_message(world, name):
    report_id = make_report(world, "answered")
    first = load_report(world, report_id)
    with pytest.raises(PermissionDenied) as exc:
        reports.answer(
            world.db, world.actor(name), report_id, ReportAnswerInput(analysis="Autre version")
        )
    assert exc.value.message == "Une réponse a déjà été enregistrée pour ce signalement."
    report = load_report(world, report_id)
    assert snapshot(report) == snapshot(first)
    assert report.analysis == "Première analyse"
    assert report.answered_by_id == world.actor("coordinateur_ref").id
    assert len(answers(world)) == 1


def test_a_withdrawn_report_cannot_be_answered(world):
    report_id = make_report(world, "withdrawn")
    with pytest.raises(PermissionDenied) as exc:
        reports.answer(
            world.db, world.actor("coordinateur_ref"), report_id, ReportAnswerInput(ANALYSIS)
        )
    assert exc.value.message == "Cette action n'est pas possible dans l'état actuel du signalement."
    report = load_report(world, report_id)
    assert (report.state, report.analysis) == (ReportState.WITHDRAWN, None)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("directeur_ref", "ne permet pas cette action"),
        ("coordinateur_req", "ne concerne pas votre établissement"),
        ("ars", "ne permet pas cette action"),
        ("admin", "ne permet pas cette action"),
        ("referent_ref_orl", "Ce signalement n'existe pas ou vous n'y avez pas accès."),
    ],
)
def test_the_refusal_says_why(world, name, message):
    report_id = make_report(world, "awaiting")
    with pytest.raises(PermissionDenied) as exc:
        reports.answer(world.db, world.actor(name), report_id, ReportAnswerInput(ANALYSIS))
    assert message in exc.value.message
    assert load_report(world, report_id).state is ReportState.AWAITING


@pytest.mark.parametrize(("specialty", "allowed"), [("Neurochirurgie", False), ("ORL", True)])
def test_the_orl_limited_referent_answers_only_orl(world, specialty, allowed):
    report_id = make_report(world, "awaiting", specialty_id=world.specialty[specialty])
    actor = world.actor("referent_ref_orl")
    if allowed:
        reports.answer(world.db, actor, report_id, ReportAnswerInput(ANALYSIS))
        assert load_report(world, report_id).answered_by_id == actor.id
    else:
        with pytest.raises(PermissionDenied):
            reports.answer(world.db, actor, report_id, ReportAnswerInput(ANALYSIS))
        assert load_report(world, report_id).state is ReportState.AWAITING


def test_the_concerned_side_answers_only_its_own_reports(world):
    """A report ``ref`` declared about ``req``: ``ref``'s writers cannot answer it."""
    ref = world.report("coordinateur_ref", concerned="req")
    for name in ("declarant_ref", "referent_ref", "coordinateur_ref"):
        with pytest.raises(PermissionDenied):
            reports.answer(world.db, world.actor(name), ref.id, ReportAnswerInput(ANALYSIS))
    reports.answer(world.db, world.actor("declarant_req"), ref.id, ReportAnswerInput(ANALYSIS))
    assert load_report(world, ref.id).answered_by_id == world.actor("declarant_req").id


@pytest.mark.parametrize("analysis", [None, "", "  \n "])
def test_the_analysis_is_required(world, analysis):
    report_id = make_report(world, "awaiting")
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        reports.answer(
            world.db,
            world.actor("coordinateur_ref"),
            report_id,
            ReportAnswerInput(analysis=analysis, corrective_measures=MEASURES),
        )
    assert exc.value.by_field() == {"analysis": ["« Analyse de l'établissement » est obligatoire."]}
    assert snapshot(load_report(world, report_id))[:3] == (ReportState.AWAITING, None, None)
    assert counts(world) == before


@pytest.mark.parametrize("measures", [None, "", "   "])
def test_the_corrective_measures_are_optional(world, measures):
    report_id = make_report(world, "awaiting")
    reports.answer(
        world.db,
        world.actor("referent_ref"),
        report_id,
        ReportAnswerInput(analysis=ANALYSIS, corrective_measures=measures),
    )
    report = load_report(world, report_id)
    assert (report.state, report.analysis, report.corrective_measures) == (
        ReportState.ANSWERED,
        ANALYSIS,
        None,
    )


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("analysis", "Appel de M. Dupont non transmis"),
        ("analysis", "NIR 1 85 05 78 006 084 36"),
        ("corrective_measures", "Joindre le cadre au 06 12 34 56 78"),
        ("corrective_measures", "Mme Bernard rappellera l'équipe"),
    ],
)
def test_nominative_data_is_refused_and_nothing_changes(world, field, text):
    report_id = make_report(world, "awaiting")
    before = load_report(world, report_id)
    before_counts = counts(world)
    values = {"analysis": ANALYSIS, "corrective_measures": MEASURES, field: text}
    with pytest.raises(ValidationError) as exc:
        reports.answer(
            world.db, world.actor("coordinateur_ref"), report_id, ReportAnswerInput(**values)
        )
    assert set(exc.value.by_field()) == {field}
    assert "nominative" in exc.value.by_field()[field][0]
    assert snapshot(load_report(world, report_id)) == snapshot(before)
    assert counts(world) == before_counts


def test_every_faulty_field_is_reported_at_once(world):
    report_id = make_report(world, "awaiting")
    with pytest.raises(ValidationError) as exc:
        reports.answer(
            world.db,
            world.actor("coordinateur_ref"),
            report_id,
            ReportAnswerInput(analysis=None, corrective_measures="x" * 5001),
        )
    by_field = exc.value.by_field()
    assert set(by_field) == {"analysis", "corrective_measures"}
    assert "5\u00a0000 caractères" in by_field["corrective_measures"][0]


def test_the_answer_is_audited_on_the_refuser_side(world, clock):
    report_id = make_report(world, "awaiting")
    clock.advance(hours=5)
    actor = world.actor("declarant_ref")
    reports.answer(
        world.db, actor, report_id, ReportAnswerInput(analysis=ANALYSIS, corrective_measures=None)
    )
    [entry] = answers(world)
    assert entry.actor_id == actor.id
    assert entry.entity == "report"
    assert entry.entity_id == report_id
    assert entry.dossier_id is None
    assert entry.at == now()
    assert entry.details["side"] == "refuser"
    # an empty « Mesures correctives » is not recorded as filled in
    assert entry.details["changes"] == {"analysis": [None, ANALYSIS]}


def test_answering_sends_no_mail(world):
    report_id = make_report(world, "awaiting")
    with world.db.read() as s:
        queued = s.scalar(select(func.count()).select_from(OutboxMail))
    reports.answer(
        world.db, world.actor("coordinateur_ref"), report_id, ReportAnswerInput(ANALYSIS)
    )
    with world.db.read() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMail)) == queued


def test_the_declarer_learns_that_it_was_answered_not_what(world):
    report_id = make_report(world, "awaiting")
    reports.answer(
        world.db,
        world.actor("coordinateur_ref"),
        report_id,
        ReportAnswerInput(analysis=ANALYSIS, corrective_measures=MEASURES),
    )
    view = report_queries.get_report(world.db, world.actor("declarant_req"), report_id=report_id)
    assert view.answered is True
    assert view.state is ReportState.ANSWERED
    assert not hasattr(view, "answer")
    assert ANALYSIS not in repr(view) and MEASURES not in repr(view)
    own = report_queries.get_report(world.db, world.actor("directeur_ref"), report_id=report_id)
    assert own.answer is not None
    assert (own.answer.analysis, own.answer.corrective_measures) == (ANALYSIS, MEASURES)


def test_an_unknown_report_is_not_found(world):
    with pytest.raises(NotFound):
        reports.answer(
            world.db, world.actor("coordinateur_ref"), 999_999, ReportAnswerInput(ANALYSIS)
        )


def test_the_abilities_follow_the_rules(world):
    report_id = make_report(world, "awaiting")
    for name in ACTOR_NAMES:
        try:
            view = report_queries.get_report(world.db, world.actor(name), report_id=report_id)
        except PermissionDenied:
            continue
        assert view.abilities["answer_report"] is (name in ALLOWED_ROLES), name
    reports.answer(world.db, world.actor("referent_ref"), report_id, ReportAnswerInput(ANALYSIS))
    view = report_queries.get_report(world.db, world.actor("coordinateur_ref"), report_id=report_id)
    assert view.abilities["answer_report"] is False
