"""Administration of the reference data (issue 5, SPEC §4): the lists (specialties, refusal
motifs, request motifs, final destinations), the establishments (FINESS checked), their
services and the PDSES lines. Administrateur only; add, edit, deactivate, never delete: a
deactivated item disappears from the forms (and is refused in new input) but stays in the
dossiers that use it and in the statistics; every change audited.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from registre import dossiers, finess, queries, referentials, report_queries, reports, statistics
from registre.errors import NotFound, PermissionDenied, ValidationError
from registre.models import (
    AuditEntry,
    Establishment,
    FinalDestination,
    LineKind,
    PdsesLine,
    RefusalMotif,
    ReportType,
    RequestMotif,
    Service,
    Specialty,
)
from registre.permissions import Perspective
from registre.referentials import EstablishmentFields, ListKind

from .factories import NON_ADMINS
from .readers import lines_of

MODELS = {
    ListKind.SPECIALTY: Specialty,
    ListKind.REFUSAL_MOTIF: RefusalMotif,
    ListKind.REQUEST_MOTIF: RequestMotif,
    ListKind.DESTINATION: FinalDestination,
    ListKind.REPORT_TYPE: ReportType,
}
FLAGS = {
    ListKind.SPECIALTY: None,
    ListKind.REFUSAL_MOTIF: "is_other",
    ListKind.REQUEST_MOTIF: "is_other",
    ListKind.DESTINATION: "requires_establishment",
    ListKind.REPORT_TYPE: None,
}
TABLES = (Specialty, RefusalMotif, RequestMotif, FinalDestination, Establishment, Service)
NOVEMBER = statistics.StatsFilters(start=date(2026, 11, 1), end=date(2026, 11, 30))


def admin(world):
    return world.actor("admin")


def valid_finess(first_eight: str) -> str:
    return first_eight + finess.check_digit(first_eight)


def audit_entries(world, action: str, entity: str | None = None) -> list[AuditEntry]:
    with world.db.read() as s:
        query = select(AuditEntry).where(AuditEntry.action == action)
        if entity is not None:
            query = query.where(AuditEntry.entity == entity)
        return list(s.scalars(query.order_by(AuditEntry.id)))


def row_counts(world) -> dict[str, int]:
    with world.db.read() as s:
        return {
            m.__tablename__: s.scalar(select(func.count()).select_from(m)) or 0
            for m in (*TABLES, PdsesLine, AuditEntry)
        }


def stored(world, model, ident):
    with world.db.read() as s:
        row = s.get(model, ident)
        assert row is not None
        return row


def labels(choices) -> list[str]:
    return [c.label for c in choices]


# --- only the Administrateur ----------------------------------------------------------------

CALLS = {
    "list_items": lambda w, a: referentials.list_items(w.db, a, ListKind.SPECIALTY),
    "save_item": lambda w, a: referentials.save_item(
        w.db, a, ListKind.REFUSAL_MOTIF, None, "Motif pirate", 1
    ),
    "set_item_active": lambda w, a: referentials.set_item_active(
        w.db, a, ListKind.SPECIALTY, w.specialty["ORL"], False
    ),
    "list_establishments": lambda w, a: referentials.list_establishments(w.db, a),
    "save_establishment": lambda w, a: referentials.save_establishment(
        w.db, a, w.est["other"], EstablishmentFields("920000650", "Renommé")
    ),
    "set_establishment_active": lambda w, a: referentials.set_establishment_active(
        w.db, a, w.est["other"], False
    ),
    "list_services": lambda w, a: referentials.list_services(w.db, a, w.est["req"]),
    "save_service": lambda w, a: referentials.save_service(w.db, a, w.est["req"], None, "Pirate"),
    "set_service_active": lambda w, a: referentials.set_service_active(
        w.db, a, w.services["req"], False
    ),
    "list_lines": lambda w, a: referentials.list_lines(w.db, a),
    "save_line": lambda w, a: referentials.save_line(
        w.db, a, None, w.est["other"], w.specialty["ORL"], LineKind.GARDE
    ),
    "set_line_active": lambda w, a: referentials.set_line_active(w.db, a, line_ids(w)[0], False),
}


def line_ids(world) -> list[int]:
    with world.db.read() as s:
        return list(s.scalars(select(PdsesLine.id).order_by(PdsesLine.id)))


def refusals(world, actor) -> dict[str, str]:
    """What each call answers: the refusal's message, or « allowed »."""
    answers = {}
    for key, call in CALLS.items():
        try:
            call(world, actor)
        except PermissionDenied as exc:
            answers[key] = exc.message
        else:
            answers[key] = "allowed"
    return answers


