"""Action « Abandonner le brouillon » (``dossiers.abandon``), mirroring the ``abandon`` row of
``registre.workflow`` and SPEC §5: nothing is ever hard-deleted — a draft that was never sent
may be abandoned; it stays in the database (state « Abandonné »), is hidden from the
establishment's list unless asked for, and the abandonment is audited.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registre import dossiers, queries
from registre.errors import ConflictError, PermissionDenied, ValidationError
from registre.models import (
    AuditEntry,
    DossierState,
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
ALLOWED_ROLES = {"declarant_req", "referent_req", "coordinateur_req"}
# draft: never sent (with a line in preparation); reopened: a draft again, but its line was
# sent at the first finalisation.
STATES = ["draft", "reopened", "finalised", "abandoned"]
ALLOWED_STATES = {"draft"}


def make_dossier(world, state: str):
    by = world.actor("coordinateur_req")
    if state == "draft":
        return world.draft("coordinateur_req", ("ref",))
    if state == "abandoned":
        ref = world.draft("coordinateur_req", ("ref",))
        return dossiers.abandon(world.db, by, ref.id)
    ref = world.finalised("coordinateur_req", ("ref",))
    if state == "reopened":
        return dossiers.reopen(world.db, by, ref.id, "Saisie en double")
    return ref


def abandonments(world) -> list[AuditEntry]:
    with world.db.read() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == "dossier_abandoned")))


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("name", ACTORS)
def test_who_may_abandon_in_which_state(world, name, state):
    ref = make_dossier(world, state)
    before = load(world, ref.id)
    before_counts = counts(world)
    if name in ALLOWED_ROLES and state in ALLOWED_STATES:
        result = dossiers.abandon(world.db, world.actor(name), ref.id, "Saisie en double")
        after = load(world, ref.id)
        assert result.state is after.state is DossierState.ABANDONED
        assert counts(world)["dossiers"] == before_counts["dossiers"]
        assert len(abandonments(world)) == 1
    else:
        with pytest.raises(PermissionDenied):
            dossiers.abandon(world.db, world.actor(name), ref.id, "Saisie en double")
        after = load(world, ref.id)
        assert (after.state, after.version) == (before.state, before.version)
        assert counts(world) == before_counts


def test_a_reopened_dossier_was_sent_and_cannot_be_abandoned(world):
    ref = make_dossier(world, "reopened")
    with pytest.raises(PermissionDenied) as exc:
        dossiers.abandon(world.db, world.actor("coordinateur_req"), ref.id)
    assert "déjà été transmis" in exc.value.message
    assert load(world, ref.id).state is DossierState.DRAFT


def test_an_abandoned_draft_is_kept_with_its_lines_and_audited(world, clock):
    ref = make_dossier(world, "draft")
    clock.advance(minutes=2)
    actor = world.actor("declarant_req")
    dossiers.abandon(world.db, actor, ref.id, "Patient finalement pris en charge sur place")
    dossier = load(world, ref.id)
    assert dossier.state is DossierState.ABANDONED
    assert dossier.number == ref.number
    assert [ln.refusing_establishment_id for ln in dossier.lines] == [world.est["ref"]]
    [entry] = abandonments(world)
    assert entry.actor_id == actor.id
    assert entry.dossier_id == ref.id
    assert entry.at == now()
    assert entry.details["reason"] == "Patient finalement pris en charge sur place"


def test_the_reason_is_optional(world):
    ref = make_dossier(world, "draft")
    dossiers.abandon(world.db, world.actor("declarant_req"), ref.id)
    assert load(world, ref.id).state is DossierState.ABANDONED
    [entry] = abandonments(world)
    assert entry.details["reason"] is None


def test_the_reason_is_checked_for_nominative_data(world):
    ref = make_dossier(world, "draft")
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        dossiers.abandon(world.db, world.actor("declarant_req"), ref.id, "doublon de M. Durand")
    assert set(exc.value.by_field()) == {"reason"}
    assert load(world, ref.id).state is DossierState.DRAFT
    assert counts(world) == before


@pytest.mark.parametrize("viewer", ["declarant_req", "coordinateur_req", "directeur_req"])
def test_hidden_from_the_list_unless_asked_for(world, viewer):
    kept = make_dossier(world, "draft")
    gone = make_dossier(world, "draft")
    dossiers.abandon(world.db, world.actor("coordinateur_req"), gone.id)
    actor = world.actor(viewer)
    default = queries.list_establishment_dossiers(world.db, actor)
    assert [row.number for row in default.items] == [kept.number]
    assert default.total == 1
    abandoned = queries.list_establishment_dossiers(world.db, actor, state=DossierState.ABANDONED)
    assert [row.number for row in abandoned.items] == [gone.number]
    assert abandoned.items[0].state is DossierState.ABANDONED


def test_its_number_is_not_reused(world):
    ref = make_dossier(world, "draft")
    dossiers.abandon(world.db, world.actor("declarant_req"), ref.id)
    assert world.draft().number == "R-2026-000002"


def test_the_lines_of_an_abandoned_draft_are_never_sent(world):
    ref = make_dossier(world, "draft")
    dossiers.abandon(world.db, world.actor("declarant_req"), ref.id)
    assert queries.list_incoming_lines(world.db, world.actor("coordinateur_ref")).total == 0
    assert dossiers.send_reminders(world.db, days=0) == 0
    assert counts(world)["outbox"] == 0


def test_a_stale_version_is_a_conflict(world):
    ref = make_dossier(world, "draft")
    actor = world.actor("declarant_req")
    dossiers.update_draft(
        world.db,
        actor,
        ref.id,
        world.dossier_input(requested_at=load(world, ref.id).requested_at, comments="Complété"),
    )
    with pytest.raises(ConflictError):
        dossiers.abandon(world.db, actor, ref.id, None, ref.version)
    assert load(world, ref.id).state is DossierState.DRAFT
    assert abandonments(world) == []
