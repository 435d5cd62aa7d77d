"""Action « Créer un refus » (``dossiers.create_draft``), mirroring SPEC §3 (who may create),
§4 (PDSES periods), §5 (the requester's fields, the human number), §7 (impact mail to the
directors) and §8 (no nominative data), and the ``create`` row of ``registre.workflow``.

Every outcome is read back from the database; a refused creation must leave nothing behind
(no dossier, no audit entry, no mail, no number consumed).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from registre import dossiers
from registre.dossiers import DossierInput
from registre.errors import AuthenticationError, PermissionDenied, ValidationError
from registre.models import (
    Account,
    AuditEntry,
    Dossier,
    DossierState,
    Establishment,
    OutboxMail,
    Role,
)
from registre.timeutil import now

from .readers import counts, load

# Every actor of the test world (tests/factories.py) and its establishment key.
ACTORS = {
    "declarant_req": "req",
    "referent_req": "req",
    "coordinateur_req": "req",
    "directeur_req": "req",
    "declarant_ref": "ref",
    "referent_ref": "ref",
    "coordinateur_ref": "ref",
    "directeur_ref": "ref",
    "referent_ref_orl": "ref",
    "ars": None,
    "ars_75": None,
    "admin": None,
}
# Déclarant, Référent and Coordinateur of an establishment create for it; the ORL-limited
# référent may not create a Neurochirurgie dossier (the specialty used by default).
ALLOWED = {
    "declarant_req",
    "referent_req",
    "coordinateur_req",
    "declarant_ref",
    "referent_ref",
    "coordinateur_ref",
}
REQUIRED = [
    "requesting_service_id",
    "specialty_id",
    "requested_at",
    "age_band",
    "request_motif_id",
    "urgency",
]
PII_SAMPLES = {
    "civility": "Patient adressé par M. Dupont",
    "phone": "rappeler la famille au 06 12 34 56 78",
    "birth_date": "né le 12/03/1950",
    "patient_id": "IPP 123456",
}


def own_input(world, name: str, **overrides) -> DossierInput:
    """The form as pre-filled for ``name``: its own establishment's service."""
    overrides.setdefault("requesting_service_id", world.services[ACTORS[name] or "req"])
    return world.dossier_input(**overrides)