@pytest.mark.parametrize("name", NON_ADMINS)
def test_every_reference_action_is_refused_to_every_other_role(world, name):
    before = row_counts(world)
    assert refusals(world, world.actor(name)) == dict.fromkeys(
        CALLS, "Seul l'administrateur a accès à l'administration."
    )
    assert row_counts(world) == before
    assert stored(world, Specialty, world.specialty["ORL"]).active
    assert stored(world, Establishment, world.est["other"]).name == "Hôpital Foch"
    assert stored(world, Service, world.services["req"]).active
    assert all(stored(world, PdsesLine, i).active for i in line_ids(world))


# --- the lists ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(ListKind))
def test_add_and_edit_an_item_of_each_list(world, kind):
    me = admin(world)
    item_id = referentials.save_item(world.db, me, kind, None, "  Nouvel   élément ", 50, True)
    row = stored(world, MODELS[kind], item_id)
    assert (row.label, row.sort_order, row.active) == ("Nouvel élément", 50, True)
    flag = FLAGS[kind]
    if flag:
        assert getattr(row, flag) is True
    [listed] = [i for i in referentials.list_items(world.db, me, kind) if i.id == item_id]
    assert (listed.label, listed.sort_order, listed.active, listed.flag) == (
        "Nouvel élément",
        50,
        True,
        flag is not None,
    )
    [created] = audit_entries(world, "reference_created", MODELS[kind].__tablename__)
    assert created.actor_id == me.id and created.entity_id == item_id
    assert created.details["changes"]["label"] == [None, "Nouvel élément"]

    referentials.save_item(world.db, me, kind, item_id, "Élément renommé", 2, False)
    row = stored(world, MODELS[kind], item_id)
    assert (row.label, row.sort_order) == ("Élément renommé", 2)
    if flag:
        assert getattr(row, flag) is False
    [updated] = audit_entries(world, "reference_updated", MODELS[kind].__tablename__)
    assert updated.details["changes"]["label"] == ["Nouvel élément", "Élément renommé"]
    assert updated.details["changes"]["sort_order"] == [50, 2]
    # saving the same values again writes nothing
    referentials.save_item(world.db, me, kind, item_id, "Élément renommé", 2, False)
    assert len(audit_entries(world, "reference_updated")) == 1


def test_the_lists_follow_their_order(world):
    me = admin(world)
    first = referentials.save_item(world.db, me, ListKind.SPECIALTY, None, "Zoologie", -1)
    items = referentials.list_items(world.db, me, ListKind.SPECIALTY)
    assert items[0].id == first
    assert labels(queries.specialty_choices(world.db, world.actor("declarant_req")))[0] == (
        "Zoologie"
    )


@pytest.mark.parametrize(
    ("kind", "existing"),
    [
        (ListKind.SPECIALTY, "orl"),
        (ListKind.SPECIALTY, "NEUROCHIRURGIE"),
        (ListKind.REFUSAL_MOTIF, "AUTRE"),
        (ListKind.REQUEST_MOTIF, " avis   spécialisé "),
        (ListKind.DESTINATION, "retour à domicile"),
    ],
)
def test_a_label_is_unique_in_its_list_whatever_the_case(world, kind, existing):
    before = row_counts(world)
    with pytest.raises(ValidationError) as exc:
        referentials.save_item(world.db, admin(world), kind, None, existing, 1)
    assert exc.value.by_field() == {"label": ["Ce libellé existe déjà dans la liste."]}
    assert row_counts(world) == before


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (None, "CHIRURGIE PÉDIATRIQUE"),  # the seeded « Chirurgie pédiatrique »
        ("Évacuation sanitaire", "évacuation sanitaire"),
        ("Évacuation sanitaire", "ÉVACUATION SANITAIRE"),
        ("Évacuation sanitaire", "Évacuation sanitaire"),  # the very same label
    ],
)
def test_a_label_with_accented_letters_is_unique_whatever_the_case(world, first, second):
    """The comparison must lower accented capitals too (SQLite's lower() only handles
    ASCII), and a duplicate is a ValidationError, never a database error."""
    me = admin(world)
    if first is not None:
        referentials.save_item(world.db, me, ListKind.SPECIALTY, None, first, 30)
    before = row_counts(world)
    with pytest.raises(ValidationError) as exc:
        referentials.save_item(world.db, me, ListKind.SPECIALTY, None, second, 31)
    assert exc.value.by_field() == {"label": ["Ce libellé existe déjà dans la liste."]}
    assert row_counts(world) == before


