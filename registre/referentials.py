"""Administration of the reference data (SPEC §4): establishments, their services, the
lists (specialties, refusal motifs, request motifs, final destinations, the types of
« fonctionnement non conforme ») and the PDSES lines.

Add, edit, deactivate: never delete. A deactivated item disappears from the forms
(``validation.lookup_active``, ``queries.form_options``) and stays in the dossiers that use
it, in their history and in the statistics. Administrateur only; every change audited."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session

from registre import audit, finess
from registre.accounts import normalise_email
from registre.actors import Actor
from registre.administration import admin_read, admin_write, establishment_choice
from registre.db import Database
from registre.errors import FieldError, NotFound, ValidationError
from registre.models import (
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
from registre.queries import Choice, Page, paginate
from registre.validation import (
    MAX_LABEL_LENGTH,
    MAX_TERRITORY_LENGTH,
    check_line,
    check_sort_order,
    like_pattern,
    searchable,
)

MAX_LABEL = MAX_LABEL_LENGTH
_DEPARTEMENT = re.compile(r"[0-9]{2,3}|2[AB]")


def _audit_change(
    session: Session,
    actor: Actor,
    entity: str,
    entity_id: int,
    before: dict[str, Any] | None,
    after: dict[str, Any],
) -> None:
    changes = audit.diff(before or {}, after)
    if not changes:
        return
    audit.record(
        session,
        actor_id=actor.id,
        action="reference_created" if before is None else "reference_updated",
        entity=entity,
        entity_id=entity_id,
        changes=changes,
    )


def _save(
    session: Session,
    actor: Actor,
    model: Any,
    ident: int | None,
    values: dict[str, Any],
    not_found: str,
    **on_create: Any,
) -> int:
    """Insert (``ident`` None) or update a reference row with checked ``values``, audited."""
    before = None
    if ident is None:
        row = model(active=True, **on_create, **values)
        session.add(row)
    else:
        row = session.get(model, ident, with_for_update=True)
        if row is None:
            raise NotFound(not_found)
        before = {k: getattr(row, k) for k in values}
        for key, value in values.items():
            setattr(row, key, value)
    session.flush()
    _audit_change(session, actor, model.__tablename__, row.id, before, values)
    return int(row.id)


def _set_active(
    db: Database, actor: Actor, model: Any, ident: int, active: bool, not_found: str
) -> None:
    """Deactivate or reactivate a reference row (never a deletion), audited."""
    with admin_write(db, actor) as (session, actor):
        row = session.get(model, ident, with_for_update=True)
        if row is None:
            raise NotFound(not_found)
        if row.active != active:
            row.active = active
            audit.record(
                session,
                actor_id=actor.id,
                action="reference_reactivated" if active else "reference_deactivated",
                entity=model.__tablename__,
                entity_id=row.id,
            )


def _taken(rows: Any, label: str, own_id: int | None) -> bool:
    """Whether another row has this label, whatever the case and accents' case (compared in
    Python: SQLite's lower() leaves « É » as it is)."""
    wanted = label.casefold()
    return any(str(name).casefold() == wanted and ident != own_id for ident, name in rows)


def _territory(errors: list[FieldError], value: str) -> str | None:
    clean = check_line(
        errors,
        "territory",
        "Le territoire",
        value,
        required=False,
        max_length=MAX_TERRITORY_LENGTH,
    )
    return clean or None


def _label(errors: list[FieldError], value: str, field: str = "label") -> str:
    return check_line(errors, field, "Le libellé", value, max_length=MAX_LABEL)


# --- the lists ----------------------------------------------------------------------------


class ListKind(enum.StrEnum):
    SPECIALTY = "specialites"
    REFUSAL_MOTIF = "motifs-refus"
    REQUEST_MOTIF = "motifs-demande"
    DESTINATION = "destinations"
    REPORT_TYPE = "types-dysfonctionnement"


@dataclass(frozen=True)
class ListSpec:
    model: Any
    title: str
    flag: str | None  # the list's own yes/no column
    flag_label: str


