"""Statistics (SPEC §10): figures and chart data, computed by the database.

Every number is a ``GROUP BY`` or an aggregate over the refusals in scope; only aggregated
rows come back to Python (a few thousand at most, whatever the size of the registry).

What counts: a refusal is a refuser line that has been sent to its establishment (the
dossier was finalised at least once) and not removed; the period is that of the request
(« Date et heure de la demande », Paris time). A dossier counts when one of its refusals
does. This is what each side sees in its own lists, so the requester's, the refuser's and
the ARS's numbers agree.

Who sees what (``permissions.can_view_statistics``):
- requester perspective: the establishment's own dossiers, with every requester-side field
  and, for each refuser, whether and when it answered, never its answer;
- refuser perspective: the refusals addressed to the establishment, cut as in SPEC §5 (the
  call's identity and its own answer: no requester motif, impact, destination, nor the
  other refusers of a dossier);
- regional perspective (ARS): both sides of every dossier in its départements.
The cut is made here, in the queries: a figure or a chart that a perspective may not see
is not computed for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import (
    Float,
    Interval,
    Select,
    String,
    case,
    cast,
    distinct,
    extract,
    func,
    literal,
    null,
    or_,
    select,
    true,
    tuple_,
    type_coerce,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from registre.actors import Actor
from registre.auth import fresh_actor
from registre.config import load_settings
from registre.db import Database
from registre.errors import PermissionDenied, ValidationError
from registre.models import (
    Dossier,
    Establishment,
    FinalDestination,
    LineState,
    RefusalMotif,
    RefuserLine,
    Specialty,
)
from registre.permissions import (
    SENT_LINE_STATES,
    Perspective,
    can_view_statistics,
    statistics_perspectives,
)
from registre.queries import Choice
from registre.timeutil import as_utc, now, to_paris

TOP_ESTABLISHMENTS = 20
WEEKDAYS = ("Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi", "Samedi", "Dimanche")

PERSPECTIVE_LABELS: dict[Perspective, str] = {
    Perspective.REQUESTER: "Refus essuyés par mon établissement (demandeur)",
    Perspective.REFUSER: "Refus opposés par mon établissement (refuseur)",
    Perspective.REGIONAL: "Vue régionale (demandeurs et refuseurs)",
}


# --- filters ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatsFilters:
    """The page's filters. ``departement`` is that of the other side: the refusing
    establishment (requester and regional perspectives) or the requesting one (refuser
    perspective), so that a refuser learns nothing of a dossier's other refusers."""

    start: date
    end: date
    specialty_id: int | None = None
    departement: str | None = None
    requesting_establishment_id: int | None = None
    refusing_establishment_id: int | None = None
    line_holders_only: bool = False

    def validate(self) -> None:
        if self.start > self.end:
            raise ValidationError.single(
                "period", "La date de début de la période doit précéder sa date de fin."
            )


def default_filters(today: date | None = None) -> StatsFilters:
    """The last 12 months, today included."""
    today = today or to_paris(now()).date()
    try:
        year_ago = today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        year_ago = today.replace(year=today.year - 1, day=28)
    return StatsFilters(start=year_ago + timedelta(days=1), end=today)


def departement_filter_label(perspective: Perspective) -> str:
    if perspective is Perspective.REFUSER:
        return "Département de l'établissement demandeur"
    return "Département de l'établissement refuseur"


# --- scope ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The rows a viewer may count, derived from its account (and the cache's key)."""

    perspective: Perspective
    establishment_id: int | None
    departements: tuple[str, ...]
    specialty_ids: tuple[int, ...]


def scope_of(actor: Actor, perspective: Perspective) -> Scope:
    decision = can_view_statistics(actor, perspective)
    if not decision:
        raise PermissionDenied(decision.reason)
    return Scope(
        perspective=perspective,
        establishment_id=None if perspective is Perspective.REGIONAL else actor.establishment_id,
        departements=tuple(sorted(actor.departements))
        if perspective is Perspective.REGIONAL
        else (),
        specialty_ids=tuple(sorted(actor.specialty_ids)),
    )


def _in_departements(departements: tuple[str, ...]) -> Any:
    return select(Establishment.id).where(Establishment.departement.in_(departements))


def _period(filters: StatsFilters) -> tuple[datetime, datetime]:
    """The period's bounds in UTC: from the start day's midnight to the day after the end."""
    start = as_utc(datetime.combine(filters.start, datetime.min.time()))
    end = as_utc(datetime.combine(filters.end + timedelta(days=1), datetime.min.time()))
    return start, end


