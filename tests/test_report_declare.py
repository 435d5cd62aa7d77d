"""Action « Déclarer un fonctionnement non conforme » (``reports.declare``), mirroring the
``declare`` row of ``registre.workflow.REPORT_TRANSITIONS`` and SPEC §9 (the form's fields),
§3 (who may declare, the specialty limit), §7 (the concerned establishment's coordinators and
référents are mailed; an impact on care goes to the declaring establishment's directors) and
§8 (no nominative data).

Every outcome is read back from the database; a refused declaration must leave nothing behind
(no report, no audit entry, no mail, no number consumed).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from registre import reports
from registre.errors import AuthenticationError, PermissionDenied, ValidationError
from registre.models import (
    Account,
    AuditEntry,
    Establishment,
    OutboxMail,
    Report,
    ReportCounter,
    ReportState,
    ReportType,
    Role,
    Specialty,
)
from registre.reports import LABELS, ReportInput
from registre.timeutil import now

from .factories import ACTOR_NAMES

# Every actor of the test world and its establishment key.
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
# Déclarant, Référent and Coordinateur declare for their establishment; the ORL-limited
# référent may not declare about Neurochirurgie (the specialty used by default).
ALLOWED = {
    "declarant_req",
    "referent_req",
    "coordinateur_req",
    "declarant_ref",
    "referent_ref",
    "coordinateur_ref",
}
REQUIRED = [
    "occurred_at",
    "specialty_id",
    "concerned_establishment_id",
    "report_type_id",
    "description",
]
PII_SAMPLES = {
    "nir": "Patient 1 85 05 78 006 084 36 non pris en charge",
    "phone": "rappeler l'astreinte au 06 12 34 56 78",
    "civility": "Appel de M. Dupont resté sans suite",
}
IMPACT_TEXT = "Transfert retardé de trois heures"


def report_counts(world) -> dict[str, int]:
    """Rows a declaration may write: a refused one leaves them unchanged."""
    with world.db.read() as s:
        return {
            model.__tablename__: s.scalar(select(func.count()).select_from(model)) or 0
            for model in (Report, ReportCounter, AuditEntry, OutboxMail)
        }


def load_report(world, report_id: int) -> Report:
    with world.db.read() as s:
        report = s.get(Report, report_id)
        assert report is not None
        return report


def mails(world, kind: str) -> list[OutboxMail]:
    with world.db.read() as s:
        return list(
            s.scalars(select(OutboxMail).where(OutboxMail.kind == kind).order_by(OutboxMail.id))
        )


def declared_entries(world) -> list[AuditEntry]:
    with world.db.read() as s:
        return list(
            s.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "report_declared")
                .order_by(AuditEntry.id)
            )
        )


def other_side(name: str) -> str:
    """A concerned establishment that is not the actor's own."""
    return "req" if ACTORS[name] == "ref" else "ref"


