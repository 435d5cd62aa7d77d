"""The transitions of a « fonctionnement non conforme » report (SPEC §9; the table is
``registre.workflow.REPORT_TRANSITIONS``).

As for refusals, each public function is one user action and one transaction: reload the
actor, lock the report, check the permission (deny by default), validate every field (the
nominative-data guard on every text), apply, audit, queue the mails. What differs from a
refusal dossier: no draft (the report reaches the concerned establishment at once), a single
concerned establishment, and an answer made of an analysis and corrective measures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registre import audit, notifications
from registre.actors import Actor
from registre.db import Database
from registre.errors import ConflictError, FieldError, NotFound
from registre.models import (
    Establishment,
    Report,
    ReportCounter,
    ReportState,
    ReportType,
    Specialty,
)
from registre.permissions import (
    REPORT_UNAVAILABLE,
    can_answer_report,
    can_declare_report,
    can_withdraw_report,
    report_view_kind,
)
from registre.timeutil import now, to_paris
from registre.transitions import (
    allow,
    is_line_holder,
    next_number,
    past_instant,
    reminder_cutoff,
    time_facts,
    transaction,
)
from registre.validation import MAX_REASON_LENGTH, check_text, lookup_active, raise_if, valid_id

LABELS = {
    "occurred_at": "Date et heure",
    "specialty_id": "Spécialité PDSES",
    "concerned_establishment_id": "Etablissement concerné",
    "report_type_id": "Type de dysfonctionnement",
    "description": "Description",
    "impact": "Ce dysfonctionnement a eu un impact sur la prise en charge du patient",
    "impact_description": "Description de l'impact",
    "analysis": "Analyse de l'établissement",
    "corrective_measures": "Mesures correctives",
    "reason": "Motif du retrait",
}


@dataclass
class ReportInput:
    """The declaration form. The declaring establishment is always the actor's own."""

    occurred_at: datetime | None = None
    specialty_id: int | None = None
    concerned_establishment_id: int | None = None
    report_type_id: int | None = None
    description: str | None = None
    impact: bool = False
    impact_description: str | None = None


@dataclass
class ReportAnswerInput:
    analysis: str | None = None
    corrective_measures: str | None = None


@dataclass(frozen=True)
class ReportRef:
    id: int
    number: str
    state: ReportState
    # True when the concerned establishment has no Coordinateur / Référent account to mail.
    unreached: bool = False
    # True when an impact was declared and the establishment has no director to tell.
    director_unreached: bool = False


CONFLICT = (
    "Ce signalement a été modifié entre-temps par un autre utilisateur : rechargez-le avant de "
    "recommencer."
)


def _lock(
    session: Session, actor: Actor, report_id: int, expected_version: int | None = None
) -> Report:
    """The report, locked; a stale version conflicts only for someone who may see it (an
    outsider gets the permission's answer, as for a report that does not exist)."""
    report = (
        session.get(Report, report_id, with_for_update=True, populate_existing=True)
        if valid_id(report_id)
        else None
    )
    if report is None:
        raise NotFound(REPORT_UNAVAILABLE)
    if (
        expected_version is not None
        and report.version != expected_version
        and report_view_kind(actor, report) is not None
    ):
        raise ConflictError(CONFLICT)
    return report


def _audit(
    session: Session, actor: Actor | None, action: str, report: Report, side: str, **details: Any
) -> None:
    """Tagged with the side that acted, so that the history can be cut to each viewer."""
    audit.record(
        session,
        actor_id=actor.id if actor is not None else None,
        action=action,
        entity="report",
        entity_id=report.id,
        side=side,
        **details,
    )


def _filled(values: dict[str, Any]) -> dict[str, Any]:
    """What was filled in: an unticked box or an empty field is not a change to record."""
    return {k: v for k, v in values.items() if v is not None and v is not False}


def _validate(session: Session, actor: Actor, data: ReportInput) -> dict[str, Any]:
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    values["occurred_at"] = past_instant(
        errors, "occurred_at", LABELS["occurred_at"], data.occurred_at, of_what=""
    )
    specialty = lookup_active(
        session, errors, Specialty, "specialty_id", LABELS["specialty_id"], data.specialty_id
    )
    if specialty is not None and actor.specialty_ids and specialty.id not in actor.specialty_ids:
        errors.append(FieldError("specialty_id", "Cette spécialité est hors de votre périmètre."))
    values["specialty_id"] = data.specialty_id
    concerned = lookup_active(
        session,
        errors,
        Establishment,
        "concerned_establishment_id",
        LABELS["concerned_establishment_id"],
        data.concerned_establishment_id,
    )
    if concerned is not None and concerned.id == actor.establishment_id:
        errors.append(
            FieldError(
                "concerned_establishment_id",
                "L'établissement concerné doit être un autre établissement que le vôtre.",
            )
        )
    values["concerned_establishment_id"] = data.concerned_establishment_id
    lookup_active(
        session,
        errors,
        ReportType,
        "report_type_id",
        LABELS["report_type_id"],
        data.report_type_id,
    )
    values["report_type_id"] = data.report_type_id
    values["description"] = check_text(
        errors, "description", LABELS["description"], data.description, required=True
    )
    values["impact"] = bool(data.impact)
    values["impact_description"] = check_text(
        errors,
        "impact_description",
        LABELS["impact_description"],
        data.impact_description,
        required=bool(data.impact),
    )
    if not data.impact:
        values["impact_description"] = None
    raise_if(errors)
    return values


