"""Races on a refusal dossier (issue « Concurrency »): two users finalising or editing the same
dossier, an edit against a finalisation, two refusers answering the same line, double clicks
on « Finaliser le dossier » and « Enregistrer la réponse », answers against the requester
reopening, abandoning or amending its statement, and reminder runs. Real threads released
together by a barrier, on the test database (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: row
locks), each race ``ROUNDS`` times on a fresh dossier.

Each test checks the outcomes (exactly one success and a clear French refusal, or two
successes when the actions do not conflict), the rows (one line, one answer, the version
raised once per action, every field of the winner and none of a refused stale form) and the
outbox (each mail exactly once per recipient)."""

from __future__ import annotations

from collections import Counter
from functools import partial

import pytest

from registre import dossiers
from registre.dossiers import AnswerInput, DossierInput, DossierRef
from registre.errors import ConflictError, PermissionDenied
from registre.models import (
    DossierState,
    LineState,
    Sex,
    Urgency,
)

from .races import (
    ROUNDS,
    audit_count,
    directors,
    mails,
    once_each,
    one_wins,
    race,
    refuser_recipients,
)
from .readers import counts, get_line, lines_of, load

STALE = ConflictError().message
ALREADY_ANSWERED = "Une réponse a déjà été enregistrée pour ce refus."
WRONG_STATE = "Cette action n'est pas possible dans l'état actuel du dossier."
REQUESTERS = ("declarant_req", "coordinateur_req")
REFUSERS = ("referent_ref", "coordinateur_ref")


def final_form(world, **overrides) -> DossierInput:
    """The form as « Finaliser le dossier » sends it (the destination chosen last)."""
    overrides.setdefault("final_destination_id", world.destination["Retour à domicile"])
    return world.dossier_input(**overrides)


def answer_input(world, comments: str, motif: str, understood: str) -> AnswerInput:
    return AnswerInput(
        understood_motif_id=world.request_motif[understood],
        refusal_motif_id=world.refusal_motif[motif],
        comments=comments,
    )


ANSWERS = {
    "referent_ref": (
        "Aucun lit libre en réanimation",
        "Absence de lit disponible",
        "Avis spécialisé",
    ),
    "coordinateur_ref": (
        "Neurochirurgien d'astreinte déjà au bloc",
        "Absence de praticien disponible",
        "Transfert pour intervention ou geste technique",
    ),
}


def assert_answer(line, world, name: str) -> None:
    comments, motif, understood = ANSWERS[name]
    assert line.state is LineState.ANSWERED
    assert line.answered_by_id == world.actor(name).id
    assert line.answer_comments == comments
    assert line.answer_refusal_motif_id == world.refusal_motif[motif]
    assert line.answer_understood_motif_id == world.request_motif[understood]


def answer_call(world, name: str, dossier_id: int, line_id: int):
    return partial(
        dossiers.answer,
        world.db,
        world.actor(name),
        dossier_id,
        line_id,
        answer_input(world, *ANSWERS[name]),
    )


# --- requester against requester --------------------------------------------------------


def test_two_users_finalising_the_same_dossier_finalise_it_once_and_mail_once(world):
    recipients, bosses = refuser_recipients(world), directors(world)
    for _ in range(ROUNDS):
        draft = world.draft("declarant_req", lines=("ref",))
        forms = {
            name: final_form(
                world,
                comments=f"Finalisé par {name}",
                impact=True,
                impact_description=f"Prise en charge retardée ({name})",
            )
            for name in REQUESTERS
        }
        outcomes = race(
            *(
                partial(dossiers.finalise, world.db, world.actor(n), draft.id, draft.version, f)
                for n, f in forms.items()
            )
        )
        winner, refusal = one_wins(outcomes, lambda o: isinstance(o, DossierRef))
        assert isinstance(refusal, ConflictError) and refusal.message == STALE
        form = forms[REQUESTERS[winner]]
        dossier = load(world, draft.id)
        assert dossier.state is DossierState.FINALISED
        assert dossier.version == outcomes[winner].version == draft.version + 1
        assert (dossier.comments, dossier.impact_description) == (
            form.comments,
            form.impact_description,
        )
        assert [ln.state for ln in dossier.lines] == [LineState.AWAITING]
        assert mails(world.db, "refus_transmis", dossier_id=draft.id) == once_each(recipients)
        assert mails(world.db, "impact_directeur", dossier_id=draft.id) == once_each(bosses)
        assert audit_count(world.db, "dossier_finalised", entity_id=draft.id) == 1