LISTS: dict[ListKind, ListSpec] = {
    ListKind.SPECIALTY: ListSpec(Specialty, "Spécialités PDSES", None, ""),
    ListKind.REFUSAL_MOTIF: ListSpec(
        RefusalMotif, "Motifs de refus", "is_other", "Demande une précision (« Autre motif »)"
    ),
    ListKind.REQUEST_MOTIF: ListSpec(
        RequestMotif, "Motifs de demande", "is_other", "Demande une précision (« Autre motif »)"
    ),
    ListKind.DESTINATION: ListSpec(
        FinalDestination,
        "Destinations finales",
        "requires_establishment",
        "Demande l'établissement de destination",
    ),
    ListKind.REPORT_TYPE: ListSpec(ReportType, "Types de dysfonctionnement", None, ""),
}


@dataclass(frozen=True)
class ItemRow:
    id: int
    label: str
    sort_order: int
    active: bool
    flag: bool


def list_items(db: Database, actor: Actor, kind: ListKind) -> list[ItemRow]:
    spec = LISTS[kind]
    with admin_read(db, actor) as session:
        return [
            ItemRow(i.id, i.label, i.sort_order, i.active, bool(getattr(i, spec.flag or "", False)))
            for i in session.scalars(
                select(spec.model).order_by(spec.model.sort_order, spec.model.label)
            )
        ]


def save_item(
    db: Database,
    actor: Actor,
    kind: ListKind,
    item_id: int | None,
    label: str,
    sort_order: int,
    flag: bool = False,
) -> int:
    """Add (``item_id`` None) or edit an entry; a label is unique in its list (whatever the
    case)."""
    spec = LISTS[kind]
    model = spec.model
    with admin_write(db, actor) as (session, actor):
        errors: list[FieldError] = []
        clean = _label(errors, label)
        if clean and _taken(session.execute(select(model.id, model.label)).all(), clean, item_id):
            errors.append(FieldError("label", "Ce libellé existe déjà dans la liste."))
        check_sort_order(errors, sort_order)
        if errors:
            raise ValidationError(errors)
        item = None
        before = None
        if item_id is not None:
            item = session.get(model, item_id, with_for_update=True)
            if item is None:
                raise NotFound("Élément introuvable.")
            before = _item_values(item, spec)
        else:
            item = model(active=True)
            session.add(item)
        item.label = clean
        item.sort_order = int(sort_order)
        if spec.flag:
            setattr(item, spec.flag, bool(flag))
        session.flush()
        _audit_change(
            session, actor, model.__tablename__, item.id, before, _item_values(item, spec)
        )
        return int(item.id)


def _item_values(item: Any, spec: ListSpec) -> dict[str, Any]:
    values = {"label": item.label, "sort_order": item.sort_order}
    if spec.flag:
        values[spec.flag] = getattr(item, spec.flag)
    return values


def set_item_active(db: Database, actor: Actor, kind: ListKind, item_id: int, active: bool) -> None:
    _set_active(db, actor, LISTS[kind].model, item_id, active, "Élément introuvable.")


# --- establishments -------------------------------------------------------------------------


@dataclass
class EstablishmentFields:
    finess: str
    name: str
    departement: str = ""  # empty: taken from the FINESS number
    territory: str = ""
    director_email: str = ""


@dataclass(frozen=True)
class EstablishmentRow:
    id: int
    finess: str
    name: str
    departement: str
    territory: str | None
    director_email: str | None
    active: bool
    services: int


def _establishments_query() -> Any:
    """Establishments with their number of active services."""
    services = (
        select(func.count(Service.id))
        .where(Service.establishment_id == Establishment.id, Service.active.is_(True))
        .correlate(Establishment)
        .scalar_subquery()
    )
    return select(Establishment, services)


def _establishment_row(row: Any) -> EstablishmentRow:
    e, services = row
    return EstablishmentRow(
        e.id, e.finess, e.name, e.departement, e.territory, e.director_email, e.active, services
    )


