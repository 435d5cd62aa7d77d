"""Action « Retirer le refuseur » (``dossiers.remove_line``), mirroring the ``remove_line`` row of
``registre.workflow`` (drafts only, lines « en préparation » only) and SPEC §5: lines can be
removed until finalisation; a line already sent (after a reopening) cannot be removed, only
edited; nothing is ever hard-deleted (``removed_at``) and every removal is audited.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registre import dossiers, queries
from registre.errors import ConflictError, NotFound, PermissionDenied
from registre.models import (
    AuditEntry,
    LineState,
    RefuserLine,
)
from registre.timeutil import now

from .readers import counts, get_line, lines_of

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
# The line to remove is:
#   draft          — a line of a draft never sent;
#   reopened_sent  — a line sent at the first finalisation, the dossier reopened since;
#   finalised      — a sent line of a finalised dossier;
#   abandoned      — a line of an abandoned draft.
# (« reopened_new », a line added after a reopening, is tested on its own below.)
STATES = ["draft", "reopened_sent", "finalised", "abandoned"]
ALLOWED_STATES = {"draft"}


def make_line(world, state: str) -> tuple[int, int]:
    """(dossier id, id of the line to remove)."""
    by = world.actor("coordinateur_req")
    if state in ("draft", "abandoned"):
        ref = world.draft("coordinateur_req", ("ref", "other"))
        if state == "abandoned":
            dossiers.abandon(world.db, by, ref.id)
        return ref.id, line_of(world, ref.id, "other").id
    ref = world.finalised("coordinateur_req", ("ref",))
    if state == "finalised":
        return ref.id, line_of(world, ref.id, "ref").id
    dossiers.reopen(world.db, by, ref.id, "Un refuseur à ajouter")
    if state == "reopened_sent":
        return ref.id, line_of(world, ref.id, "ref").id
    return ref.id, dossiers.add_line(world.db, by, ref.id, world.line_input("other"))


def line_of(world, dossier_id: int, est: str) -> RefuserLine:
    [line] = [
        ln
        for ln in lines_of(world, dossier_id)
        if ln.refusing_establishment_id == world.est[est] and ln.removed_at is None
    ]
    return line


def removals(world) -> list[AuditEntry]:
    with world.db.read() as s:
        return list(
            s.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "line_removed")
                .order_by(AuditEntry.id)
            )
        )


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("name", ACTORS)
def test_who_may_remove_which_line(world, name, state):
    dossier_id, line_id = make_line(world, state)
    before = counts(world)
    if name in ALLOWED_ROLES and state in ALLOWED_STATES:
        dossiers.remove_line(world.db, world.actor(name), dossier_id, line_id)
        line = get_line(world, line_id)
        assert line.removed_at == now()
        assert line.state is LineState.PENDING
        # kept in the database, audited
        assert counts(world)["refuser_lines"] == before["refuser_lines"]
        assert [e.entity_id for e in removals(world)] == [line_id]
    else:
        with pytest.raises(PermissionDenied):
            dossiers.remove_line(world.db, world.actor(name), dossier_id, line_id)
        assert get_line(world, line_id).removed_at is None
        assert counts(world) == before


@pytest.mark.parametrize("name", sorted(ALLOWED_ROLES))
def test_a_sent_line_cannot_be_removed_but_can_be_edited(world, name):
    dossier_id, line_id = make_line(world, "reopened_sent")
    actor = world.actor(name)
    with pytest.raises(PermissionDenied) as exc:
        dossiers.remove_line(world.db, actor, dossier_id, line_id)
    assert "déjà été informé" in exc.value.message
    assert "modifiée" in exc.value.message
    dossiers.edit_line(
        world.db, actor, dossier_id, line_id, world.line_input("ref", comments="Corrigé")
    )
    line = get_line(world, line_id)
    assert line.removed_at is None
    assert line.comments == "Corrigé"
    assert line.state is LineState.AWAITING


@pytest.mark.parametrize("name", sorted(ALLOWED_ROLES))
def test_a_line_added_after_a_reopening_can_be_removed(world, name):
    dossier_id, line_id = make_line(world, "reopened_new")
    dossiers.remove_line(world.db, world.actor(name), dossier_id, line_id)
    assert get_line(world, line_id).removed_at == now()
    assert line_of(world, dossier_id, "ref").state is LineState.AWAITING


def test_a_removed_line_is_kept_audited_and_hidden(world):
    dossier_id, line_id = make_line(world, "draft")
    actor = world.actor("referent_req")
    dossiers.remove_line(world.db, actor, dossier_id, line_id)
    with world.db.read() as s:
        row = s.get(RefuserLine, line_id)
        assert row is not None
        assert row.removed_at == now()
        assert row.refusing_establishment_id == world.est["other"]
    [entry] = removals(world)
    assert entry.actor_id == actor.id
    assert entry.dossier_id == dossier_id
    assert entry.entity == "refuser_line"
    assert entry.details["refusing_establishment_id"] == world.est["other"]
    view = queries.get_dossier(world.db, actor, dossier_id=dossier_id)
    assert [ln.refusing_establishment_id for ln in view.lines] == [world.est["ref"]]


def test_removing_twice_is_not_found(world):
    dossier_id, line_id = make_line(world, "draft")
    actor = world.actor("declarant_req")
    dossiers.remove_line(world.db, actor, dossier_id, line_id)
    first = get_line(world, line_id).removed_at
    with pytest.raises(NotFound):
        dossiers.remove_line(world.db, actor, dossier_id, line_id)
    assert get_line(world, line_id).removed_at == first
    assert len(removals(world)) == 1


def test_a_line_of_another_dossier_is_not_found(world):
    dossier_id, _ = make_line(world, "draft")
    other_id, foreign = make_line(world, "draft")
    with pytest.raises(NotFound):
        dossiers.remove_line(world.db, world.actor("declarant_req"), dossier_id, foreign)
    assert get_line(world, foreign).removed_at is None
    assert get_line(world, foreign).dossier_id == other_id


def test_a_removed_line_is_not_sent_at_finalisation(world):
    actor = world.actor("coordinateur_req")
    dossier_id, line_id = make_line(world, "draft")
    dossiers.remove_line(world.db, actor, dossier_id, line_id)
    dossiers.update_draft(
        world.db,
        actor,
        dossier_id,
        world.dossier_input(final_destination_id=world.destination["Retour à domicile"]),
    )
    dossiers.finalise(world.db, actor, dossier_id)
    removed = get_line(world, line_id)
    assert removed.state is LineState.PENDING
    assert removed.notified_at is None
    assert line_of(world, dossier_id, "ref").state is LineState.AWAITING


def test_a_stale_version_is_a_conflict(world, clock):
    actor = world.actor("declarant_req")
    ref = world.draft("declarant_req", ("ref", "other", "paris"))
    clock.advance(minutes=1)
    dossiers.remove_line(world.db, actor, ref.id, line_of(world, ref.id, "other").id, ref.version)
    paris = line_of(world, ref.id, "paris")
    with pytest.raises(ConflictError):
        dossiers.remove_line(world.db, actor, ref.id, paris.id, ref.version)
    assert get_line(world, paris.id).removed_at is None