def by_field(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return exc.value.by_field()


def test_the_actor_table_covers_the_whole_world(world):
    assert set(ACTORS) == set(world.actors) == set(ACTOR_NAMES)


# --- who may declare ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ACTOR_NAMES)
def test_who_may_declare(world, name):
    actor = world.actor(name)
    data = world.report_input(other_side(name))
    before = report_counts(world)
    if name in ALLOWED:
        ref = reports.declare(world.db, actor, data)
        report = load_report(world, ref.id)
        assert ref.state is report.state is ReportState.AWAITING
        assert report.number == ref.number == "F-2026-000001"
        assert report.declaring_establishment_id == world.est[ACTORS[name]]
        assert report.concerned_establishment_id == world.est[other_side(name)]
        assert report.created_by_id == actor.id
        assert report.created_at == report.updated_at == now()
        assert report_counts(world)["reports"] == before["reports"] + 1
    else:
        with pytest.raises(PermissionDenied):
            reports.declare(world.db, actor, data)
        assert report_counts(world) == before


@pytest.mark.parametrize(("specialty", "allowed"), [("Neurochirurgie", False), ("ORL", True)])
def test_the_orl_limited_referent_declares_only_orl(world, specialty, allowed):
    actor = world.actor("referent_ref_orl")
    data = world.report_input("req", specialty_id=world.specialty[specialty])
    before = report_counts(world)
    if allowed:
        ref = reports.declare(world.db, actor, data)
        report = load_report(world, ref.id)
        assert report.specialty_id == world.specialty["ORL"]
        assert report.declaring_establishment_id == world.est["ref"]
        assert report.created_by_id == actor.id
    else:
        with pytest.raises(PermissionDenied) as exc:
            reports.declare(world.db, actor, data)
        assert "hors de votre périmètre" in exc.value.message
        assert report_counts(world) == before


def test_the_actor_is_reloaded_at_every_declaration(world):
    """A role changed or an account deactivated since login counts at once."""
    before = report_counts(world)
    with world.db.transaction() as s:
        s.get(Account, world.actor("declarant_req").id).role = Role.DIRECTEUR
        s.get(Account, world.actor("referent_req").id).active = False
    with pytest.raises(PermissionDenied):
        world.report("declarant_req")
    with pytest.raises(AuthenticationError):
        world.report("referent_req")
    assert report_counts(world) == before


def test_the_form_has_no_declaring_establishment_field():
    names = {f.name for f in dataclasses.fields(ReportInput)}
    assert "declaring_establishment_id" not in names
    assert "establishment_id" not in names
    assert "concerned_establishment_id" in names


# --- the fields -----------------------------------------------------------------------------


def test_every_missing_field_is_reported_at_once_in_french(world):
    before = report_counts(world)
    with pytest.raises(ValidationError) as exc:
        reports.declare(world.db, world.actor("declarant_req"), ReportInput())
    assert by_field(exc) == {
        "occurred_at": ["« Date et heure » est obligatoire."],
        "specialty_id": ["« Spécialité PDSES » est obligatoire."],
        "concerned_establishment_id": ["« Etablissement concerné » est obligatoire."],
        "report_type_id": ["« Type de dysfonctionnement » est obligatoire."],
        "description": ["« Description » est obligatoire."],
    }
    assert report_counts(world) == before


@pytest.mark.parametrize("field", REQUIRED)
def test_each_required_field_is_reported_on_its_own_field(world, field):
    before = report_counts(world)
    with pytest.raises(ValidationError) as exc:
        reports.declare(
            world.db, world.actor("coordinateur_req"), world.report_input(**{field: None})
        )
    assert by_field(exc) == {field: [f"« {LABELS[field]} » est obligatoire."]}
    assert report_counts(world) == before


@pytest.mark.parametrize("blank", ["", "   \n  "])
def test_a_blank_description_is_missing(world, blank):
    with pytest.raises(ValidationError) as exc:
        world.report(description=blank)
    assert set(by_field(exc)) == {"description"}


@pytest.mark.parametrize("name", ["declarant_req", "coordinateur_ref"])
def test_the_own_establishment_cannot_be_the_concerned_one(world, name):
    before = report_counts(world)
    with pytest.raises(ValidationError) as exc:
        reports.declare(world.db, world.actor(name), world.report_input(ACTORS[name]))
    assert by_field(exc) == {
        "concerned_establishment_id": [
            "L'établissement concerné doit être un autre établissement que le vôtre."
        ]
    }
    assert report_counts(world) == before


@pytest.mark.parametrize(
    ("field", "model", "key"),
    [
        ("concerned_establishment_id", Establishment, "ref"),
        ("report_type_id", ReportType, "Ligne injoignable"),
        ("specialty_id", Specialty, "Neurochirurgie"),
    ],
)
def test_an_inactive_item_is_refused(world, field, model, key):
    ident = {
        Establishment: world.est,
        ReportType: world.report_type,
        Specialty: world.specialty,
    }[model][key]
    with world.db.transaction() as s:
        s.get(model, ident).active = False
    before = report_counts(world)
    with pytest.raises(ValidationError) as exc:
        world.report("declarant_req")
    assert by_field(exc) == {field: [f"« {LABELS[field]} » : valeur inconnue ou désactivée."]}
    assert report_counts(world) == before


@pytest.mark.parametrize("field", ["concerned_establishment_id", "report_type_id", "specialty_id"])
def test_an_unknown_item_is_refused(world, field):
    with pytest.raises(ValidationError) as exc:
        world.report("declarant_req", **{field: 999_999})
    assert by_field(exc) == {field: [f"« {LABELS[field]} » : valeur inconnue ou désactivée."]}


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (timedelta(0), True),
        (timedelta(days=-3), True),
        (timedelta(minutes=4), True),  # a clock a little ahead is tolerated
        (timedelta(minutes=6), False),
        (timedelta(days=1), False),
    ],
)
def test_the_date_may_not_be_in_the_future(world, offset, accepted):
    before = report_counts(world)
    if accepted:
        ref = world.report(occurred_at=now() + offset)
        assert load_report(world, ref.id).occurred_at == now() + offset
    else:
        with pytest.raises(ValidationError) as exc:
            world.report(occurred_at=now() + offset)
        assert by_field(exc) == {
            "occurred_at": ["La date et l'heure ne peuvent pas être dans le futur."]
        }
        assert report_counts(world) == before