def list_establishments(
    db: Database, actor: Actor, *, search: str = "", page: int = 1, page_size: int = 50
) -> Page[EstablishmentRow]:
    with admin_read(db, actor) as session:
        query = _establishments_query()
        words = search.strip().lower()
        if words and not searchable(words):
            query = query.where(false())
        elif words:
            pattern = like_pattern(words)
            query = query.where(
                or_(
                    func.lower(Establishment.name).like(pattern, escape="\\"),
                    Establishment.finess.like(pattern, escape="\\"),
                    func.lower(Establishment.departement) == words,
                )
            )
        query = query.order_by(Establishment.name)
        return paginate(session, query, page, page_size, _establishment_row)


def get_establishment(db: Database, actor: Actor, establishment_id: int) -> EstablishmentRow:
    with admin_read(db, actor) as session:
        row = session.execute(
            _establishments_query().where(Establishment.id == establishment_id)
        ).one_or_none()
        if row is None:
            raise NotFound("Établissement introuvable.")
        return _establishment_row(row)


def establishment_choices(db: Database, actor: Actor) -> list[Choice]:
    """Every establishment, active or not (marked), for the administration's lists."""
    with admin_read(db, actor) as session:
        return [
            establishment_choice(e)
            for e in session.scalars(select(Establishment).order_by(Establishment.name))
        ]


def check_establishment(
    session: Session, data: EstablishmentFields, establishment_id: int | None
) -> tuple[dict[str, Any], list[FieldError]]:
    errors: list[FieldError] = []
    number = finess.normalise(data.finess)
    problem = finess.error_message(number)
    if problem:
        errors.append(FieldError("finess", problem))
    else:
        same = session.scalar(
            select(Establishment.id).where(
                Establishment.finess == number, Establishment.id != (establishment_id or 0)
            )
        )
        if same is not None:
            errors.append(FieldError("finess", "Un établissement porte déjà ce numéro FINESS."))
    name = _label(errors, data.name, "name")
    departement = data.departement.strip().upper() or (
        finess.departement(number) if not problem else ""
    )
    if not departement or len(departement) > 3:
        errors.append(
            FieldError("departement", "Le département est obligatoire (2 ou 3 caractères).")
        )
    elif not _DEPARTEMENT.fullmatch(departement):
        errors.append(
            FieldError(
                "departement", "Le département doit être un code de département (75, 2A, 971…)."
            )
        )
    territory = _territory(errors, data.territory)
    email = data.director_email.strip()
    if email:
        try:
            email = normalise_email(email)
        except ValidationError:
            errors.append(FieldError("director_email", "Adresse e-mail de la direction invalide."))
    values = {
        "finess": number,
        "name": name,
        "departement": departement,
        "territory": territory,
        "director_email": email or None,
    }
    return values, errors


def save_establishment(
    db: Database, actor: Actor, establishment_id: int | None, data: EstablishmentFields
) -> int:
    with admin_write(db, actor) as (session, actor):
        values, errors = check_establishment(session, data, establishment_id)
        if errors:
            raise ValidationError(errors)
        return _save(
            session,
            actor,
            Establishment,
            establishment_id,
            values,
            "Établissement introuvable.",
            finess_demo=False,
        )


def set_establishment_active(
    db: Database, actor: Actor, establishment_id: int, active: bool
) -> None:
    """A deactivated establishment is no longer offered as a refuser nor as a destination;
    its accounts keep working (deactivate them one by one if need be)."""
    _set_active(db, actor, Establishment, establishment_id, active, "Établissement introuvable.")


# --- services -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceRow:
    id: int
    name: str
    active: bool


def list_services(db: Database, actor: Actor, establishment_id: int) -> list[ServiceRow]:
    with admin_read(db, actor) as session:
        return [
            ServiceRow(s.id, s.name, s.active)
            for s in session.scalars(
                select(Service)
                .where(Service.establishment_id == establishment_id)
                .order_by(Service.name)
            )
        ]


