"""System action « relance » of a « fonctionnement non conforme » (``reports.send_reminders``
and ``registre remind``), mirroring SPEC §7: when the concerned establishment has not answered
N days (7 by default) after the report was declared, its Coordinateur PDSES and Référent PDSES
accounts (référents limited to other specialties excluded) get one reminder — never twice,
never for an answered or withdrawn report — carrying nothing of the declarer's impact
statement nor who declared (SPEC §5).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from registre import cli, dossiers, report_queries, reports
from registre.db import get_database
from registre.models import AuditEntry, OutboxMail, Report
from registre.reports import ReportAnswerInput
from registre.timeutil import now

from .factories import ACTOR_NAMES

KIND = "non_conforme_relance"
# Who gets the reminder of a report about ``ref``, by specialty.
REMINDED = {
    "Neurochirurgie": {"coordinateur_ref", "referent_ref"},
    "ORL": {"coordinateur_ref", "referent_ref", "referent_ref_orl"},
}
IMPACT_SECRET = "impact-secret-ornithorynque"


def reminders(world) -> list[OutboxMail]:
    with world.db.read() as s:
        return list(
            s.scalars(select(OutboxMail).where(OutboxMail.kind == KIND).order_by(OutboxMail.id))
        )


def load_report(world, report_id: int) -> Report:
    with world.db.read() as s:
        report = s.get(Report, report_id)
        assert report is not None
        return report


def number_in(subject: str) -> str:
    found = re.search(r"F-\d{4}-\d{6}", subject)
    assert found is not None, subject
    return found.group()


def report_mails(world, report_id: int) -> list[OutboxMail]:
    number = load_report(world, report_id).number
    return [m for m in reminders(world) if number_in(m.subject) == number]


@pytest.mark.parametrize(
    ("elapsed", "reminded"),
    [
        (timedelta(0), False),
        (timedelta(days=6), False),
        (timedelta(days=7) - timedelta(minutes=1), False),
        (timedelta(days=7, minutes=1), True),
        (timedelta(days=8), True),
        (timedelta(days=30), True),
    ],
)
def test_nothing_before_seven_days(world, clock, elapsed, reminded):
    ref = world.report()
    clock.advance(seconds=elapsed.total_seconds())
    assert reports.send_reminders(world.db, days=7) == (1 if reminded else 0)
    assert len(reminders(world)) == (2 if reminded else 0)
    assert load_report(world, ref.id).reminded_at == (now() if reminded else None)


@pytest.mark.parametrize("name", ACTOR_NAMES)
def test_who_receives_the_reminder(world, clock, name):
    by_specialty = {
        specialty: world.report(specialty_id=world.specialty[specialty]).id
        for specialty in REMINDED
    }
    clock.advance(days=8)
    assert reports.send_reminders(world.db, days=7) == len(REMINDED)
    email = world.actor(name).email
    for specialty, report_id in by_specialty.items():
        recipients = [m.recipient for m in report_mails(world, report_id)]
        assert recipients.count(email) == (1 if name in REMINDED[specialty] else 0), specialty
        assert len(recipients) == len(REMINDED[specialty])


def test_one_reminder_per_recipient_per_report_and_never_twice(world, clock):
    first = world.report()
    second = world.report("referent_req")
    clock.advance(days=8)
    assert reports.send_reminders(world.db, days=7) == 2
    sent = reminders(world)
    assert sorted((number_in(m.subject), m.recipient) for m in sent) == [
        (first.number, "coordinateur-ref@example.org"),
        (first.number, "referent-ref@example.org"),
        (second.number, "coordinateur-ref@example.org"),
        (second.number, "referent-ref@example.org"),
    ]
    # running it again, now or much later, sends nothing twice
    assert reports.send_reminders(world.db, days=7) == 0
    clock.advance(days=30)
    assert reports.send_reminders(world.db, days=7) == 0
    assert [m.id for m in reminders(world)] == [m.id for m in sent]


def test_answered_and_withdrawn_reports_are_not_reminded(world, clock):
    answered = world.report()
    withdrawn = world.report()
    waiting = world.report()
    clock.advance(days=3)
    reports.answer(
        world.db,
        world.actor("referent_ref"),
        answered.id,
        ReportAnswerInput(analysis="Astreinte en intervention"),
    )
    reports.withdraw(world.db, world.actor("declarant_req"), withdrawn.id, "Erreur de saisie")
    clock.advance(days=5)
    assert reports.send_reminders(world.db, days=7) == 1
    assert {number_in(m.subject) for m in reminders(world)} == {waiting.number}
    assert load_report(world, answered.id).reminded_at is None
    assert load_report(world, withdrawn.id).reminded_at is None


def test_a_report_nobody_can_be_told_of_is_reminded_to_nobody(world, clock):
    ref = world.report(concerned="other")  # Foch has no account
    clock.advance(days=8)
    assert reports.send_reminders(world.db, days=7) == 1
    assert reminders(world) == []
    assert load_report(world, ref.id).reminded_at == now()
    # the history says it as it is: no reminder could go out
    history = report_queries.history(world.db, world.actor("declarant_req"), ref.id)
    assert [h.action for h in history][-1] == (
        "Relance impossible : aucun compte Coordinateur ou Référent PDSES dans l'établissement "
        "concerné"
    )


@pytest.mark.parametrize(("days", "elapsed_days", "reminded"), [(3, 2, False), (3, 4, True)])
def test_the_delay_is_a_parameter(world, clock, days, elapsed_days, reminded):
    world.report()
    clock.advance(days=elapsed_days)
    assert reports.send_reminders(world.db, days=days) == (1 if reminded else 0)


def test_each_report_counts_from_its_own_declaration(world, clock):
    early = world.report()
    clock.advance(days=5)
    late = world.report()
    clock.advance(days=3)  # early: 8 days, late: 3 days
    assert reports.send_reminders(world.db, days=7) == 1
    assert load_report(world, early.id).reminded_at == now()
    assert load_report(world, late.id).reminded_at is None
    clock.advance(days=5)  # late: 8 days
    assert reports.send_reminders(world.db, days=7) == 1
    assert load_report(world, late.id).reminded_at == now()


def test_the_reminder_carries_nothing_of_the_declarer(world, clock):
    ref = world.report(
        "coordinateur_req",
        description="Ligne sonnant dans le vide pendant 40 minutes",
        impact=True,
        impact_description=IMPACT_SECRET,
    )
    clock.advance(days=8)
    reports.send_reminders(world.db, days=7)
    sent = reminders(world)
    assert len(sent) == 2
    for mail in sent:
        text = f"{mail.subject}\n{mail.body}"
        assert mail.subject == (
            f"[Registre des refus PDSES] Relance : fonctionnement non conforme {ref.number} "
            "toujours sans réponse"
        )
        assert "26/11/2026 03:15" in text
        assert "Neurochirurgie" in text
        assert "Type de dysfonctionnement : Ligne injoignable" in text
        assert "Établissement déclarant : Centre hospitalier Sud Francilien" in text
        assert "depuis plus de 7 jours" in text
        assert f"/signalement?numero={ref.number}" in text
        for hidden in (IMPACT_SECRET, "impact", "coordinateur_req", "coordinateur-req@"):
            assert hidden not in text


def test_reminders_are_audited_as_system_actions(world, clock):
    ref = world.report()
    clock.advance(days=8)
    reports.send_reminders(world.db, days=7)
    with world.db.read() as s:
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "report_reminded")).all()
    assert entry.actor_id is None
    assert entry.entity == "report"
    assert entry.entity_id == ref.id
    assert entry.at == now()
    assert entry.details["side"] == "refuser"


def test_refusal_reminders_and_report_reminders_are_separate(world, clock):
    world.finalised()
    world.report()
    clock.advance(days=8)
    assert dossiers.send_reminders(world.db, days=7) == 1
    assert reminders(world) == []  # the refusal's reminder is of another kind
    assert reports.send_reminders(world.db, days=7) == 1
    assert len(reminders(world)) == 2


# --- through the command line ---------------------------------------------------------------


@pytest.fixture
def cli_env(world, tmp_path, monkeypatch):
    """``registre`` pointed at the test database (the fake clock still runs)."""
    monkeypatch.setenv("REGISTRE_DATABASE_URL", world.db.url)
    monkeypatch.setenv("REGISTRE_SECRETS_FILE", str(tmp_path / "none.toml"))
    for key in ("REGISTRE_SMTP_HOST", "REGISTRE_BASE_URL", "REGISTRE_REMINDER_DAYS"):
        monkeypatch.delenv(key, raising=False)
    yield world
    get_database(world.db.url).dispose()


def test_remind_through_the_command_line_once(cli_env, clock, capsys):
    world = cli_env
    ref = world.report()
    world.report(concerned="other")
    clock.advance(days=8)
    assert cli.main(["remind", "--days", "7"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2].startswith("0 relance(s) mise(s) en file d'envoi")
    assert out[-1] == "2 relance(s) de fonctionnement non conforme mise(s) en file d'envoi."
    assert sorted(m.recipient for m in reminders(world)) == [
        "coordinateur-ref@example.org",
        "referent-ref@example.org",
    ]
    assert load_report(world, ref.id).reminded_at == now()

    assert cli.main(["remind"]) == 0  # the default delay (7 days): nothing twice
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "0 relance(s) de fonctionnement non conforme mise(s) en file d'envoi."
    assert len(reminders(world)) == 2


def test_remind_through_the_command_line_respects_the_delay(cli_env, clock, capsys):
    world = cli_env
    world.report()
    clock.advance(days=4)
    assert cli.main(["remind", "--days", "7"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("0 relance(s) de fonctionnement")
    assert cli.main(["remind", "--days", "3"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("1 relance(s) de fonctionnement")
    assert len(reminders(world)) == 2
