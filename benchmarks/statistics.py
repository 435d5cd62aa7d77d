"""Benchmark of the statistics page (issue 4): fill a database with N realistic dossiers (and
« fonctionnement non conforme » reports, a tenth as many by default) and time every aggregate,
the whole page and the exports, on SQLite or PostgreSQL.

    .venv/bin/python -m benchmarks.statistics --dossiers 1000000
    .venv/bin/python -m benchmarks.statistics --database-url postgresql://postgres@127.0.0.1:5432

The dossiers are written with SQLAlchemy Core ``insert()`` in batches (the
``registre.dossiers`` transitions would take hours for a million), every column filled as the
transitions would: the Paris time facts of ``transitions.time_facts``, the PDSES flag of
``pdses.in_pdses_period``, the line holders of the PDSES lines, the states' stored values.
The reports likewise (``reports.declare``'s columns, the ``occurred_*`` time facts, a few
withdrawn). Neither the audit trail nor the outbox is written: the statistics never read them. The
accounts (``accounts.create_account``): a Coordinateur PDSES (Henri-Mondor, the requester and
refuser perspectives), a Directeur (CHSF), an ARS for the whole region, an ARS limited to the
91 (its scope is an ``OR EXISTS``, a query of its own) and one Référent PDSES per
establishment, who creates its dossiers and answers its refusals.

SQLite: by default a fresh file in a temporary folder, removed at the end unless ``--keep``.
PostgreSQL: the database named in the URL (``registre_bench`` when the URL names none or
``postgres``) is created afresh and dropped at the end unless ``--keep``; its name must start
with ``registre_bench`` so that nothing else can be dropped. ``--reuse`` takes a database that
already holds the N dossiers (from a run with ``--keep``), skips the filling and keeps it.
``--sql`` runs statements before the timings, e.g. to try an index:

    .venv/bin/python -m benchmarks.statistics --database-url sqlite:////tmp/bench.sqlite3 --keep
    .venv/bin/python -m benchmarks.statistics --database-url sqlite:////tmp/bench.sqlite3 \
        --reuse --sql "CREATE INDEX IF NOT EXISTS …"

Timings are wall-clock milliseconds: « run 1 » is the first run, « best » the best of
``--repeat`` runs. « cold » means the statistics cache emptied (``statistics.clear_cache``),
not the database's own caches: the data was just written, so it is in memory.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a file: its folder must not shadow the standard library
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import bisect
import functools
import math
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    Enum,
    String,
    Table,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy import case as sql_case
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy.engine import make_url
from sqlalchemy.sql.expression import TableClause

from registre import exports, report_statistics
from registre import statistics as stats
from registre.accounts import AccountInput, create_account
from registre.actors import Actor
from registre.auth import load_actor
from registre.db import Database, normalise_url
from registre.errors import ValidationError
from registre.migrate import upgrade
from registre.models import (
    Account,
    Dossier,
    DossierCounter,
    DossierState,
    Establishment,
    FinalDestination,
    LineState,
    PdsesLine,
    RefusalMotif,
    RefuserLine,
    ReportCounter,
    ReportState,
    ReportType,
    RequestMotif,
    Role,
    Service,
    Specialty,
    UTCDateTime,
)
from registre.models import Report as ReportModel  # ``Report`` here is the timings' table
from registre.permissions import Perspective
from registre.refdata import (
    load_establishments,
    load_pdses_lines,
    load_reference_lists,
)
from registre.seed_data import ESTABLISHMENTS, PDSES_LINES
from registre.timeutil import PARIS, to_paris
from registre.transitions import time_facts

say = functools.partial(print, flush=True)  # progress shows in a log file too

DEFAULT_DOSSIERS = 1_000_000
DEFAULT_BATCH = 20_000
PG_DEFAULT_DATABASE = "registre_bench"
YEARS = 3
PASSWORD = "benchmark-mot-de-passe"
BCRYPT_ROUNDS = 4  # the accounts are never logged into: no need for the real cost
REMINDER_DAYS = 7
FILTER_SPECIALTY = "Chirurgie orthopédique et traumatologique"
COORDINATOR_FINESS = "940100027"  # Hôpital Henri-Mondor: requester and refuser
DIRECTOR_FINESS = "910020254"  # Centre hospitalier Sud Francilien
ARS_DEPARTEMENT = "91"

# --- realistic skews (by label or FINESS; anything not listed weighs 1) -------------------

SPECIALTY_WEIGHTS = {
    "Chirurgie orthopédique et traumatologique": 16,
    "Chirurgie viscérale et digestive": 12,
    "Neurochirurgie": 10,
    "Chirurgie de la main": 9,
    "Psychiatrie": 8,
    "Ophtalmologie": 7,
    "ORL": 7,
    "Cardiologie interventionnelle": 6,
    "Réanimation": 6,
    "Urologie": 5,
    "Endoscopie digestive": 5,
    "Chirurgie maxillo-faciale": 4,
    "Chirurgie vasculaire": 4,
    "Chirurgie pédiatrique": 4,
    "Neuroradiologie interventionnelle": 3,
    "Chirurgie thoracique": 2,
    "Néphrologie / dialyse": 2,
    "Endoscopie bronchique": 1,
}
REFUSAL_MOTIF_WEIGHTS = {
    "Absence de lit disponible": 35,
    "Absence de praticien disponible": 14,
    "Bloc opératoire indisponible": 10,
    "Plateau technique indisponible": 9,
    "Patient hors territoire de recours": 9,
    "Demande ne relevant pas de la spécialité": 8,
    "Indication non retenue": 8,
    "Absence de réponse / injoignable": 4,
    "Autre": 3,
}
REQUEST_MOTIF_WEIGHTS = {
    "Transfert pour prise en charge spécialisée": 40,
    "Avis spécialisé": 25,
    "Transfert pour intervention ou geste technique": 25,
    "Transfert en soins critiques": 8,
    "Autre": 2,
}
DESTINATION_WEIGHTS = {
    "Transféré dans un autre établissement": 55,
    "Pris en charge dans l'établissement demandeur": 30,
    "Retour à domicile": 8,
    "Autre": 4,
    "Décédé": 3,
}
# Who calls (general hospitals more) and who is called and refuses (referral centres more).
REQUESTER_WEIGHTS = {
    "910020254": 9, "940100027": 6, "750100125": 5, "940100043": 5, "750100042": 5,
    "750803447": 4, "920100039": 4, "930100037": 6, "750100208": 3, "770000446": 9,
    "780800256": 8, "950000364": 8, "940000573": 6, "920000650": 4, "930000328": 8,
    "950000307": 8,
}  # fmt: skip
REFUSER_WEIGHTS = {
    "910020254": 4, "940100027": 10, "750100125": 12, "940100043": 8, "750100042": 8,
    "750803447": 8, "920100039": 6, "930100037": 4, "750100208": 5, "770000446": 3,
    "780800256": 4, "950000364": 4, "940000573": 5, "920000650": 5, "930000328": 3,
    "950000307": 3,
}  # fmt: skip
AGE_BANDS = (("moins_1", 3), ("1_17", 12), ("18_64", 45), ("65_79", 25), ("80_plus", 15))
SEXES = (("F", 46), ("M", 50), ("X", 2), (None, 2))
URGENCIES = (("vitale", 15), ("urgence", 60), ("differable", 25))
LINES_PER_DOSSIER = ((1, 55), (2, 30), (3, 15))
# Paris hour of the call: evenings and nights; the day only outside PDSES (holidays, Sundays).
HOUR_PROFILE = (
    1.0, 0.9, 0.8, 0.7, 0.6, 0.55, 0.6, 0.7, 0.9, 0.9, 0.9, 0.9,
    0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 1.0, 1.1, 1.1, 1.05,
)  # fmt: skip
OUTSIDE_PDSES_FACTOR = 0.15  # a call outside PDSES hours is rare: about 8 % of them
DRAFT_SHARE = 0.02
IMPACT_SHARE = 0.05
ANSWER_SHARE = 0.6
HOLDER_FIRST = 0.55  # the establishment holding the line is called first, and often refuses
REPORTS_PER_DOSSIER = 0.1  # default number of reports: a tenth of the dossiers
REPORT_WITHDRAWN_SHARE = 0.03
REPORT_IMPACT_SHARE = 0.15
REPORT_ANSWER_SHARE = 0.7
REPORT_TYPE_WEIGHTS = {
    "Ligne injoignable": 35,
    "Absence de praticien d'astreinte": 20,
    "Délai de rappel excessif": 20,
    "Plateau technique indisponible": 10,
    "Réorientation inappropriée": 10,
    "Autre": 5,
}
REPORT_DESCRIPTIONS = (
    "Ligne d'astreinte sonnant dans le vide (benchmark).",
    "Rappel du praticien d'astreinte après plus d'une heure (benchmark).",
    "Scanner indisponible, patient réorienté (benchmark).",
)
OTHER_TEXTS = (
    "Précision saisie par le demandeur (benchmark).",
    "Situation particulière, voir commentaires (benchmark).",
)
COMMENTS = (
    "Appel passé par l'interne de garde.",
    "Rappel du sénior d'astreinte sans succès.",
    "Patient transféré après plusieurs appels.",
)
IMPACT_TEXTS = (
    "Retard de prise en charge de plusieurs heures.",
    "Transfert hors région nécessaire.",
)

DOSSIER_STATE_FINALISED = DossierState.FINALISED.value
DOSSIER_STATE_DRAFT = DossierState.DRAFT.value


# --- command line ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.statistics",
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--dossiers",
        type=int,
        default=DEFAULT_DOSSIERS,
        help=f"how many dossiers to write (default {DEFAULT_DOSSIERS:_})",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="sqlite:///FILE or postgresql://USER@HOST:PORT[/registre_bench…] "
        "(default: a fresh SQLite file in a temporary folder)",
    )
    parser.add_argument(
        "--reports",
        type=int,
        default=None,
        help="how many « fonctionnement non conforme » reports to write (default: a tenth of "
        "--dossiers); with --reuse, written only if the database holds none",
    )
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="take a database that already holds the dossiers (kept by --keep): no filling, "
        "and the database is kept",
    )
    parser.add_argument("--keep", action="store_true", help="do not remove the database at the end")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH,
        help=f"dossiers per insert batch (default {DEFAULT_BATCH:_})",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each measure; « best » is the fastest (default 3)",
    )
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="also run ANALYZE on SQLite after filling (PostgreSQL is always analysed, as "
        "its autovacuum would)",
    )
    parser.add_argument(
        "--sql",
        action="append",
        default=[],
        metavar="STATEMENT",
        help="raw SQL run before the timings (repeatable), e.g. an index to try",
    )
    parser.add_argument("--no-explain", action="store_true", help="do not print the query plans")
    parser.add_argument(
        "--budget-ms",
        type=float,
        default=3000.0,
        help="a cold page slower than this is reported as too slow (default 3000)",
    )
    args = parser.parse_args(argv)
    if args.dossiers < 1:
        parser.error("--dossiers must be at least 1")
    if args.reports is None:
        args.reports = max(1, int(args.dossiers * REPORTS_PER_DOSSIER))
    if args.reports < 0:
        parser.error("--reports must not be negative")
    if args.repeat < 1 or args.batch_size < 1:
        parser.error("--repeat and --batch-size must be at least 1")
    return args


# --- the database ---------------------------------------------------------------------------


@dataclass
class Target:
    url: str
    cleanup: Callable[[], None]
    description: str


def _postgres_admin(url: Any) -> Any:
    return create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")


def prepare_database(url: str | None, *, reuse: bool) -> Target:
    """A database to fill (or, with ``reuse``, maybe already filled) and how to remove it."""
    if url is None:
        folder = Path(tempfile.mkdtemp(prefix="registre-bench-"))
        path = folder / "registre-bench.sqlite3"
        return Target(
            f"sqlite:///{path}", lambda: shutil.rmtree(folder, ignore_errors=True), str(path)
        )
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        if not parsed.database or parsed.database == ":memory:":
            raise SystemExit("SQLite: give a file, e.g. sqlite:///tmp/registre-bench.sqlite3")
        if path.exists() and not reuse:
            raise SystemExit(f"{path} exists: remove it or pass --reuse")

        def remove_file() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        return Target(parsed.render_as_string(hide_password=False), remove_file, str(path))
    if parsed.get_backend_name() != "postgresql":
        raise SystemExit("Only SQLite and PostgreSQL are supported.")
    name = parsed.database if parsed.database not in (None, "", "postgres") else None
    name = name or PG_DEFAULT_DATABASE
    if not name.startswith(PG_DEFAULT_DATABASE):
        raise SystemExit(
            f"The benchmark creates and drops its database: its name must start with "
            f"{PG_DEFAULT_DATABASE!r} (got {name!r})."
        )
    target = parsed.set(database=name)
    admin = _postgres_admin(parsed)
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists and not reuse:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            exists = None
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()

    def drop() -> None:
        engine = _postgres_admin(parsed)
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return Target(
        target.render_as_string(hide_password=False),
        drop,
        target.render_as_string(hide_password=True),
    )


# --- reference data and accounts ------------------------------------------------------------


@dataclass
class Reference:
    establishments: list[int]
    finess: dict[int, str]
    departement: dict[int, str]
    services: dict[int, list[int]]
    specialties: dict[str, int]
    refusal_motifs: list[tuple[int, str, bool]]  # id, label, is_other
    request_motifs: list[tuple[int, str, bool]]
    destinations: list[tuple[int, str, bool]]  # id, label, requires_establishment
    holders: dict[int, frozenset[int]]  # specialty → establishments holding its line
    referent: dict[int, int]  # establishment → the account that declares and answers


@dataclass(frozen=True)
class BenchAccount:
    username: str
    role: Role
    finess: str | None
    service: str | None = None
    departements: tuple[str, ...] = ()


def _accounts() -> list[BenchAccount]:
    first_service = {e["finess"]: e["services"][0] for e in ESTABLISHMENTS}
    accounts = [
        BenchAccount("bench-coordinateur", Role.COORDINATEUR, COORDINATOR_FINESS),
        BenchAccount("bench-directeur", Role.DIRECTEUR, DIRECTOR_FINESS),
        BenchAccount("bench-ars", Role.ARS, None),
        BenchAccount("bench-ars-91", Role.ARS, None, departements=(ARS_DEPARTEMENT,)),
    ]
    # Who creates the dossiers of an establishment and answers its refusals.
    accounts.extend(
        BenchAccount(f"bench-referent-{finess}", Role.REFERENT, finess, first_service[finess])
        for finess in sorted(first_service)
    )
    return accounts


def create_accounts(session: Any, specs: Iterable[BenchAccount]) -> None:
    """The accounts of ``specs`` that do not exist yet, with ``PASSWORD`` (cheap bcrypt)."""
    present = set(session.scalars(select(Account.username).where(Account.username.like("bench-%"))))
    for spec in specs:
        if spec.username in present:
            continue
        create_account(
            session,
            AccountInput(
                username=spec.username,
                display_name=spec.username.replace("-", " ").capitalize(),
                email=f"{spec.username.replace('bench-', 'pdses-')}@bench.example.org",
                role=spec.role,
                password=PASSWORD,
                establishment_finess=spec.finess,
                service_name=spec.service,
                departements=list(spec.departements),
            ),
            rounds=BCRYPT_ROUNDS,
        )


def load_reference(db: Database) -> Reference:
    """Reference lists, the seeded establishments and PDSES lines, the accounts (idempotent)."""
    with db.transaction() as session:
        load_reference_lists(session)
        load_establishments(session, ESTABLISHMENTS)
        load_pdses_lines(session, PDSES_LINES)
        create_accounts(session, _accounts())
    with db.read() as session:
        ests = session.execute(
            select(Establishment.id, Establishment.finess, Establishment.departement)
            .where(Establishment.active.is_(True))
            .order_by(Establishment.id)
        ).all()
        services: dict[int, list[int]] = {}
        for service_id, est_id in session.execute(
            select(Service.id, Service.establishment_id)
            .where(Service.active.is_(True))
            .order_by(Service.id)
        ):
            services.setdefault(est_id, []).append(service_id)
        holders: dict[int, set[int]] = {}
        for est_id, spec_id in session.execute(
            select(PdsesLine.establishment_id, PdsesLine.specialty_id).where(
                PdsesLine.active.is_(True)
            )
        ):
            holders.setdefault(spec_id, set()).add(est_id)
        referent: dict[int, int] = {
            est_id: account_id
            for account_id, est_id in session.execute(
                select(Account.id, Account.establishment_id).where(
                    Account.username.like("bench-referent-%")
                )
            )
            if est_id is not None
        }

        def listed(model: Any, flag: Any) -> list[tuple[int, str, bool]]:
            rows = session.execute(
                select(model.id, model.label, flag)
                .where(model.active.is_(True))
                .order_by(model.sort_order)
            ).all()
            return [(r[0], r[1], bool(r[2])) for r in rows]

        return Reference(
            establishments=[r[0] for r in ests],
            finess={r[0]: r[1] for r in ests},
            departement={r[0]: r[2] for r in ests},
            services=services,
            specialties=dict(
                session.execute(
                    select(Specialty.label, Specialty.id).where(Specialty.active.is_(True))
                ).all()
            ),
            refusal_motifs=listed(RefusalMotif, RefusalMotif.is_other),
            request_motifs=listed(RequestMotif, RequestMotif.is_other),
            destinations=listed(FinalDestination, FinalDestination.requires_establishment),
            holders={k: frozenset(v) for k, v in holders.items()},
            referent=referent,
        )


# --- generation -------------------------------------------------------------------------------


class Weighted:
    """``random.choices`` with precomputed cumulative weights, one item at a time."""

    def __init__(self, items: Sequence[Any], weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cumulative: list[float] = []
        total = 0.0
        for weight in weights:
            total += weight
            self.cumulative.append(total)
        self.total = total

    def pick(self, rng: random.Random) -> Any:
        return self.items[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


@dataclass(frozen=True)
class Hour:
    start: datetime  # naive UTC, as stored
    facts: tuple[bool, date, int, int]  # in_pdses_hours, requested_day, weekday, hour


def _hours(end: datetime) -> tuple[list[Hour], list[float]]:
    """Every UTC hour of the last three years and how likely a call is in it. A UTC hour is
    one Paris hour (the offsets are whole hours) and the PDSES periods change on the hour, so
    ``transitions.time_facts`` of the hour's start holds for every minute of it."""
    last = end.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    first = last - timedelta(days=365 * YEARS)
    hours: list[Hour] = []
    weights: list[float] = []
    span = (last - first).total_seconds()
    moment = first
    while moment <= last:
        facts = time_facts(moment)
        hours.append(
            Hour(
                moment.replace(tzinfo=None),
                (
                    facts["in_pdses_hours"],
                    facts["requested_day"],
                    facts["requested_weekday"],
                    facts["requested_hour"],
                ),
            )
        )
        trend = 0.85 + 0.3 * (moment - first).total_seconds() / span  # a registry in use grows
        pdses = 1.0 if facts["in_pdses_hours"] else OUTSIDE_PDSES_FACTOR
        weights.append(HOUR_PROFILE[facts["requested_hour"]] * pdses * trend)
        moment += timedelta(hours=1)
    return hours, weights


