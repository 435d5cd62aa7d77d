"""Reference lists (SPEC §4) and their idempotent loading: ``registre init`` may run again
and again without duplicating anything."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from registre import finess
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
from registre.seed_data import EstablishmentSeed, PdsesLineSeed

SPECIALTIES = [
    "Chirurgie orthopédique et traumatologique",
    "Chirurgie viscérale et digestive",
    "Neurochirurgie",
    "Chirurgie de la main",
    "Ophtalmologie",
    "ORL",
    "Chirurgie maxillo-faciale",
    "Urologie",
    "Chirurgie vasculaire",
    "Chirurgie thoracique",
    "Chirurgie pédiatrique",
    "Endoscopie digestive",
    "Endoscopie bronchique",
    "Cardiologie interventionnelle",
    "Neuroradiologie interventionnelle",
    "Réanimation",
    "Néphrologie / dialyse",
    "Psychiatrie",
]
OTHER = "Autre"
REFUSAL_MOTIFS = [
    "Absence de lit disponible",
    "Absence de praticien disponible",
    "Plateau technique indisponible",
    "Bloc opératoire indisponible",
    "Demande ne relevant pas de la spécialité",
    "Patient hors territoire de recours",
    "Indication non retenue",
    "Absence de réponse / injoignable",
    OTHER,
]
REQUEST_MOTIFS = [
    "Avis spécialisé",
    "Transfert pour prise en charge spécialisée",
    "Transfert pour intervention ou geste technique",
    "Transfert en soins critiques",
    OTHER,
]
TRANSFERRED = "Transféré dans un autre établissement"
FINAL_DESTINATIONS = [
    TRANSFERRED,
    "Pris en charge dans l'établissement demandeur",
    "Retour à domicile",
    "Décédé",
    OTHER,
]
REPORT_TYPES = [
    "Ligne injoignable",
    "Absence de praticien d'astreinte",
    "Délai de rappel excessif",
    "Plateau technique indisponible",
    "Réorientation inappropriée",
    OTHER,
]


def _ensure_list(session: Session, model: type, labels: Iterable[str]) -> int:
    existing = set(session.scalars(select(model.label)))  # type: ignore[attr-defined]
    added = 0
    for order, label in enumerate(labels, start=1):
        if label in existing:
            continue
        item = model(label=label, sort_order=order, active=True)
        if hasattr(model, "is_other"):
            item.is_other = label == OTHER
        if hasattr(model, "requires_establishment"):
            item.requires_establishment = label == TRANSFERRED
        session.add(item)
        added += 1
    session.flush()
    return added


def load_reference_lists(session: Session) -> int:
    """Specialties, motifs, destinations and report types; returns how many rows were added."""
    return (
        _ensure_list(session, Specialty, SPECIALTIES)
        + _ensure_list(session, RefusalMotif, REFUSAL_MOTIFS)
        + _ensure_list(session, RequestMotif, REQUEST_MOTIFS)
        + _ensure_list(session, FinalDestination, FINAL_DESTINATIONS)
        + _ensure_list(session, ReportType, REPORT_TYPES)
    )


def load_establishments(session: Session, seeds: Iterable[EstablishmentSeed]) -> int:
    """Insert missing establishments (by FINESS) and their missing services."""
    added = 0
    for seed in seeds:
        number = finess.normalise(seed["finess"])
        problem = finess.error_message(number)
        if problem:
            raise ValueError(f"{seed['name']}: {problem}")
        est = session.scalars(select(Establishment).where(Establishment.finess == number)).first()
        if est is None:
            est = Establishment(
                finess=number,
                name=seed["name"],
                departement=seed["departement"],
                territory=seed["territory"],
                finess_demo=not seed["finess_verified"],
                active=True,
            )
            session.add(est)
            session.flush()
            added += 1
        names = set(session.scalars(select(Service.name).where(Service.establishment_id == est.id)))
        for name in seed["services"]:
            if name not in names:
                session.add(Service(establishment_id=est.id, name=name, active=True))
                added += 1
    session.flush()
    return added


def load_pdses_lines(session: Session, seeds: Iterable[PdsesLineSeed]) -> int:
    added = 0
    for seed in seeds:
        est = session.scalars(
            select(Establishment).where(Establishment.finess == seed["finess"])
        ).one()
        specialty = session.scalars(
            select(Specialty).where(Specialty.label == seed["specialty"])
        ).one()
        exists = session.scalars(
            select(PdsesLine).where(
                PdsesLine.establishment_id == est.id, PdsesLine.specialty_id == specialty.id
            )
        ).first()
        if exists is None:
            session.add(
                PdsesLine(
                    establishment_id=est.id,
                    specialty_id=specialty.id,
                    kind=LineKind(seed["kind"]),
                    territory=seed["territory"],
                    active=True,
                )
            )
            added += 1
    session.flush()
    return added
