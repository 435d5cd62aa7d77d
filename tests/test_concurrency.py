"""Two users (or a double click) at once on the same dossier: one wins, the other gets a
clear refusal, nothing is written twice, no mail goes twice. Real threads, real database
(SQLite serialises writers with BEGIN IMMEDIATE, PostgreSQL with row locks)."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from registre import dossiers
from registre.errors import ConflictError, PermissionDenied, RegistreError
from registre.models import Dossier, DossierState, OutboxMail, RefuserLine


def _race(*calls):
    """Run the calls at the same instant; their outcomes (a value or the exception)."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        try:
            outcomes[i] = call()
        except RegistreError as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcomes


def test_a_double_click_on_finalise_finalises_once_and_mails_once(world):
    ref = world.draft(
        "declarant_req", lines=("ref",), final_destination_id=world.destination["Retour à domicile"]
    )
    actor = world.actor("declarant_req")
    outcomes = _race(*(lambda: dossiers.finalise(world.db, actor, ref.id) for _ in range(2)))
    successes = [o for o in outcomes if isinstance(o, dossiers.DossierRef)]
    refusals = [o for o in outcomes if isinstance(o, PermissionDenied | ConflictError)]
    assert len(successes) == 1 and len(refusals) == 1, outcomes
    assert successes[0].state is DossierState.FINALISED
    with world.db.read() as s:
        mails = s.scalar(
            select(func.count()).select_from(OutboxMail).where(OutboxMail.kind == "refus_transmis")
        )
    assert mails == 2  # ref's coordinator and référent, once each


def test_two_users_adding_the_same_refuser_add_it_once(world):
    ref = world.draft("declarant_req")
    calls = [
        lambda name=name: dossiers.add_line(
            world.db, world.actor(name), ref.id, world.line_input("paris")
        )
        for name in ("declarant_req", "coordinateur_req")
    ]
    outcomes = _race(*calls)
    assert sum(isinstance(o, int) for o in outcomes) == 1, outcomes
    with world.db.read() as s:
        live = s.scalar(
            select(func.count()).select_from(RefuserLine).where(RefuserLine.dossier_id == ref.id)
        )
    assert live == 1


def test_an_edit_made_on_a_stale_form_is_refused_not_lost(world):
    ref = world.draft("declarant_req")
    first = world.actor("declarant_req")
    second = world.actor("coordinateur_req")
    outcomes = _race(
        lambda: dossiers.update_draft(
            world.db, first, ref.id, world.dossier_input(comments="Version A"), ref.version
        ),
        lambda: dossiers.update_draft(
            world.db, second, ref.id, world.dossier_input(comments="Version B"), ref.version
        ),
    )
    assert sum(isinstance(o, dossiers.DossierRef) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, ConflictError) for o in outcomes) == 1, outcomes


def test_a_double_click_on_a_new_form_creates_one_dossier(world):
    actor = world.actor("declarant_req")
    data = world.dossier_input()
    first = dossiers.create_draft(world.db, actor, data, "jeton-du-formulaire")
    again = dossiers.create_draft(world.db, actor, data, "jeton-du-formulaire")
    assert again.id == first.id and again.number == first.number
    outcomes = _race(
        *(
            lambda: dossiers.create_draft(world.db, actor, data, "un-autre-formulaire")
            for _ in range(2)
        )
    )
    numbers = {o.number for o in outcomes if isinstance(o, dossiers.DossierRef)}
    assert len(numbers) == 1, outcomes  # same dossier twice, or one refusal
    with world.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Dossier)) == 2
