"""Mutual blindness of « fonctionnement non conforme » reports (SPEC §9: « same blindness
rules as refusals », SPEC §5): each role × each view, what is there and what is not.

A report of ``req`` (CHSF) about ``ref`` (Henri-Mondor) carries an impact description that
the concerned establishment must never see, nor who declared it; ``ref`` answers with an
analysis and corrective measures the declaring establishment must never see (it learns that
``ref`` answered, not what). Each actor reads the report, its history and its lists; the whole
content of what it receives (``dataclasses.asdict``) is searched, so a hidden field cannot slip
through in any attribute. The mails to the concerned establishment are searched too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from registre import report_queries, reports
from registre.errors import PermissionDenied
from registre.models import OutboxMail, ReportState, Role
from registre.permissions import ViewKind
from registre.report_queries import ConcernedReportView, DeclarerReportView, RegionalReportView
from registre.reports import ReportAnswerInput
from registre.timeutil import now

from .factories import ACTOR_NAMES

IMPACT_SECRET = "impact-description-koala"
ANALYSIS_SECRET = "analyse-concerne-loutre"
MEASURES_SECRET = "mesures-correctives-castor"
DESCRIPTION = "Ligne d'astreinte muette pendant 40 minutes"
DECLARER = "declarant_req"  # the declarer's display name in the test world
REQ_NAME = "Centre hospitalier Sud Francilien (CHSF)"
REF_NAME = "Hôpital Henri-Mondor (AP-HP)"

# What each actor gets for a Neurochirurgie report of ``req`` (91) about ``ref`` (94).
EXPECTED = {
    "declarant_req": DeclarerReportView,
    "referent_req": DeclarerReportView,
    "coordinateur_req": DeclarerReportView,
    "directeur_req": DeclarerReportView,
    "declarant_ref": ConcernedReportView,
    "referent_ref": ConcernedReportView,
    "coordinateur_ref": ConcernedReportView,
    "directeur_ref": ConcernedReportView,
    "referent_ref_orl": None,  # limited to ORL, the report is Neurochirurgie
    "ars": RegionalReportView,
    "ars_75": None,  # Paris only; 91 and 94 are not its départements
    "admin": None,
}
KINDS = {
    DeclarerReportView: ViewKind.REQUESTER,
    ConcernedReportView: ViewKind.REFUSER,
    RegionalReportView: ViewKind.REGIONAL,
}


@dataclass
class Case:
    answered: int  # req → ref, with an impact, answered by ref
    awaiting: int  # req → ref, with an impact, not answered yet


def declare(world, by: str = "declarant_req", concerned: str = "ref", **overrides) -> int:
    overrides.setdefault("description", DESCRIPTION)
    overrides.setdefault("impact", True)
    overrides.setdefault("impact_description", IMPACT_SECRET)
    return world.report(by, concerned=concerned, **overrides).id


@pytest.fixture
def case(world) -> Case:
    answered = declare(world)
    reports.answer(
        world.db,
        world.actor("referent_ref"),
        answered,
        ReportAnswerInput(analysis=ANALYSIS_SECRET, corrective_measures=MEASURES_SECRET),
    )
    return Case(answered=answered, awaiting=declare(world))


def content(value) -> str:
    """Every value a page could show, as one string."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return repr(dataclasses.asdict(value))
    if isinstance(value, list):
        return "\n".join(content(v) for v in value)
    return repr(value)


def test_the_matrix_covers_the_whole_world(world):
    assert set(EXPECTED) == set(ACTOR_NAMES) == set(world.actors)


