"""Action « Ajouter le refuseur » (``dossiers.add_line``), mirroring the ``add_line`` row of
``registre.workflow`` (drafts only, requester side) and SPEC §5: the refusing establishment is
never the requester and never twice in a dossier (a removed line does not count), « Autre »
requires « Autre motif », the line-holder flag (SPEC §4), no nominative data (SPEC §8), audit.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registre import dossiers
from registre.errors import ConflictError, PermissionDenied, ValidationError
from registre.models import (
    AuditEntry,
    Dossier,
    Establishment,
    LineState,
)
from registre.timeutil import now

from .readers import counts, lines_of

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
STATES = ["draft", "reopened", "finalised", "abandoned"]
ALLOWED_STATES = {"draft", "reopened"}
PII = "rappeler la famille au 06 12 34 56 78"


def make_dossier(world, state: str, lines: tuple[str, ...] = ("ref",), **overrides):
    by = "coordinateur_req"
    if state == "draft":
        return world.draft(by, lines, **overrides)
    if state == "abandoned":
        ref = world.draft(by, lines, **overrides)
        return dossiers.abandon(world.db, world.actor(by), ref.id)
    ref = world.finalised(by, lines, **overrides)
    if state == "reopened":
        return dossiers.reopen(world.db, world.actor(by), ref.id, "Refuseur oublié")
    return ref


def live_establishments(world, dossier_id: int) -> list[int]:
    return [
        ln.refusing_establishment_id for ln in lines_of(world, dossier_id) if ln.removed_at is None
    ]


def version(world, dossier_id: int) -> int:
    with world.db.read() as s:
        return s.get(Dossier, dossier_id).version


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("name", ACTORS)
def test_who_may_add_a_line_in_which_state(world, clock, name, state):
    ref = make_dossier(world, state)
    clock.advance(minutes=1)  # the version bump comes from ``updated_at``: let time pass
    before = counts(world)
    data = world.line_input("other", comments="Pas de lit en réanimation")
    if name in ALLOWED_ROLES and state in ALLOWED_STATES:
        line_id = dossiers.add_line(world.db, world.actor(name), ref.id, data)
        line = next(ln for ln in lines_of(world, ref.id) if ln.id == line_id)
        assert line.refusing_establishment_id == world.est["other"]
        assert line.state is LineState.PENDING
        assert line.notified_at is None
        assert line.comments == "Pas de lit en réanimation"
        assert line.created_at == now()
        assert version(world, ref.id) == ref.version + 1
        assert counts(world)["refuser_lines"] == before["refuser_lines"] + 1
        # the new line is not sent before the dossier is (re)finalised: no mail
        assert counts(world)["outbox"] == before["outbox"]
    else:
        with pytest.raises(PermissionDenied):
            dossiers.add_line(world.db, world.actor(name), ref.id, data)
        assert counts(world) == before
        assert version(world, ref.id) == ref.version


def test_the_requester_is_never_a_refuser(world):
    ref = make_dossier(world, "draft", lines=())
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        dossiers.add_line(world.db, world.actor("declarant_req"), ref.id, world.line_input("req"))
    assert set(exc.value.by_field()) == {"refusing_establishment_id"}
    assert "établissement demandeur" in exc.value.by_field()["refusing_establishment_id"][0]
    assert counts(world) == before


@pytest.mark.parametrize("state", ["draft", "reopened"])
def test_an_establishment_is_never_twice_in_a_dossier(world, state):
    ref = make_dossier(world, state, lines=("ref",))
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        dossiers.add_line(world.db, world.actor("declarant_req"), ref.id, world.line_input("ref"))
    assert set(exc.value.by_field()) == {"refusing_establishment_id"}
    assert "déjà" in exc.value.by_field()["refusing_establishment_id"][0]
    assert counts(world) == before
    assert live_establishments(world, ref.id) == [world.est["ref"]]


def test_a_removed_line_can_be_added_again(world):
    actor = world.actor("declarant_req")
    ref = make_dossier(world, "draft", lines=())
    first = dossiers.add_line(world.db, actor, ref.id, world.line_input("ref"))
    dossiers.remove_line(world.db, actor, ref.id, first)
    second = dossiers.add_line(world.db, actor, ref.id, world.line_input("ref"))
    lines = lines_of(world, ref.id)
    assert [ln.id for ln in lines] == [first, second]
    assert lines[0].removed_at is not None
    assert lines[1].removed_at is None
    assert live_establishments(world, ref.id) == [world.est["ref"]]


def test_both_required_fields_are_reported_at_once(world):
    ref = make_dossier(world, "draft", lines=())
    with pytest.raises(ValidationError) as exc:
        dossiers.add_line(
            world.db,
            world.actor("declarant_req"),
            ref.id,
            world.line_input("ref", refusing_establishment_id=None, refusal_motif_id=None),
        )
    assert set(exc.value.by_field()) == {"refusing_establishment_id", "refusal_motif_id"}
    assert lines_of(world, ref.id) == []


def test_an_unknown_or_inactive_establishment_is_refused(world):
    ref = make_dossier(world, "draft", lines=())
    actor = world.actor("declarant_req")
    with pytest.raises(ValidationError) as exc:
        dossiers.add_line(
            world.db, actor, ref.id, world.line_input(refusing_establishment_id=999_999)
        )
    assert set(exc.value.by_field()) == {"refusing_establishment_id"}
    with world.db.transaction() as s:
        s.get(Establishment, world.est["paris"]).active = False
    with pytest.raises(ValidationError) as exc:
        dossiers.add_line(world.db, actor, ref.id, world.line_input("paris"))
    assert set(exc.value.by_field()) == {"refusing_establishment_id"}
    assert lines_of(world, ref.id) == []


def test_other_refusal_motif_requires_other_motif(world):
    ref = make_dossier(world, "draft", lines=())
    actor = world.actor("declarant_req")
    autre = world.refusal_motif["Autre"]
    with pytest.raises(ValidationError) as exc:
        dossiers.add_line(world.db, actor, ref.id, world.line_input(refusal_motif_id=autre))
    assert set(exc.value.by_field()) == {"other_motif"}
    assert "Autre motif" in exc.value.by_field()["other_motif"][0]
    assert lines_of(world, ref.id) == []

    dossiers.add_line(
        world.db,
        actor,
        ref.id,
        world.line_input(refusal_motif_id=autre, other_motif="Chirurgien déjà au bloc"),
    )
    [line] = lines_of(world, ref.id)
    assert line.refusal_motif_id == autre
    assert line.other_motif == "Chirurgien déjà au bloc"


def test_other_motif_is_dropped_for_a_listed_motif(world):
    ref = make_dossier(world, "draft", lines=())
    dossiers.add_line(
        world.db,
        world.actor("declarant_req"),
        ref.id,
        world.line_input(other_motif="sans objet"),
    )
    [line] = lines_of(world, ref.id)
    assert line.other_motif is None


@pytest.mark.parametrize(
    ("field", "extra"),
    [("comments", {}), ("other_motif", {"autre": True})],
)
def test_nominative_data_is_refused_and_nothing_is_written(world, field, extra):
    ref = make_dossier(world, "draft", lines=())
    overrides = {field: PII}
    if extra:
        overrides["refusal_motif_id"] = world.refusal_motif["Autre"]
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        dossiers.add_line(
            world.db, world.actor("declarant_req"), ref.id, world.line_input(**overrides)
        )
    assert set(exc.value.by_field()) == {field}
    assert counts(world) == before


# In the world, only ``ref`` holds a PDSES line, for Neurochirurgie.
@pytest.mark.parametrize(
    ("specialty", "est", "holder"),
    [
        ("Neurochirurgie", "ref", True),
        ("Neurochirurgie", "other", False),
        ("Neurochirurgie", "paris", False),
        ("ORL", "ref", False),
    ],
)
def test_the_line_holder_flag(world, specialty, est, holder):
    ref = make_dossier(world, "draft", lines=(), specialty_id=world.specialty[specialty])
    dossiers.add_line(world.db, world.actor("declarant_req"), ref.id, world.line_input(est))
    [line] = lines_of(world, ref.id)
    assert line.is_line_holder is holder


def test_adding_a_line_is_audited(world):
    actor = world.actor("referent_req")
    ref = make_dossier(world, "draft", lines=())
    line_id = dossiers.add_line(
        world.db, actor, ref.id, world.line_input("other", comments="Appel à 02h15")
    )
    with world.db.read() as s:
        entries = s.scalars(
            select(AuditEntry).where(
                AuditEntry.dossier_id == ref.id, AuditEntry.action == "line_added"
            )
        ).all()
    assert len(entries) == 1
    entry = entries[0]
    assert entry.actor_id == actor.id
    assert entry.entity == "refuser_line"
    assert entry.entity_id == line_id
    assert entry.details["changes"]["refusing_establishment_id"] == [None, world.est["other"]]
    assert entry.details["changes"]["comments"] == [None, "Appel à 02h15"]


def test_a_stale_version_is_a_conflict(world, clock):
    ref = make_dossier(world, "draft", lines=())
    clock.advance(minutes=1)
    actor = world.actor("declarant_req")
    dossiers.add_line(world.db, actor, ref.id, world.line_input("ref"), ref.version)
    with pytest.raises(ConflictError):
        dossiers.add_line(world.db, actor, ref.id, world.line_input("other"), ref.version)
    assert live_establishments(world, ref.id) == [world.est["ref"]]