def save_service(
    db: Database, actor: Actor, establishment_id: int, service_id: int | None, name: str
) -> int:
    with admin_write(db, actor) as (session, actor):
        if session.get(Establishment, establishment_id) is None:
            raise NotFound("Établissement introuvable.")
        errors: list[FieldError] = []
        clean = _label(errors, name, "name")
        if clean and _taken(
            session.execute(
                select(Service.id, Service.name).where(Service.establishment_id == establishment_id)
            ).all(),
            clean,
            service_id,
        ):
            errors.append(FieldError("name", "Ce service existe déjà dans l'établissement."))
        if errors:
            raise ValidationError(errors)
        before = None
        if service_id is None:
            service = Service(establishment_id=establishment_id, name=clean, active=True)
            session.add(service)
        else:
            found = session.get(Service, service_id, with_for_update=True)
            if found is None or found.establishment_id != establishment_id:
                raise NotFound("Service introuvable.")
            service = found
            before = {"name": service.name}
            service.name = clean
        session.flush()
        _audit_change(session, actor, "services", service.id, before, {"name": clean})
        return service.id


def set_service_active(db: Database, actor: Actor, service_id: int, active: bool) -> None:
    _set_active(db, actor, Service, service_id, active, "Service introuvable.")


# --- PDSES lines ----------------------------------------------------------------------------

LINE_KIND_LABELS = {LineKind.GARDE: "Garde", LineKind.ASTREINTE: "Astreinte"}


@dataclass(frozen=True)
class LineRow:
    id: int
    establishment_id: int
    establishment: str
    specialty_id: int
    specialty: str
    kind: LineKind
    territory: str | None
    active: bool


def list_lines(db: Database, actor: Actor, *, specialty_id: int | None = None) -> list[LineRow]:
    with admin_read(db, actor) as session:
        query = (
            select(PdsesLine, Establishment.name, Specialty.label)
            .join(Establishment, Establishment.id == PdsesLine.establishment_id)
            .join(Specialty, Specialty.id == PdsesLine.specialty_id)
            .order_by(Specialty.label, Establishment.name)
        )
        if specialty_id is not None:
            query = query.where(PdsesLine.specialty_id == specialty_id)
        return [
            LineRow(
                ln.id,
                ln.establishment_id,
                est,
                ln.specialty_id,
                spec,
                ln.kind,
                ln.territory,
                ln.active,
            )
            for ln, est, spec in session.execute(query)
        ]


def save_line(
    db: Database,
    actor: Actor,
    line_id: int | None,
    establishment_id: int | None,
    specialty_id: int | None,
    kind: LineKind | None,
    territory: str = "",
) -> int:
    """Who holds a specialty's line. A refusal records whether its refuser held the line
    when the refusal was entered; changing a line does not rewrite past dossiers."""
    with admin_write(db, actor) as (session, actor):
        errors: list[FieldError] = []
        if establishment_id is None or session.get(Establishment, establishment_id) is None:
            errors.append(FieldError("establishment", "Choisissez l'établissement titulaire."))
        if specialty_id is None or session.get(Specialty, specialty_id) is None:
            errors.append(FieldError("specialty", "Choisissez la spécialité."))
        if kind is None:
            errors.append(FieldError("kind", "Choisissez garde ou astreinte."))
        clean_territory = _territory(errors, territory)
        if not errors and session.scalar(
            select(PdsesLine.id).where(
                PdsesLine.establishment_id == establishment_id,
                PdsesLine.specialty_id == specialty_id,
                PdsesLine.id != (line_id or 0),
            )
        ):
            errors.append(
                FieldError(
                    "establishment", "Cet établissement a déjà une ligne pour cette spécialité."
                )
            )
        if errors:
            raise ValidationError(errors)
        values = {
            "establishment_id": establishment_id,
            "specialty_id": specialty_id,
            "kind": kind,
            "territory": clean_territory,
        }
        return _save(session, actor, PdsesLine, line_id, values, "Ligne PDSES introuvable.")


def set_line_active(db: Database, actor: Actor, line_id: int, active: bool) -> None:
    _set_active(db, actor, PdsesLine, line_id, active, "Ligne PDSES introuvable.")