def _year_starts(first: datetime, last: datetime) -> tuple[list[datetime], list[int]]:
    """Naive UTC instants of 1 January 00:00 in Paris: the year of a dossier's number."""
    years = list(range(to_paris(first).year - 1, to_paris(last).year + 2))
    starts = [datetime(y, 1, 1, tzinfo=PARIS).astimezone(UTC).replace(tzinfo=None) for y in years]
    return starts, years


def _by_label(items: list[tuple[int, str, bool]], weights: dict[str, int]) -> Weighted:
    return Weighted(items, [weights.get(label, 1) for _, label, _ in items])


@dataclass
class Generator:
    """Writes realistic dossiers and lines, in the order they were created."""

    ref: Reference
    now: datetime  # naive UTC
    rng: random.Random
    next_dossier_id: int
    next_line_id: int
    counters: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ref = self.ref
        self.specialty = Weighted(
            list(ref.specialties.values()),
            [SPECIALTY_WEIGHTS.get(label, 1) for label in ref.specialties],
        )
        self.requester = Weighted(
            ref.establishments,
            [REQUESTER_WEIGHTS.get(ref.finess[e], 1) for e in ref.establishments],
        )
        self.refuser = Weighted(
            ref.establishments,
            [REFUSER_WEIGHTS.get(ref.finess[e], 1) for e in ref.establishments],
        )
        self.refusal_motif = _by_label(ref.refusal_motifs, REFUSAL_MOTIF_WEIGHTS)
        self.request_motif = _by_label(ref.request_motifs, REQUEST_MOTIF_WEIGHTS)
        self.destination = _by_label(ref.destinations, DESTINATION_WEIGHTS)
        self.age_band = Weighted([a for a, _ in AGE_BANDS], [w for _, w in AGE_BANDS])
        self.sex = Weighted([s for s, _ in SEXES], [w for _, w in SEXES])
        self.urgency = Weighted([u for u, _ in URGENCIES], [w for _, w in URGENCIES])
        self.line_count = Weighted(
            [n for n, _ in LINES_PER_DOSSIER], [w for _, w in LINES_PER_DOSSIER]
        )
        self.holder_lists = {
            spec: sorted(ests) for spec, ests in ref.holders.items()
        }  # sorted: reproducible with the seed

    def schedule(self, count: int) -> list[tuple[datetime, datetime]]:
        """(created_at, requested_at) of ``count`` dossiers, oldest creation first."""
        hours, weights = _hours(self.now)
        picked = self.rng.choices(range(len(hours)), weights=weights, k=count)
        self.hour_facts = {h.start: h.facts for h in hours}
        self.year_starts, self.years = _year_starts(hours[0].start, hours[-1].start)
        schedule = []
        rng = self.rng
        for index in picked:
            requested = hours[index].start + timedelta(minutes=rng.randrange(60))
            created = min(requested + timedelta(minutes=rng.uniform(5, 90)), self.now)
            schedule.append((created, requested))
        schedule.sort()
        return schedule

    def _number(self, created: datetime) -> str:
        year = self.years[bisect.bisect_right(self.year_starts, created) - 1]
        value = self.counters.get(year, 0) + 1
        self.counters[year] = value
        return f"R-{year}-{value:06d}"

    def _refusers(self, requester: int, specialty: int) -> list[int]:
        rng = self.rng
        wanted = min(self.line_count.pick(rng), len(self.ref.establishments) - 1)
        holders = [e for e in self.holder_lists.get(specialty, ()) if e != requester]
        chosen: list[int] = []
        while len(chosen) < wanted:
            if holders and rng.random() < HOLDER_FIRST:
                candidate = holders.pop(rng.randrange(len(holders)))
            else:
                candidate = self.refuser.pick(rng)
            if candidate != requester and candidate not in chosen:
                chosen.append(candidate)
                if candidate in holders:
                    holders.remove(candidate)
        return chosen

    def batch(
        self, schedule: Sequence[tuple[datetime, datetime]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rng = self.rng
        ref = self.ref
        now = self.now
        dossiers: list[dict[str, Any]] = []
        lines: list[dict[str, Any]] = []
        for created, requested in schedule:
            dossier_id = self.next_dossier_id
            self.next_dossier_id += 1
            requester = self.requester.pick(rng)
            specialty = self.specialty.pick(rng)
            in_pdses, day, weekday, hour = self.hour_facts[requested.replace(minute=0)]
            draft = rng.random() < DRAFT_SHARE
            finalised = None if draft else min(created + timedelta(minutes=rng.uniform(2, 30)), now)
            motif_id, _, motif_other = self.request_motif.pick(rng)
            impact = rng.random() < IMPACT_SHARE
            refusers = self._refusers(requester, specialty)
            destination_id = destination_est = None
            if not draft or rng.random() < 0.3:
                destination_id, _, needs_est = self.destination.pick(rng)
                if needs_est:
                    while destination_est is None or destination_est in (requester, *refusers):
                        destination_est = self.refuser.pick(rng)
            line_created = created
            for position, refuser in enumerate(refusers):
                line_created = min(created + timedelta(seconds=40 * position), finalised or now)
                stated_id, _, stated_other = self.refusal_motif.pick(rng)
                row: dict[str, Any] = {
                    "id": self.next_line_id,
                    "dossier_id": dossier_id,
                    "refusing_establishment_id": refuser,
                    "state": LineState.PENDING.value,
                    "version": 1,
                    "is_line_holder": refuser in ref.holders.get(specialty, ()),
                    "refusal_motif_id": stated_id,
                    "other_motif": rng.choice(OTHER_TEXTS) if stated_other else None,
                    "comments": rng.choice(COMMENTS) if rng.random() < 0.05 else None,
                    "answer_understood_motif_id": None,
                    "answer_refusal_motif_id": None,
                    "answer_other_motif": None,
                    "answer_comments": None,
                    "answered_at": None,
                    "answered_by_id": None,
                    "created_at": line_created,
                    "notified_at": None,
                    "reminded_at": None,
                    "removed_at": None,
                }
                self.next_line_id += 1
                if finalised is not None:
                    row["state"] = LineState.AWAITING.value
                    row["notified_at"] = finalised
                    answered = None
                    if rng.random() < ANSWER_SHARE:
                        # Hours to days: a median of about 16 h, a long tail of weeks.
                        delay = min(rng.lognormvariate(math.log(16), 1.3), 24 * 60)
                        answered = finalised + timedelta(hours=max(delay, 0.1))
                        if answered > now:
                            answered = None
                    reminder = finalised + timedelta(days=REMINDER_DAYS, minutes=rng.uniform(0, 60))
                    if reminder < now and (answered is None or answered > reminder):
                        row["reminded_at"] = reminder
                    if answered is not None:
                        answer_id, _, answer_other = (
                            (stated_id, None, stated_other)
                            if rng.random() < 0.65
                            else self.refusal_motif.pick(rng)
                        )
                        row.update(
                            state=LineState.ANSWERED.value,
                            answer_understood_motif_id=(
                                motif_id if rng.random() < 0.8 else self.request_motif.pick(rng)[0]
                            ),
                            answer_refusal_motif_id=answer_id,
                            answer_other_motif=rng.choice(OTHER_TEXTS) if answer_other else None,
                            answer_comments=rng.choice(COMMENTS) if rng.random() < 0.2 else None,
                            answered_at=answered,
                            answered_by_id=ref.referent.get(refuser),
                        )
                lines.append(row)
            dossiers.append(
                {
                    "id": dossier_id,
                    "number": self._number(created),
                    "state": DOSSIER_STATE_DRAFT if draft else DOSSIER_STATE_FINALISED,
                    "version": 1,
                    "requesting_establishment_id": requester,
                    "requesting_service_id": rng.choice(ref.services[requester]),
                    "specialty_id": specialty,
                    "requested_at": requested,
                    "in_pdses_hours": in_pdses,
                    "requested_day": day,
                    "requested_weekday": weekday,
                    "requested_hour": hour,
                    "age_band": self.age_band.pick(rng),
                    "sex": self.sex.pick(rng),
                    "request_motif_id": motif_id,
                    "request_other_motif": rng.choice(OTHER_TEXTS) if motif_other else None,
                    "urgency": self.urgency.pick(rng),
                    "final_destination_id": destination_id,
                    "final_destination_establishment_id": destination_est,
                    "impact": impact,
                    "impact_description": rng.choice(IMPACT_TEXTS) if impact else None,
                    "comments": rng.choice(COMMENTS) if rng.random() < 0.08 else None,
                    "created_by_id": ref.referent[requester],
                    "created_at": created,
                    "updated_at": finalised or line_created,
                    "finalised_at": finalised,
                    "impact_notified_at": created if impact else None,
                    "creation_token": f"{rng.getrandbits(128):032x}",
                }
            )
        return dossiers, lines


def _plain(table: Table) -> TableClause:
    """The table with plain types: the rows are generated as stored (naive UTC, the enums'
    values), so the per-value conversions of ``UTCDateTime`` and ``Enum`` are skipped."""
    columns = []
    for column in table.columns:
        kind: Any = column.type
        if isinstance(kind, UTCDateTime):
            kind = DateTime()
        elif isinstance(kind, Enum):
            kind = String(kind.length)
        elif isinstance(kind, Date):
            kind = Date()
        columns.append(sql_column(column.name, kind))
    return sql_table(table.name, *columns)


def _check_row(table: Table, row: dict[str, Any]) -> None:
    """Every column is written, and every NOT NULL one with a value."""
    names = {c.name for c in table.columns}
    missing = names - set(row)
    unknown = set(row) - names
    empty = [c.name for c in table.columns if not c.nullable and row.get(c.name) is None]
    if missing or unknown or empty:
        raise AssertionError(
            f"{table.name}: missing {sorted(missing)}, unknown {sorted(unknown)}, "
            f"NOT NULL without value {empty}"
        )


def dossier_count(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count(Dossier.id))) or 0)