def test_a_time_skipped_by_summer_time_is_refused(world):
    """29/03/2026 02:30 does not exist in Paris; 25/10/2026 02:30 exists twice (first taken)."""
    before = report_counts(world)
    with pytest.raises(ValidationError) as exc:
        world.report(occurred_at=datetime(2026, 3, 29, 2, 30))
    assert set(by_field(exc)) == {"occurred_at"}
    assert "n'existe pas" in by_field(exc)["occurred_at"][0]
    assert report_counts(world) == before
    ref = world.report(occurred_at=datetime(2026, 10, 25, 2, 30))
    assert load_report(world, ref.id).occurred_at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize("field", ["description", "impact_description"])
@pytest.mark.parametrize("sample", list(PII_SAMPLES))
def test_nominative_data_is_refused_and_nothing_is_stored(world, field, sample):
    overrides = {"impact": True, "impact_description": IMPACT_TEXT, field: PII_SAMPLES[sample]}
    before = report_counts(world)
    with pytest.raises(ValidationError) as exc:
        world.report("declarant_req", **overrides)
    assert set(by_field(exc)) == {field}
    message = by_field(exc)[field][0]
    assert message.startswith(f"« {LABELS[field]} » : ")
    assert "nominative" in message
    assert report_counts(world) == before  # no report, no number, no audit, no mail
    assert world.report("declarant_req").number == "F-2026-000001"


def test_ordinary_clinical_text_is_accepted(world):
    text = "fracture ouverte de jambe, 45 ans, TC avec PC, appel à 02h15, Hôpital Henri-Mondor"
    ref = world.report(description=text, impact=True, impact_description="retard de 2 h")
    report = load_report(world, ref.id)
    assert report.description == text
    assert report.impact_description == "retard de 2 h"


@pytest.mark.parametrize("description", [None, "", "   "])
def test_impact_ticked_requires_its_description(world, description):
    before = report_counts(world)
    with pytest.raises(ValidationError) as exc:
        world.report(impact=True, impact_description=description)
    assert by_field(exc) == {"impact_description": ["« Description de l'impact » est obligatoire."]}
    assert report_counts(world) == before


def test_without_impact_its_description_is_dropped_and_nobody_is_told(world):
    ref = world.report(impact=False, impact_description="texte sans objet")
    report = load_report(world, ref.id)
    assert report.impact is False
    assert report.impact_description is None
    assert report.impact_notified_at is None
    assert mails(world, "non_conforme_impact_directeur") == []
    [entry] = declared_entries(world)
    # an unticked box and an empty field are not recorded as filled in (the history would
    # otherwise list « impact … renseigné ou modifié »)
    assert "impact_description" not in entry.details["changes"]
    assert "impact" not in entry.details["changes"]
    assert entry.details["director_unreached"] is False