@pytest.mark.parametrize("with_version", [True, False], ids=["form-version", "no-version"])
def test_a_double_click_on_finalise_finalises_once_and_mails_once(world, with_version):
    recipients = refuser_recipients(world)
    actor = world.actor("declarant_req")
    for _ in range(ROUNDS):
        draft = world.draft("declarant_req", lines=("ref", "paris"))
        form = final_form(world, comments="Double clic")
        version = draft.version if with_version else None
        click = partial(dossiers.finalise, world.db, actor, draft.id, version, form)
        outcomes = race(click, click)
        _, refusal = one_wins(outcomes, lambda o: isinstance(o, DossierRef))
        if with_version:  # the second click carries the version the first one raised
            assert isinstance(refusal, ConflictError) and refusal.message == STALE
        else:  # the second click finds the dossier finalised
            assert isinstance(refusal, PermissionDenied) and refusal.message == WRONG_STATE
        dossier = load(world, draft.id)
        assert dossier.state is DossierState.FINALISED
        assert dossier.version == draft.version + 1
        assert [ln.state for ln in dossier.lines] == [LineState.AWAITING] * 2
        # « paris » has nobody to mail: only « ref »'s accounts, once each
        assert mails(world.db, "refus_transmis", dossier_id=draft.id) == once_each(recipients)
        assert audit_count(world.db, "dossier_finalised", entity_id=draft.id) == 1


def test_two_users_editing_the_same_dossier_keep_one_edit_and_refuse_the_stale_one(world):
    bosses = directors(world)
    for _ in range(ROUNDS):
        draft = world.draft("declarant_req", lines=("ref",), comments="Saisie initiale")
        forms = {
            "declarant_req": world.dossier_input(
                comments="Version A",
                sex=Sex.FEMALE,
                impact=True,
                impact_description="Transfert retardé (A)",
            ),
            "coordinateur_req": world.dossier_input(
                comments="Version B",
                urgency=Urgency.VITAL,
                impact=True,
                impact_description="Transfert retardé (B)",
            ),
        }
        outcomes = race(
            *(
                partial(dossiers.update_draft, world.db, world.actor(n), draft.id, f, draft.version)
                for n, f in forms.items()
            )
        )
        winner, refusal = one_wins(outcomes, lambda o: isinstance(o, DossierRef))
        assert isinstance(refusal, ConflictError) and refusal.message == STALE
        won = forms[REQUESTERS[winner]]
        dossier = load(world, draft.id)
        assert dossier.state is DossierState.DRAFT
        assert dossier.version == outcomes[winner].version == draft.version + 1
        # every field of the winner's form, nothing of the refused one
        assert (dossier.comments, dossier.sex, dossier.urgency, dossier.impact_description) == (
            won.comments,
            won.sex,
            won.urgency,
            won.impact_description,
        )
        assert audit_count(world.db, "dossier_updated", entity_id=draft.id) == 1
        assert mails(world.db, "impact_directeur", dossier_id=draft.id) == once_each(bosses)
        # The refused user reloads and saves again: accepted on the new version, no new mail.
        lost = forms[REQUESTERS[1 - winner]]
        again = dossiers.update_draft(
            world.db, world.actor(REQUESTERS[1 - winner]), draft.id, lost, dossier.version
        )
        assert again.version == draft.version + 2
        assert load(world, draft.id).comments == lost.comments
        assert mails(world.db, "impact_directeur", dossier_id=draft.id) == once_each(bosses)


