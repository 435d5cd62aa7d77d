"""The workflow table is complete and consistent with the spec's states and roles."""

from __future__ import annotations

from registre import workflow
from registre.models import WRITER_ROLES, DossierState, LineState, ReportState, Role
from registre.workflow import (
    DOSSIER_STATE_ICONS,
    LINE_STATE_ICONS,
    REPORT_STATE_ICONS,
    REPORT_STATE_LABELS,
    REPORT_TRANSITIONS,
    TRANSITIONS,
    Action,
    ReportAction,
    Side,
)


def test_every_action_has_exactly_one_transition():
    assert set(TRANSITIONS) == set(Action)


def test_icons_of_the_guide():
    assert DOSSIER_STATE_ICONS[DossierState.DRAFT] == "📝"
    assert DOSSIER_STATE_ICONS[DossierState.FINALISED] == "✅"
    assert LINE_STATE_ICONS[LineState.AWAITING] == "🔔"
    assert LINE_STATE_ICONS[LineState.ANSWERED] == "✅"


def test_no_transition_for_directeur_ars_or_admin():
    for transition in TRANSITIONS.values():
        assert not transition.roles & {Role.DIRECTEUR, Role.ARS, Role.ADMIN}


def test_only_the_coordinateur_reopens():
    assert TRANSITIONS[Action.REOPEN].roles == {Role.COORDINATEUR}
    assert TRANSITIONS[Action.REOPEN].dossier_states == {DossierState.FINALISED}


def test_finalised_and_abandoned_dossiers_accept_no_requester_edit():
    editing = [
        Action.UPDATE,
        Action.ADD_LINE,
        Action.EDIT_LINE,
        Action.REMOVE_LINE,
        Action.FINALISE,
        Action.ABANDON,
    ]
    for action in editing:
        assert TRANSITIONS[action].dossier_states == {DossierState.DRAFT}


# --- « fonctionnement non conforme » reports (SPEC §9) ---------------------------------------


def test_the_report_table_has_exactly_three_actions_for_the_writers():
    assert (
        set(REPORT_TRANSITIONS)
        == set(ReportAction)
        == {
            ReportAction.DECLARE,
            ReportAction.ANSWER,
            ReportAction.WITHDRAW,
        }
    )
    writers = {Role.DECLARANT, Role.REFERENT, Role.COORDINATEUR}
    assert writers == WRITER_ROLES
    for transition in REPORT_TRANSITIONS.values():
        assert transition.roles == writers


def test_the_report_transitions_match_the_documented_table():
    expected = {
        ReportAction.DECLARE: (Side.REQUESTER, {None}, ReportState.AWAITING),
        ReportAction.ANSWER: (Side.REFUSER, {ReportState.AWAITING}, ReportState.ANSWERED),
        ReportAction.WITHDRAW: (Side.REQUESTER, {ReportState.AWAITING}, ReportState.WITHDRAWN),
    }
    for action, (side, states, target) in expected.items():
        transition = REPORT_TRANSITIONS[action]
        assert (transition.action, transition.side, transition.states, transition.target) == (
            action,
            side,
            states,
            target,
        )
        # the docstring's table names every action and its side
        assert f"| {action.value} " in (workflow.__doc__ or "")
    # answered and withdrawn reports are final
    for transition in REPORT_TRANSITIONS.values():
        assert not transition.states & {ReportState.ANSWERED, ReportState.WITHDRAWN}


def test_every_report_state_has_a_label_and_an_icon():
    assert set(REPORT_STATE_LABELS) == set(REPORT_STATE_ICONS) == set(ReportState)
    assert REPORT_STATE_LABELS == {
        ReportState.AWAITING: "Réponse attendue",
        ReportState.ANSWERED: "Répondu",
        ReportState.WITHDRAWN: "Retiré",
    }
    assert REPORT_STATE_ICONS[ReportState.AWAITING] == "🔔"
    assert REPORT_STATE_ICONS[ReportState.ANSWERED] == "✅"