def test_an_item_may_change_the_case_of_its_own_label(world):
    orl = world.specialty["ORL"]
    referentials.save_item(world.db, admin(world), ListKind.SPECIALTY, orl, "Orl", 6)
    assert stored(world, Specialty, orl).label == "Orl"


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("", "Le libellé est obligatoire."),
        ("   \t ", "Le libellé est obligatoire."),
        ("x" * 201, "Le libellé ne doit pas dépasser 200 caractères."),
    ],
)
def test_an_empty_or_too_long_label_is_refused(world, label, message):
    before = row_counts(world)
    with pytest.raises(ValidationError) as exc:
        referentials.save_item(world.db, admin(world), ListKind.REFUSAL_MOTIF, None, label, 1)
    assert exc.value.by_field() == {"label": [message]}
    assert row_counts(world) == before


def test_an_unknown_item_is_not_found(world):
    with pytest.raises(NotFound):
        referentials.save_item(world.db, admin(world), ListKind.SPECIALTY, 999_999, "X", 1)
    with pytest.raises(NotFound):
        referentials.set_item_active(world.db, admin(world), ListKind.SPECIALTY, 999_999, False)


# (kind, label, FormOptions attribute, DossierInput field, view attribute)
DOSSIER_ITEMS = [
    (ListKind.SPECIALTY, "ORL", "specialties", "specialty_id", "specialty"),
    (
        ListKind.REQUEST_MOTIF,
        "Avis spécialisé",
        "request_motifs",
        "request_motif_id",
        "request_motif",
    ),
    (
        ListKind.DESTINATION,
        "Retour à domicile",
        "destinations",
        "final_destination_id",
        "final_destination",
    ),
]


def _item_id(world, kind: ListKind, label: str) -> int:
    by_kind = {
        ListKind.SPECIALTY: world.specialty,
        ListKind.REFUSAL_MOTIF: world.refusal_motif,
        ListKind.REQUEST_MOTIF: world.request_motif,
        ListKind.DESTINATION: world.destination,
    }
    return by_kind[kind][label]


@pytest.mark.parametrize(("kind", "label", "option", "field", "shown"), DOSSIER_ITEMS)
def test_a_deactivated_item_leaves_the_forms_but_stays_in_its_dossiers(
    world, kind, label, option, field, shown
):
    item = _item_id(world, kind, label)
    declarant = world.actor("declarant_req")
    existing = world.draft("declarant_req", lines=("ref",), **{field: item})
    referentials.set_item_active(world.db, admin(world), kind, item, False)

    assert not stored(world, MODELS[kind], item).active  # deactivated, not deleted
    assert label not in labels(getattr(queries.form_options(world.db, declarant), option))
    if kind is ListKind.SPECIALTY:
        assert label not in labels(queries.specialty_choices(world.db, declarant))
    view = queries.get_dossier(world.db, declarant, dossier_id=existing.id)
    assert getattr(view, shown) == label
    # the existing dossier may still be saved with it …
    dossiers.update_draft(world.db, declarant, existing.id, world.dossier_input(**{field: item}))
    # … a new one may not
    with pytest.raises(ValidationError) as exc:
        dossiers.create_draft(world.db, declarant, world.dossier_input(**{field: item}))
    assert any("valeur inconnue ou désactivée" in m for m in exc.value.by_field()[field])
    [entry] = audit_entries(world, "reference_deactivated", MODELS[kind].__tablename__)
    assert (entry.entity_id, entry.actor_id) == (item, admin(world).id)

    referentials.set_item_active(world.db, admin(world), kind, item, True)
    assert label in labels(getattr(queries.form_options(world.db, declarant), option))
    assert len(audit_entries(world, "reference_reactivated")) == 1


