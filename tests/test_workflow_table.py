"""The workflow table is complete and consistent with the spec's states and roles."""

from __future__ import annotations

from registre.models import DossierState, LineState, Role
from registre.workflow import DOSSIER_STATE_ICONS, LINE_STATE_ICONS, TRANSITIONS, Action


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
