"""Action « Enregistrer la réponse » (``dossiers.answer``), mirroring the ``answer`` row of
``registre.workflow`` (refuser side: a line « Réponse attendue » only, once) and SPEC §3/§5:
only a Déclarant, Référent PDSES (within its specialties) or Coordinateur PDSES of the refusing
establishment answers; « Motif compris de la demande » and « Motif du refus » are required,
« Autre » requires « Autre motif », no nominative data (SPEC §8); the answer is audited.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registre import dossiers, queries
from registre.dossiers import AnswerInput
from registre.errors import NotFound, PermissionDenied, ValidationError
from registre.models import (
    AuditEntry,
    LineState,
    RefuserLine,
    Role,
)
from registre.timeutil import now

from .readers import counts, get_line

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
# The line answered is ``ref``'s, in a Neurochirurgie dossier: the ORL-limited référent of
# ``ref`` is out of scope, the requester's accounts are never on the refuser side.
ALLOWED_ROLES = {"declarant_ref", "referent_ref", "coordinateur_ref"}
# pending: the dossier is still a draft never finalised (the line is invisible);
# awaiting: finalised; awaiting_reopened: finalised then reopened; answered: already answered.
STATES = ["pending", "awaiting", "awaiting_reopened", "answered"]
ALLOWED_STATES = {"awaiting", "awaiting_reopened"}


def answer_input(world, **overrides) -> AnswerInput:
    values = {
        "understood_motif_id": world.request_motif["Avis spécialisé"],
        "refusal_motif_id": world.refusal_motif["Plateau technique indisponible"],
        "comments": "Scanner en maintenance cette nuit-là",
    }
    values.update(overrides)
    return AnswerInput(**values)


def make_line(world, state: str, lines=("ref",), **overrides) -> tuple[int, int]:
    """(dossier id, id of ``ref``'s line) in the given state."""
    requester = world.actor("coordinateur_req")
    if state == "pending":
        ref = world.draft("coordinateur_req", lines, **overrides)
    else:
        ref = world.finalised("coordinateur_req", lines, **overrides)
    line_id = line_of(world, ref.id, "ref").id
    if state == "awaiting_reopened":
        dossiers.reopen(world.db, requester, ref.id, "Complément")
    if state == "answered":
        dossiers.answer(
            world.db, world.actor("coordinateur_ref"), ref.id, line_id, answer_input(world)
        )
    return ref.id, line_id


def line_of(world, dossier_id: int, est: str) -> RefuserLine:
    with world.db.read() as s:
        return s.scalars(
            select(RefuserLine).where(
                RefuserLine.dossier_id == dossier_id,
                RefuserLine.refusing_establishment_id == world.est[est],
                RefuserLine.removed_at.is_(None),
            )
        ).one()


def answers(world) -> list[AuditEntry]:
    with world.db.read() as s:
        return list(
            s.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "line_answered")
                .order_by(AuditEntry.id)
            )
        )


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("name", ACTORS)
def test_who_may_answer_which_line(world, clock, name, state):
    dossier_id, line_id = make_line(world, state)
    before = get_line(world, line_id)
    before_counts = counts(world)
    clock.advance(days=2)
    actor = world.actor(name)
    if name in ALLOWED_ROLES and state in ALLOWED_STATES:
        dossiers.answer(world.db, actor, dossier_id, line_id, answer_input(world))
        line = get_line(world, line_id)
        assert line.state is LineState.ANSWERED
        assert line.answered_at == now()
        assert line.answered_by_id == actor.id
        assert line.answer_understood_motif_id == world.request_motif["Avis spécialisé"]
        assert line.answer_refusal_motif_id == world.refusal_motif["Plateau technique indisponible"]
        assert line.answer_comments == "Scanner en maintenance cette nuit-là"
        # the requester's statement is untouched
        assert line.refusal_motif_id == before.refusal_motif_id
        assert [e.actor_id for e in answers(world)] == [actor.id]
    else:
        with pytest.raises(PermissionDenied):
            dossiers.answer(world.db, actor, dossier_id, line_id, answer_input(world))
        line = get_line(world, line_id)
        assert (line.state, line.answered_at, line.answered_by_id, line.version) == (
            before.state,
            before.answered_at,
            before.answered_by_id,
            before.version,
        )
        assert counts(world) == before_counts