def test_a_deactivated_refusal_motif_stays_in_dossiers_and_statistics(world):
    motif = world.refusal_motif["Absence de lit disponible"]
    declarant = world.actor("declarant_req")
    existing = world.finalised("declarant_req", lines=("ref",))
    referentials.set_item_active(world.db, admin(world), ListKind.REFUSAL_MOTIF, motif, False)
    # the same state again writes nothing
    referentials.set_item_active(world.db, admin(world), ListKind.REFUSAL_MOTIF, motif, False)
    assert len(audit_entries(world, "reference_deactivated")) == 1

    assert "Absence de lit disponible" not in labels(
        queries.form_options(world.db, declarant).refusal_motifs
    )
    view = queries.get_dossier(world.db, declarant, dossier_id=existing.id)
    assert [ln.refusal_motif for ln in view.lines] == ["Absence de lit disponible"]
    draft = world.draft("declarant_req")
    with pytest.raises(ValidationError) as exc:
        dossiers.add_line(world.db, declarant, draft.id, world.line_input("other"))
    assert "refusal_motif_id" in exc.value.by_field()
    stats = statistics.compute(world.db, world.actor("ars"), Perspective.REGIONAL, NOVEMBER)
    assert stats.requester_motifs is not None
    assert stats.requester_motifs.to_dict("records") == [
        {"Motif": "Absence de lit disponible", "Refus": 1}
    ]


def test_a_deactivated_specialty_stays_in_the_statistics_filters(world):
    world.finalised("declarant_req", specialty_id=world.specialty["ORL"])
    referentials.set_item_active(
        world.db, admin(world), ListKind.SPECIALTY, world.specialty["ORL"], False
    )
    options = statistics.options(world.db, world.actor("ars"))
    assert "ORL" in labels(options.specialties)
    stats = statistics.compute(
        world.db,
        world.actor("ars"),
        Perspective.REGIONAL,
        statistics.StatsFilters(
            start=NOVEMBER.start, end=NOVEMBER.end, specialty_id=world.specialty["ORL"]
        ),
    )
    assert stats.figure("refusals").value == 1


# --- establishments ------------------------------------------------------------------------


def test_add_an_establishment_with_its_departement_taken_from_the_finess(world):
    number = valid_finess("77001234")
    est_id = referentials.save_establishment(
        world.db,
        admin(world),
        None,
        EstablishmentFields(
            finess=f" {number[:3]} {number[3:6]} {number[6:]} ",
            name="  Clinique   du Test ",
            territory=" Est  francilien ",
            director_email="Direction@Clinique-Test.fr",
        ),
    )
    row = stored(world, Establishment, est_id)
    assert (row.finess, row.name, row.departement, row.territory, row.active) == (
        number,
        "Clinique du Test",
        "77",
        "Est francilien",
        True,
    )
    assert row.director_email == "Direction@clinique-test.fr"
    assert "Clinique du Test (77)" in labels(
        queries.refuser_choices(world.db, world.actor("declarant_req"))
    )
    [entry] = audit_entries(world, "reference_created", "establishments")
    assert entry.entity_id == est_id
    assert entry.details["changes"]["finess"] == [None, number]


@pytest.mark.parametrize(
    ("number", "departement"),
    [
        (valid_finess("2A000123"), "2A"),
        (valid_finess("2B000456"), "2B"),
        # real overseas numbers (FINESS extraction of 2026-05-12): 970x and 980x
        ("970100012", "971"),  # Polyclinique de la Guadeloupe
        ("970300026", "973"),  # Centre hospitalier de Cayenne
        ("970400024", "974"),  # CHU Félix Guyon, La Réunion
        ("980502199", "976"),  # Mayotte
    ],
)
def test_the_departement_of_corsica_and_overseas(world, number, departement):
    est_id = referentials.save_establishment(
        world.db, admin(world), None, EstablishmentFields(number, "Établissement lointain")
    )
    assert stored(world, Establishment, est_id).departement == departement


def test_a_departement_typed_wins_over_the_finess(world):
    est_id = referentials.save_establishment(
        world.db,
        admin(world),
        None,
        EstablishmentFields(valid_finess("77001234"), "Clinique", departement=" 2a "),
    )
    assert stored(world, Establishment, est_id).departement == "2A"


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("", "Le numéro FINESS est obligatoire."),
        ("91002025", "Le numéro FINESS doit comporter 9 caractères."),
        ("9100202540", "Le numéro FINESS doit comporter 9 caractères."),
        (
            "AB0020254",
            "Le numéro FINESS doit commencer par le département (2 chiffres, 2A ou 2B) "
            "suivi de 7 chiffres.",
        ),
        ("910020255", "Le numéro FINESS est invalide (clé de contrôle incorrecte)."),
        ("2A0001230", "Le numéro FINESS est invalide (clé de contrôle incorrecte)."),
    ],
)
def test_an_invalid_finess_is_refused_in_french(world, number, message):
    assert not finess.is_valid(number)
    before = row_counts(world)
    with pytest.raises(ValidationError) as exc:
        referentials.save_establishment(
            world.db, admin(world), None, EstablishmentFields(number, "Clinique")
        )
    assert exc.value.by_field()["finess"] == [message]
    assert row_counts(world) == before


