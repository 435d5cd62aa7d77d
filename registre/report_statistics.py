"""Statistics of the « fonctionnement non conforme » reports (SPEC §9, §10): figures and chart
data, computed by the database like the refusals' (``registre.statistics``), with the same
filters, scopes, blindness and one-minute cache.

What counts: a report declared (it reaches the concerned establishment at once) and not
withdrawn; the period is that of the event (« Date et heure », Paris days, end day included).

Who sees what (``permissions.can_view_statistics``, the refusals' perspectives):
- requester perspective: the reports the establishment declared, with their impact on care
  and whether and when the concerned establishment answered, never its answer;
- refuser perspective: the reports concerning the establishment, never the impact (no impact
  figure is computed for it: the column is not even read);
- regional perspective (ARS): the reports whose declaring or concerned establishment is in its
  départements (none listed: the whole region).

The filters of the page keep their meaning: the « requesting establishment » is the
declaring one, the « refusing establishment » the concerned one, the département that of the
other side (the concerned establishment, or the declaring one from the refuser perspective),
« line holders only » the reports about the establishment holding the specialty's line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from registre.actors import Actor
from registre.auth import fresh_actor
from registre.db import Database
from registre.models import Establishment, Report, ReportState, ReportType, Specialty
from registre.permissions import Perspective
from registre.statistics import (
    TOP_ESTABLISHMENTS,
    Figure,
    Scope,
    StatsFilters,
    _count_if,
    _hours_between,
    _in_departements,
    _median_part,
    _part,
    _share,
    roll_up,
    scope_of,
    shared_cache,
)
from registre.timeutil import as_utc, now

COUNTED_STATES = (ReportState.AWAITING, ReportState.ANSWERED)  # not the withdrawn ones
VALUE = "Signalements"  # the count column of every frame
HOLDER_COLUMN = "Titulaire de ligne"  # « Oui » / « Non », the colour of the bars

# Which aggregates each perspective may see: the refuser perspective gets no impact.
AGGREGATES: dict[Perspective, tuple[str, ...]] = {
    Perspective.REQUESTER: (
        "figures",
        "impact",
        "median",
        "daily",
        "types",
        "specialties",
        "concerned",
    ),
    Perspective.REFUSER: ("figures", "median", "daily", "types", "specialties", "declaring"),
    Perspective.REGIONAL: (
        "figures",
        "impact",
        "median",
        "daily",
        "types",
        "specialties",
        "concerned",
        "declaring",
    ),
}


# --- the rows in scope ----------------------------------------------------------------------


def report_conditions(scope: Scope, filters: StatsFilters) -> list[ColumnElement[bool]]:
    """WHERE of every report statistic and of the reports' export, over ``Report``."""
    start = as_utc(datetime.combine(filters.start, datetime.min.time()))
    end = as_utc(datetime.combine(filters.end + timedelta(days=1), datetime.min.time()))
    where: list[ColumnElement[bool]] = [
        Report.state.in_(COUNTED_STATES),
        Report.occurred_at >= start,
        Report.occurred_at < end,
    ]
    if scope.perspective is Perspective.REQUESTER:
        where.append(Report.declaring_establishment_id == scope.establishment_id)
    elif scope.perspective is Perspective.REFUSER:
        where.append(Report.concerned_establishment_id == scope.establishment_id)
    elif scope.departements:
        ids = _in_departements(scope.departements)
        where.append(
            or_(
                Report.declaring_establishment_id.in_(ids),
                Report.concerned_establishment_id.in_(ids),
            )
        )
    if scope.specialty_ids:
        where.append(Report.specialty_id.in_(scope.specialty_ids))
    if filters.specialty_id is not None:
        where.append(Report.specialty_id == filters.specialty_id)
    if filters.departement:
        ids = _in_departements((filters.departement,))
        if scope.perspective is Perspective.REFUSER:
            where.append(Report.declaring_establishment_id.in_(ids))
        else:
            where.append(Report.concerned_establishment_id.in_(ids))
    if filters.requesting_establishment_id is not None:
        where.append(Report.declaring_establishment_id == filters.requesting_establishment_id)
    if filters.refusing_establishment_id is not None:
        where.append(Report.concerned_establishment_id == filters.refusing_establishment_id)
    if filters.line_holders_only:
        where.append(Report.is_line_holder.is_(True))
    return where


def reports_query(scope: Scope, filters: StatsFilters, *columns: Any) -> Select[Any]:
    return select(*columns).select_from(Report).where(*report_conditions(scope, filters))


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportStatistics:
    perspective: Perspective
    filters: StatsFilters
    computed_at: datetime
    figures: tuple[Figure, ...]
    daily: pd.DataFrame  # Jour, Spécialité, Signalements
    types: pd.DataFrame  # Type de dysfonctionnement, Signalements
    specialties: pd.DataFrame  # Spécialité, Signalements
    # Établissement, Signalements, Dont titulaire de la ligne, Titulaire de ligne (the other
    # side of a declarer; None from the refuser perspective: it is always the establishment)
    concerned: pd.DataFrame | None
    # Établissement, Signalements (refuser and regional perspectives)
    declaring: pd.DataFrame | None
    concerned_title: str = "Établissements les plus signalés"
    declaring_title: str = "Établissements qui signalent le plus"

    def figure(self, key: str) -> Figure:
        for item in self.figures:
            if item.key == key:
                return item
        raise KeyError(key)

    @property
    def total(self) -> int:
        return int(self.figure("reports").value or 0)


