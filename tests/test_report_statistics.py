"""Statistics of the « fonctionnement non conforme » reports (SPEC §9, §10): every figure and
grouping of ``report_statistics.compute`` checked against a hand count, for each perspective,
with the refusals' scope, blindness, filters and cache.

The registry (Paris times; the period is March 2026; ``ref`` holds the neurosurgery line, so
a report about ``ref`` in neurosurgery concerns the line holder). Each report is declared 30
minutes after the event and answered ``answer`` hours after its declaration:

====  =====================  ========  =========  =========  ====================  ======  ======
name  occurred (Paris)       declarer  concerned  specialty  type                  impact  answer
====  =====================  ========  =========  =========  ====================  ======  ======
r1    Sun 01/03 00:30 (CET)  req       ref        Neuro      Ligne injoignable     yes     2 h
r2    Tue 10/03 14:00 *      req       other      ORL        Absence de praticien  no      10 h
r3    Sun 29/03 03:30 (CEST) req       ref        Neuro      Ligne injoignable     yes     —
r4    Tue 31/03 23:30 (CEST) req       paris      Neuro      Délai de rappel       no      4 h
r5    Fri 20/03 10:00 *      ref       other      Viscérale  Plateau technique     yes     3 h
r9    Thu 12/03 21:00        paris     req        ORL        Réorientation         yes     6 h
r6    Wed 01/04 00:30        req       ref        outside the period (UTC: 31/03 22:30)
r7    Sat 28/02 23:30        req       ref        outside the period (UTC: 28/02 22:30)
r8    Sun 15/03 12:00        req       ref        withdrawn: never counted
====  =====================  ========  =========  =========  ====================  ======  ======

``*``: outside PDSES hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event

from registre import report_statistics, reports, statistics
from registre.errors import PermissionDenied, ValidationError
from registre.models import Role
from registre.permissions import Perspective
from registre.report_statistics import series
from registre.reports import ReportAnswerInput
from registre.statistics import StatsFilters
from registre.timeutil import as_utc

from .factories import at
from .test_statistics import NAME, NEURO, ORL, VISC, assert_figures, d, rows

REQUESTER, REFUSER, REGIONAL = Perspective.REQUESTER, Perspective.REFUSER, Perspective.REGIONAL
PERIOD = StatsFilters(start=date(2026, 3, 1), end=date(2026, 3, 31))

INJ = "Ligne injoignable"
PRAT = "Absence de praticien d'astreinte"
DELAI = "Délai de rappel excessif"
PLAT = "Plateau technique indisponible"
REOR = "Réorientation inappropriée"
AUTRE = "Autre"


@dataclass
class Made:
    id: int
    number: str
    declared_at: datetime  # UTC


def make_report(
    world,
    clock,
    *,
    when: datetime,
    by: str = "coordinateur_req",
    concerned: str = "ref",
    specialty: str = NEURO,
    kind: str = INJ,
    impact: bool = False,
    answer_hours: float | None = None,
    answered_by=None,
    withdrawn: bool = False,
    accounts: dict | None = None,
    **extra,
) -> Made:
    """A report of the event at ``when`` (Paris), declared 30 minutes later by ``by`` (a
    world actor's name or an ``Actor``), answered ``answer_hours`` after by ``answered_by``."""
    declared_at = as_utc(when) + timedelta(minutes=30)
    clock.set(declared_at)
    declarer = world.actor(by) if isinstance(by, str) else by
    values = {
        "occurred_at": when,
        "specialty_id": world.specialty[specialty],
        "report_type_id": world.report_type[kind],
        "impact": impact,
        "impact_description": "Transfert retardé de deux heures" if impact else None,
        **extra,
    }
    ref = reports.declare(world.db, declarer, world.report_input(concerned, **values))
    if answer_hours is not None:
        clock.set(declared_at + timedelta(hours=answer_hours))
        reports.answer(
            world.db,
            answered_by,
            ref.id,
            ReportAnswerInput(
                analysis="Astreinte joignable par le standard seulement.",
                corrective_measures="Numéro direct communiqué au territoire.",
            ),
        )
    if withdrawn:
        clock.set(declared_at + timedelta(hours=1))
        reports.withdraw(world.db, declarer, ref.id, "Erreur sur l'établissement concerné")
    return Made(ref.id, ref.number, declared_at)


def build_reports(world, clock) -> dict[str, Made]:
    other = world.add_account("coordinateur-other", Role.COORDINATEUR, "other")
    paris = world.add_account("coordinateur-paris", Role.COORDINATEUR, "paris")
    ref = world.actor("referent_ref")
    req = world.actor("referent_req")
    return {
        "r1": make_report(
            world,
            clock,
            when=at(2026, 3, 1, 0, 30),
            impact=True,
            answer_hours=2,
            answered_by=ref,
        ),
        "r2": make_report(
            world,
            clock,
            when=at(2026, 3, 10, 14, 0),
            concerned="other",
            specialty=ORL,
            kind=PRAT,
            answer_hours=10,
            answered_by=other,
        ),
        "r3": make_report(world, clock, when=at(2026, 3, 29, 3, 30), impact=True),
        "r4": make_report(
            world,
            clock,
            when=at(2026, 3, 31, 23, 30),
            concerned="paris",
            kind=DELAI,
            answer_hours=4,
            answered_by=paris,
        ),
        "r5": make_report(
            world,
            clock,
            when=at(2026, 3, 20, 10, 0),
            by="coordinateur_ref",
            concerned="other",
            specialty=VISC,
            kind=PLAT,
            impact=True,
            answer_hours=3,
            answered_by=other,
        ),
        "r9": make_report(
            world,
            clock,
            when=at(2026, 3, 12, 21, 0),
            by=paris,
            concerned="req",
            specialty=ORL,
            kind=REOR,
            impact=True,
            answer_hours=6,
            answered_by=req,
        ),
        "r6": make_report(world, clock, when=at(2026, 4, 1, 0, 30)),
        "r7": make_report(world, clock, when=at(2026, 2, 28, 23, 30)),
        "r8": make_report(world, clock, when=at(2026, 3, 15, 12, 0), kind=AUTRE, withdrawn=True),
    }


@pytest.fixture
def registry(world, clock):
    return build_reports(world, clock)


# --- the expected numbers, computed by hand ----------------------------------------------------

REQ_AS_DECLARER = {
    "figures": {
        "reports": 4,
        "answer_rate": 0.75,
        "median_answer_hours": 4.0,  # 2, 4, 10
        "holder_share": 0.5,
        "outside_pdses_share": 0.25,
        "impact_share": 0.5,
    },
    "daily": [(d(3, 1), NEURO, 1), (d(3, 10), ORL, 1), (d(3, 29), NEURO, 1), (d(3, 31), NEURO, 1)],
    "week": [(d(2, 23), NEURO, 1), (d(3, 9), ORL, 1), (d(3, 23), NEURO, 1), (d(3, 30), NEURO, 1)],
    "month": [(d(3, 1), NEURO, 3), (d(3, 1), ORL, 1)],
    "types": [(INJ, 2), (PRAT, 1), (DELAI, 1)],
    "specialties": [(NEURO, 3), (ORL, 1)],
    "concerned": [
        (NAME["ref"], 2, 2, "Oui"),
        (NAME["other"], 1, 0, "Non"),
        (NAME["paris"], 1, 0, "Non"),
    ],
    "declaring": None,
}

REF_AS_CONCERNED = {
    "figures": {
        "reports": 2,
        "answer_rate": 0.5,
        "median_answer_hours": 2.0,
        "holder_share": 1.0,
        "outside_pdses_share": 0.0,
    },
    "daily": [(d(3, 1), NEURO, 1), (d(3, 29), NEURO, 1)],
    "week": [(d(2, 23), NEURO, 1), (d(3, 23), NEURO, 1)],
    "month": [(d(3, 1), NEURO, 2)],
    "types": [(INJ, 2)],
    "specialties": [(NEURO, 2)],
    "concerned": None,
    "declaring": [(NAME["req"], 2)],
}

REF_AS_DECLARER = {
    "figures": {
        "reports": 1,
        "answer_rate": 1.0,
        "median_answer_hours": 3.0,
        "holder_share": 0.0,
        "outside_pdses_share": 1.0,
        "impact_share": 1.0,
    },
    "daily": [(d(3, 20), VISC, 1)],
    "week": [(d(3, 16), VISC, 1)],
    "month": [(d(3, 1), VISC, 1)],
    "types": [(PLAT, 1)],
    "specialties": [(VISC, 1)],
    "concerned": [(NAME["other"], 1, 0, "Non")],
    "declaring": None,
}

REQ_AS_CONCERNED = {
    "figures": {
        "reports": 1,
        "answer_rate": 1.0,
        "median_answer_hours": 6.0,
        "holder_share": 0.0,
        "outside_pdses_share": 0.0,  # a Thursday at 21:00: a PDSES night
    },
    "daily": [(d(3, 12), ORL, 1)],
    "week": [(d(3, 9), ORL, 1)],
    "month": [(d(3, 1), ORL, 1)],
    "types": [(REOR, 1)],
    "specialties": [(ORL, 1)],
    "concerned": None,
    "declaring": [(NAME["paris"], 1)],
}

REGION = {
    "figures": {
        "reports": 6,
        "answer_rate": 5 / 6,
        "median_answer_hours": 4.0,  # 2, 3, 4, 6, 10
        "holder_share": 2 / 6,
        "outside_pdses_share": 2 / 6,
        "impact_share": 4 / 6,
    },
    "daily": [
        (d(3, 1), NEURO, 1),
        (d(3, 10), ORL, 1),
        (d(3, 12), ORL, 1),
        (d(3, 20), VISC, 1),
        (d(3, 29), NEURO, 1),
        (d(3, 31), NEURO, 1),
    ],
    "week": [
        (d(2, 23), NEURO, 1),
        (d(3, 9), ORL, 2),
        (d(3, 16), VISC, 1),
        (d(3, 23), NEURO, 1),
        (d(3, 30), NEURO, 1),
    ],
    "month": [(d(3, 1), VISC, 1), (d(3, 1), NEURO, 3), (d(3, 1), ORL, 2)],
    "types": [(INJ, 2), (PRAT, 1), (DELAI, 1), (PLAT, 1), (REOR, 1)],
    "specialties": [(NEURO, 3), (ORL, 2), (VISC, 1)],
    "concerned": [
        (NAME["other"], 2, 0, "Non"),
        (NAME["ref"], 2, 2, "Oui"),
        (NAME["req"], 1, 0, "Non"),
        (NAME["paris"], 1, 0, "Non"),
    ],
    "declaring": [(NAME["req"], 4), (NAME["ref"], 1), (NAME["paris"], 1)],
}

# ars_75: the reports with Pitié-Salpêtrière on either side: r4 (concerned), r9 (declarer).
REGION_75 = {
    "figures": {
        "reports": 2,
        "answer_rate": 1.0,
        "median_answer_hours": 5.0,  # 4, 6
        "holder_share": 0.0,
        "outside_pdses_share": 0.0,
        "impact_share": 0.5,
    },
    "daily": [(d(3, 12), ORL, 1), (d(3, 31), NEURO, 1)],
    "week": [(d(3, 9), ORL, 1), (d(3, 30), NEURO, 1)],
    "month": [(d(3, 1), NEURO, 1), (d(3, 1), ORL, 1)],
    "types": [(DELAI, 1), (REOR, 1)],
    "specialties": [(NEURO, 1), (ORL, 1)],
    "concerned": [(NAME["req"], 1, 0, "Non"), (NAME["paris"], 1, 0, "Non")],
    "declaring": [(NAME["req"], 1), (NAME["paris"], 1)],
}

CASES = [
    ("coordinateur_req", REQUESTER, REQ_AS_DECLARER),
    ("directeur_req", REQUESTER, REQ_AS_DECLARER),
    ("coordinateur_ref", REFUSER, REF_AS_CONCERNED),
    ("directeur_ref", REFUSER, REF_AS_CONCERNED),
    ("coordinateur_ref", REQUESTER, REF_AS_DECLARER),
    ("coordinateur_req", REFUSER, REQ_AS_CONCERNED),
    ("ars", REGIONAL, REGION),
    ("ars_75", REGIONAL, REGION_75),
]


def compute(world, name: str, perspective: Perspective, filters: StatsFilters = PERIOD):
    return report_statistics.compute(world.db, world.actor(name), perspective, filters)


@pytest.mark.parametrize(
    ("name", "perspective", "expected"),
    CASES,
    ids=[f"{name}-{perspective.value}" for name, perspective, _ in CASES],
)
def test_every_figure_and_grouping_matches_the_hand_count(
    world, registry, name, perspective, expected
):
    stats = compute(world, name, perspective)
    assert stats.perspective is perspective
    assert stats.filters == PERIOD
    assert_figures(stats, expected["figures"])
    assert stats.total == expected["figures"]["reports"]
    assert list(stats.daily.columns) == ["Jour", "Spécialité", "Signalements"]
    assert rows(stats.daily) == expected["daily"]
    assert rows(series(stats, "semaine")) == expected["week"]
    assert rows(series(stats, "mois")) == expected["month"]
    assert list(series(stats, "mois").columns) == ["Période", "Spécialité", "Signalements"]
    assert rows(stats.types) == expected["types"]
    assert list(stats.types.columns) == ["Type de dysfonctionnement", "Signalements"]
    assert rows(stats.specialties) == expected["specialties"]
    for grouping in ("concerned", "declaring"):
        frame = getattr(stats, grouping)
        if expected[grouping] is None:
            assert frame is None, grouping
        else:
            assert rows(frame) == expected[grouping], grouping
    for frame in (stats.daily, stats.types, stats.specialties):
        assert int(frame["Signalements"].sum()) == stats.total


def test_units_labels_and_titles(world, registry):
    declarer = compute(world, "coordinateur_req", REQUESTER)
    assert {f.key: f.unit for f in declarer.figures} == {
        "reports": "count",
        "answer_rate": "share",
        "median_answer_hours": "hours",
        "holder_share": "share",
        "outside_pdses_share": "share",
        "impact_share": "share",
    }
    assert declarer.figure("reports").label == "Signalements déclarés"
    assert list(declarer.concerned.columns) == [
        "Établissement",
        "Signalements",
        "Dont titulaire de la ligne",
        "Titulaire de ligne",
    ]
    concerned = compute(world, "coordinateur_ref", REFUSER)
    assert concerned.figure("reports").label == "Signalements reçus"
    assert concerned.declaring_title == "Établissements qui ont signalé mon établissement"
    assert compute(world, "ars", REGIONAL).figure("reports").label == "Signalements"
    # Distinct from the refusals' figures: the page shows both sections.
    refusals = statistics.compute(world.db, world.actor("ars"), REGIONAL, PERIOD)
    assert not {f.label for f in refusals.figures} & {
        f.label for f in compute(world, "ars", REGIONAL).figures
    }


# --- blindness and scope -----------------------------------------------------------------------


class Statements:
    def __init__(self, db) -> None:
        self.db = db
        self.sql: list[str] = []

    def __enter__(self) -> list[str]:
        event.listen(self.db.engine, "before_cursor_execute", self._listen)
        return self.sql

    def __exit__(self, *exc) -> None:
        event.remove(self.db.engine, "before_cursor_execute", self._listen)

    def _listen(self, _conn, _cursor, statement, *_args) -> None:
        self.sql.append(statement)


@pytest.mark.parametrize("name", ["coordinateur_ref", "directeur_ref"])
def test_the_concerned_establishment_gets_no_impact_figure_it_is_not_even_read(
    world, registry, name
):
    statistics.clear_cache()
    with Statements(world.db) as sql:
        stats = compute(world, name, REFUSER)
    assert "impact_share" not in {f.key for f in stats.figures}
    assert not any("impact" in f.label.lower() or "impact" in f.help for f in stats.figures)
    assert sql and not any("impact" in statement for statement in sql)
    statistics.clear_cache()
    with Statements(world.db) as sql:
        compute(world, name, REQUESTER)
    assert any("impact" in statement for statement in sql)  # the declarer's own


def test_computed_by_the_database_in_one_statement_never_reading_the_rows(world, registry):
    statistics.clear_cache()
    with Statements(world.db) as sql:
        compute(world, "ars", REGIONAL)
    reads = [s for s in sql if "reports" in s]
    assert len(reads) == 1
    assert "GROUP BY" in reads[0] and "UNION ALL" in reads[0]
    assert not any("description" in s or "analysis" in s for s in sql)


def test_an_establishment_sees_none_of_the_reports_of_others(world, registry):
    """``other`` is concerned by r2 and r5 only; ``ref`` declared r5 only."""
    other = world.add_account("directeur-other", Role.DIRECTEUR, "other")
    stats = report_statistics.compute(world.db, other, REFUSER, PERIOD)
    assert stats.total == 2
    assert rows(stats.declaring) == [(NAME["req"], 1), (NAME["ref"], 1)]
    assert report_statistics.compute(world.db, other, REQUESTER, PERIOD).total == 0


@pytest.mark.parametrize("name", ["declarant_req", "referent_req", "referent_ref", "admin"])
@pytest.mark.parametrize("perspective", list(Perspective))
def test_roles_without_statistics_are_refused(world, name, perspective):
    with pytest.raises(PermissionDenied) as error:
        compute(world, name, perspective)
    assert "statistiques" in error.value.message


@pytest.mark.parametrize(
    ("name", "perspective"),
    [("ars", REQUESTER), ("ars_75", REFUSER), ("coordinateur_req", REGIONAL)],
)
def test_a_perspective_outside_the_role_is_refused(world, name, perspective):
    with pytest.raises(PermissionDenied) as error:
        compute(world, name, perspective)
    assert error.value.message == "Ce point de vue n'est pas ouvert à votre profil."


# --- what counts, period and filters -----------------------------------------------------------


def total(world, name: str, perspective: Perspective, **filters) -> int:
    values = {"start": PERIOD.start, "end": PERIOD.end, **filters}
    return compute(world, name, perspective, StatsFilters(**values)).total


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # r1 (01/03 00:30 Paris, still 28/02 in UTC) counts; r7 (28/02 23:30 Paris) does not.
        (d(3, 1), d(3, 1), 1),
        (d(2, 28), d(2, 28), 1),
        # r4 (31/03 23:30 Paris) is on the last day; r6 (01/04 00:30 Paris, 31/03 in UTC) not.
        (d(3, 31), d(3, 31), 1),
        (d(4, 1), d(4, 1), 1),
        (d(3, 1), d(3, 30), 3),
        # The withdrawn r8 is never counted.
        (d(3, 15), d(3, 15), 0),
        (d(2, 1), d(4, 30), 6),
    ],
)
def test_the_period_is_made_of_paris_days_end_day_included(world, registry, start, end, expected):
    assert total(world, "coordinateur_req", REQUESTER, start=start, end=end) == expected