@pytest.mark.parametrize("number", ["910020254", "910 020 254", "910.020.254"])
def test_a_finess_already_used_is_refused(world, number):
    with pytest.raises(ValidationError) as exc:
        referentials.save_establishment(
            world.db, admin(world), None, EstablishmentFields(number, "Doublon")
        )
    assert exc.value.by_field()["finess"] == ["Un établissement porte déjà ce numéro FINESS."]
    # another establishment may not take it either; the owner keeps it when edited
    with pytest.raises(ValidationError):
        referentials.save_establishment(
            world.db, admin(world), world.est["other"], EstablishmentFields(number, "Foch")
        )
    referentials.save_establishment(
        world.db, admin(world), world.est["req"], EstablishmentFields(number, "CH Sud Francilien")
    )
    assert stored(world, Establishment, world.est["req"]).name == "CH Sud Francilien"


def test_every_faulty_establishment_field_is_listed(world):
    with pytest.raises(ValidationError) as exc:
        referentials.save_establishment(
            world.db,
            admin(world),
            None,
            EstablishmentFields(
                valid_finess("77001234"), "  ", departement="7777", director_email="direction@"
            ),
        )
    assert exc.value.by_field() == {
        "name": ["Le libellé est obligatoire."],
        "departement": ["Le département est obligatoire (2 ou 3 caractères)."],
        "director_email": ["Adresse e-mail de la direction invalide."],
    }


def test_a_territory_longer_than_its_column_is_refused(world):
    """The column holds 120 characters: a longer territory is a field error, not a database
    error (PostgreSQL) nor a silent overflow (SQLite)."""
    me = admin(world)
    with pytest.raises(ValidationError) as exc:
        referentials.save_establishment(
            world.db,
            me,
            None,
            EstablishmentFields(valid_finess("77001234"), "Clinique", territory="x" * 121),
        )
    assert "territory" in exc.value.by_field()
    with pytest.raises(ValidationError) as exc:
        referentials.save_line(
            world.db,
            me,
            None,
            world.est["other"],
            world.specialty["ORL"],
            LineKind.GARDE,
            territory="x" * 121,
        )
    assert "territory" in exc.value.by_field()


def test_editing_an_establishment_is_audited(world):
    me = admin(world)
    referentials.save_establishment(
        world.db,
        me,
        world.est["other"],
        EstablishmentFields("920000650", "Hôpital Foch (Suresnes)", director_email="dg@foch.fr"),
    )
    row = stored(world, Establishment, world.est["other"])
    assert (row.name, row.departement, row.director_email) == (
        "Hôpital Foch (Suresnes)",
        "92",
        "dg@foch.fr",
    )
    [entry] = audit_entries(world, "reference_updated", "establishments")
    assert entry.details["changes"] == {
        "name": ["Hôpital Foch", "Hôpital Foch (Suresnes)"],
        "director_email": [None, "dg@foch.fr"],
    }
    with pytest.raises(NotFound):
        referentials.save_establishment(
            world.db, me, 999_999, EstablishmentFields(valid_finess("77001234"), "X")
        )