def declare(
    db: Database, actor: Actor, data: ReportInput, creation_token: str | None = None
) -> ReportRef:
    """Record a report and tell the concerned establishment (and, with an impact on care, the
    declaring establishment's directors). ``creation_token`` identifies the form: submitted
    twice (a double click), it returns the report the first submission created."""
    if creation_token is not None:
        with db.read() as session:
            existing = session.scalars(
                select(Report).where(
                    Report.creation_token == creation_token, Report.created_by_id == actor.id
                )
            ).one_or_none()
            if existing is not None:
                recipients = notifications.refuser_recipients(
                    session, existing.concerned_establishment_id, existing.specialty_id
                )
                return ReportRef(
                    existing.id, existing.number, existing.state, unreached=not recipients
                )
    with transaction(db, actor, CONFLICT) as (session, actor):
        allow(can_declare_report(actor, data.specialty_id))
        values = _validate(session, actor, data)
        assert actor.establishment_id is not None
        at = now()
        report = Report(
            number=next_number(session, to_paris(at).year, ReportCounter, "F"),
            state=ReportState.AWAITING,
            declaring_establishment_id=actor.establishment_id,
            is_line_holder=is_line_holder(
                session, values["concerned_establishment_id"], values["specialty_id"]
            ),
            **time_facts(values["occurred_at"], "occurred"),
            created_by_id=actor.id,
            created_at=at,
            updated_at=at,
            creation_token=creation_token,
            **values,
        )
        session.add(report)
        try:
            session.flush()
        except IntegrityError as exc:  # the same form submitted twice at the same instant
            raise ConflictError("Ce signalement vient déjà d'être enregistré.") from exc
        sent = notifications.report_sent(session, report)
        if report.impact and notifications.report_impact(session, report):
            report.impact_notified_at = at
        director_unreached = report.impact and report.impact_notified_at is None
        _audit(
            session,
            actor,
            "report_declared",
            report,
            "requester",
            number=report.number,
            # what was filled in (an unticked box or an empty field is not a change)
            changes=audit.diff({}, _filled(values)),
            without_recipient=not sent,
            director_unreached=director_unreached,
        )
        session.flush()
        return ReportRef(
            report.id,
            report.number,
            report.state,
            unreached=not sent,
            director_unreached=director_unreached,
        )


def answer(
    db: Database,
    actor: Actor,
    report_id: int,
    data: ReportAnswerInput,
) -> ReportRef:
    """The concerned establishment's analysis and corrective measures, once (a second
    submission is refused by the state)."""
    with transaction(db, actor, CONFLICT) as (session, actor):
        report = _lock(session, actor, report_id)
        allow(can_answer_report(actor, report))
        errors: list[FieldError] = []
        analysis = check_text(errors, "analysis", LABELS["analysis"], data.analysis, required=True)
        measures = check_text(
            errors, "corrective_measures", LABELS["corrective_measures"], data.corrective_measures
        )
        raise_if(errors)
        report.analysis = analysis
        report.corrective_measures = measures
        report.answered_at = now()
        report.answered_by_id = actor.id
        report.state = ReportState.ANSWERED
        report.updated_at = report.answered_at
        _audit(
            session,
            actor,
            "report_answered",
            report,
            "refuser",
            changes=audit.diff(
                {}, _filled({"analysis": analysis, "corrective_measures": measures})
            ),
        )
        session.flush()
        return ReportRef(report.id, report.number, report.state)


def withdraw(
    db: Database,
    actor: Actor,
    report_id: int,
    reason: str | None,
    expected_version: int | None = None,
) -> ReportRef:
    """The declaring establishment takes back a report not yet answered (a mistake, a wrong
    establishment), saying why; it stays in the database and the audit trail."""
    with transaction(db, actor, CONFLICT) as (session, actor):
        report = _lock(session, actor, report_id, expected_version)
        allow(can_withdraw_report(actor, report))
        errors: list[FieldError] = []
        cleaned = check_text(
            errors,
            "reason",
            LABELS["reason"],
            reason,
            required=True,
            max_length=MAX_REASON_LENGTH,
        )
        raise_if(errors)
        report.state = ReportState.WITHDRAWN
        report.withdrawn_at = now()
        report.updated_at = report.withdrawn_at
        # Those told « réponse attendue » learn that no answer is expected any more.
        notifications.report_withdrawn(session, report)
        _audit(session, actor, "report_withdrawn", report, "requester", reason=cleaned)
        session.flush()
        return ReportRef(report.id, report.number, report.state)


def send_reminders(db: Database, days: int, *, limit: int = 1000) -> int:
    """Queue one reminder for every report awaiting its answer for more than ``days`` days
    (system action); returns how many reports were reminded."""
    cutoff = reminder_cutoff(days)
    count = 0
    with db.transaction() as session:
        reports = session.scalars(
            select(Report)
            .where(
                Report.state == ReportState.AWAITING,
                Report.reminded_at.is_(None),
                Report.created_at < cutoff,
            )
            .order_by(Report.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for report in reports:
            queued = notifications.report_reminder(session, report, days)
            report.reminded_at = now()
            # Said as it is in the history: with nobody to mail, no reminder went out.
            action = "report_reminded" if queued else "report_reminder_unreached"
            _audit(session, None, action, report, "refuser")
            count += 1
    return count
