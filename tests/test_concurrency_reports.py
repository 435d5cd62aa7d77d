"""Races on a « fonctionnement non conforme » report (issue « Concurrency »): a double click on
« Déclarer », two accounts of the concerned establishment answering at once, a double click
on « Enregistrer la réponse », an answer against a withdrawal, two withdrawals, and reminder
runs. Real threads released together by a barrier, each race ``ROUNDS`` times on a fresh
report; the outcomes, the row and the outbox (each mail exactly once) are checked."""

from __future__ import annotations

from collections import Counter
from functools import partial

from sqlalchemy import func, select

from registre import reports
from registre.errors import ConflictError, PermissionDenied
from registre.models import Report, ReportState
from registre.reports import CONFLICT, ReportAnswerInput, ReportRef

from .races import (
    ROUNDS,
    audit_count,
    directors,
    is_refusal,
    mails,
    once_each,
    one_wins,
    race,
    refuser_recipients,
)

ALREADY_ANSWERED = "Une réponse a déjà été enregistrée pour ce signalement."
WRONG_STATE = "Cette action n'est pas possible dans l'état actuel du signalement."
CONCERNED = ("referent_ref", "coordinateur_ref")
DECLARING = ("declarant_req", "coordinateur_req")
ANSWERS = {
    "referent_ref": ReportAnswerInput(
        analysis="Téléphone d'astreinte resté au secrétariat", corrective_measures=None
    ),
    "coordinateur_ref": ReportAnswerInput(
        analysis="Renvoi d'appel non activé à la relève",
        corrective_measures="Vérification du renvoi à chaque relève",
    ),
}


def load_report(world, report_id: int) -> Report:
    with world.db.read() as s:
        report = s.get(Report, report_id)
        assert report is not None
        return report


def answer_call(world, name: str, report_id: int):
    return partial(reports.answer, world.db, world.actor(name), report_id, ANSWERS[name])


def assert_answer(report: Report, world, name: str) -> None:
    expected = ANSWERS[name]
    assert report.state is ReportState.ANSWERED
    assert report.answered_by_id == world.actor(name).id
    assert (report.analysis, report.corrective_measures) == (
        expected.analysis,
        expected.corrective_measures,
    )


def test_a_double_click_on_declare_declares_once_and_mails_once(world):
    recipients, bosses = refuser_recipients(world), directors(world)
    actor = world.actor("declarant_req")
    for i in range(ROUNDS):
        data = world.report_input(impact=True, impact_description="Transfert retardé d'une heure")
        token = f"formulaire-signalement-{i}"
        click = partial(reports.declare, world.db, actor, data, token)
        outcomes = race(click, click)
        refs = [o for o in outcomes if isinstance(o, ReportRef)]
        # The same report twice, or the report and a clear refusal of the second click.
        assert refs and all(isinstance(o, ReportRef) or is_refusal(o) for o in outcomes), outcomes
        assert len({r.id for r in refs}) == 1, outcomes
        for other in outcomes:
            if not isinstance(other, ReportRef):
                assert isinstance(other, ConflictError)
                assert other.message == "Ce signalement vient déjà d'être enregistré."
        report_id = refs[0].id
        with world.db.read() as s:
            same_form = select(func.count()).where(Report.creation_token == token)
            assert s.scalar(same_form.select_from(Report)) == 1
        assert audit_count(world.db, "report_declared", entity_id=report_id) == 1
        assert mails(world.db, "non_conforme_transmis", report_id=report_id) == once_each(
            recipients
        )
        assert mails(world.db, "non_conforme_impact_directeur", report_id=report_id) == (
            once_each(bosses)
        )
    with world.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Report)) == ROUNDS


def test_two_accounts_answering_the_same_report_record_one_answer(world):
    for _ in range(ROUNDS):
        declared = world.report()
        before = load_report(world, declared.id)
        outcomes = race(*(answer_call(world, n, declared.id) for n in CONCERNED))
        winner, refusal = one_wins(outcomes, lambda o: isinstance(o, ReportRef))
        assert isinstance(refusal, PermissionDenied) and refusal.message == ALREADY_ANSWERED
        after = load_report(world, declared.id)
        assert_answer(after, world, CONCERNED[winner])  # the winner's answer, whole
        assert after.version == before.version + 1
        assert audit_count(world.db, "report_answered", entity_id=declared.id) == 1


def test_a_double_click_on_enregistrer_la_reponse_answers_the_report_once(world):
    for _ in range(ROUNDS):
        declared = world.report()
        click = answer_call(world, "coordinateur_ref", declared.id)
        outcomes = race(click, click)
        _, refusal = one_wins(outcomes, lambda o: isinstance(o, ReportRef))
        assert isinstance(refusal, PermissionDenied) and refusal.message == ALREADY_ANSWERED
        assert_answer(load_report(world, declared.id), world, "coordinateur_ref")
        assert audit_count(world.db, "report_answered", entity_id=declared.id) == 1