def test_an_impact_nobody_can_be_told_of_is_said_to_the_declarer(world):
    """A Déclarant of Foch (no director account, no direction address) declares an impact:
    the report is recorded, and the page is told that no director could be mailed."""
    from registre.accounts import AccountInput, create_account
    from registre.auth import load_actor

    with world.db.transaction() as session:
        create_account(
            session,
            AccountInput(
                username="declarant-foch",
                display_name="declarant_foch",
                email="urgences@foch.example.org",
                role=Role.DECLARANT,
                password="mot-de-passe-de-test-2026",
                establishment_finess="920000650",
            ),
        )
    actor = load_actor(world.db, "declarant-foch")
    assert actor is not None
    data = world.report_input(impact=True, impact_description="Transfert retardé.")
    ref = reports.declare(world.db, actor, data)
    assert ref.director_unreached and not ref.unreached
    assert mails(world, "non_conforme_impact_directeur") == []
    assert load_report(world, ref.id).impact_notified_at is None
    [entry] = declared_entries(world)
    assert entry.details["director_unreached"] is True
    # with a director, nothing to say
    assert world.report(impact=True, impact_description="Retard.").director_unreached is False


def test_text_is_stored_cleaned(world):
    ref = world.report(description="  Ligne\r\nsans réponse  ")
    assert load_report(world, ref.id).description == "Ligne\nsans réponse"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("description", "x" * 5001, "ne doit pas dépasser 5\u00a0000 caractères"),
        ("description", "ligne\x00cachée", "caractère invisible ou de contrôle non autorisé"),
        ("impact_description", "y" * 5001, "ne doit pas dépasser 5\u00a0000 caractères"),
    ],
)
def test_free_text_length_and_control_characters(world, field, value, message):
    overrides = {"impact": True, "impact_description": IMPACT_TEXT, field: value}
    before = report_counts(world)
    with pytest.raises(ValidationError) as exc:
        world.report(**overrides)
    assert set(by_field(exc)) == {field}
    assert message in by_field(exc)[field][0]
    assert report_counts(world) == before


# --- double submission, numbers, stored facts -----------------------------------------------


def test_a_double_submit_returns_the_same_report(world):
    actor = world.actor("declarant_req")
    first = reports.declare(world.db, actor, world.report_input(), creation_token="form-abc")
    counts_after_first = report_counts(world)
    second = reports.declare(world.db, actor, world.report_input(), creation_token="form-abc")
    assert second == first  # unreached included: the same message on the page
    assert report_counts(world) == counts_after_first
    assert len(declared_entries(world)) == 1
    assert len(mails(world, "non_conforme_transmis")) == 2
    # another form is another report
    third = reports.declare(world.db, actor, world.report_input(), creation_token="form-def")
    assert third.id != first.id
    assert third.number == "F-2026-000002"
    with world.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Report)) == 2


def test_a_double_submit_about_an_establishment_nobody_can_be_told_of_says_so_again(world):
    """« paris » has no account: the second submission must repeat the warning."""
    actor = world.actor("declarant_req")
    data = world.report_input("paris")
    first = reports.declare(world.db, actor, data, creation_token="form-paris")
    second = reports.declare(world.db, actor, data, creation_token="form-paris")
    assert first.unreached and second == first


def test_numbers_follow_the_format_and_increase_across_establishments(world):
    numbers = [
        world.report("declarant_req").number,
        world.report("coordinateur_ref", concerned="req").number,
        world.report("referent_req", concerned="other").number,
    ]
    assert numbers == ["F-2026-000001", "F-2026-000002", "F-2026-000003"]
    with world.db.read() as s:
        assert s.scalars(select(Report.number).order_by(Report.id)).all() == numbers


def test_report_numbers_are_independent_of_dossier_numbers(world):
    dossier = world.draft()
    report = world.report()
    assert (dossier.number, report.number) == ("R-2026-000001", "F-2026-000001")
    assert world.draft().number == "R-2026-000002"


def test_a_refused_declaration_consumes_no_number(world):
    with pytest.raises(ValidationError):
        reports.declare(world.db, world.actor("declarant_req"), ReportInput())
    with pytest.raises(PermissionDenied):
        world.report("directeur_req")
    assert world.report().number == "F-2026-000001"


def test_the_number_restarts_with_the_paris_year(world, clock):
    first = world.report()
    # 31/12/2026 23:30 UTC is already 01/01/2027 00:30 in Paris.
    clock.set(datetime(2026, 12, 31, 23, 30, tzinfo=UTC))
    second = world.report()
    third = world.report()
    assert [first.number, second.number, third.number] == [
        "F-2026-000001",
        "F-2027-000001",
        "F-2027-000002",
    ]


