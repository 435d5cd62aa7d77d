"""A small world for the tests: establishments, reference data and one account per role.

- ``req`` (Centre hospitalier Sud Francilien, 91): the requesting establishment;
- ``ref`` (Hôpital Henri-Mondor, 94): a refusing establishment that holds the neurosurgery line;
- ``other`` (Hôpital Foch, 92): a second refuser; ``paris`` (Pitié-Salpêtrière, 75): a third.
Accounts: ``<role>_req`` and ``<role>_ref`` for the establishment roles, ``referent_ref_orl``
(a Référent PDSES of ``ref`` limited to ORL), ``ars`` (whole region), ``ars_75`` (Paris
only) and ``admin``. Every password is ``PASSWORD``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select

from registre import dossiers, reports
from registre.accounts import AccountInput, create_account
from registre.actors import Actor
from registre.auth import load_actor
from registre.db import Database
from registre.dossiers import DossierInput, LineInput
from registre.models import (
    AgeBand,
    Dossier,
    Establishment,
    FinalDestination,
    RefusalMotif,
    ReportType,
    RequestMotif,
    Role,
    Service,
    Specialty,
    Urgency,
)
from registre.refdata import load_establishments, load_pdses_lines, load_reference_lists
from registre.seed_data import ESTABLISHMENTS
from registre.timeutil import now

PASSWORD = "mot-de-passe-de-test-2026"
# The names of the world's actors (``World.actor``), for tests parametrised by role.
ACTOR_NAMES = [
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
NON_ADMINS = [name for name in ACTOR_NAMES if name != "admin"]

_FINESS = {"req": "910020254", "ref": "940100027", "other": "920000650", "paris": "750100125"}


@dataclass
class World:
    db: Database
    est: dict[str, int] = field(default_factory=dict)
    services: dict[str, int] = field(default_factory=dict)
    specialty: dict[str, int] = field(default_factory=dict)
    refusal_motif: dict[str, int] = field(default_factory=dict)
    request_motif: dict[str, int] = field(default_factory=dict)
    destination: dict[str, int] = field(default_factory=dict)
    report_type: dict[str, int] = field(default_factory=dict)
    actors: dict[str, Actor] = field(default_factory=dict)

    def add_account(self, username: str, role: Role, est: str) -> Actor:
        """An extra account (e.g. for ``other`` or ``paris``, which have none in the world)."""
        with self.db.transaction() as s:
            create_account(
                s,
                AccountInput(
                    username=username,
                    display_name=username,
                    email=f"{username}@example.org",
                    role=role,
                    password=PASSWORD,
                    establishment_finess=s.get(Establishment, self.est[est]).finess,
                    service_name=s.get(Service, self.services[est]).name
                    if role is Role.DECLARANT
                    else None,
                ),
            )
        actor = load_actor(self.db, username)
        assert actor is not None
        return actor

    def actor(self, name: str) -> Actor:
        return self.actors[name]

    def dossier_input(self, **overrides: Any) -> DossierInput:
        values: dict[str, Any] = {
            "requesting_service_id": self.services["req"],
            "specialty_id": self.specialty["Neurochirurgie"],
            "requested_at": now(),
            "age_band": AgeBand.ADULT,
            "request_motif_id": self.request_motif["Transfert pour prise en charge spécialisée"],
            "urgency": Urgency.URGENT,
        }
        values.update(overrides)
        return DossierInput(**values)

    def line_input(self, est: str = "ref", **overrides: Any) -> LineInput:
        values: dict[str, Any] = {
            "refusing_establishment_id": self.est[est],
            "refusal_motif_id": self.refusal_motif["Absence de lit disponible"],
        }
        values.update(overrides)
        return LineInput(**values)

    def draft(self, by: str = "declarant_req", lines: tuple[str, ...] = (), **overrides: Any):
        ref = dossiers.create_draft(self.db, self.actor(by), self.dossier_input(**overrides))
        for est in lines:
            dossiers.add_line(self.db, self.actor(by), ref.id, self.line_input(est))
        with self.db.read() as session:
            current = session.get(Dossier, ref.id)
            assert current is not None
            return replace(ref, version=current.version)

    def finalised(
        self, by: str = "declarant_req", lines: tuple[str, ...] = ("ref",), **overrides: Any
    ):
        overrides.setdefault("final_destination_id", self.destination["Retour à domicile"])
        ref = self.draft(by, lines, **overrides)
        return dossiers.finalise(self.db, self.actor(by), ref.id)

    def report_input(self, concerned: str = "ref", **overrides: Any) -> reports.ReportInput:
        """A « fonctionnement non conforme » from ``req`` about ``concerned`` (neurosurgery,
        whose line ``ref`` holds)."""
        values: dict[str, Any] = {
            "occurred_at": now(),
            "specialty_id": self.specialty["Neurochirurgie"],
            "concerned_establishment_id": self.est[concerned],
            "report_type_id": self.report_type["Ligne injoignable"],
            "description": "Ligne d'astreinte sonnant dans le vide pendant 40 minutes.",
        }
        values.update(overrides)
        return reports.ReportInput(**values)

    def report(
        self, by: str = "declarant_req", concerned: str = "ref", **overrides: Any
    ) -> reports.ReportRef:
        return reports.declare(self.db, self.actor(by), self.report_input(concerned, **overrides))


def _ids(session: Any, model: Any) -> dict[str, int]:
    return {row.label: row.id for row in session.scalars(select(model))}


def build_world(db: Database) -> World:
    world = World(db)
    seeds = [s for s in ESTABLISHMENTS if s["finess"] in _FINESS.values()]
    assert len(seeds) == 4, "tests rely on four seeded establishments"
    with db.transaction() as session:
        load_reference_lists(session)
        load_establishments(session, seeds)
        load_pdses_lines(
            session,
            [
                {
                    "finess": _FINESS["ref"],
                    "specialty": "Neurochirurgie",
                    "kind": "garde",
                    "territory": "Est francilien",
                },
            ],
        )
        for key, number in _FINESS.items():
            est = session.scalars(select(Establishment).where(Establishment.finess == number)).one()
            world.est[key] = est.id
            service = session.scalars(
                select(Service).where(Service.establishment_id == est.id).order_by(Service.id)
            ).first()
            assert service is not None
            world.services[key] = service.id
        world.specialty = _ids(session, Specialty)
        world.refusal_motif = _ids(session, RefusalMotif)
        world.request_motif = _ids(session, RequestMotif)
        world.destination = _ids(session, FinalDestination)
        world.report_type = _ids(session, ReportType)
        service_names = {
            key: session.get(Service, world.services[key]).name  # type: ignore[union-attr]
            for key in ("req", "ref")
        }
        specs: list[tuple[str, Role, str | None, dict[str, Any]]] = []
        for role in (Role.DECLARANT, Role.REFERENT, Role.COORDINATEUR, Role.DIRECTEUR):
            specs.append((f"{role.value}_req", role, "req", {}))
            specs.append((f"{role.value}_ref", role, "ref", {}))
        specs += [
            ("referent_ref_orl", Role.REFERENT, "ref", {"specialty_labels": ["ORL"]}),
            ("ars", Role.ARS, None, {}),
            ("ars_75", Role.ARS, None, {"departements": ["75"]}),
            ("admin", Role.ADMIN, None, {}),
        ]
        for username, role, est_key, extra in specs:
            create_account(
                session,
                AccountInput(
                    username=username.replace("_", "-"),
                    display_name=username,
                    email=f"{username.replace('_', '-')}@example.org",
                    role=role,
                    password=PASSWORD,
                    establishment_finess=_FINESS[est_key] if est_key else None,
                    service_name=service_names.get(est_key or "")
                    if role is Role.DECLARANT
                    else None,
                    **extra,
                ),
            )
    for username, *_ in specs:
        actor = load_actor(db, username.replace("_", "-"))
        assert actor is not None
        world.actors[username] = actor
    return world


def at(year: int, month: int, day: int, hour: int = 3, minute: int = 15) -> datetime:
    """A Paris local time, as a user types it (naive)."""
    return datetime(year, month, day, hour, minute)