@pytest.mark.parametrize("name", sorted(ALLOWED_ROLES))
def test_a_second_answer_is_refused(world, name):
    dossier_id, line_id = make_line(world, "answered")
    first = get_line(world, line_id)
    with pytest.raises(PermissionDenied) as exc:
        dossiers.answer(
            world.db,
            world.actor(name),
            dossier_id,
            line_id,
            answer_input(world, comments="Autre version"),
        )
    assert "déjà été enregistrée" in exc.value.message
    line = get_line(world, line_id)
    assert line.answer_comments == first.answer_comments
    assert line.answered_by_id == world.actor("coordinateur_ref").id
    assert len(answers(world)) == 1


@pytest.mark.parametrize(("specialty", "allowed"), [("Neurochirurgie", False), ("ORL", True)])
def test_the_orl_limited_referent_answers_only_orl(world, specialty, allowed):
    dossier_id, line_id = make_line(world, "awaiting", specialty_id=world.specialty[specialty])
    actor = world.actor("referent_ref_orl")
    if allowed:
        dossiers.answer(world.db, actor, dossier_id, line_id, answer_input(world))
        assert get_line(world, line_id).answered_by_id == actor.id
    else:
        with pytest.raises(PermissionDenied):
            dossiers.answer(world.db, actor, dossier_id, line_id, answer_input(world))
        assert get_line(world, line_id).state is LineState.AWAITING


@pytest.mark.parametrize("role", [Role.DECLARANT, Role.REFERENT, Role.COORDINATEUR])
def test_another_refuser_answers_its_own_line_only(world, role):
    actor = world.add_account(f"{role.value}-other", role, "other")
    dossier_id, ref_line = make_line(world, "awaiting", lines=("ref", "other"))
    other_line = line_of(world, dossier_id, "other").id
    with pytest.raises(PermissionDenied):
        dossiers.answer(world.db, actor, dossier_id, ref_line, answer_input(world))
    assert get_line(world, ref_line).state is LineState.AWAITING
    dossiers.answer(world.db, actor, dossier_id, other_line, answer_input(world))
    assert get_line(world, other_line).state is LineState.ANSWERED
    assert get_line(world, ref_line).state is LineState.AWAITING


def test_both_motifs_are_required_and_reported_at_once(world):
    dossier_id, line_id = make_line(world, "awaiting")
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        dossiers.answer(
            world.db,
            world.actor("coordinateur_ref"),
            dossier_id,
            line_id,
            AnswerInput(comments="Sans motif"),
        )
    by_field = exc.value.by_field()
    assert set(by_field) == {"understood_motif_id", "refusal_motif_id"}
    assert "« Motif compris de la demande »" in by_field["understood_motif_id"][0]
    assert "« Motif du refus »" in by_field["refusal_motif_id"][0]
    assert get_line(world, line_id).state is LineState.AWAITING
    assert counts(world) == before


def test_other_motif_is_required_for_autre(world):
    dossier_id, line_id = make_line(world, "awaiting")
    actor = world.actor("referent_ref")
    autre = world.refusal_motif["Autre"]
    with pytest.raises(ValidationError) as exc:
        dossiers.answer(
            world.db, actor, dossier_id, line_id, answer_input(world, refusal_motif_id=autre)
        )
    assert set(exc.value.by_field()) == {"other_motif"}
    assert get_line(world, line_id).state is LineState.AWAITING

    dossiers.answer(
        world.db,
        actor,
        dossier_id,
        line_id,
        answer_input(world, refusal_motif_id=autre, other_motif="Équipe en transfert"),
    )
    line = get_line(world, line_id)
    assert line.answer_refusal_motif_id == autre
    assert line.answer_other_motif == "Équipe en transfert"