# --- one report, every actor ----------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), EXPECTED.items())
def test_each_actor_gets_its_view_or_nothing(world, case, name, expected):
    actor = world.actor(name)
    if expected is None:
        with pytest.raises(PermissionDenied):
            report_queries.get_report(world.db, actor, report_id=case.answered)
        with pytest.raises(PermissionDenied):
            report_queries.history(world.db, actor, case.answered)
        return
    view = report_queries.get_report(world.db, actor, report_id=case.answered)
    assert type(view) is expected
    assert view.kind is KINDS[expected]
    text = content(view) + content(report_queries.history(world.db, actor, case.answered))
    # what both sides see
    assert view.number == "F-2026-000001"
    assert view.description == DESCRIPTION
    assert (view.declaring_establishment, view.concerned_establishment) == (REQ_NAME, REF_NAME)
    assert (view.specialty, view.report_type) == ("Neurochirurgie", "Ligne injoignable")
    assert view.is_line_holder is True
    assert view.state is ReportState.ANSWERED
    if expected is ConcernedReportView:
        for hidden in (IMPACT_SECRET, DECLARER, "declarant-req@"):
            assert hidden not in text, f"{name} sees « {hidden} »"
        assert ANALYSIS_SECRET in text and MEASURES_SECRET in text  # its own answer
    elif expected is DeclarerReportView:
        for hidden in (ANALYSIS_SECRET, MEASURES_SECRET):
            assert hidden not in text, f"{name} sees « {hidden} »"
        assert IMPACT_SECRET in text and DECLARER in text
        assert view.answered is True  # whether, not what
    else:
        for shown in (IMPACT_SECRET, DECLARER, ANALYSIS_SECRET, MEASURES_SECRET):
            assert shown in text
        assert (view.declaring_departement, view.concerned_departement) == ("91", "94")


def test_the_concerned_view_has_no_field_for_the_impact_nor_the_declarer(world, case):
    fields = set(ConcernedReportView.__dataclass_fields__)
    for hidden in ("impact", "impact_description", "created_by", "created_by_id", "answered_by"):
        assert hidden not in fields
    view = report_queries.get_report(
        world.db, world.actor("coordinateur_ref"), report_id=case.answered
    )
    for hidden in ("impact", "impact_description", "created_by"):
        assert not hasattr(view, hidden)
    values = dataclasses.asdict(view)
    assert all(IMPACT_SECRET not in repr(v) for v in values.values())


def test_the_declarer_view_has_no_field_for_the_answer(world, case):
    fields = set(DeclarerReportView.__dataclass_fields__)
    for hidden in ("answer", "analysis", "corrective_measures", "answered_by"):
        assert hidden not in fields
    view = report_queries.get_report(
        world.db, world.actor("directeur_req"), report_id=case.answered
    )
    for hidden in ("answer", "analysis", "corrective_measures"):
        assert not hasattr(view, hidden)
    assert ANALYSIS_SECRET not in repr(dataclasses.asdict(view))
    assert MEASURES_SECRET not in repr(dataclasses.asdict(view))


def test_an_unanswered_report_says_so_to_both_sides(world, case):
    declarer = report_queries.get_report(
        world.db, world.actor("declarant_req"), report_id=case.awaiting
    )
    concerned = report_queries.get_report(
        world.db, world.actor("declarant_ref"), report_id=case.awaiting
    )
    assert declarer.answered is False
    assert concerned.answer is None
    assert declarer.state is concerned.state is ReportState.AWAITING
    assert (declarer.state_label, declarer.icon) == ("Réponse attendue", "🔔")


def test_lookup_by_number_follows_the_same_rules(world, case):
    view = report_queries.get_report(
        world.db, world.actor("directeur_ref"), number=" f-2026-000001 "
    )
    assert type(view) is ConcernedReportView
    assert view.id == case.answered
    for name in ("admin", "ars_75", "referent_ref_orl"):
        with pytest.raises(PermissionDenied):
            report_queries.get_report(world.db, world.actor(name), number="F-2026-000001")


# --- the ARS by département, other establishments -------------------------------------------


@pytest.mark.parametrize(
    ("concerned", "visible"), [("ref", False), ("other", False), ("paris", True)]
)
def test_the_paris_ars_sees_only_reports_touching_paris(world, concerned, visible):
    report_id = declare(world, concerned=concerned)
    actor = world.actor("ars_75")
    if visible:
        view = report_queries.get_report(world.db, actor, report_id=report_id)
        assert type(view) is RegionalReportView
        assert view.concerned_departement == "75"
        assert IMPACT_SECRET in content(view)
    else:
        with pytest.raises(PermissionDenied):
            report_queries.get_report(world.db, actor, report_id=report_id)
    # the regional ARS sees them all
    assert (
        type(report_queries.get_report(world.db, world.actor("ars"), report_id=report_id))
        is RegionalReportView
    )


def test_the_paris_ars_sees_a_report_declared_from_paris(world):
    coordinator = world.add_account("coordinateur-paris", Role.COORDINATEUR, "paris")
    ref = reports.declare(world.db, coordinator, world.report_input("ref"))
    view = report_queries.get_report(world.db, world.actor("ars_75"), report_id=ref.id)
    assert (view.declaring_departement, view.concerned_departement) == ("75", "94")