def test_withdrawn_reports_are_never_counted(world, registry):
    wide = {"start": d(2, 1), "end": d(4, 30)}
    assert total(world, "ars", REGIONAL, **wide) == 8  # all but r8
    assert total(world, "coordinateur_ref", REFUSER, **wide) == 4  # r1, r3, r6, r7
    reports.withdraw(
        world.db, world.actor("coordinateur_req"), registry["r3"].id, "Signalé par erreur"
    )
    assert total(world, "coordinateur_ref", REFUSER, **wide) == 4  # cached for a minute
    statistics.clear_cache()  # also empties the reports' cache
    assert total(world, "coordinateur_ref", REFUSER, **wide) == 3
    assert total(world, "ars", REGIONAL, **wide) == 7


def test_filters_specialty_establishments_and_line_holders(world, registry):
    assert total(world, "ars", REGIONAL, specialty_id=world.specialty[NEURO]) == 3
    assert total(world, "ars", REGIONAL, specialty_id=world.specialty[ORL]) == 2
    assert total(world, "coordinateur_req", REQUESTER, specialty_id=world.specialty[ORL]) == 1
    # « Etablissement demandeur »: the declaring one; « Etablissement refuseur »: the concerned.
    assert total(world, "ars", REGIONAL, requesting_establishment_id=world.est["ref"]) == 1
    assert total(world, "ars", REGIONAL, requesting_establishment_id=world.est["paris"]) == 1
    assert total(world, "ars", REGIONAL, refusing_establishment_id=world.est["other"]) == 2
    assert total(world, "ars", REGIONAL, refusing_establishment_id=world.est["ref"]) == 2
    assert (
        total(
            world,
            "ars",
            REGIONAL,
            specialty_id=world.specialty[NEURO],
            refusing_establishment_id=world.est["ref"],
        )
        == 2
    )
    # Line holders only: the reports about the establishment holding the line.
    assert total(world, "ars", REGIONAL, line_holders_only=True) == 2
    assert total(world, "coordinateur_req", REQUESTER, line_holders_only=True) == 2
    assert total(world, "coordinateur_ref", REFUSER, line_holders_only=True) == 2
    assert total(world, "coordinateur_ref", REQUESTER, line_holders_only=True) == 0
    holders = compute(
        world,
        "ars",
        REGIONAL,
        StatsFilters(start=PERIOD.start, end=PERIOD.end, line_holders_only=True),
    )
    assert holders.figure("holder_share").value == 1.0
    assert rows(holders.concerned) == [(NAME["ref"], 2, 2, "Oui")]