def test_an_edit_against_a_finalisation_one_wins_the_other_is_refused(world):
    recipients = refuser_recipients(world)
    for _ in range(ROUNDS):
        draft = world.draft("declarant_req", lines=("ref",))
        edit = world.dossier_input(comments="Complément du coordinateur", sex=Sex.MALE)
        closing = final_form(world, comments="Finalisé par le déclarant")
        outcomes = race(
            partial(
                dossiers.update_draft,
                world.db,
                world.actor("coordinateur_req"),
                draft.id,
                edit,
                draft.version,
            ),
            partial(
                dossiers.finalise,
                world.db,
                world.actor("declarant_req"),
                draft.id,
                draft.version,
                closing,
            ),
        )
        winner, refusal = one_wins(outcomes, lambda o: isinstance(o, DossierRef))
        assert isinstance(refusal, ConflictError) and refusal.message == STALE
        dossier = load(world, draft.id)
        assert dossier.version == draft.version + 1
        sent = mails(world.db, "refus_transmis", dossier_id=draft.id)
        if winner == 0:  # the edit: still a draft with the edit, nothing sent
            assert dossier.state is DossierState.DRAFT
            assert (dossier.comments, dossier.sex) == (edit.comments, edit.sex)
            assert dossier.final_destination_id is None
            assert [ln.state for ln in dossier.lines] == [LineState.PENDING]
            assert sent == Counter()
        else:  # the finalisation: the finaliser's form, sent once
            assert dossier.state is DossierState.FINALISED
            assert (dossier.comments, dossier.sex) == (closing.comments, closing.sex)
            assert [ln.state for ln in dossier.lines] == [LineState.AWAITING]
            assert sent == once_each(recipients)


def test_a_finalisation_against_an_abandon_one_wins(world):
    recipients = refuser_recipients(world)
    for _ in range(ROUNDS):
        draft = world.draft("declarant_req", lines=("ref",))
        outcomes = race(
            partial(
                dossiers.finalise,
                world.db,
                world.actor("declarant_req"),
                draft.id,
                draft.version,
                final_form(world),
            ),
            partial(
                dossiers.abandon,
                world.db,
                world.actor("coordinateur_req"),
                draft.id,
                "Saisi en double",
                draft.version,
            ),
        )
        winner, refusal = one_wins(outcomes, lambda o: isinstance(o, DossierRef))
        assert isinstance(refusal, ConflictError) and refusal.message == STALE
        dossier = load(world, draft.id)
        assert dossier.version == draft.version + 1
        sent = mails(world.db, "refus_transmis", dossier_id=draft.id)
        if winner == 0:
            assert dossier.state is DossierState.FINALISED
            assert sent == once_each(recipients)
            assert audit_count(world.db, "dossier_abandoned", entity_id=draft.id) == 0
        else:
            assert dossier.state is DossierState.ABANDONED
            assert [ln.state for ln in dossier.lines] == [LineState.PENDING]
            assert sent == Counter()
            assert audit_count(world.db, "dossier_finalised", entity_id=draft.id) == 0


def test_two_users_editing_the_same_refuser_line_keep_one_edit(world):
    for _ in range(ROUNDS):
        draft = world.draft("declarant_req", lines=("ref",))
        (line,) = lines_of(world, draft.id)
        forms = {
            "declarant_req": world.line_input(
                "ref", refusal_motif_id=world.refusal_motif["Bloc opératoire indisponible"]
            ),
            "coordinateur_req": world.line_input(
                "ref",
                refusal_motif_id=world.refusal_motif["Autre"],
                other_motif="Appareil d'imagerie en panne",
                comments="Rappelé deux fois",
            ),
        }
        outcomes = race(
            *(
                partial(
                    dossiers.edit_line,
                    world.db,
                    world.actor(n),
                    draft.id,
                    line.id,
                    f,
                    draft.version,
                )
                for n, f in forms.items()
            )
        )
        winner, refusal = one_wins(outcomes, lambda o: o is None)
        assert isinstance(refusal, ConflictError) and refusal.message == STALE
        won = forms[REQUESTERS[winner]]
        after = get_line(world, line.id)
        assert (after.refusal_motif_id, after.other_motif, after.comments) == (
            won.refusal_motif_id,
            won.other_motif,
            won.comments,
        )
        assert load(world, draft.id).version == draft.version + 1
        assert len(lines_of(world, draft.id)) == 1


# --- refuser against refuser ------------------------------------------------------------