@pytest.mark.parametrize(
    ("concerned", "specialty", "holder"),
    [
        ("ref", "Neurochirurgie", True),
        ("other", "Neurochirurgie", False),
        ("ref", "ORL", False),
        ("paris", "Neurochirurgie", False),
    ],
)
def test_whether_the_concerned_establishment_holds_the_line(world, concerned, specialty, holder):
    ref = world.report(concerned=concerned, specialty_id=world.specialty[specialty])
    assert load_report(world, ref.id).is_line_holder is holder


@pytest.mark.parametrize(
    ("occurred_at", "stored", "day", "weekday", "hour", "pdses"),
    [
        # naive: Paris local time, as typed
        (
            datetime(2026, 11, 19, 10, 0),
            datetime(2026, 11, 19, 9, 0),
            date(2026, 11, 19),
            3,
            10,
            False,
        ),
        (
            datetime(2026, 11, 19, 20, 0),
            datetime(2026, 11, 19, 19, 0),
            date(2026, 11, 19),
            3,
            20,
            True,
        ),
        (
            datetime(2026, 11, 21, 12, 30),
            datetime(2026, 11, 21, 11, 30),
            date(2026, 11, 21),
            5,
            12,
            True,
        ),
        (datetime(2026, 7, 14, 10, 0), datetime(2026, 7, 14, 8, 0), date(2026, 7, 14), 1, 10, True),
        # aware: the day and hour follow Paris time (00:30 on Thursday 16 July)
        (
            datetime(2026, 7, 15, 22, 30, tzinfo=UTC),
            datetime(2026, 7, 15, 22, 30),
            date(2026, 7, 16),
            3,
            0,
            True,
        ),
    ],
)
def test_the_time_facts_are_stored(world, occurred_at, stored, day, weekday, hour, pdses):
    ref = world.report(occurred_at=occurred_at)
    report = load_report(world, ref.id)
    assert report.occurred_at == stored.replace(tzinfo=UTC)
    assert (report.occurred_day, report.occurred_weekday, report.occurred_hour) == (
        day,
        weekday,
        hour,
    )
    assert report.in_pdses_hours is pdses


def test_the_default_instant_is_a_pdses_night(world):
    """The fake "now" is Thursday 26/11/2026 03:15 in Paris."""
    report = load_report(world, world.report().id)
    assert report.occurred_at == datetime(2026, 11, 26, 2, 15, tzinfo=UTC)
    assert (report.occurred_day, report.occurred_weekday, report.occurred_hour) == (
        date(2026, 11, 26),
        3,
        3,
    )
    assert report.in_pdses_hours is True


def test_every_field_is_stored(world):
    ref = world.report(
        "referent_req",
        concerned="ref",
        report_type_id=world.report_type["Délai de rappel excessif"],
        description="Rappel au bout de 50 minutes",
        impact=True,
        impact_description=IMPACT_TEXT,
    )
    report = load_report(world, ref.id)
    assert report.specialty_id == world.specialty["Neurochirurgie"]
    assert report.report_type_id == world.report_type["Délai de rappel excessif"]
    assert report.description == "Rappel au bout de 50 minutes"
    assert (report.impact, report.impact_description) == (True, IMPACT_TEXT)
    assert (report.analysis, report.corrective_measures, report.answered_at) == (None, None, None)
    assert (report.reminded_at, report.withdrawn_at) == (None, None)


# --- mails ----------------------------------------------------------------------------------

# Who is told of a report about ``ref``: its coordinators and référents (the ORL-limited one
# for an ORL report only); never the declaring side, the directors, the ARS or the admin.
TOLD = {
    "Neurochirurgie": {"coordinateur_ref", "referent_ref"},
    "ORL": {"coordinateur_ref", "referent_ref", "referent_ref_orl"},
}