def data_profile(db: Database) -> str:
    """A few shares of the data, to see that it looks like a registry."""
    live = RefuserLine.removed_at.is_(None)
    with db.read() as session:
        dossiers, drafts, impact, outside, first, last = session.execute(
            select(
                func.count(Dossier.id),
                func.sum(sql_case((Dossier.state == DossierState.DRAFT, 1), else_=0)),
                func.sum(sql_case((Dossier.impact.is_(True), 1), else_=0)),
                func.sum(sql_case((Dossier.in_pdses_hours.is_(False), 1), else_=0)),
                func.min(Dossier.requested_at),
                func.max(Dossier.requested_at),
            )
        ).one()
        lines, answered, holders = session.execute(
            select(
                func.count(RefuserLine.id),
                func.sum(sql_case((RefuserLine.state == LineState.ANSWERED, 1), else_=0)),
                func.sum(sql_case((RefuserLine.is_line_holder.is_(True), 1), else_=0)),
            ).where(live)
        ).one()
    if not dossiers:
        return "no dossier"
    return (
        f"{dossiers:_} dossiers from {first:%d/%m/%Y} to {last:%d/%m/%Y}, "
        f"{lines / dossiers:.2f} refusals each; drafts {drafts / dossiers:.1%}, "
        f"impact {impact / dossiers:.1%}, outside PDSES hours {outside / dossiers:.1%}; "
        f"refusals answered {answered / max(lines, 1):.1%}, "
        f"by the line holder {holders / max(lines, 1):.1%}"
    )