@pytest.mark.parametrize("role", [Role.DECLARANT, Role.REFERENT, Role.COORDINATEUR, Role.DIRECTEUR])
def test_an_uninvolved_establishment_never_sees_the_report(world, case, role):
    outsider = world.add_account(f"{role.value}-foch", role, "other")
    for report_id in (case.answered, case.awaiting):
        with pytest.raises(PermissionDenied):
            report_queries.get_report(world.db, outsider, report_id=report_id)
        with pytest.raises(PermissionDenied):
            report_queries.history(world.db, outsider, report_id)
    assert report_queries.list_concerning_reports(world.db, outsider).total == 0
    assert report_queries.list_declared_reports(world.db, outsider).total == 0


@pytest.mark.parametrize(
    "name", ["declarant_ref", "referent_ref", "coordinateur_ref", "directeur_ref"]
)
def test_a_report_about_another_establishment_is_invisible(world, name):
    report_id = declare(world, concerned="other")
    with pytest.raises(PermissionDenied):
        report_queries.get_report(world.db, world.actor(name), report_id=report_id)


# --- history --------------------------------------------------------------------------------


def test_the_concerned_side_history_hides_the_declarer(world, case):
    entries = report_queries.history(world.db, world.actor("coordinateur_ref"), case.answered)
    assert [e.action for e in entries] == [
        "Signalement transmis à votre établissement",
        "Réponse de l'établissement concerné enregistrée",
    ]
    sent, answered = entries
    assert (sent.who, sent.details) == (REQ_NAME, ())
    assert answered.who == "referent_ref"
    assert answered.details  # its own answer, in full
    assert DECLARER not in content(entries) and IMPACT_SECRET not in content(entries)


def test_the_declarer_history_shows_the_answer_without_its_details(world, case):
    entries = report_queries.history(world.db, world.actor("declarant_req"), case.answered)
    assert [e.action for e in entries] == [
        "Fonctionnement non conforme déclaré",
        "Réponse de l'établissement concerné enregistrée",
    ]
    declared, answered = entries
    assert declared.who == DECLARER
    assert (answered.who, answered.details) == (REF_NAME, ())
    assert "referent_ref" not in content(entries)
    assert ANALYSIS_SECRET not in content(entries) and MEASURES_SECRET not in content(entries)


def test_a_withdrawal_reaches_the_concerned_history_without_its_reason(world, case):
    reports.withdraw(
        world.db, world.actor("declarant_req"), case.awaiting, "motif-retrait-hérisson"
    )
    concerned = report_queries.history(world.db, world.actor("referent_ref"), case.awaiting)
    assert [e.action for e in concerned] == [
        "Signalement transmis à votre établissement",
        "Signalement retiré par l'établissement déclarant",
    ]
    assert concerned[-1].who == REQ_NAME
    assert "motif-retrait-hérisson" not in content(concerned)
    declarer = report_queries.history(world.db, world.actor("coordinateur_req"), case.awaiting)
    assert "Motif : motif-retrait-hérisson" in declarer[-1].details


def test_the_ars_history_names_everyone(world, case):
    entries = report_queries.history(world.db, world.actor("ars"), case.answered)
    assert [e.who for e in entries] == [f"{DECLARER} ({REQ_NAME})", f"referent_ref ({REF_NAME})"]


# --- lists ----------------------------------------------------------------------------------


def test_lists_show_only_the_actors_establishment(world, case):
    from_ref = declare(world, by="coordinateur_ref", concerned="req")
    declared = report_queries.list_declared_reports(world.db, world.actor("declarant_req"))
    assert sorted(r.id for r in declared.items) == sorted([case.answered, case.awaiting])
    assert {r.other_establishment for r in declared.items} == {REF_NAME}
    concerning = report_queries.list_concerning_reports(world.db, world.actor("declarant_req"))
    assert [r.id for r in concerning.items] == [from_ref]
    assert concerning.items[0].other_establishment == REF_NAME
    ref_declared = report_queries.list_declared_reports(world.db, world.actor("directeur_ref"))
    assert [r.id for r in ref_declared.items] == [from_ref]
    for page in (declared, concerning, ref_declared):
        assert IMPACT_SECRET not in content(page.items)
        assert ANALYSIS_SECRET not in content(page.items)