def fields_in_error(exc: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return set(exc.value.by_field())


def test_the_actor_table_covers_the_whole_world(world):
    assert set(ACTORS) == set(world.actors)


@pytest.mark.parametrize("name", list(ACTORS))
def test_who_may_create(world, name):
    actor = world.actor(name)
    before = counts(world)
    if name in ALLOWED:
        ref = dossiers.create_draft(world.db, actor, own_input(world, name))
        dossier = load(world, ref.id)
        assert dossier.state is DossierState.DRAFT
        assert dossier.requesting_establishment_id == world.est[ACTORS[name]]
        assert dossier.created_by_id == actor.id
        assert dossier.number == "R-2026-000001"
        assert counts(world)["dossiers"] == before["dossiers"] + 1
    else:
        with pytest.raises(PermissionDenied):
            dossiers.create_draft(world.db, actor, own_input(world, name))
        assert counts(world) == before


def test_numbers_follow_the_format_and_increase_across_establishments(world):
    numbers = [
        dossiers.create_draft(world.db, world.actor(name), own_input(world, name)).number
        for name in ("declarant_req", "coordinateur_ref", "referent_req")
    ]
    assert numbers == ["R-2026-000001", "R-2026-000002", "R-2026-000003"]
    with world.db.read() as s:
        stored = s.scalars(select(Dossier.number).order_by(Dossier.id)).all()
    assert stored == numbers


def test_a_refused_creation_consumes_no_number(world):
    with pytest.raises(ValidationError):
        dossiers.create_draft(world.db, world.actor("declarant_req"), DossierInput())
    with pytest.raises(PermissionDenied):
        dossiers.create_draft(world.db, world.actor("directeur_req"), world.dossier_input())
    ref = dossiers.create_draft(world.db, world.actor("declarant_req"), world.dossier_input())
    assert ref.number == "R-2026-000001"


def test_the_number_restarts_with_the_paris_year(world, clock):
    first = world.draft()
    # 31/12/2026 23:30 UTC is already 01/01/2027 00:30 in Paris.
    clock.set(datetime(2026, 12, 31, 23, 30, tzinfo=UTC))
    second = world.draft()
    third = world.draft()
    assert [first.number, second.number, third.number] == [
        "R-2026-000001",
        "R-2027-000001",
        "R-2027-000002",
    ]


def test_the_form_has_no_establishment_field():
    names = {f.name for f in dataclasses.fields(DossierInput)}
    assert "requesting_establishment_id" not in names
    assert "establishment_id" not in names


@pytest.mark.parametrize(
    ("name", "service_of"),
    [
        ("declarant_req", "ref"),
        ("coordinateur_req", "other"),
        ("referent_ref", "req"),
        ("coordinateur_ref", "paris"),
    ],
)
def test_a_service_of_another_establishment_is_refused(world, name, service_of):
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        dossiers.create_draft(
            world.db,
            world.actor(name),
            world.dossier_input(requesting_service_id=world.services[service_of]),
        )
    assert fields_in_error(exc) == {"requesting_service_id"}
    assert (
        "n'appartient pas à votre établissement" in exc.value.by_field()["requesting_service_id"][0]
    )
    assert counts(world) == before


@pytest.mark.parametrize("field", REQUIRED)
def test_each_required_field_is_reported_on_its_own_field(world, field):
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        dossiers.create_draft(
            world.db, world.actor("declarant_req"), world.dossier_input(**{field: None})
        )
    assert fields_in_error(exc) == {field}
    assert "obligatoire" in exc.value.by_field()[field][0]
    assert counts(world) == before


def test_all_missing_fields_are_reported_at_once(world):
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        dossiers.create_draft(world.db, world.actor("declarant_req"), DossierInput())
    assert fields_in_error(exc) == set(REQUIRED)
    assert counts(world) == before


def test_missing_and_faulty_fields_are_reported_together(world):
    data = world.dossier_input(urgency=None, comments=PII_SAMPLES["civility"], impact=True)
    with pytest.raises(ValidationError) as exc:
        dossiers.create_draft(world.db, world.actor("declarant_req"), data)
    assert fields_in_error(exc) == {"urgency", "comments", "impact_description"}


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (timedelta(0), True),
        (timedelta(minutes=-30), True),
        (timedelta(minutes=4), True),  # a clock a little ahead is tolerated
        (timedelta(minutes=6), False),
        (timedelta(days=1), False),
    ],
)
def test_the_request_date_may_not_be_in_the_future(world, offset, accepted):
    data = world.dossier_input(requested_at=now() + offset)
    before = counts(world)
    if accepted:
        ref = dossiers.create_draft(world.db, world.actor("declarant_req"), data)
        assert load(world, ref.id).requested_at == now() + offset
    else:
        with pytest.raises(ValidationError) as exc:
            dossiers.create_draft(world.db, world.actor("declarant_req"), data)
        assert fields_in_error(exc) == {"requested_at"}
        assert "futur" in exc.value.by_field()["requested_at"][0]
        assert counts(world) == before


@pytest.mark.parametrize(
    ("requested_at", "flagged"),
    [
        # naive values are Paris local time, as typed in the form
        (datetime(2026, 11, 19, 10, 0), False),  # Thursday daytime
        (datetime(2026, 11, 19, 7, 59), True),  # weekday night (before 08:00)
        (datetime(2026, 11, 19, 8, 0), False),
        (datetime(2026, 11, 19, 19, 59), False),
        (datetime(2026, 11, 19, 20, 0), True),  # weekday night (from 20:00)
        (datetime(2026, 11, 21, 11, 59), False),  # Saturday morning
        (datetime(2026, 11, 21, 12, 0), True),  # Saturday afternoon
        (datetime(2026, 11, 22, 10, 0), True),  # Sunday
        (datetime(2025, 12, 25, 10, 0), True),  # Christmas (a Thursday)
        (datetime(2026, 7, 14, 10, 0), True),  # Fête nationale (a Tuesday)
        (datetime(2026, 11, 11, 10, 0), True),  # Armistice (a Wednesday)
        (datetime(2026, 5, 14, 10, 0), True),  # Ascension (a Thursday)
        # aware values: the flag follows Paris local time, not UTC
        (datetime(2026, 11, 19, 19, 30, tzinfo=UTC), True),  # 20:30 in Paris
        (datetime(2026, 7, 15, 6, 30, tzinfo=UTC), False),  # 08:30 in Paris (summer time)
        (datetime(2026, 7, 15, 5, 30, tzinfo=UTC), True),  # 07:30 in Paris
    ],
)
def test_the_pdses_flag_is_computed(world, requested_at, flagged):
    ref = world.draft(requested_at=requested_at)
    assert load(world, ref.id).in_pdses_hours is flagged