def test_two_refusers_answering_the_same_line_record_one_answer(world):
    for _ in range(ROUNDS):
        sent = world.finalised("declarant_req", lines=("ref",))
        (line,) = lines_of(world, sent.id)
        before = counts(world)
        outcomes = race(*(answer_call(world, n, sent.id, line.id) for n in REFUSERS))
        winner, refusal = one_wins(outcomes, lambda o: o is None)
        assert isinstance(refusal, PermissionDenied) and refusal.message == ALREADY_ANSWERED
        after = get_line(world, line.id)
        assert_answer(after, world, REFUSERS[winner])  # the winner's answer, whole
        assert after.version == line.version + 1
        assert load(world, sent.id).version == sent.version  # the requester's form stays valid
        assert audit_count(world.db, "line_answered", entity_id=line.id) == 1
        now_counts = counts(world)
        assert now_counts["refuser_lines"] == before["refuser_lines"]  # no duplicate line
        assert now_counts["outbox"] == before["outbox"]  # an answer mails nobody
        assert now_counts["audit_log"] == before["audit_log"] + 1


def test_a_double_click_on_enregistrer_la_reponse_answers_once(world):
    for _ in range(ROUNDS):
        sent = world.finalised("declarant_req", lines=("ref",))
        (line,) = lines_of(world, sent.id)
        before = counts(world)
        click = answer_call(world, "coordinateur_ref", sent.id, line.id)
        outcomes = race(click, click)
        _, refusal = one_wins(outcomes, lambda o: o is None)
        assert isinstance(refusal, PermissionDenied) and refusal.message == ALREADY_ANSWERED
        assert_answer(get_line(world, line.id), world, "coordinateur_ref")
        assert audit_count(world.db, "line_answered", entity_id=line.id) == 1
        assert counts(world) == {**before, "audit_log": before["audit_log"] + 1}


# --- refuser against requester ----------------------------------------------------------


def test_an_answer_while_the_requester_reopens_keeps_both(world):
    recipients = refuser_recipients(world)
    for _ in range(ROUNDS):
        sent = world.finalised("declarant_req", lines=("ref",))
        (line,) = lines_of(world, sent.id)
        outcomes = race(
            answer_call(world, "referent_ref", sent.id, line.id),
            partial(
                dossiers.reopen,
                world.db,
                world.actor("coordinateur_req"),
                sent.id,
                "Destination finale à corriger",
                sent.version,
            ),
        )
        # The answer carries no version (the requester's changes never make it conflict):
        # both succeed, whatever the order.
        assert outcomes[0] is None, outcomes
        assert isinstance(outcomes[1], DossierRef), outcomes
        dossier = load(world, sent.id)
        assert dossier.state is DossierState.DRAFT
        assert dossier.version == outcomes[1].version == sent.version + 1
        assert_answer(get_line(world, line.id), world, "referent_ref")
        assert audit_count(world.db, "dossier_reopened", entity_id=sent.id) == 1
        assert audit_count(world.db, "line_answered", entity_id=line.id) == 1
        # Finalised again: the refuser was told once and has answered; nothing is sent again.
        again = dossiers.finalise(world.db, world.actor("coordinateur_req"), sent.id)
        assert again.state is DossierState.FINALISED
        assert get_line(world, line.id).state is LineState.ANSWERED
        assert mails(world.db, "refus_transmis", dossier_id=sent.id) == once_each(recipients)


def test_an_answer_while_the_requester_tries_to_abandon_the_reopened_dossier(world):
    for _ in range(ROUNDS):
        sent = world.finalised("declarant_req", lines=("ref",))
        reopened = dossiers.reopen(
            world.db, world.actor("coordinateur_req"), sent.id, "Erreur de saisie"
        )
        (line,) = lines_of(world, sent.id)
        outcomes = race(
            answer_call(world, "coordinateur_ref", sent.id, line.id),
            partial(
                dossiers.abandon,
                world.db,
                world.actor("coordinateur_req"),
                sent.id,
                "Doublon",
                reopened.version,
            ),
        )
        # Already sent to the refuser: the draft cannot be abandoned, before or after the
        # answer; the answer is kept.
        assert outcomes[0] is None, outcomes
        assert isinstance(outcomes[1], PermissionDenied), outcomes
        assert "déjà été transmis" in outcomes[1].message
        dossier = load(world, sent.id)
        assert (dossier.state, dossier.version) == (DossierState.DRAFT, reopened.version)
        assert_answer(get_line(world, line.id), world, "coordinateur_ref")
        assert audit_count(world.db, "dossier_abandoned", entity_id=sent.id) == 0