def test_an_answer_against_a_withdrawal_one_wins(world):
    recipients = refuser_recipients(world)
    for _ in range(ROUNDS):
        declared = world.report()
        version = load_report(world, declared.id).version
        outcomes = race(
            answer_call(world, "referent_ref", declared.id),
            partial(
                reports.withdraw,
                world.db,
                world.actor("coordinateur_req"),
                declared.id,
                "Mauvais établissement concerné",
                version,
            ),
        )
        winner, refusal = one_wins(outcomes, lambda o: isinstance(o, ReportRef))
        after = load_report(world, declared.id)
        assert after.version == version + 1
        withdrawn_mails = mails(world.db, "non_conforme_retire", report_id=declared.id)
        if winner == 0:  # answered: the withdrawal comes too late
            assert isinstance(refusal, ConflictError) and refusal.message == CONFLICT
            assert_answer(after, world, "referent_ref")
            assert after.withdrawn_at is None
            assert withdrawn_mails == Counter()
        else:  # withdrawn: no answer is expected any more
            assert isinstance(refusal, PermissionDenied) and refusal.message == WRONG_STATE
            assert after.state is ReportState.WITHDRAWN
            assert (after.analysis, after.answered_at) == (None, None)
            assert withdrawn_mails == once_each(recipients)


def test_two_withdrawals_at_once_withdraw_once_and_mail_once(world):
    recipients = refuser_recipients(world)
    for _ in range(ROUNDS):
        declared = world.report()
        version = load_report(world, declared.id).version
        outcomes = race(
            *(
                partial(
                    reports.withdraw,
                    world.db,
                    world.actor(name),
                    declared.id,
                    f"Déclaré en double ({name})",
                    version,
                )
                for name in DECLARING
            )
        )
        _, refusal = one_wins(outcomes, lambda o: isinstance(o, ReportRef))
        assert isinstance(refusal, ConflictError) and refusal.message == CONFLICT
        after = load_report(world, declared.id)
        assert (after.state, after.version) == (ReportState.WITHDRAWN, version + 1)
        assert audit_count(world.db, "report_withdrawn", entity_id=declared.id) == 1
        assert mails(world.db, "non_conforme_retire", report_id=declared.id) == once_each(
            recipients
        )


def test_two_reminder_runs_at_once_remind_each_report_once(world, clock):
    recipients = refuser_recipients(world)
    for _ in range(ROUNDS):
        declared = world.report()
        clock.advance(days=8)
        run = partial(reports.send_reminders, world.db, 7)
        outcomes = race(run, run)
        assert sorted(outcomes) == [0, 1], outcomes
        assert load_report(world, declared.id).reminded_at is not None
        assert mails(world.db, "non_conforme_relance", report_id=declared.id) == once_each(
            recipients
        )
        assert audit_count(world.db, "report_reminded", entity_id=declared.id) == 1


def test_an_answer_during_a_reminder_run_is_never_refused(world, clock):
    recipients = refuser_recipients(world)
    for _ in range(ROUNDS):
        declared = world.report()
        clock.advance(days=8)
        outcomes = race(
            answer_call(world, "coordinateur_ref", declared.id),
            partial(reports.send_reminders, world.db, 7),
        )
        assert isinstance(outcomes[0], ReportRef), outcomes
        assert outcomes[1] in (0, 1), outcomes
        after = load_report(world, declared.id)
        assert_answer(after, world, "coordinateur_ref")
        reminded = outcomes[1] == 1
        assert (after.reminded_at is not None) is reminded
        expected = once_each(recipients) if reminded else Counter()
        assert mails(world.db, "non_conforme_relance", report_id=declared.id) == expected


def test_a_withdrawal_during_a_reminder_run_withdraws_once(world, clock):
    """The page's form carries the report's version, and a reminder queued since it was read
    is a change too (``test_report_withdraw``: the user reloads and sees it): the withdrawal
    either passes or is refused as a conflict; after a reload it passes. Nothing twice."""
    recipients = refuser_recipients(world)
    actor = world.actor("declarant_req")
    for _ in range(ROUNDS):
        declared = world.report()
        version = load_report(world, declared.id).version
        clock.advance(days=8)
        outcomes = race(
            partial(reports.withdraw, world.db, actor, declared.id, "Sans objet", version),
            partial(reports.send_reminders, world.db, 7),
        )
        assert outcomes[1] in (0, 1), outcomes
        reminded = outcomes[1] == 1
        if isinstance(outcomes[0], ReportRef):
            assert outcomes[0].state is ReportState.WITHDRAWN
        else:  # the reminder came first: a conflict, then the reloaded form withdraws
            assert reminded, outcomes
            assert isinstance(outcomes[0], ConflictError), outcomes
            assert outcomes[0].message == CONFLICT
            fresh = load_report(world, declared.id)
            assert fresh.state is ReportState.AWAITING
            reports.withdraw(world.db, actor, declared.id, "Sans objet", fresh.version)
        after = load_report(world, declared.id)
        assert after.state is ReportState.WITHDRAWN
        assert (after.reminded_at is not None) is reminded
        expected = once_each(recipients) if reminded else Counter()
        assert mails(world.db, "non_conforme_relance", report_id=declared.id) == expected
        assert mails(world.db, "non_conforme_retire", report_id=declared.id) == once_each(
            recipients
        )
        assert audit_count(world.db, "report_withdrawn", entity_id=declared.id) == 1