def test_a_request_outside_pdses_hours_is_flagged_not_refused(world):
    ref = world.draft(requested_at=datetime(2026, 11, 19, 10, 0))
    dossier = load(world, ref.id)
    assert dossier.state is DossierState.DRAFT
    assert dossier.in_pdses_hours is False
    # stored in UTC: 10:00 in Paris in November is 09:00 UTC
    assert dossier.requested_at == datetime(2026, 11, 19, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("local_time", "accepted"),
    [(datetime(2026, 11, 26, 3, 19), True), (datetime(2026, 11, 26, 3, 21), False)],
)
def test_a_typed_local_time_is_compared_in_paris_time(world, local_time, accepted):
    """The fake "now" is 03:15 in Paris: 03:19 typed in the form is within the tolerance."""
    data = world.dossier_input(requested_at=local_time)
    if accepted:
        ref = dossiers.create_draft(world.db, world.actor("declarant_req"), data)
        assert load(world, ref.id).requested_at == datetime(2026, 11, 26, 2, 19, tzinfo=UTC)
    else:
        with pytest.raises(ValidationError) as exc:
            dossiers.create_draft(world.db, world.actor("declarant_req"), data)
        assert fields_in_error(exc) == {"requested_at"}


def test_other_request_motif_requires_its_text(world):
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        dossiers.create_draft(
            world.db,
            world.actor("declarant_req"),
            world.dossier_input(request_motif_id=world.request_motif["Autre"]),
        )
    assert fields_in_error(exc) == {"request_other_motif"}
    assert "Autre motif de la demande" in exc.value.by_field()["request_other_motif"][0]
    assert counts(world) == before

    ref = world.draft(
        request_motif_id=world.request_motif["Autre"], request_other_motif="Avis téléphonique"
    )
    assert load(world, ref.id).request_other_motif == "Avis téléphonique"


def test_other_request_motif_text_is_dropped_for_a_listed_motif(world):
    ref = world.draft(request_other_motif="texte sans objet")
    assert load(world, ref.id).request_other_motif is None


def test_the_orl_limited_referent_cannot_create_a_neurosurgery_dossier(world):
    actor = world.actor("referent_ref_orl")
    before = counts(world)
    with pytest.raises(PermissionDenied):
        dossiers.create_draft(world.db, actor, own_input(world, "referent_ref_orl"))
    assert counts(world) == before

    ref = dossiers.create_draft(
        world.db,
        actor,
        own_input(world, "referent_ref_orl", specialty_id=world.specialty["ORL"]),
    )
    dossier = load(world, ref.id)
    assert dossier.specialty_id == world.specialty["ORL"]
    assert dossier.requesting_establishment_id == world.est["ref"]


@pytest.mark.parametrize(
    ("field", "sample"),
    [
        ("comments", "civility"),
        ("comments", "phone"),
        ("impact_description", "birth_date"),
        ("impact_description", "civility"),
        ("request_other_motif", "patient_id"),
        ("request_other_motif", "phone"),
    ],
)
def test_nominative_data_is_refused_and_nothing_is_written(world, field, sample):
    # every free-text field filled with clean text, then one of them with nominative data
    overrides = {
        "comments": "Appel du SAMU",
        "impact": True,
        "impact_description": "Retard de prise en charge",
        "request_motif_id": world.request_motif["Autre"],
        "request_other_motif": "Avis téléphonique",
    }
    overrides[field] = PII_SAMPLES[sample]
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        dossiers.create_draft(
            world.db, world.actor("declarant_req"), world.dossier_input(**overrides)
        )
    assert fields_in_error(exc) == {field}
    assert "nominative" in exc.value.by_field()[field][0]
    assert counts(world) == before


def test_ordinary_clinical_text_is_accepted(world):
    text = "fracture ouverte de jambe, 45 ans, TC avec PC, appel à 02h15"
    ref = world.draft(comments=text, impact=True, impact_description="Hôpital Henri-Mondor saturé")
    dossier = load(world, ref.id)
    assert dossier.comments == text
    assert dossier.impact_description == "Hôpital Henri-Mondor saturé"


@pytest.mark.parametrize("description", [None, "", "   "])
def test_impact_ticked_requires_its_description(world, description):
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        dossiers.create_draft(
            world.db,
            world.actor("declarant_req"),
            world.dossier_input(impact=True, impact_description=description),
        )
    assert fields_in_error(exc) == {"impact_description"}
    assert counts(world) == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("comments", "x" * 5001, "ne doit pas dépasser 5\u00a0000 caractères"),
        ("comments", "ligne\x00cachée", "caractère invisible ou de contrôle non autorisé"),
        ("request_other_motif", "y" * 301, "300 caractères"),
    ],
)
def test_free_text_length_and_control_characters(world, field, value, message):
    overrides = {
        "request_motif_id": world.request_motif["Autre"],
        "request_other_motif": "Avis téléphonique",
        field: value,
    }
    before = counts(world)
    with pytest.raises(ValidationError) as exc:
        dossiers.create_draft(
            world.db, world.actor("declarant_req"), world.dossier_input(**overrides)
        )
    assert fields_in_error(exc) == {field}
    assert message in exc.value.by_field()[field][0]
    assert counts(world) == before