def test_an_answer_while_the_requester_amends_its_statement_keeps_both(world):
    """After a reopening the requester edits its statement on the line while the refuser
    answers on the same row: both are kept, no field of either is lost."""
    for _ in range(ROUNDS):
        sent = world.finalised("declarant_req", lines=("ref",))
        reopened = dossiers.reopen(
            world.db, world.actor("coordinateur_req"), sent.id, "Motif à préciser"
        )
        (line,) = lines_of(world, sent.id)
        statement = world.line_input(
            "ref",
            refusal_motif_id=world.refusal_motif["Autre"],
            other_motif="Refus du médecin régulateur",
            comments="Précisé après échange téléphonique",
        )
        outcomes = race(
            answer_call(world, "referent_ref", sent.id, line.id),
            partial(
                dossiers.edit_line,
                world.db,
                world.actor("declarant_req"),
                sent.id,
                line.id,
                statement,
                reopened.version,
            ),
        )
        assert outcomes == [None, None], outcomes
        after = get_line(world, line.id)
        assert_answer(after, world, "referent_ref")
        assert (after.refusal_motif_id, after.other_motif, after.comments) == (
            statement.refusal_motif_id,
            statement.other_motif,
            statement.comments,
        )
        assert after.version == line.version + 2
        assert load(world, sent.id).version == reopened.version + 1


# --- reminders (« relance », a system action) -------------------------------------------


def test_two_reminder_runs_at_once_remind_each_line_once(world, clock):
    recipients = refuser_recipients(world)
    for _ in range(ROUNDS):
        sent = world.finalised("declarant_req", lines=("ref",))
        (line,) = lines_of(world, sent.id)
        clock.advance(days=8)
        run = partial(dossiers.send_reminders, world.db, 7)
        outcomes = race(run, run)
        assert sorted(outcomes) == [0, 1], outcomes  # one run reminds, the other finds nothing
        assert get_line(world, line.id).reminded_at is not None
        assert mails(world.db, "relance", dossier_id=sent.id) == once_each(recipients)
        assert audit_count(world.db, "line_reminded", entity_id=line.id) == 1


def test_an_answer_during_a_reminder_run_is_never_refused(world, clock):
    recipients = refuser_recipients(world)
    for _ in range(ROUNDS):
        sent = world.finalised("declarant_req", lines=("ref",))
        (line,) = lines_of(world, sent.id)
        clock.advance(days=8)
        outcomes = race(
            answer_call(world, "coordinateur_ref", sent.id, line.id),
            partial(dossiers.send_reminders, world.db, 7),
        )
        # The background run must not make the user's answer fail.
        assert outcomes[0] is None, outcomes
        assert outcomes[1] in (0, 1), outcomes
        after = get_line(world, line.id)
        assert_answer(after, world, "coordinateur_ref")
        reminded = outcomes[1] == 1
        assert (after.reminded_at is not None) is reminded
        expected = once_each(recipients) if reminded else Counter()
        assert mails(world.db, "relance", dossier_id=sent.id) == expected


def test_an_amended_statement_during_a_reminder_run_is_never_refused(world, clock):
    recipients = refuser_recipients(world)
    for _ in range(ROUNDS):
        sent = world.finalised("declarant_req", lines=("ref",))
        reopened = dossiers.reopen(
            world.db, world.actor("coordinateur_req"), sent.id, "Motif à préciser"
        )
        (line,) = lines_of(world, sent.id)
        clock.advance(days=8)
        statement = world.line_input("ref", comments="Précisé après la garde")
        outcomes = race(
            partial(
                dossiers.edit_line,
                world.db,
                world.actor("declarant_req"),
                sent.id,
                line.id,
                statement,
                reopened.version,
            ),
            partial(dossiers.send_reminders, world.db, 7),
        )
        assert outcomes[0] is None, outcomes
        assert outcomes[1] in (0, 1), outcomes
        assert get_line(world, line.id).comments == statement.comments
        # A run that found the dossier held by the user skipped it: the next run reminds it;
        # either way the refuser is reminded once.
        assert dossiers.send_reminders(world.db, 7) == 1 - outcomes[1]
        after = get_line(world, line.id)
        assert (after.state, after.comments) == (LineState.AWAITING, statement.comments)
        assert after.reminded_at is not None
        assert mails(world.db, "relance", dossier_id=sent.id) == once_each(recipients)
        assert audit_count(world.db, "line_reminded", entity_id=line.id) == 1
        assert load(world, sent.id).version == reopened.version + 1