def refusal_conditions(scope: Scope, filters: StatsFilters) -> list[ColumnElement[bool]]:
    """WHERE of every statistic and export, over ``RefuserLine`` joined to ``Dossier``."""
    start, end = _period(filters)
    where: list[ColumnElement[bool]] = [
        RefuserLine.removed_at.is_(None),
        RefuserLine.state.in_(SENT_LINE_STATES),  # a refusal counts once sent
        Dossier.requested_at >= start,
        Dossier.requested_at < end,
    ]
    if scope.perspective is Perspective.REQUESTER:
        where.append(Dossier.requesting_establishment_id == scope.establishment_id)
    elif scope.perspective is Perspective.REFUSER:
        where.append(RefuserLine.refusing_establishment_id == scope.establishment_id)
    elif scope.departements:
        # The ARS of some départements: a refusal whose requester or refuser is there (as
        # ``permissions.regional_lines``); a line with both sides outside is not its own.
        ids = _in_departements(scope.departements)
        where.append(
            or_(
                Dossier.requesting_establishment_id.in_(ids),
                RefuserLine.refusing_establishment_id.in_(ids),
            )
        )
    if scope.specialty_ids:
        where.append(Dossier.specialty_id.in_(scope.specialty_ids))
    if filters.specialty_id is not None:
        where.append(Dossier.specialty_id == filters.specialty_id)
    if filters.departement:
        ids = _in_departements((filters.departement,))
        if scope.perspective is Perspective.REFUSER:
            where.append(Dossier.requesting_establishment_id.in_(ids))
        else:
            where.append(RefuserLine.refusing_establishment_id.in_(ids))
    if filters.requesting_establishment_id is not None:
        where.append(Dossier.requesting_establishment_id == filters.requesting_establishment_id)
    if filters.refusing_establishment_id is not None:
        where.append(RefuserLine.refusing_establishment_id == filters.refusing_establishment_id)
    if filters.line_holders_only:
        where.append(RefuserLine.is_line_holder.is_(True))
    return where


def refusals_query(scope: Scope, filters: StatsFilters, *columns: Any) -> Select[Any]:
    return (
        select(*columns)
        .select_from(RefuserLine)
        .join(Dossier, Dossier.id == RefuserLine.dossier_id)
        .where(*refusal_conditions(scope, filters))
    )


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    value: float | None  # None: nothing to measure (no refusal, no answer)
    unit: str  # "count", "ratio", "share" (0–1) or "hours"
    help: str


@dataclass(frozen=True)
class Statistics:
    perspective: Perspective
    filters: StatsFilters
    computed_at: datetime
    figures: tuple[Figure, ...]
    daily: pd.DataFrame  # Jour, Spécialité, Refus
    establishments_title: str
    establishments: pd.DataFrame  # Établissement, Refus, Dont titulaire de la ligne, …
    weekday_hour: pd.DataFrame  # Jour, Heure, Refus (7 × 24, zeros included)
    requester_motifs: pd.DataFrame | None = None  # Motif, Refus
    refuser_motifs: pd.DataFrame | None = None  # Motif, Refus
    concordance: pd.DataFrame | None = None  # Motif du demandeur, Motif du refuseur, Refus
    destinations: pd.DataFrame | None = None  # Destination, Dossiers

    def figure(self, key: str) -> Figure:
        for item in self.figures:
            if item.key == key:
                return item
        raise KeyError(key)


def _share(part: int | None, whole: int | None) -> float | None:
    return None if not whole else (part or 0) / whole