@pytest.mark.parametrize("name", ACTOR_NAMES)
@pytest.mark.parametrize("specialty", list(TOLD))
def test_the_concerned_establishment_is_mailed(world, name, specialty):
    ref = world.report("coordinateur_req", specialty_id=world.specialty[specialty])
    sent = mails(world, "non_conforme_transmis")
    recipients = [m.recipient for m in sent]
    assert recipients.count(world.actor(name).email) == (1 if name in TOLD[specialty] else 0)
    assert len(recipients) == len(TOLD[specialty])
    for mail in sent:
        assert ref.number in mail.subject
        assert mail.dossier_id is None
        assert mail.created_at == now()
    assert ref.unreached is False


def test_the_concerned_side_is_mailed_whichever_establishment_declares(world):
    world.report("referent_ref", concerned="req")
    recipients = sorted(m.recipient for m in mails(world, "non_conforme_transmis"))
    assert recipients == ["coordinateur-req@example.org", "referent-req@example.org"]


# Only the Directeur accounts of the declaring establishment receive the impact mail.
IMPACT_TOLD = {"directeur_req"}


@pytest.mark.parametrize("name", ACTOR_NAMES)
def test_impact_mail_goes_once_to_the_declaring_directors_only(world, name):
    ref = world.report(impact=True, impact_description=IMPACT_TEXT)
    sent = mails(world, "non_conforme_impact_directeur")
    recipients = [m.recipient for m in sent]
    assert recipients.count(world.actor(name).email) == (1 if name in IMPACT_TOLD else 0)
    assert len(recipients) == len(IMPACT_TOLD)
    assert all(ref.number in m.subject and IMPACT_TEXT in m.body for m in sent)
    assert load_report(world, ref.id).impact_notified_at == now()


def test_impact_mail_also_goes_to_the_establishment_direction_address(world):
    with world.db.transaction() as s:
        s.get(Establishment, world.est["req"]).director_email = "direction@chsf.example.org"
        s.get(Establishment, world.est["ref"]).director_email = "direction@mondor.example.org"
    world.report(impact=True, impact_description=IMPACT_TEXT)
    recipients = [m.recipient for m in mails(world, "non_conforme_impact_directeur")]
    assert sorted(recipients) == ["directeur-req@example.org", "direction@chsf.example.org"]


def test_impact_mail_is_not_doubled_when_the_direction_address_is_a_directors(world):
    with world.db.transaction() as s:
        s.get(Establishment, world.est["req"]).director_email = "DIRECTEUR-REQ@example.org"
    world.report(impact=True, impact_description=IMPACT_TEXT)
    recipients = [m.recipient for m in mails(world, "non_conforme_impact_directeur")]
    assert recipients == ["directeur-req@example.org"]


def test_impact_mail_goes_to_the_directors_of_whichever_establishment_declares(world):
    world.report("coordinateur_ref", concerned="req", impact=True, impact_description=IMPACT_TEXT)
    recipients = [m.recipient for m in mails(world, "non_conforme_impact_directeur")]
    assert recipients == ["directeur-ref@example.org"]


def test_an_establishment_nobody_can_be_told_of_is_flagged(world):
    """``other`` (Foch) has no account: the report is kept, the declarer is warned."""
    ref = world.report("declarant_req", concerned="other")
    assert ref.unreached is True
    report = load_report(world, ref.id)
    assert report.state is ReportState.AWAITING
    assert mails(world, "non_conforme_transmis") == []
    [entry] = declared_entries(world)
    assert entry.details["without_recipient"] is True


def test_a_declaration_is_audited_on_the_requester_side(world):
    actor = world.actor("referent_req")
    ref = world.report("referent_req", impact=True, impact_description=IMPACT_TEXT)
    [entry] = declared_entries(world)
    assert entry.actor_id == actor.id
    assert entry.entity == "report"
    assert entry.entity_id == ref.id
    assert entry.dossier_id is None
    assert entry.at == now()
    assert entry.details["side"] == "requester"
    assert entry.details["number"] == ref.number
    assert entry.details["without_recipient"] is False
    changes = entry.details["changes"]
    assert changes["description"] == [None, world.report_input().description]
    assert changes["concerned_establishment_id"] == [None, world.est["ref"]]
    assert changes["impact_description"] == [None, IMPACT_TEXT]
    assert changes["occurred_at"] == [None, now().isoformat()]
