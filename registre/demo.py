"""Demo data for ``registre init --demo``: the seeded establishments and PDSES lines, one
account per role, and a few dozen past dossiers in every state, created through the real
transitions (so they carry their audit trail and their outbox mails)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from registre import dossiers, reports, timeutil
from registre.accounts import AccountInput, create_account
from registre.auth import load_actor
from registre.db import Database
from registre.models import (
    Account,
    AgeBand,
    Dossier,
    Establishment,
    FinalDestination,
    RefusalMotif,
    RefuserLine,
    Report,
    ReportType,
    RequestMotif,
    Role,
    Service,
    Sex,
    Specialty,
    Urgency,
)
from registre.refdata import OTHER, load_establishments, load_pdses_lines, load_reference_lists
from registre.seed_data import ESTABLISHMENTS, PDSES_LINES

REQUESTER_FINESS = ESTABLISHMENTS[0]["finess"]  # Centre hospitalier Sud Francilien
REFUSER_FINESS = ESTABLISHMENTS[1]["finess"]  # Hôpital Henri-Mondor


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: Role
    finess: str | None
    service: str | None
    email: str
    display_name: str


DEMO_ACCOUNTS = [
    DemoAccount(
        "demo-declarant",
        Role.DECLARANT,
        REQUESTER_FINESS,
        "Service d'accueil des urgences",
        "urgences-pdses@chsf.example.org",
        "Urgences CHSF (démo)",
    ),
    DemoAccount(
        "demo-directeur",
        Role.DIRECTEUR,
        REQUESTER_FINESS,
        None,
        "direction@chsf.example.org",
        "Direction CHSF (démo)",
    ),
    DemoAccount(
        "demo-referent",
        Role.REFERENT,
        REFUSER_FINESS,
        "Coordination PDSES",
        "pdses@mondor.example.org",
        "Référent PDSES Henri-Mondor (démo)",
    ),
    DemoAccount(
        "demo-coordinateur",
        Role.COORDINATEUR,
        REFUSER_FINESS,
        "Coordination PDSES",
        "coordination-pdses@mondor.example.org",
        "Coordination PDSES Henri-Mondor (démo)",
    ),
    DemoAccount(
        "demo-ars", Role.ARS, None, None, "pdses@ars-idf.example.org", "ARS Île-de-France (démo)"
    ),
    DemoAccount(
        "demo-admin",
        Role.ADMIN,
        None,
        None,
        "admin-registre@ars-idf.example.org",
        "Administrateur (démo)",
    ),
]


@contextmanager
def _frozen_clock(moment: datetime) -> Iterator[None]:
    timeutil.set_clock(lambda: moment)
    try:
        yield
    finally:
        timeutil.set_clock(None)


def load_demo(
    db: Database, password: str, *, dossier_count: int = 120, seed: int = 2026
) -> dict[str, int]:
    """Idempotent: establishments and accounts are added when missing, dossiers only into an
    empty registry."""
    counts = {"reference": 0, "accounts": 0, "dossiers": 0, "reports": 0}
    with db.transaction() as session:
        counts["reference"] += load_reference_lists(session)
        counts["reference"] += load_establishments(session, ESTABLISHMENTS)
        counts["reference"] += load_pdses_lines(session, PDSES_LINES)
        for spec in DEMO_ACCOUNTS:
            if session.scalar(select(Account.id).where(Account.username == spec.username)):
                continue
            create_account(
                session,
                AccountInput(
                    username=spec.username,
                    display_name=spec.display_name,
                    email=spec.email,
                    role=spec.role,
                    password=password,
                    establishment_finess=spec.finess,
                    service_name=spec.service,
                ),
            )
            counts["accounts"] += 1
        has_dossiers = (session.scalar(select(func.count(Dossier.id))) or 0) > 0
        has_reports = (session.scalar(select(func.count(Report.id))) or 0) > 0
    if not has_dossiers:
        counts["dossiers"] = _demo_dossiers(db, dossier_count, random.Random(seed))
    if not has_reports:
        counts["reports"] = _demo_reports(db, max(dossier_count // 6, 1), random.Random(seed + 1))
    return counts


def _demo_dossiers(db: Database, count: int, rng: random.Random) -> int:
    declarant = load_actor(db, "demo-declarant")
    coordinateur = load_actor(db, "demo-coordinateur")
    referent = load_actor(db, "demo-referent")
    assert declarant and coordinateur and referent
    with db.read() as session:
        ests = {e.finess: e.id for e in session.scalars(select(Establishment))}
        specialties = {s.label: s.id for s in session.scalars(select(Specialty))}
        refusal = [m for m in session.scalars(select(RefusalMotif)) if not m.is_other]
        request = [m for m in session.scalars(select(RequestMotif)) if not m.is_other]
        destinations = [d for d in session.scalars(select(FinalDestination)) if d.label != OTHER]
        services = {
            e: [s.id for s in session.scalars(select(Service).where(Service.establishment_id == e))]
            for e in (ests[REQUESTER_FINESS], ests[REFUSER_FINESS])
        }
    others = [fid for f, fid in ests.items() if f not in (REQUESTER_FINESS, REFUSER_FINESS)]
    real_now = datetime.now(UTC)
    created = 0
    for i in range(count):
        by_requester = i % 4 != 3  # mostly the CHSF, sometimes Henri-Mondor as requester
        actor = declarant if by_requester else coordinateur
        own = ests[REQUESTER_FINESS] if by_requester else ests[REFUSER_FINESS]
        # a year of requests (the statistics' default period), mostly at night, some by day
        hour = rng.choice([21, 22, 23, 1, 2, 3, 4, 5, 6] if rng.random() < 0.85 else [10, 14, 16])
        requested = (real_now - timedelta(days=rng.randint(1, 360))).replace(
            hour=hour, minute=rng.choice([5, 15, 30, 45]), second=0, microsecond=0
        )
        service_id = actor.service_id if actor.service_id in services[own] else services[own][0]
        specialty = rng.choice(
            [
                "Neurochirurgie",
                "Chirurgie de la main",
                "ORL",
                "Ophtalmologie",
                "Chirurgie orthopédique et traumatologique",
                "Cardiologie interventionnelle",
            ]
        )
        destination = rng.choice(destinations)
        data = dossiers.DossierInput(
            requesting_service_id=service_id,
            specialty_id=specialties[specialty],
            requested_at=requested,
            age_band=rng.choice(list(AgeBand)),
            sex=rng.choice([Sex.FEMALE, Sex.MALE, None]),
            request_motif_id=rng.choice(request).id,
            urgency=rng.choice(list(Urgency)),
            final_destination_id=destination.id,
            final_destination_establishment_id=(
                rng.choice(others) if destination.requires_establishment else None
            ),
            impact=rng.random() < 0.1,
            impact_description="Retard de prise en charge de plusieurs heures (démo).",
        )
        if not data.impact:
            data.impact_description = None
        moment = requested + timedelta(minutes=20)
        with _frozen_clock(moment):
            ref = dossiers.create_draft(db, actor, data)
            refusers = ([ests[REFUSER_FINESS]] if by_requester else []) + rng.sample(
                others, rng.randint(0 if by_requester else 1, 2)
            )
            for est_id in refusers:
                dossiers.add_line(
                    db,
                    actor,
                    ref.id,
                    dossiers.LineInput(
                        refusing_establishment_id=est_id,
                        refusal_motif_id=rng.choice(refusal).id,
                    ),
                )
        fate = i % 10
        if fate == 0:
            created += 1
            continue  # stays a draft (📝)
        if fate == 1:
            with _frozen_clock(moment + timedelta(minutes=5)):
                dossiers.abandon(db, actor, ref.id, "Doublon (démo)")
            created += 1
            continue
        with _frozen_clock(moment + timedelta(minutes=10)):
            dossiers.finalise(db, actor, ref.id)
        if by_requester and fate >= 5:
            answered_at = moment + timedelta(days=rng.randint(1, 6))
            if answered_at < real_now:
                view = _line_id(db, ref.id, ests[REFUSER_FINESS])
                with _frozen_clock(answered_at):
                    dossiers.answer(
                        db,
                        referent,
                        ref.id,
                        view,
                        dossiers.AnswerInput(
                            understood_motif_id=rng.choice(request).id,
                            refusal_motif_id=rng.choice(refusal).id,
                        ),
                    )
        created += 1
    return created


REPORT_DESCRIPTIONS = {
    "Ligne injoignable": "Numéro de la ligne d'astreinte sans réponse après trois appels (démo).",
    "Absence de praticien d'astreinte": "Aucun praticien d'astreinte inscrit au tableau (démo).",
    "Délai de rappel excessif": "Rappel du praticien d'astreinte plus d'une heure après (démo).",
    "Plateau technique indisponible": "Scanner de l'établissement hors service (démo).",
    "Réorientation inappropriée": "Patient réorienté vers un établissement sans la spécialité "
    "(démo).",
    OTHER: "Standard ayant transféré l'appel vers un service fermé (démo).",
}


def _demo_reports(db: Database, count: int, rng: random.Random) -> int:
    """« Fonctionnement non conforme »: the CHSF reports mostly about Henri-Mondor's lines,
    some answered by its référent, one withdrawn, the latest ones awaiting their answer."""
    declarant = load_actor(db, "demo-declarant")
    referent = load_actor(db, "demo-referent")
    assert declarant and referent
    with db.read() as session:
        ests = {e.finess: e.id for e in session.scalars(select(Establishment))}
        specialties = {s.label: s.id for s in session.scalars(select(Specialty))}
        types = {t.label: t.id for t in session.scalars(select(ReportType))}
    others = [fid for f, fid in ests.items() if f not in (REQUESTER_FINESS, REFUSER_FINESS)]
    real_now = datetime.now(UTC)
    for i in range(count):
        concerned = ests[REFUSER_FINESS] if i % 3 != 2 else rng.choice(others)
        kind = rng.choice([t for t in REPORT_DESCRIPTIONS if t in types])
        occurred = (real_now - timedelta(days=(count - i) * 300 // count + 1)).replace(
            hour=rng.choice([22, 23, 1, 2, 3, 4]),
            minute=rng.choice([10, 20, 40]),
            second=0,
            microsecond=0,
        )
        impact = i % 5 == 0
        data = reports.ReportInput(
            occurred_at=occurred,
            specialty_id=specialties[rng.choice(["Neurochirurgie", "Chirurgie de la main", "ORL"])],
            concerned_establishment_id=concerned,
            report_type_id=types[kind],
            description=REPORT_DESCRIPTIONS[kind],
            impact=impact,
            impact_description="Transfert retardé de deux heures (démo)." if impact else None,
        )
        with _frozen_clock(occurred + timedelta(minutes=30)):
            ref = reports.declare(db, declarant, data)
        if i == 1:
            with _frozen_clock(occurred + timedelta(hours=1)):
                reports.withdraw(db, declarant, ref.id, "Erreur d'établissement (démo).")
        elif concerned == ests[REFUSER_FINESS] and i < count - 3:
            with _frozen_clock(occurred + timedelta(days=rng.randint(1, 5))):
                reports.answer(
                    db,
                    referent,
                    ref.id,
                    reports.ReportAnswerInput(
                        analysis="Renvoi d'appel de la ligne mal paramétré cette nuit-là (démo).",
                        corrective_measures="Vérification du renvoi à chaque prise de garde "
                        "(démo).",
                    ),
                )
    return count


def _line_id(db: Database, dossier_id: int, establishment_id: int) -> int:
    with db.read() as session:
        line_id = session.scalar(
            select(RefuserLine.id).where(
                RefuserLine.dossier_id == dossier_id,
                RefuserLine.refusing_establishment_id == establishment_id,
            )
        )
        assert line_id is not None
        return line_id