def test_a_deactivated_establishment_is_no_longer_a_refuser_but_stays_in_dossiers(world):
    declarant = world.actor("declarant_req")
    existing = world.draft("declarant_req", lines=("other",))
    referentials.set_establishment_active(world.db, admin(world), world.est["other"], False)

    assert stored(world, Establishment, world.est["other"]).active is False
    names = labels(queries.refuser_choices(world.db, declarant))
    assert not any(n.startswith("Hôpital Foch") for n in names)
    assert any(n.startswith("Hôpital Pitié-Salpêtrière") for n in names)
    view = queries.get_dossier(world.db, declarant, dossier_id=existing.id)
    assert [ln.refusing_establishment for ln in view.lines] == ["Hôpital Foch"]
    draft = world.draft("declarant_req")
    with pytest.raises(ValidationError) as exc:
        dossiers.add_line(world.db, declarant, draft.id, world.line_input("other"))
    assert "refusing_establishment_id" in exc.value.by_field()
    # the existing line may still be edited
    line = lines_of(world, existing.id)[0]
    dossiers.edit_line(
        world.db, declarant, existing.id, line.id, world.line_input("other", comments="Rappel")
    )
    [entry] = audit_entries(world, "reference_deactivated", "establishments")
    assert entry.entity_id == world.est["other"]

    referentials.set_establishment_active(world.db, admin(world), world.est["other"], True)
    assert any(
        n.startswith("Hôpital Foch") for n in labels(queries.refuser_choices(world.db, declarant))
    )


def test_a_deactivated_establishment_keeps_its_accounts_working(world):
    referentials.set_establishment_active(world.db, admin(world), world.est["ref"], False)
    options = queries.form_options(world.db, world.actor("coordinateur_ref"))
    assert options.establishment == "Hôpital Henri-Mondor (AP-HP)"


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("FOCH", ["Hôpital Foch"]),
        ("9100", ["Centre hospitalier Sud Francilien (CHSF)"]),
        ("75", ["Hôpital Pitié-Salpêtrière (AP-HP)"]),  # the département, exactly
        ("", None),
    ],
)
def test_list_establishments_searches_name_finess_and_departement(world, search, expected):
    page = referentials.list_establishments(world.db, admin(world), search=search)
    names = [r.name for r in page.items]
    if expected is None:
        assert page.total == 4 and names == sorted(names)
    else:
        assert names == expected
    if search == "FOCH":
        assert page.items[0].services >= 1


# --- services -----------------------------------------------------------------------------


def test_add_rename_and_deactivate_a_service(world):
    me = admin(world)
    declarant = world.actor("declarant_req")
    service = referentials.save_service(world.db, me, world.est["req"], None, "  Pédiatrie ")
    assert "Pédiatrie" in labels(queries.form_options(world.db, declarant).services)
    assert ("Pédiatrie", True) in [
        (s.name, s.active) for s in referentials.list_services(world.db, me, world.est["req"])
    ]
    referentials.save_service(world.db, me, world.est["req"], service, "Urgences pédiatriques")
    assert stored(world, Service, service).name == "Urgences pédiatriques"
    existing = world.draft("declarant_req", requesting_service_id=service)

    referentials.set_service_active(world.db, me, service, False)
    assert "Urgences pédiatriques" not in labels(queries.form_options(world.db, declarant).services)
    view = queries.get_dossier(world.db, declarant, dossier_id=existing.id)
    assert view.requesting_service == "Urgences pédiatriques"
    with pytest.raises(ValidationError) as exc:
        dossiers.create_draft(
            world.db, declarant, world.dossier_input(requesting_service_id=service)
        )
    assert "requesting_service_id" in exc.value.by_field()
    assert [e.action for e in audit_entries_of(world, "services", service)] == [
        "reference_created",
        "reference_updated",
        "reference_deactivated",
    ]


def audit_entries_of(world, entity: str, entity_id: int) -> list[AuditEntry]:
    with world.db.read() as s:
        return list(
            s.scalars(
                select(AuditEntry)
                .where(AuditEntry.entity == entity, AuditEntry.entity_id == entity_id)
                .order_by(AuditEntry.id)
            )
        )


def test_a_service_name_is_unique_in_its_establishment_only(world):
    me = admin(world)
    with pytest.raises(ValidationError) as exc:
        referentials.save_service(
            world.db, me, world.est["req"], None, "service d'accueil DES URGENCES"
        )
    assert exc.value.by_field() == {"name": ["Ce service existe déjà dans l'établissement."]}
    other = referentials.save_service(world.db, me, world.est["other"], None, "SAU pédiatrique")
    assert stored(world, Service, other).establishment_id == world.est["other"]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (None, "RÉANIMATION POLYVALENTE"),  # the seeded « Réanimation polyvalente »
        ("Échographie", "échographie"),
        ("Échographie", "Échographie"),
    ],
)
def test_a_service_name_with_accented_letters_is_unique_whatever_the_case(world, first, second):
    me = admin(world)
    if first is not None:
        referentials.save_service(world.db, me, world.est["req"], None, first)
    with pytest.raises(ValidationError) as exc:
        referentials.save_service(world.db, me, world.est["req"], None, second)
    assert exc.value.by_field() == {"name": ["Ce service existe déjà dans l'établissement."]}