def fill(db: Database, ref: Reference, count: int, *, seed: int, batch_size: int) -> float:
    """Write ``count`` dossiers; returns the seconds taken (generation included)."""
    began = time.perf_counter()
    with db.read() as session:
        first_dossier = int(session.scalar(select(func.max(Dossier.id))) or 0) + 1
        first_line = int(session.scalar(select(func.max(RefuserLine.id))) or 0) + 1
        counters = dict(
            session.execute(select(DossierCounter.year, DossierCounter.last_value)).all()
        )
    generator = Generator(
        ref,
        datetime.now(UTC).replace(tzinfo=None),
        random.Random(seed),
        first_dossier,
        first_line,
        counters,
    )
    schedule = generator.schedule(count)
    say(f"  schedule of {count:_} dossiers drawn in {time.perf_counter() - began:.1f} s")
    dossiers_table = _plain(Dossier.__table__)  # type: ignore[arg-type]
    lines_table = _plain(RefuserLine.__table__)  # type: ignore[arg-type]
    written_lines = 0
    for start in range(0, count, batch_size):
        dossier_rows, line_rows = generator.batch(schedule[start : start + batch_size])
        if start == 0:
            _check_row(Dossier.__table__, dossier_rows[0])  # type: ignore[arg-type]
            _check_row(RefuserLine.__table__, line_rows[0])  # type: ignore[arg-type]
        with db.engine.begin() as conn:
            conn.execute(insert(dossiers_table), dossier_rows)
            conn.execute(insert(lines_table), line_rows)
        written_lines += len(line_rows)
        done = start + len(dossier_rows)
        if done == count or (done // batch_size) % 10 == 0:
            elapsed = time.perf_counter() - began
            say(f"  {done:>10_} dossiers, {written_lines:>10_} lines, {elapsed:7.1f} s")
    with db.transaction() as session:
        for year, value in sorted(generator.counters.items()):
            counter = session.get(DossierCounter, year)
            if counter is None:
                session.add(DossierCounter(year=year, last_value=value))
            else:
                counter.last_value = max(counter.last_value, value)
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            for name in ("dossiers", "refuser_lines"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT max(id) FROM {name}))"
                    )
                )
    return time.perf_counter() - began