def test_the_concerning_list_puts_the_awaiting_reports_first(world, clock):
    old_awaiting = declare(world, occurred_at=now() - timedelta(days=3))
    answered = declare(world, occurred_at=now() - timedelta(hours=1))
    new_awaiting = declare(world, occurred_at=now() - timedelta(hours=2))
    withdrawn = declare(world, occurred_at=now() - timedelta(minutes=30))
    reports.answer(
        world.db, world.actor("coordinateur_ref"), answered, ReportAnswerInput(analysis="Vu")
    )
    reports.withdraw(world.db, world.actor("declarant_req"), withdrawn, "Erreur")
    concerning = report_queries.list_concerning_reports(world.db, world.actor("referent_ref"))
    # withdrawn ones only on demand, like the registry's abandoned drafts
    assert [r.id for r in concerning.items] == [new_awaiting, old_awaiting, answered]
    assert [r.state for r in concerning.items[:2]] == [ReportState.AWAITING] * 2
    assert report_queries.count_awaiting_reports(world.db, world.actor("referent_ref")).value == 2
    # the declarer's list is simply latest first
    declared = report_queries.list_declared_reports(world.db, world.actor("declarant_req"))
    assert [r.id for r in declared.items] == [answered, new_awaiting, old_awaiting]
    only_withdrawn = report_queries.list_declared_reports(
        world.db, world.actor("declarant_req"), state=ReportState.WITHDRAWN
    )
    assert [r.id for r in only_withdrawn.items] == [withdrawn]
    awaiting_only = report_queries.list_concerning_reports(
        world.db, world.actor("referent_ref"), state=ReportState.AWAITING
    )
    assert [r.id for r in awaiting_only.items] == [new_awaiting, old_awaiting]


def test_lists_respect_the_specialty_limit(world):
    neuro = declare(world)
    orl = declare(world, specialty_id=world.specialty["ORL"])
    orl_referent = world.actor("referent_ref_orl")
    concerning = report_queries.list_concerning_reports(world.db, orl_referent)
    assert [r.id for r in concerning.items] == [orl]
    assert report_queries.count_awaiting_reports(world.db, orl_referent).value == 1
    full = report_queries.list_concerning_reports(world.db, world.actor("referent_ref"))
    assert sorted(r.id for r in full.items) == sorted([neuro, orl])
    declared_by_ref = declare(world, by="coordinateur_ref", concerned="req")
    assert report_queries.list_declared_reports(world.db, orl_referent).total == 0
    assert [
        r.id
        for r in report_queries.list_declared_reports(world.db, world.actor("referent_ref")).items
    ] == [declared_by_ref]


@pytest.mark.parametrize("name", ["ars", "ars_75", "admin"])
def test_lists_are_refused_to_the_ars_and_the_admin(world, case, name):
    actor = world.actor(name)
    for call in (
        report_queries.list_declared_reports,
        report_queries.list_concerning_reports,
        report_queries.count_awaiting_reports,
        report_queries.form_options,
    ):
        with pytest.raises(PermissionDenied):
            call(world.db, actor)


# --- mails ----------------------------------------------------------------------------------


def test_mails_to_the_concerned_establishment_hide_the_impact_and_the_declarer(world, clock):
    declare(world)
    declare(world, specialty_id=world.specialty["ORL"])
    clock.advance(days=8)
    reports.send_reminders(world.db, days=7)
    concerned_emails = {
        world.actor(n).email for n in ("coordinateur_ref", "referent_ref", "referent_ref_orl")
    }
    with world.db.read() as s:
        queued = list(s.scalars(select(OutboxMail).order_by(OutboxMail.id)))
    to_concerned = [m for m in queued if m.recipient in concerned_emails]
    assert {m.kind for m in to_concerned} == {"non_conforme_transmis", "non_conforme_relance"}
    assert len(to_concerned) == 10  # 2 + 3 declared, 2 + 3 reminded
    for mail in to_concerned:
        text = f"{mail.subject}\n{mail.body}"
        for hidden in (IMPACT_SECRET, DECLARER, "declarant-req@", "impact"):
            assert hidden not in text, f"{mail.kind} to {mail.recipient} contains « {hidden} »"
        assert REQ_NAME in text
    # the directors' mail does carry the impact: the filter above is not vacuous
    to_director = [m for m in queued if m.kind == "non_conforme_impact_directeur"]
    assert [m.recipient for m in to_director] == ["directeur-req@example.org"] * 2
    assert all(IMPACT_SECRET in m.body for m in to_director)