def test_a_service_of_another_establishment_or_an_unknown_one_is_not_found(world):
    me = admin(world)
    with pytest.raises(NotFound):
        referentials.save_service(world.db, me, world.est["other"], world.services["req"], "X")
    with pytest.raises(NotFound):
        referentials.save_service(world.db, me, 999_999, None, "X")
    with pytest.raises(NotFound):
        referentials.set_service_active(world.db, me, 999_999, False)
    with pytest.raises(ValidationError) as exc:
        referentials.save_service(world.db, me, world.est["req"], None, " ")
    assert exc.value.by_field() == {"name": ["Le libellé est obligatoire."]}


# --- PDSES lines --------------------------------------------------------------------------


def test_add_edit_and_list_a_line(world):
    me = admin(world)
    line = referentials.save_line(
        world.db, me, None, world.est["other"], world.specialty["ORL"], LineKind.GARDE, " Ouest  "
    )
    [row] = referentials.list_lines(world.db, me, specialty_id=world.specialty["ORL"])
    assert (row.id, row.establishment, row.specialty, row.kind, row.territory, row.active) == (
        line,
        "Hôpital Foch",
        "ORL",
        LineKind.GARDE,
        "Ouest",
        True,
    )
    referentials.save_line(
        world.db, me, line, world.est["paris"], world.specialty["ORL"], LineKind.ASTREINTE
    )
    [row] = referentials.list_lines(world.db, me, specialty_id=world.specialty["ORL"])
    assert (row.establishment_id, row.kind, row.territory) == (
        world.est["paris"],
        LineKind.ASTREINTE,
        None,
    )
    assert len(referentials.list_lines(world.db, me)) == 2  # with the world's neurosurgery
    assert [e.action for e in audit_entries_of(world, "pdses_lines", line)] == [
        "reference_created",
        "reference_updated",
    ]
    updated = audit_entries_of(world, "pdses_lines", line)[1]
    assert updated.details["changes"]["kind"] == ["garde", "astreinte"]
    assert updated.details["changes"]["establishment_id"] == [
        world.est["other"],
        world.est["paris"],
    ]


def test_a_second_line_for_the_same_establishment_and_specialty_is_refused(world):
    me = admin(world)
    before = row_counts(world)
    with pytest.raises(ValidationError) as exc:
        referentials.save_line(
            world.db, me, None, world.est["ref"], world.specialty["Neurochirurgie"], LineKind.GARDE
        )
    assert exc.value.by_field() == {
        "establishment": ["Cet établissement a déjà une ligne pour cette spécialité."]
    }
    with pytest.raises(ValidationError) as exc:
        referentials.save_line(world.db, me, None, None, None, None)
    assert set(exc.value.by_field()) == {"establishment", "specialty", "kind"}
    assert row_counts(world) == before


def test_a_new_refusal_records_whether_its_refuser_holds_the_line(world):
    me = admin(world)
    orl = world.specialty["ORL"]

    def holder() -> bool:
        draft = world.draft("declarant_req", lines=("other",), specialty_id=orl)
        return lines_of(world, draft.id)[0].is_line_holder

    assert holder() is False
    line = referentials.save_line(world.db, me, None, world.est["other"], orl, LineKind.GARDE)
    before = world.draft("declarant_req", lines=("other",), specialty_id=orl)
    assert lines_of(world, before.id)[0].is_line_holder is True
    view = queries.get_dossier(world.db, world.actor("declarant_req"), dossier_id=before.id)
    assert [ln.is_line_holder for ln in view.lines] == [True]

    referentials.set_line_active(world.db, me, line, False)
    assert holder() is False
    assert lines_of(world, before.id)[0].is_line_holder is True  # the past is not rewritten
    assert [r.active for r in referentials.list_lines(world.db, me, specialty_id=orl)] == [False]

    referentials.set_line_active(world.db, me, line, True)
    assert holder() is True
    assert [e.action for e in audit_entries_of(world, "pdses_lines", line)] == [
        "reference_created",
        "reference_deactivated",
        "reference_reactivated",
    ]
    with pytest.raises(NotFound):
        referentials.set_line_active(world.db, me, 999_999, False)