def report_count(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count(ReportModel.id))) or 0)


def fill_reports(db: Database, ref: Reference, count: int, *, seed: int, batch_size: int) -> float:
    """Write ``count`` « fonctionnement non conforme » reports, as ``reports.declare``,
    ``answer`` and ``withdraw`` would; returns the seconds taken."""
    began = time.perf_counter()
    with db.read() as session:
        first_id = int(session.scalar(select(func.max(ReportModel.id))) or 0) + 1
        counters = dict(session.execute(select(ReportCounter.year, ReportCounter.last_value)).all())
        kinds = session.execute(
            select(ReportType.id, ReportType.label).where(ReportType.active.is_(True))
        ).all()
    rng = random.Random(seed + 1)
    generator = Generator(ref, datetime.now(UTC).replace(tzinfo=None), rng, 0, 0)
    schedule = generator.schedule(count)
    kind = Weighted(
        [k for k, _ in kinds], [REPORT_TYPE_WEIGHTS.get(label, 1) for _, label in kinds]
    )
    table = _plain(ReportModel.__table__)  # type: ignore[arg-type]
    now = generator.now
    next_id = first_id
    for start in range(0, count, batch_size):
        rows: list[dict[str, Any]] = []
        for declared, occurred in schedule[start : start + batch_size]:
            declaring = generator.requester.pick(rng)
            specialty = generator.specialty.pick(rng)
            holders = [e for e in generator.holder_lists.get(specialty, ()) if e != declaring]
            concerned = declaring
            if holders and rng.random() < HOLDER_FIRST:
                concerned = rng.choice(holders)
            while concerned == declaring:
                concerned = generator.refuser.pick(rng)
            in_pdses, day, weekday, hour = generator.hour_facts[occurred.replace(minute=0)]
            year = generator.years[bisect.bisect_right(generator.year_starts, declared) - 1]
            counters[year] = counters.get(year, 0) + 1
            impact = rng.random() < REPORT_IMPACT_SHARE
            state, answered, withdrawn = ReportState.AWAITING.value, None, None
            if rng.random() < REPORT_WITHDRAWN_SHARE:
                state = ReportState.WITHDRAWN.value
                withdrawn = min(declared + timedelta(hours=rng.uniform(0.1, 12)), now)
            elif rng.random() < REPORT_ANSWER_SHARE:
                delay = min(rng.lognormvariate(math.log(30), 1.2), 24 * 60)
                answered = declared + timedelta(hours=max(delay, 0.1))
                if answered > now:
                    answered = None
                else:
                    state = ReportState.ANSWERED.value
            rows.append(
                {
                    "id": next_id,
                    "number": f"F-{year}-{counters[year]:06d}",
                    "state": state,
                    "version": 1,
                    "declaring_establishment_id": declaring,
                    "concerned_establishment_id": concerned,
                    "specialty_id": specialty,
                    "report_type_id": kind.pick(rng),
                    "occurred_at": occurred,
                    "in_pdses_hours": in_pdses,
                    "occurred_day": day,
                    "occurred_weekday": weekday,
                    "occurred_hour": hour,
                    "is_line_holder": concerned in ref.holders.get(specialty, ()),
                    "description": rng.choice(REPORT_DESCRIPTIONS),
                    "impact": impact,
                    "impact_description": rng.choice(IMPACT_TEXTS) if impact else None,
                    "analysis": rng.choice(COMMENTS) if answered else None,
                    "corrective_measures": rng.choice(COMMENTS) if answered else None,
                    "answered_at": answered,
                    "answered_by_id": ref.referent.get(concerned) if answered else None,
                    "created_by_id": ref.referent[declaring],
                    "created_at": declared,
                    "updated_at": answered or withdrawn or declared,
                    "reminded_at": None,
                    "impact_notified_at": declared if impact else None,
                    "withdrawn_at": withdrawn,
                    "creation_token": f"{rng.getrandbits(128):032x}",
                }
            )
            next_id += 1
        if start == 0:
            _check_row(ReportModel.__table__, rows[0])  # type: ignore[arg-type]
        with db.engine.begin() as conn:
            conn.execute(insert(table), rows)
    with db.transaction() as session:
        for year, value in sorted(counters.items()):
            counter = session.get(ReportCounter, year)
            if counter is None:
                session.add(ReportCounter(year=year, last_value=value))
            else:
                counter.last_value = max(counter.last_value, value)
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('reports', 'id'), "
                    "(SELECT max(id) FROM reports))"
                )
            )
    return time.perf_counter() - began


