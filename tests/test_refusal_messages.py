"""Issue 14 § 4: being refused tells an outsider nothing. Whoever may not see a dossier or a
report gets one message, the same for a number that does not exist, whatever the record's
state, whatever the version the form carries; the states (« Une réponse a déjà été
enregistrée… », « modifié entre-temps… ») are told only to those who see the record.

The outsider is a Coordinateur PDSES of ``other`` (Hôpital Foch): every writer role is allowed
each action by the workflow table, so only the scope can refuse it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from registre import dossiers, reports
from registre.errors import ConflictError, NotFound, PermissionDenied
from registre.models import Dossier, Report, Role
from registre.reports import ReportAnswerInput

from .readers import counts
from .test_action_answer import answer_input, line_of

DOSSIER_UNAVAILABLE = "Ce dossier n'existe pas ou vous n'y avez pas accès."
REPORT_UNAVAILABLE = "Ce signalement n'existe pas ou vous n'y avez pas accès."
MISSING = 10**6

# dossier of ``req`` with one line to ``ref``, in each state an outsider might probe
DOSSIER_STATES = ["draft", "finalised", "answered", "reopened", "abandoned"]


def _dossier(world, state: str) -> tuple[int, int, int]:
    """(dossier id, its line id, its version) in ``state``."""
    requester = world.actor("coordinateur_req")
    if state in ("draft", "abandoned"):
        ref = world.draft("coordinateur_req", ("ref",))
    else:
        ref = world.finalised("coordinateur_req", ("ref",))
    line_id = line_of(world, ref.id, "ref").id
    if state == "answered":
        dossiers.answer(
            world.db, world.actor("coordinateur_ref"), ref.id, line_id, answer_input(world)
        )
    elif state == "reopened":
        dossiers.reopen(world.db, requester, ref.id, "Complément")
    elif state == "abandoned":
        dossiers.abandon(world.db, requester, ref.id)
    with world.db.read() as s:
        dossier = s.get(Dossier, ref.id)
        assert dossier is not None
        return ref.id, line_id, dossier.version


Probe = Callable[[Any, Any, int, int, int | None], object]

DOSSIER_ACTIONS: dict[str, Probe] = {
    "update": lambda w, a, d, ln, v: dossiers.update_draft(w.db, a, d, w.dossier_input(), v),
    "add_line": lambda w, a, d, ln, v: dossiers.add_line(w.db, a, d, w.line_input("other"), v),
    "edit_line": lambda w, a, d, ln, v: dossiers.edit_line(w.db, a, d, ln, w.line_input(), v),
    "remove_line": lambda w, a, d, ln, v: dossiers.remove_line(w.db, a, d, ln, v),
    "finalise": lambda w, a, d, ln, v: dossiers.finalise(w.db, a, d, v),
    "reopen": lambda w, a, d, ln, v: dossiers.reopen(w.db, a, d, "Complément", v),
    "abandon": lambda w, a, d, ln, v: dossiers.abandon(w.db, a, d, None, v),
    "answer": lambda w, a, d, ln, v: dossiers.answer(w.db, a, d, ln, answer_input(w)),
}


def _refused(call: Callable[[], object]) -> str:
    with pytest.raises((NotFound, PermissionDenied)) as refused:
        call()
    return refused.value.message


@pytest.mark.parametrize("action", DOSSIER_ACTIONS)
def test_an_outsider_gets_one_message_for_every_dossier_state_and_for_none(world, action):
    outsider = world.add_account("coordinateur-other", Role.COORDINATEUR, "other")
    probe = DOSSIER_ACTIONS[action]
    messages = set()
    for state in DOSSIER_STATES:
        dossier_id, line_id, version = _dossier(world, state)
        before = counts(world)
        for expected_version in (None, version, version - 1):
            messages.add(
                _refused(lambda: probe(world, outsider, dossier_id, line_id, expected_version))
            )
        # a line id that does not exist in a dossier the outsider cannot see
        messages.add(_refused(lambda: probe(world, outsider, dossier_id, MISSING, None)))
        assert counts(world) == before
    messages.add(_refused(lambda: probe(world, outsider, MISSING, MISSING, None)))
    assert messages == {DOSSIER_UNAVAILABLE}


def test_a_refuser_outside_the_specialty_learns_nothing_of_an_answered_line(world):
    """The ORL-limited Référent of ``ref`` on a neurosurgery refusal already answered: before,
    « Une réponse a déjà été enregistrée pour ce refus. » told it the state."""
    dossier_id, line_id, _ = _dossier(world, "answered")
    message = _refused(
        lambda: dossiers.answer(
            world.db, world.actor("referent_ref_orl"), dossier_id, line_id, answer_input(world)
        )
    )
    assert message == DOSSIER_UNAVAILABLE


def test_those_who_see_the_dossier_are_still_told_its_state(world):
    dossier_id, line_id, version = _dossier(world, "answered")
    refuser = world.actor("coordinateur_ref")
    assert (
        _refused(
            lambda: dossiers.answer(world.db, refuser, dossier_id, line_id, answer_input(world))
        )
        == "Une réponse a déjà été enregistrée pour ce refus."
    )
    requester = world.actor("coordinateur_req")
    with pytest.raises(ConflictError):
        dossiers.reopen(world.db, requester, dossier_id, "Complément", version - 1)
    assert (
        _refused(lambda: dossiers.abandon(world.db, requester, dossier_id, None, version))
        == "Cette action n'est pas possible dans l'état actuel du dossier."
    )


# --- « fonctionnement non conforme » ------------------------------------------------------

REPORT_STATES = ["awaiting", "answered", "withdrawn"]


def _report(world, state: str) -> tuple[int, int]:
    ref = world.report("coordinateur_req")
    if state == "answered":
        reports.answer(
            world.db, world.actor("coordinateur_ref"), ref.id, ReportAnswerInput("Analyse")
        )
    elif state == "withdrawn":
        reports.withdraw(world.db, world.actor("coordinateur_req"), ref.id, "Erreur de saisie")
    with world.db.read() as s:
        report = s.get(Report, ref.id)
        assert report is not None
        return ref.id, report.version


REPORT_ACTIONS: dict[str, Callable[[Any, Any, int, int | None], object]] = {
    "answer_report": lambda w, a, r, v: reports.answer(w.db, a, r, ReportAnswerInput("Analyse")),
    "withdraw": lambda w, a, r, v: reports.withdraw(w.db, a, r, "Erreur de saisie", v),
}


@pytest.mark.parametrize("action", REPORT_ACTIONS)
def test_an_outsider_gets_one_message_for_every_report_state_and_for_none(world, action):
    outsider = world.add_account("coordinateur-other", Role.COORDINATEUR, "other")
    probe = REPORT_ACTIONS[action]
    messages = set()
    for state in REPORT_STATES:
        report_id, version = _report(world, state)
        for expected_version in (None, version, version - 1):
            messages.add(_refused(lambda: probe(world, outsider, report_id, expected_version)))
    messages.add(_refused(lambda: probe(world, outsider, MISSING, None)))
    assert messages == {REPORT_UNAVAILABLE}


def test_a_report_outside_the_specialty_tells_nothing_of_its_answer(world):
    report_id, _ = _report(world, "answered")
    message = _refused(
        lambda: reports.answer(
            world.db, world.actor("referent_ref_orl"), report_id, ReportAnswerInput("Analyse")
        )
    )
    assert message == REPORT_UNAVAILABLE


def test_those_who_see_the_report_are_still_told_its_state(world):
    report_id, version = _report(world, "answered")
    assert (
        _refused(
            lambda: reports.answer(
                world.db, world.actor("coordinateur_ref"), report_id, ReportAnswerInput("Autre")
            )
        )
        == "Une réponse a déjà été enregistrée pour ce signalement."
    )
    with pytest.raises(ConflictError):
        reports.withdraw(
            world.db, world.actor("coordinateur_req"), report_id, "Erreur", version - 1
        )
