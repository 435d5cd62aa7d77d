"""Action « Enregistrer » (``dossiers.update_draft``), mirroring the ``update`` row of
``registre.workflow`` (drafts only; Déclarant, Référent, Coordinateur of the requesting
establishment), the scope rules of ``registre.permissions`` (a Déclarant writes only the
dossiers of its own service or those it created), optimistic locking (SPEC: concurrent edits
conflict), the line-holder flag (SPEC §4), the audit trail (SPEC §5) and the impact mail sent
once per dossier (SPEC §7).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from registre import dossiers
from registre.accounts import AccountInput, create_account
from registre.auth import load_actor
from registre.errors import ConflictError, PermissionDenied, ValidationError
from registre.models import (
    AuditEntry,
    DossierState,
    Establishment,
    OutboxMail,
    RequestMotif,
    Role,
    Service,
    Urgency,
)
from registre.timeutil import now

from .factories import PASSWORD, at
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
# "reopened": a finalised dossier put back in draft by its Coordinateur PDSES (its lines
# already sent): a draft like any other for this action.
STATES = ["draft", "reopened", "finalised", "abandoned"]
ALLOWED_STATES = {"draft", "reopened"}

REQUESTED_AT = datetime(2026, 11, 26, 2, 0)  # Paris local, an hour before the fake "now"


def make_dossier(world, state: str, by: str = "coordinateur_req", **overrides):
    overrides.setdefault("requested_at", REQUESTED_AT)
    if state == "draft":
        return world.draft(by, ("ref",), **overrides)
    if state == "abandoned":
        ref = world.draft(by, ("ref",), **overrides)
        return dossiers.abandon(world.db, world.actor(by), ref.id)
    ref = world.finalised(by, ("ref",), **overrides)
    if state == "reopened":
        return dossiers.reopen(world.db, world.actor("coordinateur_req"), ref.id, "Erreur")
    return ref


def audit_of(world, dossier_id: int, action: str) -> list[AuditEntry]:
    with world.db.read() as s:
        return list(
            s.scalars(
                select(AuditEntry)
                .where(AuditEntry.dossier_id == dossier_id, AuditEntry.action == action)
                .order_by(AuditEntry.id)
            )
        )


def form(world, **overrides):
    """The full form as the page sends it (every field, not only the changed ones)."""
    overrides.setdefault("requested_at", REQUESTED_AT)
    overrides.setdefault("final_destination_id", world.destination["Retour à domicile"])
    return world.dossier_input(**overrides)


def add_declarant(world, username: str, service_name: str):
    with world.db.transaction() as s:
        finess = s.get(Establishment, world.est["req"]).finess
        create_account(
            s,
            AccountInput(
                username=username,
                display_name=username,
                email=f"{username}@example.org",
                role=Role.DECLARANT,
                password=PASSWORD,
                establishment_finess=finess,
                service_name=service_name,
            ),
        )
    actor = load_actor(world.db, username)
    assert actor is not None
    return actor


@pytest.fixture
def second_service(world) -> int:
    """Another service of the requesting establishment than the Déclarant's own."""
    with world.db.read() as s:
        ids = s.scalars(
            select(Service.id)
            .where(Service.establishment_id == world.est["req"])
            .order_by(Service.id)
        ).all()
    assert ids[0] == world.services["req"]
    return ids[1]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("name", ACTORS)
def test_who_may_update_in_which_state(world, name, state):
    ref = make_dossier(world, state)
    before = load(world, ref.id)
    data = form(world, comments="Complément du matin", urgency=Urgency.VITAL)
    if name in ALLOWED_ROLES and state in ALLOWED_STATES:
        result = dossiers.update_draft(world.db, world.actor(name), ref.id, data)
        after = load(world, ref.id)
        assert after.comments == "Complément du matin"
        assert after.urgency is Urgency.VITAL
        assert after.state is DossierState.DRAFT
        assert after.version == before.version + 1 == result.version
        assert len(audit_of(world, ref.id, "dossier_updated")) == 1
    else:
        with pytest.raises(PermissionDenied):
            dossiers.update_draft(world.db, world.actor(name), ref.id, data)
        after = load(world, ref.id)
        assert (after.comments, after.urgency, after.state, after.version) == (
            before.comments,
            before.urgency,
            before.state,
            before.version,
        )
        assert audit_of(world, ref.id, "dossier_updated") == []


# (author, service of the dossier, who updates, allowed) — "A" is the service of
# ``declarant_req``, "B" another service of the same establishment, whose Déclarant is
# ``declarant_b``. A Déclarant writes the dossiers of its own service or those it created.
DECLARANT_CASES = [
    ("coordinateur_req", "A", "declarant_req", True),  # own service
    ("coordinateur_req", "A", "declarant_b", False),  # another service, not the author
    ("coordinateur_req", "B", "declarant_b", True),
    ("coordinateur_req", "B", "declarant_req", False),
    ("declarant_req", "B", "declarant_req", True),  # the author, whatever the service
    ("declarant_req", "B", "declarant_b", True),  # own service
    ("declarant_req", "A", "declarant_b", False),
    ("declarant_b", "A", "declarant_b", True),  # the author
    ("declarant_b", "A", "referent_req", True),  # not a Déclarant: the whole establishment
]