def _figures(
    perspective: Perspective, counts: dict[str, int], median: float | None
) -> tuple[Figure, ...]:
    reports, answered = counts["reports"], counts["answered"]
    figures = [
        Figure(
            "reports",
            {
                Perspective.REQUESTER: "Signalements déclarés",
                Perspective.REFUSER: "Signalements reçus",
                Perspective.REGIONAL: "Signalements",
            }[perspective],
            reports,
            "count",
            "Fonctionnements non conformes déclarés sur la période (date de l'événement), "
            "hors signalements retirés.",
        ),
        Figure(
            "answer_rate",
            "Taux de réponse de mon établissement aux signalements"
            if perspective is Perspective.REFUSER
            else "Taux de réponse aux signalements",
            _share(answered, reports),
            "share",
            "Signalements auxquels l'établissement concerné a répondu (analyse et mesures "
            "correctives).",
        ),
        Figure(
            "median_answer_hours",
            "Délai médian de réponse aux signalements",
            median,
            "hours",
            "Entre la déclaration du signalement et la réponse de l'établissement concerné.",
        ),
        Figure(
            "holder_share",
            "Part concernant le titulaire de la ligne",
            _share(counts["holders"], reports),
            "share",
            "Signalements visant l'établissement qui tient la ligne PDSES de la spécialité.",
        ),
        Figure(
            "outside_pdses_share",
            "Part des signalements hors horaires PDSES",
            _share(counts["outside"], reports),
            "share",
            "Événements survenus en dehors des nuits, week-ends et jours fériés.",
        ),
    ]
    if "impact" in AGGREGATES[perspective]:
        figures.append(
            Figure(
                "impact_share",
                "Part des signalements avec impact",
                _share(counts["impact"], reports),
                "share",
                "Signalements où « Ce dysfonctionnement a eu un impact sur la prise en charge "
                "du patient » est coché.",
            )
        )
    return tuple(figures)


def aggregate_rows(
    session: Session, scope: Scope, filters: StatsFilters, kinds: tuple[str, ...] | None = None
) -> list[Any]:
    """Every aggregate of the section in ONE statement, as ``statistics.aggregate_rows``: the
    reports in scope read once (``WITH scope AS MATERIALIZED``), then each ``GROUP BY``,
    joined by ``UNION ALL``. Only the columns the perspective may see are read."""
    wanted = [k for k in AGGREGATES[scope.perspective] if kinds is None or k in kinds]
    columns: list[Any] = [
        Report.id.label("report_id"),
        Report.state,
        Report.is_line_holder,
        Report.in_pdses_hours,
        Report.declaring_establishment_id.label("declaring_id"),
        Report.concerned_establishment_id.label("concerned_id"),
        Report.specialty_id,
        Report.report_type_id,
        Report.occurred_day,
        Report.created_at,
        Report.answered_at,
    ]
    if "impact" in wanted:
        columns.append(Report.impact)
    s = reports_query(scope, filters, *columns).cte("scope").prefix_with("MATERIALIZED")
    answered = s.c.state == ReportState.ANSWERED
    parts: dict[str, Any] = {}
    if "figures" in wanted:
        parts["figures"] = _part(
            "figures",
            values=(func.count(s.c.report_id), _count_if(answered), _count_if(s.c.is_line_holder)),
        ).select_from(s)
        parts["figures2"] = _part(
            "figures2", values=(_count_if(s.c.in_pdses_hours.is_(False)),)
        ).select_from(s)
    if "impact" in wanted:
        parts["impact"] = _part("impact", values=(_count_if(s.c.impact.is_(True)),)).select_from(s)
    if "median" in wanted:
        parts["median"] = _median_part(
            select(_hours_between(session, s.c.answered_at, s.c.created_at).label("x"))
            .where(answered, s.c.answered_at.is_not(None))
            .subquery("delays")
        )
    if "daily" in wanted:
        parts["daily"] = _part(
            "daily", (s.c.occurred_day, s.c.specialty_id), (func.count(s.c.report_id),)
        ).group_by(s.c.occurred_day, s.c.specialty_id)
    if "types" in wanted:
        parts["types"] = _part(
            "types", (s.c.report_type_id,), (func.count(s.c.report_id),)
        ).group_by(s.c.report_type_id)
    if "specialties" in wanted:
        parts["specialties"] = _part(
            "specialties", (s.c.specialty_id,), (func.count(s.c.report_id),)
        ).group_by(s.c.specialty_id)
    if "concerned" in wanted:
        parts["concerned"] = _part(
            "concerned",
            (s.c.concerned_id,),
            (func.count(s.c.report_id), _count_if(s.c.is_line_holder)),
        ).group_by(s.c.concerned_id)
    if "declaring" in wanted:
        parts["declaring"] = _part(
            "declaring", (s.c.declaring_id,), (func.count(s.c.report_id),)
        ).group_by(s.c.declaring_id)
    queries = list(parts.values())
    return list(session.execute(queries[0].union_all(*queries[1:])).all())