def test_other_motif_is_dropped_for_a_listed_motif(world):
    dossier_id, line_id = make_line(world, "awaiting")
    dossiers.answer(
        world.db,
        world.actor("referent_ref"),
        dossier_id,
        line_id,
        answer_input(world, other_motif="sans objet"),
    )
    assert get_line(world, line_id).answer_other_motif is None


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("comments", "Patient transféré, voir Mme Bernard"),
        ("comments", "DDN 03/04/1961"),
        ("other_motif", "famille joignable au 07 98 76 54 32"),
    ],
)
def test_nominative_data_is_refused(world, field, text):
    dossier_id, line_id = make_line(world, "awaiting")
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        dossiers.answer(
            world.db,
            world.actor("coordinateur_ref"),
            dossier_id,
            line_id,
            answer_input(world, refusal_motif_id=world.refusal_motif["Autre"], **{field: text}),
        )
    assert field in exc.value.by_field()
    assert "nominative" in exc.value.by_field()[field][-1]
    line = get_line(world, line_id)
    assert line.state is LineState.AWAITING
    assert line.answer_comments is None
    assert counts(world) == before


def test_the_answer_is_audited_on_the_refuser_side(world):
    dossier_id, line_id = make_line(world, "awaiting")
    actor = world.actor("declarant_ref")
    dossiers.answer(world.db, actor, dossier_id, line_id, answer_input(world))
    [entry] = answers(world)
    assert entry.actor_id == actor.id
    assert entry.dossier_id == dossier_id
    assert entry.entity == "refuser_line"
    assert entry.entity_id == line_id
    assert entry.at == now()
    assert entry.details["side"] == "refuser"
    assert entry.details["line_id"] == line_id
    assert entry.details["changes"]["answer_refusal_motif_id"] == [
        None,
        world.refusal_motif["Plateau technique indisponible"],
    ]


def test_the_requester_learns_that_it_was_answered_not_what(world):
    dossier_id, line_id = make_line(world, "awaiting")
    dossiers.answer(
        world.db, world.actor("coordinateur_ref"), dossier_id, line_id, answer_input(world)
    )
    view = queries.get_dossier(world.db, world.actor("declarant_req"), dossier_id=dossier_id)
    [line] = view.lines
    assert line.answered is True
    assert line.state is LineState.ANSWERED
    assert not hasattr(line, "answer")
    assert "Scanner en maintenance" not in repr(view)


def test_a_removed_line_or_a_line_of_another_dossier_is_not_found(world):
    coordinateur = world.actor("coordinateur_req")
    draft = world.draft("coordinateur_req", ("ref",))
    removed = line_of(world, draft.id, "ref").id
    dossiers.remove_line(world.db, coordinateur, draft.id, removed)
    with pytest.raises(NotFound):
        dossiers.answer(
            world.db, world.actor("coordinateur_ref"), draft.id, removed, answer_input(world)
        )
    _, line_id = make_line(world, "awaiting")  # a line of another dossier
    with pytest.raises(NotFound):
        dossiers.answer(
            world.db, world.actor("coordinateur_ref"), draft.id, line_id, answer_input(world)
        )
    assert get_line(world, line_id).state is LineState.AWAITING


def test_a_requester_edit_after_reopening_does_not_block_the_answer(world):
    """The refuser cannot see the requester's statement: its changes must not conflict."""
    ref = world.finalised("coordinateur_req", lines=("ref",))
    requester = world.actor("coordinateur_req")
    dossiers.reopen(world.db, requester, ref.id, "Précision du motif")
    view = queries.get_dossier(world.db, requester, dossier_id=ref.id)
    line_id = view.lines[0].id
    dossiers.edit_line(
        world.db, requester, ref.id, line_id, world.line_input("ref", comments="Motif précisé")
    )
    dossiers.answer(world.db, world.actor("coordinateur_ref"), ref.id, line_id, answer_input(world))
    assert get_line(world, line_id).state is LineState.ANSWERED
    with pytest.raises(PermissionDenied, match="déjà été enregistrée"):
        dossiers.answer(
            world.db, world.actor("declarant_ref"), ref.id, line_id, answer_input(world)
        )
