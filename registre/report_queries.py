"""The read side of « fonctionnement non conforme » reports, cut to each viewer like the
refusals' (``registre.queries``): the concerned establishment receives a ``ConcernedReportView``
that has no field for the impact on care nor for who declared; the declaring establishment a
``DeclarerReportView`` that says whether the concerned one answered, not what; the ARS both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session, aliased, joinedload

from registre.actors import Actor
from registre.auth import fresh_actor
from registre.db import Database
from registre.errors import NotFound, PermissionDenied
from registre.models import (
    ESTABLISHMENT_ROLES,
    AuditEntry,
    Establishment,
    Report,
    ReportState,
    ReportType,
    Specialty,
)
from registre.permissions import (
    REPORT_UNAVAILABLE,
    ViewKind,
    get_report_abilities,
    report_view_kind,
)
from registre.queries import (
    Choice,
    Count,
    HistoryEntry,
    Page,
    _choices,
    audit_trail,
    cut_history,
    paginate,
    specialty_choices,
)
from registre.validation import searchable, valid_id
from registre.workflow import REPORT_STATE_ICONS, REPORT_STATE_LABELS

ACTION_LABELS = {
    "report_declared": "Fonctionnement non conforme déclaré",
    "report_answered": "Réponse de l'établissement concerné enregistrée",
    "report_withdrawn": "Signalement retiré par l'établissement déclarant",
    "report_reminded": "Relance envoyée à l'établissement concerné",
    "report_reminder_unreached": "Relance impossible : aucun compte Coordinateur ou Référent "
    "PDSES dans l'établissement concerné",
}


@dataclass(frozen=True)
class ReportAnswerView:
    analysis: str
    corrective_measures: str | None
    answered_at: datetime | None


@dataclass(frozen=True)
class _Identity:
    """What both establishments see: what happened, when, on which line."""

    kind: ViewKind
    id: int
    number: str
    version: int
    state: ReportState
    state_label: str
    icon: str
    occurred_at: datetime
    in_pdses_hours: bool
    specialty: str
    report_type: str
    declaring_establishment: str
    concerned_establishment: str
    is_line_holder: bool
    description: str
    abilities: dict[str, bool]


@dataclass(frozen=True)
class ConcernedReportView(_Identity):
    """The concerned establishment: the report and its own answer, never the impact."""

    answer: ReportAnswerView | None


@dataclass(frozen=True)
class DeclarerReportView(_Identity):
    """The declaring establishment: its report, and whether it was answered, not how."""

    impact: bool
    impact_description: str | None
    created_by: str
    answered: bool
    answered_at: datetime | None  # when, never what


@dataclass(frozen=True)
class RegionalReportView(DeclarerReportView):
    declaring_departement: str
    concerned_departement: str
    answer: ReportAnswerView | None


ReportView = ConcernedReportView | DeclarerReportView | RegionalReportView


def _load(session: Session, *, report_id: int | None, number: str | None) -> Report:
    query = select(Report).options(
        joinedload(Report.declaring_establishment),
        joinedload(Report.concerned_establishment),
        joinedload(Report.specialty),
        joinedload(Report.report_type),
        joinedload(Report.created_by),
    )
    # what an address (``?numero=``) holds may be anything: never sent if nothing can match
    if report_id is not None and valid_id(report_id):
        query = query.where(Report.id == report_id)
    elif report_id is None and number and searchable(number.strip()):
        query = query.where(Report.number == number.strip().upper())
    else:
        raise NotFound(REPORT_UNAVAILABLE)
    report = session.scalars(query).one_or_none()
    if report is None:
        raise NotFound(REPORT_UNAVAILABLE)
    return report


def _answer(report: Report) -> ReportAnswerView | None:
    if report.state is not ReportState.ANSWERED or report.analysis is None:
        return None
    return ReportAnswerView(report.analysis, report.corrective_measures, report.answered_at)


def build_view(actor: Actor, report: Report) -> ReportView:
    kind = report_view_kind(actor, report)
    if kind is None:
        raise PermissionDenied(REPORT_UNAVAILABLE)
    identity: dict[str, Any] = {
        "kind": kind,
        "id": report.id,
        "number": report.number,
        "version": report.version,
        "state": report.state,
        "state_label": REPORT_STATE_LABELS[report.state],
        "icon": REPORT_STATE_ICONS[report.state],
        "occurred_at": report.occurred_at,
        "in_pdses_hours": report.in_pdses_hours,
        "specialty": report.specialty.label,
        "report_type": report.report_type.label,
        "declaring_establishment": report.declaring_establishment.name,
        "concerned_establishment": report.concerned_establishment.name,
        "is_line_holder": report.is_line_holder,
        "description": report.description,
        "abilities": get_report_abilities(actor, report),
    }
    if kind is ViewKind.REFUSER:
        return ConcernedReportView(**identity, answer=_answer(report))
    declarer: dict[str, Any] = {
        **identity,
        "impact": report.impact,
        "impact_description": report.impact_description,
        "created_by": report.created_by.display_name,
        "answered": report.state is ReportState.ANSWERED,
        "answered_at": report.answered_at if report.state is ReportState.ANSWERED else None,
    }
    if kind is ViewKind.REGIONAL:
        return RegionalReportView(
            **declarer,
            declaring_departement=report.declaring_establishment.departement,
            concerned_departement=report.concerned_establishment.departement,
            answer=_answer(report),
        )
    return DeclarerReportView(**declarer)


def get_report(
    db: Database, actor: Actor, *, report_id: int | None = None, number: str | None = None
) -> ReportView:
    """One report as the actor may see it; PermissionDenied when it may not."""
    with db.read() as session:
        actor = fresh_actor(session, actor)
        return build_view(actor, _load(session, report_id=report_id, number=number))


# --- lists ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportRow:
    """One line of either list: the other establishment is the concerned one in « declared »,
    the declaring one in « concerning »."""

    id: int
    number: str
    state: ReportState
    icon: str
    state_label: str
    occurred_at: datetime
    specialty: str
    report_type: str
    other_establishment: str
    is_line_holder: bool


def _establishment_actor(session: Session, actor: Actor) -> Actor:
    actor = fresh_actor(session, actor)
    if actor.role not in ESTABLISHMENT_ROLES or actor.establishment_id is None:
        raise PermissionDenied(
            "Votre profil ne donne pas accès aux signalements d'un établissement."
        )
    return actor


def _list(
    db: Database,
    actor: Actor,
    *,
    declared: bool,
    state: ReportState | None,
    specialty_id: int | None,
    page: int,
    page_size: int,
) -> Page[ReportRow]:
    with db.read() as session:
        actor = _establishment_actor(session, actor)
        other = aliased(Establishment)
        own_column = (
            Report.declaring_establishment_id if declared else Report.concerned_establishment_id
        )
        other_column = (
            Report.concerned_establishment_id if declared else Report.declaring_establishment_id
        )
        order: list[Any] = (
            [] if declared else [case((Report.state == ReportState.AWAITING, 0), else_=1)]
        )
        query = (
            select(
                Report.id,
                Report.number,
                Report.state,
                Report.occurred_at,
                Specialty.label,
                ReportType.label,
                other.name,
                Report.is_line_holder,
            )
            .join(Specialty, Specialty.id == Report.specialty_id)
            .join(ReportType, ReportType.id == Report.report_type_id)
            .join(other, other.id == other_column)
            .where(own_column == actor.establishment_id)
            .order_by(*order, Report.occurred_at.desc(), Report.id.desc())
        )
        if state is None:  # like the registry's abandoned drafts: withdrawn ones on demand
            query = query.where(Report.state != ReportState.WITHDRAWN)
        else:
            query = query.where(Report.state == state)
        if actor.specialty_ids:
            query = query.where(Report.specialty_id.in_(actor.specialty_ids))
        if specialty_id is not None:
            query = query.where(Report.specialty_id == specialty_id)

        def make(r: Any) -> ReportRow:
            return ReportRow(
                id=r[0],
                number=r[1],
                state=r[2],
                icon=REPORT_STATE_ICONS[r[2]],
                state_label=REPORT_STATE_LABELS[r[2]],
                occurred_at=r[3],
                specialty=r[4],
                report_type=r[5],
                other_establishment=r[6],
                is_line_holder=r[7],
            )

        return paginate(session, query, page, page_size, make, limited=True)


def list_declared_reports(
    db: Database,
    actor: Actor,
    *,
    state: ReportState | None = None,
    specialty_id: int | None = None,
    page: int = 1,
    page_size: int = 25,
) -> Page[ReportRow]:
    """The reports the actor's establishment declared, latest first (withdrawn ones only when
    asked for by ``state``)."""
    return _list(
        db,
        actor,
        declared=True,
        state=state,
        specialty_id=specialty_id,
        page=page,
        page_size=page_size,
    )


def list_concerning_reports(
    db: Database,
    actor: Actor,
    *,
    state: ReportState | None = None,
    specialty_id: int | None = None,
    page: int = 1,
    page_size: int = 25,
) -> Page[ReportRow]:
    """The reports about the actor's establishment, those awaiting its answer first
    (withdrawn ones only when asked for by ``state``)."""
    return _list(
        db,
        actor,
        declared=False,
        state=state,
        specialty_id=specialty_id,
        page=page,
        page_size=page_size,
    )


def count_awaiting_reports(db: Database, actor: Actor) -> Count:
    """How many reports wait for the answer of the actor's establishment (up to
    ``queries.COUNT_LIMIT``)."""
    found = list_concerning_reports(db, actor, state=ReportState.AWAITING, page_size=1)
    return Count(found.total, found.more)


# --- history ----------------------------------------------------------------------------


def _details(entry: AuditEntry) -> tuple[str, ...]:
    from registre.reports import LABELS

    lines = []
    reason = entry.details.get("reason")
    if reason:
        lines.append(f"Motif : {reason}")
    for field in entry.details.get("changes", {}):
        lines.append(f"{LABELS.get(field, field)} renseigné ou modifié")
    return tuple(lines)


def history(db: Database, actor: Actor, report_id: int) -> list[HistoryEntry]:
    """The audit trail of a report, cut to the viewer (``queries.cut_history``): the
    concerned establishment sees when it was told, reminded, and its own answer; the declaring
    one sees that the concerned one answered, not what; the ARS sees everything."""
    with db.read() as session:
        actor = fresh_actor(session, actor)
        report = _load(session, report_id=report_id, number=None)
        kind = report_view_kind(actor, report)
        if kind is None:
            raise PermissionDenied(REPORT_UNAVAILABLE)
        declarer = report.declaring_establishment.name

        def concerned_side(e: AuditEntry, person: str, label: str) -> HistoryEntry:
            if e.details.get("side") == "refuser":
                return HistoryEntry(e.at, person, label, _details(e))
            if e.action == "report_declared":
                return HistoryEntry(
                    e.at, declarer, "Signalement transmis à votre établissement", ()
                )
            return HistoryEntry(e.at, declarer, label, ())

        entries = audit_trail(
            session, AuditEntry.entity == "report", AuditEntry.entity_id == report.id
        )
        return cut_history(entries, kind, ACTION_LABELS, _details, concerned_side)


# --- form choices -----------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFormOptions:
    establishment: str
    specialties: list[Choice]
    report_types: list[Choice]
    establishments: list[Choice]


def form_options(db: Database, actor: Actor) -> ReportFormOptions:
    """The declaration form's lists: the specialties of the actor's scope, the types, and the
    other active establishments (by name, with their département)."""
    with db.read() as session:
        actor = _establishment_actor(session, actor)
        own = session.get(Establishment, actor.establishment_id)
        assert own is not None
        own_name = own.name
        establishments = [
            Choice(r[0], f"{r[1]} ({r[2]})")
            for r in session.execute(
                select(Establishment.id, Establishment.name, Establishment.departement)
                .where(Establishment.active.is_(True), Establishment.id != own.id)
                .order_by(Establishment.name)
            )
        ]
        report_types = _choices(session, ReportType)
    return ReportFormOptions(
        establishment=own_name,
        specialties=specialty_choices(db, actor),
        report_types=report_types,
        establishments=establishments,
    )


__all__ = [
    "ConcernedReportView",
    "DeclarerReportView",
    "RegionalReportView",
    "ReportFormOptions",
    "ReportRow",
    "ReportView",
]