def _ident(value: Any) -> int:
    return int(float(value))


def _compute(session: Session, scope: Scope, filters: StatsFilters) -> ReportStatistics:
    """The section's statistics from the aggregated rows (labels and the top of the lists
    applied here, on a few hundred rows at most)."""
    perspective = scope.perspective
    by_kind: dict[str, list[Any]] = {}
    for row in aggregate_rows(session, scope, filters):
        by_kind.setdefault(row.kind, []).append(row)
    first, second = by_kind["figures"][0], by_kind["figures2"][0]
    impact_rows = by_kind.get("impact", [])
    counts = {
        "reports": int(first.value1 or 0),
        "answered": int(first.value2 or 0),
        "holders": int(first.value3 or 0),
        "outside": int(second.value1 or 0),
        "impact": int(impact_rows[0].value1 or 0) if impact_rows else 0,
    }
    median_rows = by_kind.get("median", [])
    median = median_rows[0].value1 if median_rows else None

    specialties = dict(session.execute(select(Specialty.id, Specialty.label)).all())
    types = dict(session.execute(select(ReportType.id, ReportType.label)).all())
    establishment_ids = {
        _ident(r.key1) for kind in ("concerned", "declaring") for r in by_kind.get(kind, [])
    }
    names = {
        e.id: f"{e.name} ({e.departement})"
        for e in session.execute(
            select(Establishment.id, Establishment.name, Establishment.departement).where(
                Establishment.id.in_(establishment_ids)
            )
        )
    }

    def counted(kind: str, labels: dict[Any, str], column: str) -> pd.DataFrame:
        items = sorted(
            ((labels[_ident(r.key1)], int(r.value1)) for r in by_kind.get(kind, [])),
            key=lambda item: (-item[1], item[0]),
        )
        return pd.DataFrame(items, columns=[column, VALUE])

    daily = pd.DataFrame(
        sorted(
            (date.fromisoformat(str(r.key1)[:10]), specialties[_ident(r.key2)], int(r.value1))
            for r in by_kind.get("daily", [])
        ),
        columns=["Jour", "Spécialité", VALUE],
    )
    concerned = None
    if "concerned" in AGGREGATES[perspective]:
        top = sorted(
            (
                (names[_ident(r.key1)], int(r.value1), int(r.value2 or 0))
                for r in by_kind.get("concerned", [])
            ),
            key=lambda item: (-item[1], item[0]),
        )[:TOP_ESTABLISHMENTS]
        concerned = pd.DataFrame(
            [(name, n, h, "Oui" if h else "Non") for name, n, h in top],
            columns=["Établissement", VALUE, "Dont titulaire de la ligne", HOLDER_COLUMN],
        )
    declaring = None
    if "declaring" in AGGREGATES[perspective]:
        declaring = counted("declaring", names, "Établissement").head(TOP_ESTABLISHMENTS)
    return ReportStatistics(
        perspective=perspective,
        filters=filters,
        computed_at=now(),
        figures=_figures(perspective, counts, None if median is None else float(median)),
        daily=daily,
        types=counted("types", types, "Type de dysfonctionnement"),
        specialties=counted("specialties", specialties, "Spécialité"),
        concerned=concerned,
        declaring=declaring,
        declaring_title=(
            "Établissements qui ont signalé mon établissement"
            if perspective is Perspective.REFUSER
            else "Établissements qui signalent le plus"
        ),
    )


# --- public API -------------------------------------------------------------------------------

_cache = shared_cache()  # emptied by ``statistics.clear_cache`` too


def compute(
    db: Database, actor: Actor, perspective: Perspective, filters: StatsFilters
) -> ReportStatistics:
    """The report statistics the actor may see from ``perspective``, over ``filters``
    (PermissionDenied as ``statistics.compute``)."""
    filters.validate()
    with db.read() as session:
        scope = scope_of(fresh_actor(session, actor), perspective)
    key = (id(db), "reports", scope, filters)

    def run() -> ReportStatistics:
        with db.read() as session:
            return _compute(session, scope, filters)

    return _cache.get_or_compute(key, run)


def series(stats: ReportStatistics, granularity: str) -> pd.DataFrame:
    """Reports per week (``"semaine"``) or month (``"mois"``) and specialty, as the
    refusals' ``statistics.series``."""
    return roll_up(stats.daily, granularity, VALUE)


__all__ = [
    "AGGREGATES",
    "ReportStatistics",
    "compute",
    "report_conditions",
    "reports_query",
    "series",
]