@dataclass
class Filled:
    """What ``populate`` wrote (zero when the data was already there)."""

    dossiers: int = 0
    lines: int = 0
    reports: int = 0
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return (self.dossiers + self.lines) / self.seconds if self.seconds else 0.0


def populate(
    db: Database,
    ref: Reference,
    dossiers: int,
    reports: int,
    *,
    seed: int,
    batch_size: int,
    reuse: bool,
) -> Filled:
    """Write the dossiers and reports, unless (``reuse``) the database already holds them."""
    filled = Filled()
    present = dossier_count(db)
    if reuse and present >= dossiers:
        say(f"Reusing the {present:_} dossiers already there (--reuse): no filling")
    else:
        if present:
            raise SystemExit(
                f"The database already holds {present:_} dossiers (fewer than "
                f"{dossiers:_}): use a fresh database."
            )
        say(f"Filling {dossiers:_} dossiers in batches of {batch_size:_}…")
        seconds = fill(db, ref, dossiers, seed=seed, batch_size=batch_size)
        with db.read() as session:
            lines = int(session.scalar(select(func.count(RefuserLine.id))) or 0)
        filled = Filled(dossiers, lines, 0, seconds)
        say(
            f"Fill: {dossiers:_} dossiers + {lines:_} refuser lines in {seconds:.1f} s "
            f"({dossiers / seconds:_.0f} dossiers/s, {filled.rows_per_second:_.0f} rows/s)"
        )
    present_reports = report_count(db)
    if present_reports:
        say(f"Reports: {present_reports:_} already there: no filling")
    elif reports:
        seconds = fill_reports(db, ref, reports, seed=seed, batch_size=batch_size)
        filled.reports = reports
        say(f"Fill: {reports:_} reports in {seconds:.1f} s")
    return filled