def test_the_departement_filter_is_that_of_the_other_side(world, registry):
    """Declarer and ARS: the concerned establishment's; concerned: the declarer's."""
    assert total(world, "ars", REGIONAL, departement="94") == 2  # r1, r3 about ref
    assert total(world, "ars", REGIONAL, departement="91") == 1  # r9 about req
    assert total(world, "coordinateur_req", REQUESTER, departement="75") == 1  # r4
    assert total(world, "coordinateur_req", REQUESTER, departement="91") == 0
    assert total(world, "coordinateur_ref", REFUSER, departement="91") == 2  # by req
    assert total(world, "coordinateur_ref", REFUSER, departement="75") == 0
    assert total(world, "coordinateur_req", REFUSER, departement="75") == 1  # r9 by paris


def test_a_period_that_ends_before_it_starts_is_refused(world):
    with pytest.raises(ValidationError) as error:
        compute(world, "ars", REGIONAL, StatsFilters(start=d(3, 2), end=d(3, 1)))
    assert [e.field for e in error.value.errors] == ["period"]


def test_results_are_cached_per_scope_and_filters(world, clock):
    """Like the refusals: a minute per (scope, filters); ``statistics.clear_cache`` forgets
    the reports' results too."""
    make_report(world, clock, when=at(2026, 3, 5, 21, 0))
    assert total(world, "ars", REGIONAL) == 1
    make_report(world, clock, when=at(2026, 3, 6, 21, 0))
    assert total(world, "ars", REGIONAL) == 1
    assert total(world, "ars", REGIONAL, specialty_id=world.specialty[NEURO]) == 2  # other key
    assert total(world, "coordinateur_ref", REFUSER) == 2
    statistics.clear_cache()
    assert total(world, "ars", REGIONAL) == 2