def _hours_between(session: Session, later: Any, earlier: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return extract("epoch", later - earlier) / 3600.0
    return (func.julianday(later) - func.julianday(earlier)) * 24.0


def _figures(
    perspective: Perspective, counts: dict[str, int], median: float | None
) -> tuple[Figure, ...]:
    """The figures a perspective may see, with their French labels and explanations."""
    refusals, dossiers = counts["refusals"], counts["dossiers"]
    impact_dossiers, answered = counts["impact_dossiers"], counts["answered"]
    holders, outside = counts["holders"], counts["outside"]
    requester_side = perspective is not Perspective.REFUSER
    figures: list[Figure] = []
    if requester_side:
        figures.append(
            Figure(
                "dossiers",
                "Dossiers finalisés",
                dossiers,
                "count",
                "Dossiers comptant au moins un refus transmis sur la période (finalisés au "
                "moins une fois, y compris ceux rouverts pour correction).",
            )
        )
    figures.append(
        Figure(
            "refusals",
            "Refus" if requester_side else "Refus reçus",
            refusals,
            "count",
            "Lignes d'établissements refuseurs transmises."
            if requester_side
            else "Refus adressés à votre établissement.",
        )
    )
    if requester_side:
        figures.append(
            Figure(
                "refusals_per_dossier",
                "Refus par dossier",
                refusals / dossiers if dossiers else None,
                "ratio",
                "Nombre moyen d'établissements refuseurs par dossier.",
            )
        )
        figures.append(
            Figure(
                "impact_share",
                "Part avec impact sur la prise en charge",
                _share(impact_dossiers, dossiers),
                "share",
                "Dossiers où « Ce refus a eu un impact sur la prise en charge du patient » "
                "est coché.",
            )
        )
    figures.extend(
        [
            Figure(
                "answer_rate",
                "Taux de réponse des refuseurs"
                if requester_side
                else "Taux de réponse de mon établissement",
                _share(answered, refusals),
                "share",
                "Refus auxquels l'établissement refuseur a répondu.",
            ),
            Figure(
                "median_answer_hours",
                "Délai médian de réponse",
                median,
                "hours",
                "Entre l'envoi du refus à l'établissement refuseur et sa réponse.",
            ),
            Figure(
                "holder_share",
                "Part des refus par le titulaire de la ligne",
                _share(holders, refusals),
                "share",
                "Refus opposés par l'établissement qui tient la ligne PDSES de la spécialité.",
            ),
            Figure(
                "outside_pdses_share",
                "Part hors horaires PDSES",
                _share(outside, refusals),
                "share",
                "Demandes faites en dehors des nuits, week-ends et jours fériés.",
            ),
        ]
    )
    return tuple(figures)


def _part(kind: str, keys: tuple[Any, ...] = (), values: tuple[Any, ...] = ()) -> Any:
    """One row shape for the whole UNION ALL: the aggregate's name, two keys, three values."""
    key_columns = [cast(k, String) for k in keys] + [cast(null(), String)] * (2 - len(keys))
    value_columns = [cast(v, Float) for v in values] + [cast(null(), Float)] * (3 - len(values))
    return select(
        literal(kind, String).label("kind"),
        *(c.label(f"key{i}") for i, c in enumerate(key_columns, 1)),
        *(c.label(f"value{i}") for i, c in enumerate(value_columns, 1)),
    )


def _count_if(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _median_part(delays: Any) -> Any:
    """The ``"median"`` row of ``delays`` (a subquery of one column ``x``): the middle one or
    two values, by a window function (SQLite has no percentile), the same statement on both
    engines. Shared with ``report_statistics``."""
    ranked = select(
        delays.c.x,
        func.row_number().over(order_by=delays.c.x).label("rn"),
        func.count().over().label("n"),
    ).subquery("ranked")
    return _part("median", values=(func.avg(ranked.c.x),)).where(
        ranked.c.rn.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2])
    )


# Which aggregates each perspective may see (blindness: the refuser perspective gets no
# requester-side aggregate, the requester perspective none of the refusers' answers).
AGGREGATES: dict[Perspective, tuple[str, ...]] = {
    Perspective.REQUESTER: (
        "figures",
        "median",
        "daily",
        "establishments",
        "weekday_hour",
        "requester_motifs",
        "destinations",
    ),
    Perspective.REFUSER: (
        "figures",
        "median",
        "daily",
        "establishments",
        "weekday_hour",
        "refuser_motifs",
    ),
    Perspective.REGIONAL: (
        "figures",
        "median",
        "daily",
        "establishments",
        "weekday_hour",
        "requester_motifs",
        "refuser_motifs",
        "concordance",
        "destinations",
    ),
}


# The dossier's columns that the aggregates group or count by (both engines' scopes).
_DOSSIER_FACTS = (
    Dossier.specialty_id,
    Dossier.requested_day,
    Dossier.requested_weekday,
    Dossier.requested_hour,
    Dossier.in_pdses_hours,
    Dossier.impact,
    Dossier.final_destination_id,
)