def analyse(db: Database, *, sqlite_too: bool) -> float:
    began = time.perf_counter()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    elif sqlite_too:
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - began


# --- timings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    username: str
    perspective: Perspective


CASES = (
    Case("coordinateur/demandeur", "bench-coordinateur", Perspective.REQUESTER),
    Case("coordinateur/refuseur", "bench-coordinateur", Perspective.REFUSER),
    Case("ARS/région", "bench-ars", Perspective.REGIONAL),
    Case(f"ARS/{ARS_DEPARTEMENT}", "bench-ars-91", Perspective.REGIONAL),
)


def aggregates(perspective: Perspective) -> list[tuple[str, Callable[..., Any]]]:
    """Each aggregate of ``statistics.aggregate_rows`` for this perspective, alone in its
    statement (with the scope it reads): the page sends them all in one."""
    return [
        (
            f"aggregate {kind}",
            lambda session, scope, filters, kind=kind: stats.aggregate_rows(
                session, scope, filters, (kind,)
            ),
        )
        for kind in stats.AGGREGATES[perspective]
    ]


class Report:
    HEADER = f"{'perspective':<24} {'filter':<22} {'measure':<34} {'run 1 ms':>10} {'best ms':>10}"

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, float, float, str]] = []

    def header(self) -> None:
        say(self.HEADER)
        say("-" * len(self.HEADER))

    def add(self, case: str, label: str, measure: str, times: list[float], note: str = "") -> None:
        first, best = times[0] * 1000, min(times) * 1000
        self.rows.append((case, label, measure, first, best, note))
        suffix = f"  {note}" if note else ""
        say(f"{case:<24} {label:<22} {measure:<34} {first:>10.1f} {best:>10.1f}{suffix}")


def timed(repeat: int, run: Callable[[], Any]) -> tuple[Any, list[float]]:
    times = []
    result = None
    for _ in range(repeat):
        began = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - began)
    return result, times


def _in_session(db: Database, helper: Callable[..., Any], scope: Any, filters: Any) -> Any:
    with db.read() as session:
        return helper(session, scope, filters)


def _count_in_scope(session: Any, scope: Any, filters: Any) -> int:
    return int(session.scalar(stats.refusals_query(scope, filters, func.count())) or 0)


def _cold(run: Callable[[], Any]) -> Any:
    """``run`` with the statistics cache emptied first."""
    stats.clear_cache()
    return run()


def page(db: Database, actor: Actor, perspective: Perspective, filters: Any) -> Any:
    """What the statistics page does at each run: its options, the statistics of the
    refusals and of the reports, the monthly series of the charts (the exports' sizes are the
    figures' counts)."""
    stats.options(db, actor)
    result = stats.compute(db, actor, perspective, filters)
    stats.series(result, "mois")
    reports_result = report_statistics.compute(db, actor, perspective, filters)
    report_statistics.series(reports_result, "mois")
    return result


def time_statistics(db: Database, report: Report, repeat: int) -> dict[str, float]:
    """Every aggregate, ``compute`` and the page, per perspective and filter; returns the
    cold page times (best) by case and filter."""
    with db.read() as session:
        specialty_id = session.scalar(
            select(Specialty.id).where(Specialty.label == FILTER_SPECIALTY)
        )
    defaults = stats.default_filters()
    filter_sets = (
        ("12 mois", defaults),
        (f"12 mois + {FILTER_SPECIALTY[:10]}", replace(defaults, specialty_id=specialty_id)),
    )
    pages: dict[str, float] = {}
    for case in CASES:
        actor = load_actor(db, case.username)
        assert actor is not None, case.username
        scope = stats.scope_of(actor, case.perspective)
        for label, filters in filter_sets:
            count, times = timed(1, partial(_in_session, db, _count_in_scope, scope, filters))
            report.add(case.name, label, "count of refusals in scope", times, f"{count:_}")
            for name, helper in aggregates(case.perspective):
                _, times = timed(repeat, partial(_in_session, db, helper, scope, filters))
                report.add(case.name, label, name, times)

            compute = partial(stats.compute, db, actor, case.perspective, filters)
            _, times = timed(repeat, partial(_cold, compute))
            report.add(case.name, label, "compute (cold)", times)
            reports_compute = partial(
                report_statistics.compute, db, actor, case.perspective, filters
            )
            result, times = timed(repeat, partial(_cold, reports_compute))
            note = f"{result.total:_} reports" if result is not None else ""
            report.add(case.name, label, "reports: compute (cold)", times, note)
            _, times = timed(repeat, reports_compute)
            report.add(case.name, label, "reports: compute (warm, cached)", times)
            _, times = timed(repeat, compute)
            report.add(case.name, label, "compute (warm, cached)", times)
            whole_page = partial(page, db, actor, case.perspective, filters)
            _, times = timed(repeat, partial(_cold, whole_page))
            report.add(case.name, label, "page (cold)", times)
            pages[f"{case.name} / {label}"] = min(times) * 1000
            _, times = timed(repeat, whole_page)
            report.add(case.name, label, "page (warm)", times)
    stats.clear_cache()
    return pages


