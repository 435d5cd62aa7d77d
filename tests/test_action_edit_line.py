"""Action « Modifier le refuseur » (``dossiers.edit_line``), mirroring the ``edit_line`` row of
``registre.workflow`` (drafts only, any line state) and SPEC §5: a line can be edited until
finalisation and, after a reopening, a line already sent stays editable but its establishment
can no longer be replaced; the refuser is never the requester nor twice in a dossier;
« Autre » requires « Autre motif »; the line-holder flag follows the establishment; no
nominative data; every change is audited.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registre import dossiers
from registre.dossiers import AnswerInput
from registre.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from registre.models import (
    AuditEntry,
    Dossier,
    DossierState,
    LineState,
    RefuserLine,
)

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
# draft: a line not yet sent; reopened: a line sent then the dossier reopened
# (« reopened_answered », the same line already answered, is tested on its own below).
STATES = ["draft", "reopened", "finalised", "abandoned"]
ALLOWED_STATES = {"draft", "reopened"}
NEW_MOTIF = "Absence de praticien disponible"


def make_dossier(world, state: str, lines: tuple[str, ...] = ("ref",)):
    by = "coordinateur_req"
    if state == "draft":
        return world.draft(by, lines)
    if state == "abandoned":
        ref = world.draft(by, lines)
        return dossiers.abandon(world.db, world.actor(by), ref.id)
    ref = world.finalised(by, lines)
    if state == "reopened_answered":
        dossiers.answer(
            world.db,
            world.actor("coordinateur_ref"),
            ref.id,
            line_of(world, ref.id, "ref").id,
            AnswerInput(
                understood_motif_id=world.request_motif["Avis spécialisé"],
                refusal_motif_id=world.refusal_motif["Absence de lit disponible"],
            ),
        )
    if state.startswith("reopened"):
        return dossiers.reopen(world.db, world.actor(by), ref.id, "Motif à corriger")
    return ref


def line_of(world, dossier_id: int, est: str) -> RefuserLine:
    [line] = [
        ln
        for ln in lines_of(world, dossier_id)
        if ln.refusing_establishment_id == world.est[est] and ln.removed_at is None
    ]
    return line


def audit_of(world, action: str) -> list[AuditEntry]:
    with world.db.read() as s:
        return list(
            s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        )


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("name", ACTORS)
def test_who_may_edit_a_line_in_which_state(world, name, state):
    ref = make_dossier(world, state)
    line = line_of(world, ref.id, "ref")
    before = counts(world)
    data = world.line_input(
        "ref", refusal_motif_id=world.refusal_motif[NEW_MOTIF], comments="Précision"
    )
    if name in ALLOWED_ROLES and state in ALLOWED_STATES:
        dossiers.edit_line(world.db, world.actor(name), ref.id, line.id, data)
        after = get_line(world, line.id)
        assert after.refusal_motif_id == world.refusal_motif[NEW_MOTIF]
        assert after.comments == "Précision"
        # editing never changes the line's state nor re-sends it
        assert after.state is line.state
        assert after.notified_at == line.notified_at
        assert counts(world)["outbox"] == before["outbox"]
        assert len(audit_of(world, "line_updated")) == 1
    else:
        with pytest.raises(PermissionDenied):
            dossiers.edit_line(world.db, world.actor(name), ref.id, line.id, data)
        after = get_line(world, line.id)
        assert (after.refusal_motif_id, after.comments, after.version) == (
            line.refusal_motif_id,
            line.comments,
            line.version,
        )
        assert counts(world) == before


@pytest.mark.parametrize(
    ("start", "target", "holder"),
    [("ref", "other", False), ("other", "ref", True), ("other", "paris", False)],
)
def test_replacing_the_establishment_of_an_unsent_line(world, start, target, holder):
    ref = make_dossier(world, "draft", lines=(start,))
    line = line_of(world, ref.id, start)
    assert line.is_line_holder is (start == "ref")
    dossiers.edit_line(
        world.db, world.actor("declarant_req"), ref.id, line.id, world.line_input(target)
    )
    after = get_line(world, line.id)
    assert after.refusing_establishment_id == world.est[target]
    assert after.is_line_holder is holder
    [entry] = audit_of(world, "line_updated")
    assert entry.details["changes"]["refusing_establishment_id"] == [
        world.est[start],
        world.est[target],
    ]


@pytest.mark.parametrize("state", ["reopened", "reopened_answered"])
def test_a_sent_line_keeps_its_establishment(world, state):
    ref = make_dossier(world, state)
    line = line_of(world, ref.id, "ref")
    with pytest.raises(ValidationError) as exc:
        dossiers.edit_line(
            world.db, world.actor("coordinateur_req"), ref.id, line.id, world.line_input("other")
        )
    assert set(exc.value.by_field()) == {"refusing_establishment_id"}
    assert "ne peut plus être remplacé" in exc.value.by_field()["refusing_establishment_id"][0]
    assert get_line(world, line.id).refusing_establishment_id == world.est["ref"]


def test_editing_an_answered_line_keeps_the_answer(world):
    ref = make_dossier(world, "reopened_answered")
    line = line_of(world, ref.id, "ref")
    dossiers.edit_line(
        world.db,
        world.actor("coordinateur_req"),
        ref.id,
        line.id,
        world.line_input("ref", refusal_motif_id=world.refusal_motif[NEW_MOTIF]),
    )
    after = get_line(world, line.id)
    assert after.state is LineState.ANSWERED
    assert after.answer_refusal_motif_id == line.answer_refusal_motif_id
    assert after.answered_at == line.answered_at
    assert after.refusal_motif_id == world.refusal_motif[NEW_MOTIF]


@pytest.mark.parametrize(
    ("target", "message"),
    [("req", "établissement demandeur"), ("other", "déjà")],
)
def test_the_new_establishment_is_neither_the_requester_nor_already_there(world, target, message):
    ref = make_dossier(world, "draft", lines=("ref", "other"))
    line = line_of(world, ref.id, "ref")
    with pytest.raises(ValidationError) as exc:
        dossiers.edit_line(
            world.db, world.actor("declarant_req"), ref.id, line.id, world.line_input(target)
        )
    assert set(exc.value.by_field()) == {"refusing_establishment_id"}
    assert message in exc.value.by_field()["refusing_establishment_id"][0]
    assert get_line(world, line.id).refusing_establishment_id == world.est["ref"]


def test_the_establishment_of_a_removed_line_may_be_used_again(world):
    actor = world.actor("declarant_req")
    ref = make_dossier(world, "draft", lines=("ref", "other"))
    removed = line_of(world, ref.id, "other")
    dossiers.remove_line(world.db, actor, ref.id, removed.id)
    line = line_of(world, ref.id, "ref")
    dossiers.edit_line(world.db, actor, ref.id, line.id, world.line_input("other"))
    assert get_line(world, line.id).refusing_establishment_id == world.est["other"]


def test_other_refusal_motif_requires_other_motif(world):
    ref = make_dossier(world, "draft")
    line = line_of(world, ref.id, "ref")
    actor = world.actor("declarant_req")
    autre = world.refusal_motif["Autre"]
    with pytest.raises(ValidationError) as exc:
        dossiers.edit_line(
            world.db, actor, ref.id, line.id, world.line_input("ref", refusal_motif_id=autre)
        )
    assert set(exc.value.by_field()) == {"other_motif"}
    assert get_line(world, line.id).refusal_motif_id == line.refusal_motif_id

    dossiers.edit_line(
        world.db,
        actor,
        ref.id,
        line.id,
        world.line_input("ref", refusal_motif_id=autre, other_motif="Transfert impossible"),
    )
    assert get_line(world, line.id).other_motif == "Transfert impossible"
    # back to a listed motif: the free text is dropped
    dossiers.edit_line(world.db, actor, ref.id, line.id, world.line_input("ref"))
    assert get_line(world, line.id).other_motif is None


@pytest.mark.parametrize("field", ["comments", "other_motif"])
def test_nominative_data_is_refused(world, field):
    ref = make_dossier(world, "draft")
    line = line_of(world, ref.id, "ref")
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        dossiers.edit_line(
            world.db,
            world.actor("declarant_req"),
            ref.id,
            line.id,
            world.line_input(
                "ref", refusal_motif_id=world.refusal_motif["Autre"], **{field: "Dr Durand"}
            ),
        )
    assert field in exc.value.by_field()
    assert "nominative" in exc.value.by_field()[field][-1]
    assert counts(world) == before
    assert get_line(world, line.id).version == line.version


def test_a_removed_line_or_a_line_of_another_dossier_is_not_found(world):
    actor = world.actor("declarant_req")
    ref = make_dossier(world, "draft", lines=("ref", "other"))
    removed = line_of(world, ref.id, "other")
    dossiers.remove_line(world.db, actor, ref.id, removed.id)
    with pytest.raises(NotFound):
        dossiers.edit_line(world.db, actor, ref.id, removed.id, world.line_input("other"))
    elsewhere = make_dossier(world, "draft", lines=("paris",))
    foreign = line_of(world, elsewhere.id, "paris")
    with pytest.raises(NotFound):
        dossiers.edit_line(world.db, actor, ref.id, foreign.id, world.line_input("paris"))
    assert get_line(world, foreign.id).dossier_id == elsewhere.id


def test_an_edit_is_audited_with_its_diff(world):
    ref = make_dossier(world, "draft")
    line = line_of(world, ref.id, "ref")
    actor = world.actor("referent_req")
    dossiers.edit_line(
        world.db,
        actor,
        ref.id,
        line.id,
        world.line_input("ref", refusal_motif_id=world.refusal_motif[NEW_MOTIF], comments="Vu"),
    )
    [entry] = audit_of(world, "line_updated")
    assert entry.actor_id == actor.id
    assert entry.dossier_id == ref.id
    assert entry.entity_id == line.id
    assert entry.details["changes"] == {
        "refusal_motif_id": [line.refusal_motif_id, world.refusal_motif[NEW_MOTIF]],
        "comments": [None, "Vu"],
    }


def test_an_edit_without_change_is_not_audited(world):
    ref = make_dossier(world, "draft")
    line = line_of(world, ref.id, "ref")
    dossiers.edit_line(
        world.db, world.actor("declarant_req"), ref.id, line.id, world.line_input("ref")
    )
    assert audit_of(world, "line_updated") == []
    assert get_line(world, line.id).version == line.version


def test_a_stale_version_is_a_conflict(world, clock):
    ref = make_dossier(world, "draft")
    line = line_of(world, ref.id, "ref")
    actor = world.actor("declarant_req")
    clock.advance(minutes=1)
    dossiers.edit_line(
        world.db, actor, ref.id, line.id, world.line_input("ref", comments="A"), ref.version
    )
    with pytest.raises(ConflictError):
        dossiers.edit_line(
            world.db, actor, ref.id, line.id, world.line_input("ref", comments="B"), ref.version
        )
    assert get_line(world, line.id).comments == "A"


def test_the_dossier_stays_a_draft(world):
    ref = make_dossier(world, "reopened")
    line = line_of(world, ref.id, "ref")
    dossiers.edit_line(
        world.db,
        world.actor("coordinateur_req"),
        ref.id,
        line.id,
        world.line_input("ref", comments="Correction"),
    )
    with world.db.read() as s:
        assert s.get(Dossier, ref.id).state is DossierState.DRAFT