def aggregate_rows(
    session: Session, scope: Scope, filters: StatsFilters, kinds: tuple[str, ...] | None = None
) -> list[Any]:
    """Every aggregate of the page in ONE statement: the refusals in scope are read once
    (``WITH scope AS MATERIALIZED``), then each ``GROUP BY`` runs over them, joined by
    ``UNION ALL``. Measured at a million dossiers (``benchmarks/``), 2 to 5 times faster than a
    statement per aggregate, each joining the two tables again. ``kinds`` restricts to some
    aggregates (the benchmark times them one by one). PostgreSQL takes a faster road to the
    same rows (``_postgresql_rows``); this one is SQLite's."""
    wanted = [k for k in AGGREGATES[scope.perspective] if kinds is None or k in kinds]
    if session.get_bind().dialect.name == "postgresql":
        return _postgresql_rows(session, scope, filters, wanted)
    s = (
        refusals_query(
            scope,
            filters,
            RefuserLine.id.label("line_id"),
            RefuserLine.dossier_id,
            RefuserLine.state,
            RefuserLine.is_line_holder,
            RefuserLine.refusing_establishment_id.label("refuser_id"),
            RefuserLine.refusal_motif_id.label("stated_id"),
            RefuserLine.answer_refusal_motif_id.label("answered_id"),
            RefuserLine.notified_at,
            RefuserLine.answered_at,
            Dossier.requesting_establishment_id.label("requester_id"),
            *_DOSSIER_FACTS,
        )
        .cte("scope")
        .prefix_with("MATERIALIZED")
    )
    answered = s.c.state == LineState.ANSWERED
    side = s.c.requester_id if scope.perspective is Perspective.REFUSER else s.c.refuser_id
    parts: dict[str, Any] = {}
    if "figures" in wanted:
        parts["figures"] = _part(
            "figures",
            values=(
                func.count(s.c.line_id),
                func.count(distinct(s.c.dossier_id)),
                func.count(distinct(case((s.c.impact.is_(True), s.c.dossier_id)))),
            ),
        ).select_from(s)
        parts["figures2"] = _part(
            "figures2",
            values=(
                _count_if(answered),
                _count_if(s.c.is_line_holder.is_(True)),
                _count_if(s.c.in_pdses_hours.is_(False)),
            ),
        ).select_from(s)
    if "median" in wanted:
        parts["median"] = _median_part(
            select(_hours_between(session, s.c.answered_at, s.c.notified_at).label("x"))
            .where(answered, s.c.answered_at.is_not(None), s.c.notified_at.is_not(None))
            .subquery("delays")
        )
    if "daily" in wanted:
        parts["daily"] = _part(
            "daily", (s.c.requested_day, s.c.specialty_id), (func.count(),)
        ).group_by(s.c.requested_day, s.c.specialty_id)
    if "establishments" in wanted:
        parts["establishments"] = _part(
            "establishments", (side,), (func.count(s.c.line_id), _count_if(s.c.is_line_holder))
        ).group_by(side)
    if "weekday_hour" in wanted:
        parts["weekday_hour"] = _part(
            "weekday_hour", (s.c.requested_weekday, s.c.requested_hour), (func.count(),)
        ).group_by(s.c.requested_weekday, s.c.requested_hour)
    if "requester_motifs" in wanted:
        parts["requester_motifs"] = _part(
            "requester_motifs", (s.c.stated_id,), (func.count(s.c.line_id),)
        ).group_by(s.c.stated_id)
    if "refuser_motifs" in wanted:
        parts["refuser_motifs"] = (
            _part("refuser_motifs", (s.c.answered_id,), (func.count(s.c.line_id),))
            .where(s.c.answered_id.is_not(None))
            .group_by(s.c.answered_id)
        )
    if "destinations" in wanted:
        parts["destinations"] = _part(
            "destinations", (s.c.final_destination_id,), (func.count(distinct(s.c.dossier_id)),)
        ).group_by(s.c.final_destination_id)
    if "concordance" in wanted:
        parts["concordance"] = (
            _part("concordance", (s.c.stated_id, s.c.answered_id), (func.count(s.c.line_id),))
            .where(s.c.answered_id.is_not(None))
            .group_by(s.c.stated_id, s.c.answered_id)
        )
    queries = list(parts.values())
    return list(session.execute(queries[0].union_all(*queries[1:])).all())


# Each aggregate's GROUPING SETS keys on PostgreSQL (names of the ``scope`` columns): the
# figures are the empty set, the grand total.
_GROUPING_KEYS: dict[str, tuple[str, ...]] = {
    "figures": (),
    "daily": ("requested_day", "specialty_id"),
    "establishments": ("side",),
    "weekday_hour": ("requested_weekday", "requested_hour"),
    "requester_motifs": ("stated_id",),
    "refuser_motifs": ("answered_id",),
    "concordance": ("stated_id", "answered_id"),
}

