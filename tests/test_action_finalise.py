"""Action « Finaliser le dossier » (``dossiers.finalise``), mirroring the ``finalise`` row of
``registre.workflow`` and SPEC §5 (every required field, a final destination and at least one
refusing line; « Transféré dans un autre établissement » names another establishment), §5
mutual blindness and §7 (the « refus transmis » mail goes to each refusing establishment's
Coordinateur PDSES and Référent PDSES accounts only, once per line, and carries nothing of
the requester's statements nor the other refusers).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registre import dossiers, queries
from registre.accounts import AccountInput, create_account
from registre.errors import ConflictError, PermissionDenied, ValidationError
from registre.models import (
    Account,
    AuditEntry,
    DossierState,
    Establishment,
    LineState,
    OutboxMail,
    RefuserLine,
    Role,
    Service,
)
from registre.timeutil import now

from .factories import PASSWORD
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
STATES = ["draft", "reopened", "finalised", "abandoned"]
ALLOWED_STATES = {"draft", "reopened"}

HOME = "Retour à domicile"
TRANSFERRED = "Transféré dans un autre établissement"

# Distinctive words put in every requester-only field: none may reach a refuser's mail.
SECRETS = {
    "comments": "ornithorynque",
    "request_other_motif": "zeppelin",
    "impact_description": "kangourou",
    "line_comments": "mandoline",
    "line_other_motif": "toboggan",
    "other_line_comments": "pamplemousse",
}


def make_dossier(world, state: str, lines: tuple[str, ...] = ("ref",), **overrides):
    by = "coordinateur_req"
    overrides.setdefault("final_destination_id", world.destination[HOME])
    ref = world.draft(by, lines, **overrides)
    if state == "draft":
        return ref
    if state == "abandoned":
        return dossiers.abandon(world.db, world.actor(by), ref.id)
    ref = dossiers.finalise(world.db, world.actor(by), ref.id)
    if state == "reopened":
        return dossiers.reopen(world.db, world.actor(by), ref.id, "Complément")
    return ref


def add_staff(world, est: str) -> None:
    """Déclarant, Référent, Coordinateur and Directeur accounts for ``est``."""
    for role in (Role.DECLARANT, Role.REFERENT, Role.COORDINATEUR, Role.DIRECTEUR):
        world.add_account(f"{role.value}-{est}", role, est)


def mails(world, kind: str = "refus_transmis") -> list[OutboxMail]:
    with world.db.read() as s:
        return list(
            s.scalars(select(OutboxMail).where(OutboxMail.kind == kind).order_by(OutboxMail.id))
        )


def line_of(world, dossier_id: int, est: str) -> RefuserLine:
    [line] = [
        ln
        for ln in load(world, dossier_id).lines
        if ln.refusing_establishment_id == world.est[est] and ln.removed_at is None
    ]
    return line


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("name", ACTORS)
def test_who_may_finalise_in_which_state(world, name, state):
    ref = make_dossier(world, state)
    before = load(world, ref.id)
    before_counts = counts(world)
    if name in ALLOWED_ROLES and state in ALLOWED_STATES:
        result = dossiers.finalise(world.db, world.actor(name), ref.id)
        after = load(world, ref.id)
        assert result.state is after.state is DossierState.FINALISED
        assert after.finalised_at == now()
        assert [ln.state for ln in after.lines] == [LineState.AWAITING]
        # one mail per recipient of ``ref``, whether sent now or at the first finalisation
        assert sorted(m.recipient for m in mails(world)) == [
            "coordinateur-ref@example.org",
            "referent-ref@example.org",
        ]
    else:
        with pytest.raises(PermissionDenied):
            dossiers.finalise(world.db, world.actor(name), ref.id)
        after = load(world, ref.id)
        assert (after.state, after.version, after.finalised_at) == (
            before.state,
            before.version,
            before.finalised_at,
        )
        assert counts(world) == before_counts


def test_a_final_destination_is_required(world):
    ref = make_dossier(world, "draft", final_destination_id=None)
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        dossiers.finalise(world.db, world.actor("declarant_req"), ref.id)
    assert set(exc.value.by_field()) == {"final_destination_id"}
    assert "« Destination finale du patient »" in exc.value.by_field()["final_destination_id"][0]
    dossier = load(world, ref.id)
    assert dossier.state is DossierState.DRAFT
    assert [ln.state for ln in dossier.lines] == [LineState.PENDING]
    assert counts(world) == before


def test_at_least_one_live_line_is_required(world):
    actor = world.actor("declarant_req")
    ref = make_dossier(world, "draft", lines=("ref",))
    dossiers.remove_line(world.db, actor, ref.id, line_of(world, ref.id, "ref").id)
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        dossiers.finalise(world.db, actor, ref.id)
    assert set(exc.value.by_field()) == {"lines"}
    assert load(world, ref.id).state is DossierState.DRAFT
    assert counts(world) == before


def test_every_missing_piece_is_reported_at_once(world):
    ref = make_dossier(world, "draft", lines=(), final_destination_id=None)
    with pytest.raises(ValidationError) as exc:
        dossiers.finalise(world.db, world.actor("declarant_req"), ref.id)
    assert set(exc.value.by_field()) == {"final_destination_id", "lines"}


def test_a_transfer_requires_the_destination_establishment(world):
    actor = world.actor("declarant_req")
    ref = make_dossier(world, "draft", final_destination_id=world.destination[TRANSFERRED])
    with pytest.raises(ValidationError) as exc:
        dossiers.finalise(world.db, actor, ref.id)
    assert set(exc.value.by_field()) == {"final_destination_establishment_id"}
    assert load(world, ref.id).state is DossierState.DRAFT

    dossiers.update_draft(
        world.db,
        actor,
        ref.id,
        world.dossier_input(
            requested_at=load(world, ref.id).requested_at,
            final_destination_id=world.destination[TRANSFERRED],
            final_destination_establishment_id=world.est["paris"],
        ),
    )
    dossiers.finalise(world.db, actor, ref.id)
    dossier = load(world, ref.id)
    assert dossier.state is DossierState.FINALISED
    assert dossier.final_destination_establishment_id == world.est["paris"]


def test_the_destination_establishment_is_never_the_requester(world):
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        dossiers.create_draft(
            world.db,
            world.actor("declarant_req"),
            world.dossier_input(
                final_destination_id=world.destination[TRANSFERRED],
                final_destination_establishment_id=world.est["req"],
            ),
        )
    assert set(exc.value.by_field()) == {"final_destination_establishment_id"}
    assert counts(world) == before


def test_success_sends_every_line_and_is_audited(world, clock):
    actor = world.actor("referent_req")
    ref = make_dossier(world, "draft", lines=("ref", "other"))
    clock.advance(minutes=3)
    dossiers.finalise(world.db, actor, ref.id)
    dossier = load(world, ref.id)
    assert dossier.state is DossierState.FINALISED
    assert dossier.finalised_at == now()
    assert {ln.state for ln in dossier.lines} == {LineState.AWAITING}
    assert {ln.notified_at for ln in dossier.lines} == {now()}
    with world.db.read() as s:
        [entry] = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "dossier_finalised")
        ).all()
    assert entry.actor_id == actor.id
    assert entry.dossier_id == ref.id
    assert sorted(entry.details["lines_sent"]) == sorted(ln.id for ln in dossier.lines)


def test_a_draft_line_is_invisible_to_the_refuser_until_finalisation(world):
    coordinateur_ref = world.actor("coordinateur_ref")
    ref = make_dossier(world, "draft")
    assert queries.list_incoming_lines(world.db, coordinateur_ref).total == 0
    dossiers.finalise(world.db, world.actor("declarant_req"), ref.id)
    page = queries.list_incoming_lines(world.db, coordinateur_ref)
    assert [row.number for row in page.items] == [ref.number]


# Recipients of the « refus transmis » mail, by specialty: the Coordinateur and Référent
# PDSES accounts of each refusing establishment; a référent limited to other specialties is
# left out; never the Déclarant nor the Directeur; never the requesting establishment.
EXPECTED_RECIPIENTS = {
    "Neurochirurgie": {
        "coordinateur-ref@example.org": "ref",
        "referent-ref@example.org": "ref",
        "coordinateur-other@example.org": "other",
        "referent-other@example.org": "other",
    },
    "ORL": {
        "coordinateur-ref@example.org": "ref",
        "referent-ref@example.org": "ref",
        "referent-ref-orl@example.org": "ref",
        "coordinateur-other@example.org": "other",
        "referent-other@example.org": "other",
    },
}


@pytest.mark.parametrize("specialty", list(EXPECTED_RECIPIENTS))
def test_refusal_mail_recipients(world, specialty):
    add_staff(world, "other")
    ref = make_dossier(
        world, "draft", lines=("ref", "other"), specialty_id=world.specialty[specialty]
    )
    assert mails(world) == []
    dossiers.finalise(world.db, world.actor("declarant_req"), ref.id)
    sent = mails(world)
    expected = EXPECTED_RECIPIENTS[specialty]
    assert sorted(m.recipient for m in sent) == sorted(expected)  # each exactly once
    for mail in sent:
        line = line_of(world, ref.id, expected[mail.recipient])
        assert mail.dossier_id == ref.id
        assert mail.dedup_key == f"refus_transmis:{line.id}:{mail.recipient}"
        assert ref.number in mail.subject


def test_refusal_mail_shows_only_what_identifies_the_call(world):
    add_staff(world, "other")
    with world.db.read() as s:
        service = s.get(Service, world.services["req"]).name
    ref = world.draft(
        "coordinateur_req",
        comments=f"Patient instable, {SECRETS['comments']}",
        request_motif_id=world.request_motif["Autre"],
        request_other_motif=f"Avis {SECRETS['request_other_motif']}",
        impact=True,
        impact_description=f"Retard {SECRETS['impact_description']}",
        final_destination_id=world.destination[TRANSFERRED],
        final_destination_establishment_id=world.est["paris"],
    )
    coordinateur = world.actor("coordinateur_req")
    dossiers.add_line(
        world.db,
        coordinateur,
        ref.id,
        world.line_input(
            "ref",
            refusal_motif_id=world.refusal_motif["Autre"],
            other_motif=f"Motif {SECRETS['line_other_motif']}",
            comments=f"Appel {SECRETS['line_comments']}",
        ),
    )
    dossiers.add_line(
        world.db,
        coordinateur,
        ref.id,
        world.line_input("other", comments=f"Appel {SECRETS['other_line_comments']}"),
    )
    dossiers.finalise(world.db, coordinateur, ref.id)
    sent = mails(world)
    assert len(sent) == 4
    for mail in sent:
        text = f"{mail.subject}\n{mail.body}"
        assert ref.number in text
        assert "26/11/2026 03:15" in text
        assert "Neurochirurgie" in text
        assert "Centre hospitalier Sud Francilien" in text
        assert service in mail.body
        assert "/dossier?numero=" + ref.number in mail.body
        for word in SECRETS.values():
            assert word not in text
        # the requester's motifs, destination and impact
        assert "Autre" not in text
        assert "Absence de lit" not in text
        assert TRANSFERRED not in text
        assert "Pitié" not in text
        assert "impact" not in text.lower()
        # never the other refusers
        if mail.recipient.endswith("-ref@example.org"):
            assert "Henri-Mondor" in text
            assert "Foch" not in text
        else:
            assert "Foch" in text
            assert "Henri-Mondor" not in text


def test_finalising_twice_is_refused_and_sends_nothing_more(world):
    actor = world.actor("declarant_req")
    ref = make_dossier(world, "finalised")
    before = counts(world)
    with pytest.raises(PermissionDenied):
        dossiers.finalise(world.db, actor, ref.id)
    assert counts(world) == before
    assert len(mails(world)) == 2


def test_refinalising_sends_mails_only_for_the_new_lines(world, clock):
    add_staff(world, "other")
    coordinateur = world.actor("coordinateur_req")
    ref = make_dossier(world, "finalised", lines=("ref",))
    first_notified = line_of(world, ref.id, "ref").notified_at
    assert sorted(m.recipient for m in mails(world)) == [
        "coordinateur-ref@example.org",
        "referent-ref@example.org",
    ]
    clock.advance(hours=2)
    dossiers.reopen(world.db, coordinateur, ref.id, "Un second refus oublié")
    dossiers.add_line(world.db, coordinateur, ref.id, world.line_input("other"))
    dossiers.edit_line(
        world.db,
        coordinateur,
        ref.id,
        line_of(world, ref.id, "ref").id,
        world.line_input("ref", comments="Précision"),
    )
    dossiers.finalise(world.db, coordinateur, ref.id)
    sent = mails(world)
    assert sorted(m.recipient for m in sent) == [
        "coordinateur-other@example.org",
        "coordinateur-ref@example.org",
        "referent-other@example.org",
        "referent-ref@example.org",
    ]
    assert line_of(world, ref.id, "ref").notified_at == first_notified
    assert line_of(world, ref.id, "other").notified_at == now()
    # once more, around the loop: nothing new to send, nothing sent twice
    clock.advance(hours=2)
    dossiers.reopen(world.db, coordinateur, ref.id, "Relecture")
    dossiers.finalise(world.db, coordinateur, ref.id)
    assert len(mails(world)) == 4


def test_the_impact_mail_is_not_sent_again_at_finalisation(world):
    ref = make_dossier(world, "draft", impact=True, impact_description="Retard de 2 heures")
    assert len(mails(world, "impact_directeur")) == 1
    dossiers.finalise(world.db, world.actor("declarant_req"), ref.id)
    assert len(mails(world, "impact_directeur")) == 1


def test_a_shared_generic_address_gets_one_mail_per_line(world):
    """SPEC §3 recommends a generic address (pdses@hopital.fr), often shared by accounts."""
    with world.db.transaction() as s:
        for username, email in [
            ("coordinateur-ref", "pdses@mondor.example.org"),
            ("referent-ref", "PDSES@mondor.example.org"),
        ]:
            s.scalars(select(Account).where(Account.username == username)).one().email = email
    make_dossier(world, "finalised")
    assert len(mails(world)) == 1
    assert mails(world)[0].recipient.lower() == "pdses@mondor.example.org"


def test_inactive_accounts_receive_nothing(world):
    with world.db.transaction() as s:
        account = s.scalars(select(Account).where(Account.username == "referent-ref")).one()
        account.active = False
    make_dossier(world, "finalised")
    assert [m.recipient for m in mails(world)] == ["coordinateur-ref@example.org"]


def test_a_stale_version_is_a_conflict(world, clock):
    actor = world.actor("declarant_req")
    ref = make_dossier(world, "draft")
    clock.advance(minutes=1)
    dossiers.update_draft(
        world.db,
        actor,
        ref.id,
        world.dossier_input(
            requested_at=load(world, ref.id).requested_at,
            final_destination_id=world.destination["Décédé"],
        ),
    )
    with pytest.raises(ConflictError):
        dossiers.finalise(world.db, actor, ref.id, ref.version)
    assert load(world, ref.id).state is DossierState.DRAFT
    assert mails(world) == []


# A valid address of 253 characters (64-character local part, 188-character domain).
LONG_EMAIL = "p" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 56 + ".org"


def test_a_long_valid_recipient_address_does_not_break_finalisation(world):
    """Regression: the outbox's dedup key (« refus_transmis:<line>:<recipient> ») must hold
    the longest address an account may have (it overflowed a 200-character column)."""
    with world.db.transaction() as s:
        create_account(
            s,
            AccountInput(
                username="referent-ref-long",
                display_name="Référent PDSES",
                email=LONG_EMAIL,
                role=Role.REFERENT,
                password=PASSWORD,
                establishment_finess=s.get(Establishment, world.est["ref"]).finess,
            ),
        )
    ref = make_dossier(world, "finalised")
    assert load(world, ref.id).state is DossierState.FINALISED
    sent = mails(world)
    assert LONG_EMAIL in [m.recipient for m in sent]
    limit = OutboxMail.__table__.c.dedup_key.type.length
    assert all(len(m.dedup_key) <= limit for m in sent)


def test_the_form_as_it_stands_is_saved_and_finalised_at_once(world):
    """SPEC §5: the destination is required only to finalise; it is often chosen then, and
    nothing typed in the form before « Finaliser le dossier » may be lost."""
    ref = world.draft("declarant_req", lines=("ref",))
    transferred = world.destination["Transféré dans un autre établissement"]
    with pytest.raises(ValidationError) as exc:
        dossiers.finalise(
            world.db,
            world.actor("declarant_req"),
            ref.id,
            data=world.dossier_input(final_destination_id=transferred),
        )
    assert "final_destination_establishment_id" in exc.value.by_field()
    done = dossiers.finalise(
        world.db,
        world.actor("declarant_req"),
        ref.id,
        data=world.dossier_input(
            final_destination_id=transferred,
            final_destination_establishment_id=world.est["paris"],
            comments="Saisi juste avant de finaliser",
        ),
    )
    view = queries.get_dossier(world.db, world.actor("declarant_req"), dossier_id=done.id)
    assert view.final_destination_id == transferred
    assert view.final_destination_establishment_id == world.est["paris"]
    assert view.comments == "Saisi juste avant de finaliser"
    assert done.version == ref.version + 1


def test_a_refuser_without_any_account_is_reported_not_silently_skipped(world):
    """Foch has no Coordinateur nor Référent PDSES in the world: nobody can be mailed."""
    done = world.finalised("declarant_req", lines=("ref", "other"))
    assert done.unreached == ("Hôpital Foch",)
    with world.db.read() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "dossier_finalised")).one()
    assert len(entry.details["lines_without_recipient"]) == 1