@pytest.mark.parametrize(("author", "service", "updater", "allowed"), DECLARANT_CASES)
def test_a_declarant_writes_its_service_or_its_own_dossiers(
    world, second_service, author, service, updater, allowed
):
    actors = dict(world.actors)
    actors["declarant_b"] = add_declarant(world, "declarant-b", "SAU pédiatrique")
    service_id = world.services["req"] if service == "A" else second_service
    assert actors["declarant_b"].service_id == second_service
    ref = dossiers.create_draft(
        world.db, actors[author], form(world, requesting_service_id=service_id)
    )
    data = form(world, requesting_service_id=service_id, comments="Mise à jour")
    if allowed:
        dossiers.update_draft(world.db, actors[updater], ref.id, data)
        assert load(world, ref.id).comments == "Mise à jour"
    else:
        with pytest.raises(PermissionDenied) as exc:
            dossiers.update_draft(world.db, actors[updater], ref.id, data)
        assert "autre service" in exc.value.message
        assert load(world, ref.id).comments is None


def test_a_stale_version_is_a_conflict_and_changes_nothing(world):
    ref = make_dossier(world, "draft")
    alice = world.actor("declarant_req")
    bob = world.actor("coordinateur_req")
    first = dossiers.update_draft(
        world.db, alice, ref.id, form(world, comments="Alice"), ref.version
    )
    assert first.version == ref.version + 1
    with pytest.raises(ConflictError):
        dossiers.update_draft(world.db, bob, ref.id, form(world, comments="Bob"), ref.version)
    dossier = load(world, ref.id)
    assert dossier.comments == "Alice"
    assert dossier.version == first.version
    assert len(audit_of(world, ref.id, "dossier_updated")) == 1
    # with the current version, Bob's save goes through
    dossiers.update_draft(world.db, bob, ref.id, form(world, comments="Bob"), first.version)
    assert load(world, ref.id).comments == "Bob"


def test_a_save_without_change_neither_bumps_the_version_nor_audits(world):
    ref = make_dossier(world, "draft")
    again = dossiers.update_draft(
        world.db,
        world.actor("coordinateur_req"),
        ref.id,
        form(world, final_destination_id=None),
    )
    assert again.version == ref.version
    assert load(world, ref.id).version == ref.version
    assert audit_of(world, ref.id, "dossier_updated") == []


@pytest.mark.parametrize(
    ("specialty", "holder_by_establishment"),
    [
        ("Neurochirurgie", {"ref": True, "other": False}),
        ("ORL", {"ref": False, "other": False}),
    ],
)
def test_changing_the_specialty_recomputes_the_line_holder_flag(
    world, specialty, holder_by_establishment
):
    ref = world.draft("coordinateur_req", ("ref", "other"), specialty_id=world.specialty["ORL"])
    dossiers.update_draft(
        world.db,
        world.actor("coordinateur_req"),
        ref.id,
        form(world, specialty_id=world.specialty[specialty]),
    )
    lines = load(world, ref.id).lines
    got = {
        key: line.is_line_holder
        for key in ("ref", "other")
        for line in lines
        if line.refusing_establishment_id == world.est[key]
    }
    assert got == holder_by_establishment


def test_the_line_holder_flag_follows_the_specialty_back_and_forth(world):
    coordinateur = world.actor("coordinateur_req")
    ref = world.draft("coordinateur_req", ("ref",))
    assert load(world, ref.id).lines[0].is_line_holder is True
    dossiers.update_draft(
        world.db, coordinateur, ref.id, form(world, specialty_id=world.specialty["ORL"])
    )
    assert load(world, ref.id).lines[0].is_line_holder is False
    dossiers.update_draft(world.db, coordinateur, ref.id, form(world))
    assert load(world, ref.id).lines[0].is_line_holder is True


def test_the_orl_limited_referent_cannot_move_a_dossier_out_of_its_specialties(world):
    orl = world.actor("referent_ref_orl")
    base = {
        "requesting_service_id": world.services["ref"],
        "specialty_id": world.specialty["ORL"],
        "requested_at": REQUESTED_AT,
    }
    ref = dossiers.create_draft(world.db, orl, world.dossier_input(**base))
    with pytest.raises(ValidationError) as exc:
        dossiers.update_draft(
            world.db,
            orl,
            ref.id,
            world.dossier_input(**{**base, "specialty_id": world.specialty["Neurochirurgie"]}),
        )
    assert set(exc.value.by_field()) == {"specialty_id"}
    assert load(world, ref.id).specialty_id == world.specialty["ORL"]