# ``percentile_disc(p)`` is the value of rank ceil(p × n): 0.5 gives the lower middle one,
# (n + 1) // 2, and 0.5 + ε (0 < ε ≤ 1 / 2n) the upper one, (n + 2) // 2 (the same when n is
# odd); 1e-12 holds up to 5 × 10¹¹ delays, far above any registry.
_MIDDLE_RANKS = (0.5, 0.5 + 1e-12)


def _dossier_id_band(session: Session, filters: StatsFilters) -> list[ColumnElement[bool]]:
    """``dossier_id BETWEEN`` the lowest and highest number of the period's dossiers: implied
    by the join, so it changes no row, but ids are given at creation, so in time order, and the
    band lets PostgreSQL read only the period's refuser lines through ``ix_refuser_lines_dossier``
    instead of the whole table (the 12 months of 1,000,000 dossiers: 573,000 lines of 1.6
    million; the join 600 → 200 ms). Should ids not follow time, the band only widens. Looked
    up first so that the planner sees the values (as parameters of a later statement, it
    would guess). ``FILTER (WHERE true)`` keeps ``min``/``max`` from walking the primary key
    from each end past every older or newer dossier: they read the period's index range
    instead (70 ms)."""
    start, end = _period(filters)
    low, high = session.execute(
        select(func.min(Dossier.id).filter(true()), func.max(Dossier.id).filter(true())).where(
            Dossier.requested_at >= start, Dossier.requested_at < end
        )
    ).one()
    if low is None:  # no dossier in the period: nothing to count anyway
        return []
    return [RefuserLine.dossier_id.between(low, high), Dossier.id.between(low, high)]