def test_the_median_of_a_single_delay_is_that_delay(world, clock):
    make_report(
        world,
        clock,
        when=at(2026, 3, 5, 21, 0),
        answer_hours=1.75,
        answered_by=world.actor("referent_ref"),
    )
    stats = compute(world, "ars", REGIONAL)
    assert stats.figure("median_answer_hours").value == pytest.approx(1.75, abs=1e-4)
    assert stats.figure("answer_rate").value == 1.0


def test_no_report_gives_empty_groupings_and_no_rate(world):
    stats = compute(world, "ars", REGIONAL)
    assert_figures(
        stats,
        {
            "reports": 0,
            "answer_rate": None,
            "median_answer_hours": None,
            "holder_share": None,
            "outside_pdses_share": None,
            "impact_share": None,
        },
    )
    assert stats.total == 0
    for frame in (stats.daily, stats.types, stats.specialties, stats.concerned, stats.declaring):
        assert frame is not None and frame.empty
    assert series(stats, "semaine").empty
    assert list(series(stats, "mois").columns) == ["Période", "Spécialité", "Signalements"]


def test_no_cache_when_its_duration_is_zero():
    """``REGISTRE_STATISTICS_CACHE_SECONDS=0``: every page computes afresh (the benchmark's
    uncached page); a positive duration keeps the result."""
    cache = statistics._TTLCache(0)
    calls: list[int] = []
    assert cache.get_or_compute("k", lambda: calls.append(1) or len(calls)) == 1
    assert cache.get_or_compute("k", lambda: calls.append(1) or len(calls)) == 2
    kept = statistics._TTLCache(60)
    assert kept.get_or_compute("k", lambda: 1) == 1
    assert kept.get_or_compute("k", lambda: 2) == 1
    assert statistics.cache_seconds() == 60  # the tests' environment sets none