def _export_or_refusal(
    db: Database, actor: Actor, perspective: Perspective, filters: Any
) -> tuple[str, list[exports.ExportTable] | None]:
    """The export's tables, or why it is refused (beyond ``exports.MAX_EXPORT_ROWS``)."""
    try:
        tables = exports.export_tables(db, actor, perspective, filters)
    except ValidationError as exc:
        return "refused: " + "; ".join(e.message for e in exc.errors), None
    return "rows: " + ", ".join(f"{t.name} {len(t.rows):_}" for t in tables), tables


def _previous_month(today: date) -> tuple[date, date]:
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def time_exports(db: Database, report: Report, repeat: int) -> None:
    with db.read() as session:
        specialty_id = session.scalar(
            select(Specialty.id).where(Specialty.label == FILTER_SPECIALTY)
        )
    defaults = stats.default_filters()
    start, end = _previous_month(defaults.end)
    narrow = stats.StatsFilters(start=start, end=end, specialty_id=specialty_id)
    narrow_label = f"{start:%m/%Y} + {FILTER_SPECIALTY[:10]}"
    for case in CASES:
        actor = load_actor(db, case.username)
        assert actor is not None
        tables, times = timed(
            repeat, partial(exports.export_tables, db, actor, case.perspective, narrow)
        )
        rows = ", ".join(f"{t.name} {len(t.rows):_}" for t in tables)
        report.add(case.name, narrow_label, "export_tables", times, f"rows: {rows}")
        for table in tables:
            data, times = timed(repeat, partial(exports.to_csv, table))
            report.add(
                case.name, narrow_label, f"to_csv ({table.name})", times, f"{len(data):_} bytes"
            )
        report_table, times = timed(
            repeat, partial(exports.report_table, db, actor, case.perspective, narrow)
        )
        report.add(
            case.name,
            narrow_label,
            "reports: report_table",
            times,
            f"rows: {len(report_table.rows):_}",
        )
        tables = [*tables, report_table]
        data, times = timed(repeat, partial(exports.to_xlsx, tables, title="bench"))
        report.add(case.name, narrow_label, "to_xlsx (all sheets)", times, f"{len(data):_} bytes")

        (outcome, tables), times = timed(
            1, partial(_export_or_refusal, db, actor, case.perspective, defaults)
        )
        report.add(case.name, "12 mois", "export_tables", times, outcome)
        if tables:
            for table in tables:
                data, times = timed(1, partial(exports.to_csv, table))
                report.add(
                    case.name, "12 mois", f"to_csv ({table.name})", times, f"{len(data):_} bytes"
                )


# --- query plans ------------------------------------------------------------------------------


@contextmanager
def captured(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements (and their parameters) sent to the database meanwhile."""
    statements: list[tuple[str, Any]] = []

    def listen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)


def figures_statement(db: Database, actor: Actor, perspective: Perspective) -> tuple[str, Any]:
    """The page's single statement, exactly as ``statistics.aggregate_rows`` sends it."""
    scope = stats.scope_of(actor, perspective)
    with captured(db) as statements, db.read() as session:
        stats.aggregate_rows(session, scope, stats.default_filters())
    # The last one: on PostgreSQL a look-up of the period's dossier numbers comes first.
    return [(s, p) for s, p in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))][-1]


def query_plan(db: Database, statement: str, parameters: Any) -> list[str]:
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "postgresql":
            rows = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters).all()
            return [str(r[0]) for r in rows]
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    depth: dict[int, int] = {0: -1}
    lines = []
    for node, parent, _, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + str(detail))
    return lines


def print_plans(db: Database) -> None:
    engine = db.engine.dialect.name
    kind = "EXPLAIN (ANALYZE, BUFFERS)" if engine == "postgresql" else "EXPLAIN QUERY PLAN"
    for case in CASES:
        actor = load_actor(db, case.username)
        assert actor is not None
        statement, parameters = figures_statement(db, actor, case.perspective)
        say(f"\n{kind} of the figures query, {case.name}, 12 mois ({engine}):")
        for line in query_plan(db, statement, parameters):
            say("   ", line)


# --- main ---------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    target = prepare_database(args.database_url, reuse=args.reuse)
    say(f"Database: {target.description}")
    db: Database | None = None
    try:
        began = time.perf_counter()
        upgrade(target.url)
        db = Database(target.url)
        ref = load_reference(db)
        engine = db.engine.dialect.name
        server = ""
        with db.engine.connect() as conn:
            server = str(
                conn.scalar(
                    text(
                        "SELECT version()" if engine == "postgresql" else "SELECT sqlite_version()"
                    )
                )
            )
        say(f"Engine: {engine} {server.split(' on ')[0]}")
        say(f"Migrated, reference data and accounts in {time.perf_counter() - began:.1f} s")
        populate(
            db,
            ref,
            args.dossiers,
            args.reports,
            seed=args.seed,
            batch_size=args.batch_size,
            reuse=args.reuse,
        )
        say(f"Data: {data_profile(db)}")
        seconds = analyse(db, sqlite_too=args.analyze)
        if engine == "postgresql" or args.analyze:
            say(f"ANALYZE: {seconds:.1f} s")
        for statement in args.sql:
            began = time.perf_counter()
            with db.engine.begin() as conn:
                conn.execute(text(statement))
            say(f"--sql ({time.perf_counter() - began:.1f} s): {statement}")
        if args.sql:
            analyse(db, sqlite_too=args.analyze)

        report = Report()
        say(f"\nTimings ({engine}, {dossier_count(db):_} dossiers, best of {args.repeat}):")
        report.header()
        pages = time_statistics(db, report, args.repeat)
        time_exports(db, report, args.repeat)
        if not args.no_explain:
            print_plans(db)
        slowest = max(pages, key=lambda k: pages[k])
        verdict = "OK" if pages[slowest] <= args.budget_ms else "TOO SLOW"
        say(
            f"\nSlowest cold page: {slowest}: {pages[slowest]:.0f} ms "
            f"(budget {args.budget_ms:.0f} ms): {verdict}"
        )
    finally:
        if db is not None:
            db.dispose()
        if args.keep or args.reuse:
            say(f"Kept: {target.description}")
        else:
            target.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