def _postgresql_rows(
    session: Session, scope: Scope, filters: StatsFilters, wanted: list[str]
) -> list[Any]:
    """``aggregate_rows`` on PostgreSQL: the same rows, several times faster. Measured on the
    whole region's 12 months at 1,000,000 dossiers (573,000 refusals; ``benchmarks/``), from
    2.2 s to about 0.9 s:
    - the scope keeps only the columns counted (the state as a boolean, the delay already
      subtracted) and, for the ARS, the refuser lines of the period's dossier numbers
      (``_dossier_id_band``), which also lets PostgreSQL join them in parallel;
    - the per-refusal counts are ONE pass of ``GROUP BY GROUPING SETS`` over the scope (each
      set a hash table) instead of one pass per ``GROUP BY``: 7 reads of 573,000 rows → 1;
    - the dossier counts (all, with impact, per destination) are one ``count(DISTINCT)`` per
      destination, summed for the totals: one sort instead of two;
    - the median is ``percentile_disc`` of the delays as intervals, both middle values from
      one sort, converted to hours afterwards (the hours of each of 343,000 delays, in
      ``numeric``, and two window functions cost 350 ms; this, 150). The average of the two
      middle values, as SQLite's window functions compute it, to the last bit."""
    perspective = scope.perspective
    answered = RefuserLine.state == LineState.ANSWERED
    side = (
        Dossier.requesting_establishment_id
        if perspective is Perspective.REFUSER
        else RefuserLine.refusing_establishment_id
    )
    query = refusals_query(
        scope,
        filters,
        RefuserLine.dossier_id,
        answered.label("answered"),
        RefuserLine.is_line_holder,
        side.label("side"),
        RefuserLine.refusal_motif_id.label("stated_id"),
        RefuserLine.answer_refusal_motif_id.label("answered_id"),
        case((answered, RefuserLine.answered_at - RefuserLine.notified_at)).label("delay"),
        *_DOSSIER_FACTS,
    )
    if perspective is Perspective.REGIONAL:
        query = query.where(*_dossier_id_band(session, filters))
    s = query.cte("scope").prefix_with("MATERIALIZED")
    parts: list[Any] = []

    dossiers = impact = None
    if "figures" in wanted or "destinations" in wanted:
        by_destination = [s.c.final_destination_id] if "destinations" in wanted else []
        per_destination = (
            select(
                *by_destination,
                func.count(distinct(s.c.dossier_id)).label("dossiers"),
                func.count(distinct(case((s.c.impact.is_(True), s.c.dossier_id)))).label("impact"),
            )
            .group_by(*by_destination)
            .cte("per_destination")
        )
        dossiers = select(func.sum(per_destination.c.dossiers)).scalar_subquery()
        impact = select(func.sum(per_destination.c.impact)).scalar_subquery()
        if by_destination:
            parts.append(
                _part(
                    "destinations",
                    (per_destination.c.final_destination_id,),
                    (per_destination.c.dossiers,),
                )
            )

    sets = {kind: keys for kind, keys in _GROUPING_KEYS.items() if kind in wanted}
    if sets:
        names = list(dict.fromkeys(name for keys in sets.values() for name in keys))
        grouped = (
            select(
                (func.grouping(*(s.c[n] for n in names)) if names else literal(0)).label("g"),
                *(s.c[n] for n in names),
                func.count().label("n"),
                _count_if(s.c.answered).label("answered"),
                _count_if(s.c.is_line_holder).label("holders"),
                _count_if(s.c.in_pdses_hours.is_(False)).label("outside"),
            )
            .group_by(func.grouping_sets(*(tuple_(*(s.c[n] for n in k)) for k in sets.values())))
            .cte("grouped")
        )
        g = grouped.c

        def rows_of(kind: str) -> ColumnElement[bool]:
            # GROUPING() has a bit per key, the first one highest, set when not grouped by.
            mask = sum(
                1 << (len(names) - 1 - i) for i, n in enumerate(names) if n not in sets[kind]
            )
            return g.g == mask

        if "figures" in sets:
            parts.append(_part("figures", values=(g.n, dossiers, impact)).where(rows_of("figures")))
            parts.append(
                _part("figures2", values=(g.answered, g.holders, g.outside)).where(
                    rows_of("figures")
                )
            )
        for kind, values in (
            ("daily", (g.n,)),
            ("establishments", (g.n, g.holders)),
            ("weekday_hour", (g.n,)),
            ("requester_motifs", (g.n,)),
        ):
            if kind in sets:
                keys = tuple(g[n] for n in sets[kind])
                parts.append(_part(kind, keys, values).where(rows_of(kind)))
        for kind in ("refuser_motifs", "concordance"):
            if kind in sets:
                keys = tuple(g[n] for n in sets[kind])
                parts.append(
                    _part(kind, keys, (g.n,)).where(rows_of(kind), g.answered_id.is_not(None))
                )

    if "median" in wanted:
        middle = (
            select(
                type_coerce(
                    func.percentile_disc(postgresql.array(_MIDDLE_RANKS)).within_group(s.c.delay),
                    postgresql.ARRAY(Interval),
                ).label("delays")
            )
            .where(s.c.delay.is_not(None))
            .subquery("middle")
        )

        def hours(delay: Any) -> Any:
            return extract("epoch", delay) / 3600.0

        both = hours(middle.c.delays[1]) + hours(middle.c.delays[2])
        parts.append(_part("median", values=(both / 2.0,)).select_from(middle))
    return list(session.execute(parts[0].union_all(*parts[1:])).all())


