"""Action « Réouvrir » (``dossiers.reopen``), mirroring the ``reopen`` row of
``registre.workflow`` and SPEC §3/§5: only a Coordinateur PDSES of the requesting
establishment may reopen a finalised dossier, with a written reason (no nominative data,
SPEC §8); the dossier goes back to « À compléter », its sent lines stay sent, and the audit
trail keeps the reason.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registre import dossiers
from registre.errors import ConflictError, PermissionDenied, ValidationError
from registre.models import (
    AuditEntry,
    DossierState,
    LineState,
)
from registre.timeutil import now

from .readers import counts, load

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
ALLOWED_ROLES = {"coordinateur_req"}
STATES = ["draft", "finalised", "abandoned"]
ALLOWED_STATES = {"finalised"}
REASON = "Erreur sur le motif du refus"


def make_dossier(world, state: str):
    by = "declarant_req"
    if state == "finalised":
        return world.finalised(by, ("ref",))
    ref = world.draft(by, ("ref",))
    if state == "abandoned":
        return dossiers.abandon(world.db, world.actor(by), ref.id)
    return ref


def reopenings(world) -> list[AuditEntry]:
    with world.db.read() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == "dossier_reopened")))


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("name", ACTORS)
def test_who_may_reopen_in_which_state(world, name, state):
    ref = make_dossier(world, state)
    before = load(world, ref.id)
    before_counts = counts(world)
    if name in ALLOWED_ROLES and state in ALLOWED_STATES:
        result = dossiers.reopen(world.db, world.actor(name), ref.id, REASON)
        after = load(world, ref.id)
        assert result.state is after.state is DossierState.DRAFT
        assert after.version == result.version > before.version
        assert [e.details["reason"] for e in reopenings(world)] == [REASON]
    else:
        with pytest.raises(PermissionDenied):
            dossiers.reopen(world.db, world.actor(name), ref.id, REASON)
        after = load(world, ref.id)
        assert (after.state, after.version) == (before.state, before.version)
        assert counts(world) == before_counts


@pytest.mark.parametrize("reason", [None, "", "   ", "\n"])
def test_a_reason_is_required(world, reason):
    ref = make_dossier(world, "finalised")
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        dossiers.reopen(world.db, world.actor("coordinateur_req"), ref.id, reason)
    assert set(exc.value.by_field()) == {"reason"}
    assert "Motif de la réouverture" in exc.value.by_field()["reason"][0]
    assert load(world, ref.id).state is DossierState.FINALISED
    assert counts(world) == before


@pytest.mark.parametrize(
    "reason",
    ["Demande de Mme Martin", "rappeler au 01 23 45 67 89", "IPP 12345678"],
)
def test_the_reason_is_checked_for_nominative_data(world, reason):
    ref = make_dossier(world, "finalised")
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        dossiers.reopen(world.db, world.actor("coordinateur_req"), ref.id, reason)
    assert set(exc.value.by_field()) == {"reason"}
    assert "nominative" in exc.value.by_field()["reason"][0]
    assert load(world, ref.id).state is DossierState.FINALISED
    assert counts(world) == before


def test_reopening_keeps_the_sent_lines_and_is_audited(world, clock):
    ref = make_dossier(world, "finalised")
    sent = load(world, ref.id).lines[0]
    mails_before = counts(world)["outbox"]
    clock.advance(hours=1)
    actor = world.actor("coordinateur_req")
    dossiers.reopen(world.db, actor, ref.id, f"  {REASON}  ")
    dossier = load(world, ref.id)
    assert dossier.state is DossierState.DRAFT
    [line] = dossier.lines
    assert line.state is LineState.AWAITING
    assert line.notified_at == sent.notified_at
    assert line.removed_at is None
    assert counts(world)["outbox"] == mails_before  # reopening tells nobody
    [entry] = reopenings(world)
    assert entry.actor_id == actor.id
    assert entry.dossier_id == ref.id
    assert entry.at == now()
    assert entry.details["reason"] == REASON  # stored cleaned


def test_a_reopened_dossier_can_be_completed_and_finalised_again(world):
    coordinateur = world.actor("coordinateur_req")
    ref = make_dossier(world, "finalised")
    dossiers.reopen(world.db, coordinateur, ref.id, REASON)
    dossiers.update_draft(
        world.db,
        coordinateur,
        ref.id,
        world.dossier_input(
            requested_at=load(world, ref.id).requested_at,
            final_destination_id=world.destination["Décédé"],
            comments="Destination corrigée",
        ),
    )
    again = dossiers.finalise(world.db, coordinateur, ref.id)
    dossier = load(world, ref.id)
    assert again.state is dossier.state is DossierState.FINALISED
    assert dossier.final_destination_id == world.destination["Décédé"]
    assert dossier.comments == "Destination corrigée"


def test_reopening_twice_is_refused(world):
    coordinateur = world.actor("coordinateur_req")
    ref = make_dossier(world, "finalised")
    dossiers.reopen(world.db, coordinateur, ref.id, REASON)
    with pytest.raises(PermissionDenied):
        dossiers.reopen(world.db, coordinateur, ref.id, "Encore")
    assert len(reopenings(world)) == 1


def test_a_stale_version_is_a_conflict(world):
    coordinateur = world.actor("coordinateur_req")
    ref = make_dossier(world, "finalised")
    with pytest.raises(ConflictError):
        dossiers.reopen(world.db, coordinateur, ref.id, REASON, ref.version - 1)
    assert load(world, ref.id).state is DossierState.FINALISED
    assert reopenings(world) == []