# --- « Types de dysfonctionnement » (fonctionnement non conforme, SPEC §9) ---------------------


def report_type_labels(world, name: str = "declarant_req") -> list[str]:
    return labels(report_queries.form_options(world.db, world.actor(name)).report_types)


@pytest.mark.parametrize("name", NON_ADMINS)
def test_only_the_admin_edits_the_report_types(world, name):
    before = row_counts(world)
    with pytest.raises(PermissionDenied):
        referentials.save_item(
            world.db, world.actor(name), ListKind.REPORT_TYPE, None, "Type pirate", 1
        )
    with pytest.raises(PermissionDenied):
        referentials.set_item_active(
            world.db,
            world.actor(name),
            ListKind.REPORT_TYPE,
            world.report_type["Ligne injoignable"],
            False,
        )
    assert row_counts(world) == before
    assert stored(world, ReportType, world.report_type["Ligne injoignable"]).active


def test_the_seeded_report_types_are_offered_in_order(world):
    assert report_type_labels(world) == [
        "Ligne injoignable",
        "Absence de praticien d'astreinte",
        "Délai de rappel excessif",
        "Plateau technique indisponible",
        "Réorientation inappropriée",
        "Autre",
    ]


def test_add_rename_and_deactivate_a_report_type(world):
    me = admin(world)
    item = referentials.save_item(
        world.db, me, ListKind.REPORT_TYPE, None, " Régulation  défaillante ", 3
    )
    assert stored(world, ReportType, item).label == "Régulation défaillante"
    assert "Régulation défaillante" in report_type_labels(world)
    existing = world.report(report_type_id=item)

    referentials.save_item(world.db, me, ListKind.REPORT_TYPE, item, "Régulation inopérante", 3)
    assert "Régulation inopérante" in report_type_labels(world, "coordinateur_ref")
    assert "Régulation défaillante" not in report_type_labels(world)
    [renamed] = audit_entries(world, "reference_updated", "report_types")
    assert renamed.details["changes"]["label"] == [
        "Régulation défaillante",
        "Régulation inopérante",
    ]

    referentials.set_item_active(world.db, me, ListKind.REPORT_TYPE, item, False)
    assert not stored(world, ReportType, item).active  # deactivated, not deleted
    assert "Régulation inopérante" not in report_type_labels(world)
    assert [
        i.active
        for i in referentials.list_items(world.db, me, ListKind.REPORT_TYPE)
        if i.id == item
    ] == [False]
    # a new report may not use it …
    with pytest.raises(ValidationError) as exc:
        world.report(report_type_id=item)
    assert exc.value.by_field() == {
        "report_type_id": ["« Type de dysfonctionnement » : valeur inconnue ou désactivée."]
    }
    # … the existing one keeps it, for both sides and in the lists
    for name in ("declarant_req", "coordinateur_ref", "ars"):
        view = report_queries.get_report(world.db, world.actor(name), report_id=existing.id)
        assert view.report_type == "Régulation inopérante"
    [row] = report_queries.list_concerning_reports(world.db, world.actor("referent_ref")).items
    assert row.report_type == "Régulation inopérante"
    # and it may still be answered and withdrawn
    reports.answer(
        world.db,
        world.actor("referent_ref"),
        existing.id,
        reports.ReportAnswerInput(analysis="Régulation rétablie"),
    )
    [entry] = audit_entries(world, "reference_deactivated", "report_types")
    assert (entry.entity_id, entry.actor_id) == (item, me.id)

    referentials.set_item_active(world.db, me, ListKind.REPORT_TYPE, item, True)
    assert "Régulation inopérante" in report_type_labels(world)
    assert world.report(report_type_id=item).number == "F-2026-000002"


def test_a_report_type_label_is_unique_whatever_the_case(world):
    before = row_counts(world)
    types = referentials.list_items(world.db, admin(world), ListKind.REPORT_TYPE)
    with pytest.raises(ValidationError) as exc:
        referentials.save_item(
            world.db, admin(world), ListKind.REPORT_TYPE, None, "LIGNE INJOIGNABLE", 1
        )
    assert exc.value.by_field() == {"label": ["Ce libellé existe déjà dans la liste."]}
    assert row_counts(world) == before
    assert referentials.list_items(world.db, admin(world), ListKind.REPORT_TYPE) == types