def _compute(session: Session, scope: Scope, filters: StatsFilters) -> Statistics:
    """The page's statistics from the aggregated rows (labels and the top of the list are
    applied here, on a few thousand rows at most)."""
    perspective = scope.perspective
    rows = aggregate_rows(session, scope, filters)
    specialties = dict(session.execute(select(Specialty.id, Specialty.label)).all())
    motifs = dict(session.execute(select(RefusalMotif.id, RefusalMotif.label)).all())
    destinations = dict(session.execute(select(FinalDestination.id, FinalDestination.label)).all())
    by_kind: dict[str, list[Any]] = {}
    for row in rows:
        by_kind.setdefault(row.kind, []).append(row)
    first, second = by_kind["figures"][0], by_kind["figures2"][0]
    counts = {
        "refusals": int(first.value1 or 0),
        "dossiers": int(first.value2 or 0),
        "impact_dossiers": int(first.value3 or 0),
        "answered": int(second.value1 or 0),
        "holders": int(second.value2 or 0),
        "outside": int(second.value3 or 0),
    }
    median_rows = by_kind.get("median", [])
    median = median_rows[0].value1 if median_rows else None

    def ident(value: Any) -> int:
        return int(float(value))

    daily = pd.DataFrame(
        sorted(
            (date.fromisoformat(str(r.key1)[:10]), specialties[ident(r.key2)], int(r.value1))
            for r in by_kind.get("daily", [])
        ),
        columns=["Jour", "Spécialité", "Refus"],
    )
    names = {
        e.id: (e.name, e.departement)
        for e in session.execute(
            select(Establishment.id, Establishment.name, Establishment.departement).where(
                Establishment.id.in_([ident(r.key1) for r in by_kind.get("establishments", [])])
            )
        )
    }
    top = sorted(
        (
            (
                f"{names[ident(r.key1)][0]} ({names[ident(r.key1)][1]})",
                int(r.value1),
                int(r.value2 or 0),
            )
            for r in by_kind.get("establishments", [])
        ),
        key=lambda item: (-item[1], item[0]),
    )[:TOP_ESTABLISHMENTS]
    holder_label = (
        "Dont ligne PDSES tenue par mon établissement"
        if perspective is Perspective.REFUSER
        else "Dont titulaire de la ligne"
    )
    establishments = pd.DataFrame(
        [(name, n, h, "Oui" if h else "Non") for name, n, h in top],
        columns=["Établissement", "Refus", holder_label, "Titulaire de ligne"],
    )
    cells = {(ident(r.key1), ident(r.key2)): int(r.value1) for r in by_kind.get("weekday_hour", [])}
    weekday_hour = pd.DataFrame(
        [
            (WEEKDAYS[day], f"{hour:02d} h", cells.get((day, hour), 0))
            for day in range(7)
            for hour in range(24)
        ],
        columns=["Jour", "Heure", "Refus"],
    )

    def motif_frame(kind: str) -> pd.DataFrame | None:
        if kind not in AGGREGATES[perspective]:
            return None
        items = sorted(
            ((motifs[ident(r.key1)], int(r.value1)) for r in by_kind.get(kind, [])),
            key=lambda item: (-item[1], item[0]),
        )
        return pd.DataFrame(items, columns=["Motif", "Refus"])

    concordance = None
    if "concordance" in AGGREGATES[perspective]:
        concordance = pd.DataFrame(
            sorted(
                (motifs[ident(r.key1)], motifs[ident(r.key2)], int(r.value1))
                for r in by_kind.get("concordance", [])
            ),
            columns=["Motif du demandeur", "Motif du refuseur", "Refus"],
        )
    destination_frame = None
    if "destinations" in AGGREGATES[perspective]:
        per_destination: list[tuple[str, int]] = [
            (
                destinations[ident(r.key1)] if r.key1 is not None else "Non renseignée",
                int(r.value1),
            )
            for r in by_kind.get("destinations", [])
        ]
        per_destination.sort(key=lambda item: (-item[1], item[0]))
        destination_frame = pd.DataFrame(per_destination, columns=["Destination", "Dossiers"])
    return Statistics(
        perspective=perspective,
        filters=filters,
        computed_at=now(),
        figures=_figures(perspective, counts, None if median is None else float(median)),
        daily=daily,
        establishments_title=(
            "Établissements demandeurs auxquels mon établissement a le plus refusé"
            if perspective is Perspective.REFUSER
            else "Établissements qui refusent le plus"
        ),
        establishments=establishments,
        weekday_hour=weekday_hour,
        requester_motifs=motif_frame("requester_motifs"),
        refuser_motifs=motif_frame("refuser_motifs"),
        concordance=concordance,
        destinations=destination_frame,
    )


# --- the cache --------------------------------------------------------------------------------

V = TypeVar("V")