def test_the_actor_is_reloaded_at_every_action(world):
    """A role changed or an account deactivated since login counts at once."""
    before = counts(world)
    with world.db.transaction() as s:
        s.get(Account, world.actor("declarant_req").id).role = Role.DIRECTEUR
        s.get(Account, world.actor("referent_req").id).active = False
    with pytest.raises(PermissionDenied):
        dossiers.create_draft(world.db, world.actor("declarant_req"), world.dossier_input())
    with pytest.raises(AuthenticationError):
        dossiers.create_draft(world.db, world.actor("referent_req"), world.dossier_input())
    assert counts(world) == before


def test_creation_is_audited(world):
    actor = world.actor("referent_req")
    ref = dossiers.create_draft(
        world.db, actor, world.dossier_input(comments="Appel du SAMU à 02h15")
    )
    with world.db.read() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.dossier_id == ref.id)).all()
    assert [e.action for e in entries] == ["dossier_created"]
    entry = entries[0]
    assert entry.actor_id == actor.id
    assert entry.entity == "dossier"
    assert entry.entity_id == ref.id
    assert entry.at == now()
    assert entry.details["number"] == ref.number
    assert entry.details["side"] == "requester"
    assert entry.details["changes"]["comments"] == [None, "Appel du SAMU à 02h15"]
    assert entry.details["changes"]["specialty_id"] == [None, world.specialty["Neurochirurgie"]]


# Only the Directeur accounts of the requesting establishment receive the impact mail.
IMPACT_RECIPIENTS = {"directeur_req"}


@pytest.mark.parametrize("name", list(ACTORS))
def test_impact_mail_goes_once_to_the_requesting_directors_only(world, name):
    ref = world.draft(impact=True, impact_description="Retard de prise en charge de 4 heures")
    with world.db.read() as s:
        mails = s.scalars(select(OutboxMail).where(OutboxMail.kind == "impact_directeur")).all()
        notified_at = s.get(Dossier, ref.id).impact_notified_at
    recipients = [m.recipient for m in mails]
    email = world.actor(name).email
    assert recipients.count(email) == (1 if name in IMPACT_RECIPIENTS else 0)
    assert len(recipients) == len(IMPACT_RECIPIENTS)
    assert all(m.dossier_id == ref.id for m in mails)
    assert all(ref.number in m.subject for m in mails)
    assert notified_at == now()


def test_impact_mail_goes_to_the_directors_of_whichever_establishment_requests(world):
    dossiers.create_draft(
        world.db,
        world.actor("coordinateur_ref"),
        own_input(world, "coordinateur_ref", impact=True, impact_description="Retard"),
    )
    with world.db.read() as s:
        recipients = s.scalars(
            select(OutboxMail.recipient).where(OutboxMail.kind == "impact_directeur")
        ).all()
    assert recipients == ["directeur-ref@example.org"]


def test_impact_mail_also_goes_to_the_establishment_direction_address(world):
    with world.db.transaction() as s:
        s.get(Establishment, world.est["req"]).director_email = "direction@chsf.example.org"
        s.get(Establishment, world.est["ref"]).director_email = "direction@mondor.example.org"
    world.draft(impact=True, impact_description="Retard de prise en charge")
    with world.db.read() as s:
        recipients = s.scalars(
            select(OutboxMail.recipient).where(OutboxMail.kind == "impact_directeur")
        ).all()
    assert sorted(recipients) == ["directeur-req@example.org", "direction@chsf.example.org"]


def test_no_impact_no_mail(world):
    ref = world.draft(impact=False, impact_description="ignoré")
    with world.db.read() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMail)) == 0
        dossier = s.get(Dossier, ref.id)
        assert dossier.impact_notified_at is None
        assert dossier.impact_description is None


def test_a_time_skipped_by_summer_time_is_refused_and_the_repeated_hour_is_taken_once(world):
    """29/03/2026 02:30 does not exist in Paris; 25/10/2026 02:30 exists twice (first taken)."""
    from registre.models import Dossier as _Dossier

    actor = world.actor("declarant_req")
    with pytest.raises(ValidationError) as exc:
        dossiers.create_draft(
            world.db, actor, world.dossier_input(requested_at=datetime(2026, 3, 29, 2, 30))
        )
    assert "n'existe pas" in " ".join(exc.value.by_field()["requested_at"])
    ref = dossiers.create_draft(
        world.db, actor, world.dossier_input(requested_at=datetime(2026, 10, 25, 2, 30))
    )
    with world.db.read() as s:
        stored = s.get(_Dossier, ref.id).requested_at
    assert stored == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