@pytest.mark.parametrize(
    ("requested_at", "flagged"),
    [(datetime(2026, 11, 24, 14, 0), False), (datetime(2026, 11, 22, 14, 0), True)],
)
def test_changing_the_request_time_recomputes_the_pdses_flag(world, requested_at, flagged):
    ref = make_dossier(world, "draft")
    assert load(world, ref.id).in_pdses_hours is True  # 02:00, a night
    dossiers.update_draft(
        world.db, world.actor("declarant_req"), ref.id, form(world, requested_at=requested_at)
    )
    assert load(world, ref.id).in_pdses_hours is flagged


def test_the_request_time_may_not_move_to_the_future(world):
    ref = make_dossier(world, "draft")
    with pytest.raises(ValidationError) as exc:
        dossiers.update_draft(
            world.db,
            world.actor("declarant_req"),
            ref.id,
            form(world, requested_at=datetime(2026, 11, 26, 9, 0)),
        )
    assert set(exc.value.by_field()) == {"requested_at"}
    assert load(world, ref.id).requested_at == datetime(2026, 11, 26, 1, 0, tzinfo=UTC)


def test_a_deactivated_list_item_still_allows_editing_the_dossier_that_uses_it(world):
    motif = world.request_motif["Avis spécialisé"]
    ref = make_dossier(world, "draft", request_motif_id=motif)
    with world.db.transaction() as s:
        s.get(RequestMotif, motif).active = False
    coordinateur = world.actor("coordinateur_req")
    dossiers.update_draft(
        world.db, coordinateur, ref.id, form(world, request_motif_id=motif, comments="Suite")
    )
    assert load(world, ref.id).comments == "Suite"
    # but it can no longer be chosen for a new dossier
    with pytest.raises(ValidationError) as exc:
        dossiers.create_draft(world.db, coordinateur, form(world, request_motif_id=motif))
    assert set(exc.value.by_field()) == {"request_motif_id"}


def test_the_audit_entry_records_exactly_what_changed(world, clock):
    ref = make_dossier(world, "draft")
    clock.advance(minutes=10)
    actor = world.actor("referent_req")
    dossiers.update_draft(
        world.db,
        actor,
        ref.id,
        form(world, urgency=Urgency.VITAL, comments="Scanner fait", final_destination_id=None),
    )
    [entry] = audit_of(world, ref.id, "dossier_updated")
    assert entry.actor_id == actor.id
    assert entry.at == now()
    assert entry.entity == "dossier"
    assert entry.details["changes"] == {
        "urgency": ["urgence", "vitale"],
        "comments": [None, "Scanner fait"],
    }


def test_a_refused_update_keeps_the_stored_values(world):
    ref = make_dossier(world, "draft", comments="Avant")
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        dossiers.update_draft(
            world.db,
            world.actor("coordinateur_req"),
            ref.id,
            form(world, comments="Vu par Mme Martin", age_band=None),
        )
    assert set(exc.value.by_field()) == {"comments", "age_band"}
    dossier = load(world, ref.id)
    assert dossier.comments == "Avant"
    assert dossier.version == ref.version
    assert counts(world) == before


def test_the_impact_mail_is_sent_at_most_once_across_updates(world, clock):
    coordinateur = world.actor("coordinateur_req")
    ref = make_dossier(world, "draft")

    def impact_mails() -> list[OutboxMail]:
        with world.db.read() as s:
            return list(s.scalars(select(OutboxMail).where(OutboxMail.kind == "impact_directeur")))

    assert impact_mails() == []
    clock.advance(minutes=5)
    first_at = now()
    dossiers.update_draft(
        world.db, coordinateur, ref.id, form(world, impact=True, impact_description="Retard")
    )
    assert [m.recipient for m in impact_mails()] == ["directeur-req@example.org"]
    for impact, description in [
        (True, "Retard de 3 heures"),
        (False, None),
        (True, "Retard de 3 heures, aggravation"),
    ]:
        clock.advance(minutes=5)
        dossiers.update_draft(
            world.db,
            coordinateur,
            ref.id,
            form(world, impact=impact, impact_description=description),
        )
    assert [m.recipient for m in impact_mails()] == ["directeur-req@example.org"]
    assert load(world, ref.id).impact_notified_at == first_at


def test_what_the_refusers_were_told_cannot_change_after_a_reopening(world, clock):
    """Number, date, specialty and service were in the refusers' mail: they stay as sent."""
    ref = world.finalised("coordinateur_req", lines=("ref",))
    actor = world.actor("coordinateur_req")
    reopened = dossiers.reopen(world.db, actor, ref.id, "Compléter les commentaires")
    for change in (
        {"specialty_id": world.specialty["ORL"]},
        {"requested_at": at(2026, 11, 25, 23, 0)},
    ):
        data = world.dossier_input(
            final_destination_id=world.destination["Retour à domicile"], **change
        )
        with pytest.raises(ValidationError) as exc:
            dossiers.update_draft(world.db, actor, ref.id, data, reopened.version)
        assert "ne peut plus être modifié" in " ".join(exc.value.by_field()[next(iter(change))])
    same = world.dossier_input(
        final_destination_id=world.destination["Retour à domicile"], comments="Précision ajoutée"
    )
    assert dossiers.update_draft(world.db, actor, ref.id, same, reopened.version)