class _TTLCache:
    """A few minutes' memory of recent results, per (database, scope, filters): the page
    reruns at every click, and the figures need not be newer than a minute."""

    def __init__(self, seconds: float | None, size: int = 128) -> None:
        self._seconds = seconds
        self.size = size
        self._items: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    @property
    def seconds(self) -> float:
        """Given, or ``REGISTRE_STATISTICS_CACHE_SECONDS`` read at first use (0: no cache,
        every page computes afresh, as ``benchmarks/bench.py`` measures the uncached page)."""
        if self._seconds is None:
            self._seconds = load_settings().statistics_cache_seconds
        return self._seconds

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        moment = time.monotonic()
        if self.seconds <= 0:
            return compute()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] > moment:
                value: V = hit[1]
                return value
        value = compute()
        with self._lock:
            if len(self._items) >= self.size:
                for stale in sorted(self._items, key=lambda k: self._items[k][0])[
                    : self.size // 4 or 1
                ]:
                    del self._items[stale]
            self._items[key] = (moment + self.seconds, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_caches: list[_TTLCache] = []


def shared_cache(seconds: float | None = None) -> _TTLCache:
    """A cache that ``clear_cache`` empties with this module's own (``report_statistics``
    keeps its results in one)."""
    cache = _TTLCache(seconds)
    _caches.append(cache)
    return cache


_cache = shared_cache()


def cache_seconds() -> float:
    """How old a figure shown may be (``REGISTRE_STATISTICS_CACHE_SECONDS``)."""
    return _cache.seconds


def clear_cache() -> None:
    """Forget every cached result: the refusals' and the reports' statistics."""
    for cache in _caches:
        cache.clear()


# --- public API -------------------------------------------------------------------------------


def compute(
    db: Database, actor: Actor, perspective: Perspective, filters: StatsFilters
) -> Statistics:
    """The statistics the actor may see from ``perspective``, over ``filters``."""
    filters.validate()
    with db.read() as session:
        scope = scope_of(fresh_actor(session, actor), perspective)
    key = (id(db), scope, filters)

    def run() -> Statistics:
        with db.read() as session:
            return _compute(session, scope, filters)

    return _cache.get_or_compute(key, run)


@dataclass(frozen=True)
class StatsOptions:
    """What the filters of the page offer to this actor."""

    perspectives: tuple[Perspective, ...]
    establishment: str | None
    specialties: tuple[Choice, ...]
    departements: tuple[str, ...]
    establishments: tuple[Choice, ...]
    defaults: StatsFilters
    scope_departements: tuple[str, ...] = ()

    def scope_label(self, perspective: Perspective) -> str:
        if perspective is not Perspective.REGIONAL:
            return f"Établissement : {self.establishment}"
        if self.scope_departements:
            return "Départements : " + ", ".join(self.scope_departements)
        return "Toute la région"


def options(db: Database, actor: Actor) -> StatsOptions:
    with db.read() as session:
        actor = fresh_actor(session, actor)
        perspectives = statistics_perspectives(actor)
        if not perspectives:
            decision = can_view_statistics(actor, Perspective.REGIONAL)
            raise PermissionDenied(decision.reason)
        specialties = session.execute(
            select(Specialty.id, Specialty.label).order_by(Specialty.sort_order, Specialty.label)
        ).all()
        depts_query = (
            select(Establishment.departement).distinct().order_by(Establishment.departement)
        )
        departements = [str(d) for d in session.scalars(depts_query)]
        establishments = session.execute(
            select(Establishment.id, Establishment.name, Establishment.departement).order_by(
                Establishment.name
            )
        ).all()
        own = session.get(Establishment, actor.establishment_id) if actor.establishment_id else None
        return StatsOptions(
            perspectives=perspectives,
            establishment=own.name if own else None,
            specialties=tuple(
                Choice(r[0], r[1])
                for r in specialties
                if not actor.specialty_ids or r[0] in actor.specialty_ids
            ),
            departements=tuple(departements),
            establishments=tuple(
                Choice(r[0], f"{r[1]} ({r[2]})")
                for r in establishments
                if r[0] != actor.establishment_id
            ),
            defaults=default_filters(),
            scope_departements=tuple(sorted(actor.departements)),
        )


def series(stats: Statistics, granularity: str) -> pd.DataFrame:
    """Refusals per week (``"semaine"``: the Monday) or month (``"mois"``) and specialty,
    rolled up from the database's daily counts."""
    return roll_up(stats.daily, granularity, "Refus")


def roll_up(daily: pd.DataFrame, granularity: str, value: str) -> pd.DataFrame:
    """Daily counts (``Jour``, ``Spécialité``, ``value``) per week (``"semaine"``: the
    Monday) or month (``"mois"``: its first day) and specialty."""
    columns = ["Période", "Spécialité", value]
    if daily.empty:
        return pd.DataFrame(columns=columns)
    frame = daily.copy()
    days = pd.to_datetime(frame["Jour"])
    if granularity == "semaine":
        frame["Période"] = (days - pd.to_timedelta(days.dt.day_of_week, unit="D")).dt.date
    else:
        frame["Période"] = days.dt.to_period("M").dt.start_time.dt.date
    out = frame.groupby(["Période", "Spécialité"], as_index=False).agg(**{value: (value, "sum")})
    return out.loc[:, columns]


__all__ = [
    "PERSPECTIVE_LABELS",
    "Figure",
    "Perspective",
    "Scope",
    "Statistics",
    "StatsFilters",
    "StatsOptions",
    "compute",
    "default_filters",
    "options",
    "series",
]
