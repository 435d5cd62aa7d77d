"""System action « relance » (``dossiers.send_reminders``), mirroring SPEC §7: when a refusing
establishment has not answered N days (7 by default) after the refusal was sent to it, its
Coordinateur PDSES and Référent PDSES accounts (référents limited to other specialties
excluded) get one reminder per line — never twice, never for an answered, unsent or removed
line — and the reminder carries nothing of the requester's statements (SPEC §5).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from registre import dossiers, queries
from registre.dossiers import AnswerInput
from registre.models import AuditEntry, LineState, OutboxMail, RefuserLine
from registre.timeutil import now

ACTORS = [
    "declarant_req",
    "referent_req",
    "coordinateur_req",
    "directeur_req",
    "declarant_ref",
    "referent_ref",
    "coordinateur_ref",
    "directeur_ref",
    "referent_ref_orl",
    "ars",
    "ars_75",
    "admin",
]
# Who gets the reminder of a Neurochirurgie refusal by ``ref``, and of an ORL one.
REMINDED = {
    "Neurochirurgie": {"coordinateur_ref", "referent_ref"},
    "ORL": {"coordinateur_ref", "referent_ref", "referent_ref_orl"},
}


def reminders(world) -> list[OutboxMail]:
    with world.db.read() as s:
        return list(
            s.scalars(
                select(OutboxMail).where(OutboxMail.kind == "relance").order_by(OutboxMail.id)
            )
        )


def line_of(world, dossier_id: int, est: str) -> RefuserLine:
    with world.db.read() as s:
        return s.scalars(
            select(RefuserLine).where(
                RefuserLine.dossier_id == dossier_id,
                RefuserLine.refusing_establishment_id == world.est[est],
                RefuserLine.removed_at.is_(None),
            )
        ).one()


def answer(world, dossier_id: int, est: str = "ref") -> None:
    dossiers.answer(
        world.db,
        world.actor(f"coordinateur_{est}"),
        dossier_id,
        line_of(world, dossier_id, est).id,
        AnswerInput(
            understood_motif_id=world.request_motif["Avis spécialisé"],
            refusal_motif_id=world.refusal_motif["Absence de lit disponible"],
        ),
    )


@pytest.mark.parametrize(
    ("elapsed", "reminded"),
    [
        (timedelta(0), False),
        (timedelta(days=6), False),
        (timedelta(days=7) - timedelta(minutes=1), False),
        (timedelta(days=8), True),
        (timedelta(days=30), True),
    ],
)
def test_nothing_before_seven_days(world, clock, elapsed, reminded):
    ref = world.finalised()
    clock.advance(seconds=elapsed.total_seconds())
    count = dossiers.send_reminders(world.db, days=7)
    line = line_of(world, ref.id, "ref")
    assert count == (1 if reminded else 0)
    assert len(reminders(world)) == (2 if reminded else 0)
    assert line.reminded_at == (now() if reminded else None)


@pytest.mark.parametrize("name", ACTORS)
def test_who_receives_the_reminder(world, clock, name):
    by_specialty = {
        specialty: world.finalised(specialty_id=world.specialty[specialty]).id
        for specialty in REMINDED
    }
    clock.advance(days=8)
    assert dossiers.send_reminders(world.db, days=7) == len(REMINDED)
    sent = reminders(world)
    email = world.actor(name).email
    for specialty, dossier_id in by_specialty.items():
        recipients = [m.recipient for m in sent if m.dossier_id == dossier_id]
        assert recipients.count(email) == (1 if name in REMINDED[specialty] else 0), specialty
        assert len(recipients) == len(REMINDED[specialty])


def test_one_reminder_per_recipient_per_line_and_never_twice(world, clock):
    first = world.finalised()
    second = world.finalised()
    clock.advance(days=8)
    assert dossiers.send_reminders(world.db, days=7) == 2
    sent = reminders(world)
    assert sorted((m.dossier_id, m.recipient) for m in sent) == [
        (first.id, "coordinateur-ref@example.org"),
        (first.id, "referent-ref@example.org"),
        (second.id, "coordinateur-ref@example.org"),
        (second.id, "referent-ref@example.org"),
    ]
    # running it again, now or much later, sends nothing twice
    assert dossiers.send_reminders(world.db, days=7) == 0
    clock.advance(days=30)
    assert dossiers.send_reminders(world.db, days=7) == 0
    assert [m.id for m in reminders(world)] == [m.id for m in sent]


def test_answered_lines_are_not_reminded(world, clock):
    answered = world.finalised()
    waiting = world.finalised()
    clock.advance(days=3)
    answer(world, answered.id)
    clock.advance(days=5)
    assert dossiers.send_reminders(world.db, days=7) == 1
    assert {m.dossier_id for m in reminders(world)} == {waiting.id}
    assert line_of(world, answered.id, "ref").reminded_at is None


def test_unsent_and_removed_lines_are_not_reminded(world, clock):
    actor = world.actor("declarant_req")
    draft = world.draft("declarant_req", ("ref",))
    removed = world.draft("declarant_req", ("ref", "other"))
    dossiers.remove_line(world.db, actor, removed.id, line_of(world, removed.id, "ref").id)
    clock.advance(days=10)
    assert dossiers.send_reminders(world.db, days=7) == 0
    assert reminders(world) == []
    assert line_of(world, draft.id, "ref").state is LineState.PENDING


def test_a_reopened_dossier_still_awaits_its_answers(world, clock):
    ref = world.finalised()
    dossiers.reopen(world.db, world.actor("coordinateur_req"), ref.id, "Complément")
    clock.advance(days=8)
    assert dossiers.send_reminders(world.db, days=7) == 1


def test_each_line_counts_from_its_own_sending(world, clock):
    coordinateur = world.actor("coordinateur_req")
    ref = world.finalised("coordinateur_req", ("ref",))
    clock.advance(days=5)
    dossiers.reopen(world.db, coordinateur, ref.id, "Second refus")
    dossiers.add_line(world.db, coordinateur, ref.id, world.line_input("paris"))
    dossiers.finalise(world.db, coordinateur, ref.id)
    clock.advance(days=3)  # ref: 8 days, paris: 3 days
    assert dossiers.send_reminders(world.db, days=7) == 1
    assert line_of(world, ref.id, "ref").reminded_at == now()
    assert line_of(world, ref.id, "paris").reminded_at is None
    clock.advance(days=5)  # paris: 8 days
    assert dossiers.send_reminders(world.db, days=7) == 1
    assert line_of(world, ref.id, "paris").reminded_at == now()


@pytest.mark.parametrize(("days", "elapsed_days", "reminded"), [(3, 2, False), (3, 4, True)])
def test_the_delay_is_a_parameter(world, clock, days, elapsed_days, reminded):
    world.finalised()
    clock.advance(days=elapsed_days)
    assert dossiers.send_reminders(world.db, days=days) == (1 if reminded else 0)


def test_the_reminder_carries_nothing_of_the_requester(world, clock):
    secrets = ["ornithorynque", "zeppelin", "kangourou", "mandoline", "toboggan"]
    coordinateur = world.actor("coordinateur_req")
    ref = world.draft(
        "coordinateur_req",
        comments=secrets[0],
        request_motif_id=world.request_motif["Autre"],
        request_other_motif=secrets[1],
        impact=True,
        impact_description=secrets[2],
        final_destination_id=world.destination["Décédé"],
    )
    dossiers.add_line(
        world.db,
        coordinateur,
        ref.id,
        world.line_input(
            "ref",
            refusal_motif_id=world.refusal_motif["Autre"],
            other_motif=secrets[3],
            comments=secrets[4],
        ),
    )
    dossiers.add_line(world.db, coordinateur, ref.id, world.line_input("other"))
    dossiers.finalise(world.db, coordinateur, ref.id)
    clock.advance(days=8)
    dossiers.send_reminders(world.db, days=7)
    sent = reminders(world)
    assert len(sent) == 2
    for mail in sent:
        text = f"{mail.subject}\n{mail.body}"
        assert ref.number in text
        assert "26/11/2026 03:15" in text
        assert "Neurochirurgie" in text
        assert "Centre hospitalier Sud Francilien" in text
        assert "7 jours" in text
        for word in [*secrets, "Décédé", "Autre", "Foch", "impact"]:
            assert word not in text


def test_reminders_are_audited_as_system_actions(world, clock):
    ref = world.finalised()
    clock.advance(days=8)
    dossiers.send_reminders(world.db, days=7)
    line = line_of(world, ref.id, "ref")
    with world.db.read() as s:
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "line_reminded")).all()
    assert entry.actor_id is None
    assert entry.dossier_id == ref.id
    assert entry.entity_id == line.id
    assert entry.at == now()


def test_a_line_nobody_can_be_told_of_is_recorded_as_such(world, clock):
    """Foch has no Coordinateur nor Référent account: no mail can go out, and the history
    says so instead of claiming a reminder was sent."""
    ref = world.finalised(lines=("other",))
    clock.advance(days=8)
    assert dossiers.send_reminders(world.db, days=7) == 1
    with world.db.read() as s:
        assert s.scalars(select(OutboxMail).where(OutboxMail.kind == "relance")).all() == []
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.dossier_id == ref.id)).all()
    assert "line_reminded" not in actions and "line_reminder_unreached" in actions
    history = queries.history(world.db, world.actor("ars"), ref.id)
    assert history[-1].action == (
        "Relance impossible : aucun compte Coordinateur ou Référent PDSES dans l'établissement "
        "refuseur"
    )
