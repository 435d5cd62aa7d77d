"""The transitions of a refusal dossier (see ``registre.workflow`` for the table).

Each public function is one user action and one database transaction: reload the actor,
lock the dossier, check the permission (deny by default), validate every field, apply the
change, write the audit entry and the outbox mails. Any error leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registre import audit, notifications
from registre.actors import Actor
from registre.db import Database
from registre.errors import (
    ConflictError,
    FieldError,
    NotFound,
    ValidationError,
)
from registre.models import (
    AgeBand,
    Dossier,
    DossierState,
    Establishment,
    FinalDestination,
    LineState,
    RefusalMotif,
    RefuserLine,
    RequestMotif,
    Service,
    Sex,
    Specialty,
    Urgency,
)
from registre.permissions import (
    DOSSIER_UNAVAILABLE,
    NO_SUCH_LINE,
    Decision,
    can_abandon,
    can_add_line,
    can_answer,
    can_create,
    can_edit_line,
    can_finalise,
    can_remove_line,
    can_reopen,
    can_update,
    view_kind,
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
from registre.validation import (
    MAX_REASON_LENGTH,
    MAX_SHORT_TEXT_LENGTH,
    check_text,
    lookup_active,
    raise_if,
    require,
    valid_id,
)

LABELS = {
    "requesting_service_id": "Service demandeur",
    "specialty_id": "Spécialité PDSES",
    "requested_at": "Date et heure de la demande",
    "age_band": "Tranche d'âge du patient",
    "sex": "Sexe",
    "request_motif_id": "Motif de la demande",
    "request_other_motif": "Autre motif de la demande",
    "urgency": "Niveau d'urgence",
    "final_destination_id": "Destination finale du patient",
    "final_destination_establishment_id": "Établissement de destination",
    "impact": "Ce refus a eu un impact sur la prise en charge du patient",
    "impact_description": "Description de l'impact",
    "comments": "Commentaires",
    "refusing_establishment_id": "Etablissement refuseur",
    "refusal_motif_id": "Motif du refus",
    "other_motif": "Autre motif",
    "understood_motif_id": "Motif compris de la demande",
    "reason": "Motif de la réouverture",
    "lines": "Établissements refuseurs",
}


@dataclass
class DossierInput:
    """The requester's form. The requesting establishment is always the actor's own."""

    requesting_service_id: int | None = None
    specialty_id: int | None = None
    requested_at: datetime | None = None
    age_band: AgeBand | None = None
    sex: Sex | None = None
    request_motif_id: int | None = None
    request_other_motif: str | None = None
    urgency: Urgency | None = None
    final_destination_id: int | None = None
    final_destination_establishment_id: int | None = None
    impact: bool = False
    impact_description: str | None = None
    comments: str | None = None


@dataclass
class LineInput:
    refusing_establishment_id: int | None = None
    refusal_motif_id: int | None = None
    other_motif: str | None = None
    comments: str | None = None


@dataclass
class AnswerInput:
    understood_motif_id: int | None = None
    refusal_motif_id: int | None = None
    other_motif: str | None = None
    comments: str | None = None


@dataclass(frozen=True)
class DossierRef:
    id: int
    number: str
    version: int
    state: DossierState
    # Refusing establishments that no mail could reach (no Coordinateur / Référent account).
    unreached: tuple[str, ...] = ()


def _ref(dossier: Dossier) -> DossierRef:
    return DossierRef(dossier.id, dossier.number, dossier.version, dossier.state)


def _lock_dossier(
    session: Session, actor: Actor, dossier_id: int, expected_version: int | None
) -> Dossier:
    """The dossier, locked for the transaction. A form loaded before a change conflicts, but
    only for someone who may see the dossier: an outsider gets the permission's answer, the
    same as for a dossier that does not exist, never « modifié entre-temps »."""
    dossier = (
        session.get(Dossier, dossier_id, with_for_update=True, populate_existing=True)
        if valid_id(dossier_id)
        else None
    )
    if dossier is None:
        raise NotFound(DOSSIER_UNAVAILABLE)
    if (
        expected_version is not None
        and dossier.version != expected_version
        and view_kind(actor, dossier) is not None
    ):
        raise ConflictError()
    return dossier


def _allowed_line(
    actor: Actor,
    dossier: Dossier,
    line_id: int,
    permission: Callable[[Actor, Dossier, RefuserLine | None], Decision],
) -> RefuserLine:
    """The live line ``line_id`` of ``dossier``, once ``permission`` allows the action on it.
    Only someone who may see the dossier learns that the line is not (or no longer) there."""
    line = next((ln for ln in dossier.lines if ln.id == line_id and ln.removed_at is None), None)
    if line is None:
        seen = view_kind(actor, dossier) is not None
        raise NotFound(NO_SUCH_LINE if seen else DOSSIER_UNAVAILABLE)
    allow(permission(actor, dossier, line))
    return line


def _snapshot(obj: object, names: list[str]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in names}


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    dossier: Dossier,
    *,
    line: RefuserLine | None = None,
    side: str = "requester",
    **details: Any,
) -> None:
    """An audit entry about a dossier (or one of its lines), tagged with the side that acted
    so that the history can be cut to each viewer."""
    audit.record(
        session,
        actor_id=actor.id,
        action=action,
        entity="refuser_line" if line is not None else "dossier",
        entity_id=line.id if line is not None else dossier.id,
        dossier_id=dossier.id,
        side=side,
        **details,
    )


def _touch(dossier: Dossier) -> None:
    """Once per action that changes a dossier or its lines: the version goes up by one, so a
    form loaded before (``expected_version``) or a concurrent transaction conflicts."""
    dossier.version += 1
    dossier.updated_at = now()


# --- validation -------------------------------------------------------------------------


def _validate_dossier(
    session: Session, actor: Actor, data: DossierInput, current: Dossier | None, *, finalising: bool
) -> dict[str, Any]:
    errors: list[FieldError] = []
    assert actor.establishment_id is not None
    keep = (lambda name: getattr(current, name)) if current is not None else (lambda name: None)
    values: dict[str, Any] = {}

    service = lookup_active(
        session,
        errors,
        Service,
        "requesting_service_id",
        LABELS["requesting_service_id"],
        data.requesting_service_id,
        allow_inactive=keep("requesting_service_id"),
    )
    if service is not None and service.establishment_id != actor.establishment_id:
        errors.append(
            FieldError(
                "requesting_service_id", "Ce service n'appartient pas à votre établissement."
            )
        )
    values["requesting_service_id"] = data.requesting_service_id

    specialty = lookup_active(
        session,
        errors,
        Specialty,
        "specialty_id",
        LABELS["specialty_id"],
        data.specialty_id,
        allow_inactive=keep("specialty_id"),
    )
    if specialty is not None and actor.specialty_ids and specialty.id not in actor.specialty_ids:
        errors.append(FieldError("specialty_id", "Cette spécialité est hors de votre périmètre."))
    values["specialty_id"] = data.specialty_id

    values["requested_at"] = past_instant(
        errors,
        "requested_at",
        LABELS["requested_at"],
        data.requested_at,
        of_what=" de la demande",
    )

    values["age_band"] = require(errors, "age_band", LABELS["age_band"], data.age_band)
    values["sex"] = data.sex
    values["urgency"] = require(errors, "urgency", LABELS["urgency"], data.urgency)

    motif = lookup_active(
        session,
        errors,
        RequestMotif,
        "request_motif_id",
        LABELS["request_motif_id"],
        data.request_motif_id,
        allow_inactive=keep("request_motif_id"),
    )
    values["request_motif_id"] = data.request_motif_id
    values["request_other_motif"] = check_text(
        errors,
        "request_other_motif",
        LABELS["request_other_motif"],
        data.request_other_motif,
        required=motif is not None and motif.is_other,
        max_length=MAX_SHORT_TEXT_LENGTH,
    )
    if motif is not None and not motif.is_other:
        values["request_other_motif"] = None

    if finalising and data.final_destination_id is None:
        destination = None
        errors.append(
            FieldError(
                "final_destination_id",
                "« Destination finale du patient » est obligatoire pour finaliser le dossier.",
            )
        )
    else:
        destination = lookup_active(
            session,
            errors,
            FinalDestination,
            "final_destination_id",
            LABELS["final_destination_id"],
            data.final_destination_id,
            required=False,
            allow_inactive=keep("final_destination_id"),
        )
    values["final_destination_id"] = data.final_destination_id
    values["final_destination_establishment_id"] = None
    if destination is not None and destination.requires_establishment:
        target = lookup_active(
            session,
            errors,
            Establishment,
            "final_destination_establishment_id",
            LABELS["final_destination_establishment_id"],
            data.final_destination_establishment_id,
            required=finalising,
            allow_inactive=keep("final_destination_establishment_id"),
        )
        if target is not None and target.id == actor.establishment_id:
            errors.append(
                FieldError(
                    "final_destination_establishment_id",
                    "L'établissement de destination doit être un autre établissement que le vôtre.",
                )
            )
        values["final_destination_establishment_id"] = data.final_destination_establishment_id

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
    values["comments"] = check_text(errors, "comments", LABELS["comments"], data.comments)
    if current is not None and any(
        ln.removed_at is None and ln.state is not LineState.PENDING for ln in current.lines
    ):
        # The refusers were told this number, date, specialty and service: they stay as sent.
        for name in ("requesting_service_id", "specialty_id", "requested_at"):
            if values[name] is not None and values[name] != getattr(current, name):
                errors.append(
                    FieldError(
                        name,
                        f"« {LABELS[name]} » ne peut plus être modifié : "
                        "les établissements refuseurs en ont été "
                        "informés.",
                    )
                )
    raise_if(errors)
    return values


def _validate_line(
    session: Session, dossier: Dossier, data: LineInput, current: RefuserLine | None
) -> dict[str, Any]:
    errors: list[FieldError] = []
    current_est = current.refusing_establishment_id if current is not None else None
    establishment = lookup_active(
        session,
        errors,
        Establishment,
        "refusing_establishment_id",
        LABELS["refusing_establishment_id"],
        data.refusing_establishment_id,
        allow_inactive=current_est,
    )
    if establishment is not None:
        if establishment.id == dossier.requesting_establishment_id:
            errors.append(
                FieldError(
                    "refusing_establishment_id",
                    "L'établissement refuseur ne peut pas être l'établissement demandeur.",
                )
            )
        elif any(
            ln.refusing_establishment_id == establishment.id
            and ln.removed_at is None
            and ln is not current
            for ln in dossier.lines
        ):
            errors.append(
                FieldError(
                    "refusing_establishment_id",
                    "Cet établissement figure déjà parmi les refuseurs de ce dossier.",
                )
            )
        elif (
            current is not None
            and current.state is not LineState.PENDING
            and (establishment.id != current.refusing_establishment_id)
        ):
            errors.append(
                FieldError(
                    "refusing_establishment_id",
                    "Cet établissement a déjà été informé du refus : il ne peut "
                    "plus être remplacé.",
                )
            )
    motif = lookup_active(
        session,
        errors,
        RefusalMotif,
        "refusal_motif_id",
        LABELS["refusal_motif_id"],
        data.refusal_motif_id,
        allow_inactive=current.refusal_motif_id if current else None,
    )
    other = check_text(
        errors,
        "other_motif",
        LABELS["other_motif"],
        data.other_motif,
        required=motif is not None and motif.is_other,
        max_length=MAX_SHORT_TEXT_LENGTH,
    )
    comments = check_text(errors, "comments", LABELS["comments"], data.comments)
    raise_if(errors)
    assert motif is not None
    return {
        "refusing_establishment_id": data.refusing_establishment_id,
        "refusal_motif_id": data.refusal_motif_id,
        "other_motif": other if motif.is_other else None,
        "comments": comments,
    }


def _notify_impact(session: Session, dossier: Dossier) -> None:
    """Once per dossier; not marked done while nobody could be told (no director yet)."""
    pending = dossier.impact and dossier.impact_notified_at is None
    if pending and notifications.impact_on_care(session, dossier):
        dossier.impact_notified_at = now()


# --- transitions ------------------------------------------------------------------------

_DOSSIER_FIELDS = [f.name for f in fields(DossierInput)]


def create_draft(
    db: Database, actor: Actor, data: DossierInput, creation_token: str | None = None
) -> DossierRef:
    """A new draft. ``creation_token`` identifies the form it comes from: submitted twice
    (a double click), it returns the dossier the first submission created."""
    if creation_token is not None:
        with db.read() as session:
            existing = session.scalars(
                select(Dossier).where(
                    Dossier.creation_token == creation_token, Dossier.created_by_id == actor.id
                )
            ).one_or_none()
            if existing is not None:
                return _ref(existing)
    with transaction(db, actor) as (session, actor):
        allow(can_create(actor, data.specialty_id))
        values = _validate_dossier(session, actor, data, None, finalising=False)
        assert actor.establishment_id is not None
        at = now()
        dossier = Dossier(
            number=next_number(session, to_paris(at).year),
            state=DossierState.DRAFT,
            requesting_establishment_id=actor.establishment_id,
            **time_facts(values["requested_at"]),
            created_by_id=actor.id,
            created_at=at,
            updated_at=at,
            creation_token=creation_token,
            **values,
        )
        session.add(dossier)
        try:
            session.flush()
        except IntegrityError as exc:  # the same form submitted twice at the same instant
            raise ConflictError("Ce refus vient déjà d'être enregistré.") from exc
        _audit(
            session,
            actor,
            "dossier_created",
            dossier,
            number=dossier.number,
            changes=audit.diff({}, values),
        )
        _notify_impact(session, dossier)
        session.flush()
        return _ref(dossier)


def update_draft(
    db: Database,
    actor: Actor,
    dossier_id: int,
    data: DossierInput,
    expected_version: int | None = None,
) -> DossierRef:
    with transaction(db, actor) as (session, actor):
        dossier = _lock_dossier(session, actor, dossier_id, expected_version)
        allow(can_update(actor, dossier))
        values = _validate_dossier(session, actor, data, dossier, finalising=False)
        before = _snapshot(dossier, _DOSSIER_FIELDS)
        for name, value in values.items():
            setattr(dossier, name, value)
        for name, value in time_facts(dossier.requested_at).items():
            setattr(dossier, name, value)
        if before["specialty_id"] != dossier.specialty_id:
            for line in dossier.lines:
                line.is_line_holder = is_line_holder(
                    session, line.refusing_establishment_id, dossier.specialty_id
                )
        changes = audit.diff(before, values)
        if changes:
            _touch(dossier)
            _audit(
                session,
                actor,
                "dossier_updated",
                dossier,
                changes=changes,
            )
        _notify_impact(session, dossier)
        session.flush()
        return _ref(dossier)


def add_line(
    db: Database,
    actor: Actor,
    dossier_id: int,
    data: LineInput,
    expected_version: int | None = None,
) -> int:
    """Add a refusing establishment; returns the new line's id."""
    with transaction(db, actor) as (session, actor):
        dossier = _lock_dossier(session, actor, dossier_id, expected_version)
        allow(can_add_line(actor, dossier))
        values = _validate_line(session, dossier, data, None)
        line = RefuserLine(
            dossier=dossier,
            state=LineState.PENDING,
            is_line_holder=is_line_holder(
                session, values["refusing_establishment_id"], dossier.specialty_id
            ),
            created_at=now(),
            **values,
        )
        session.add(line)
        _touch(dossier)
        try:
            session.flush()
        except IntegrityError as exc:  # the partial unique index: a concurrent twin
            raise ConflictError(
                "Cet établissement vient d'être ajouté par un autre utilisateur."
            ) from exc
        _audit(
            session,
            actor,
            "line_added",
            dossier,
            line=line,
            changes=audit.diff({}, values),
        )
        return line.id


def edit_line(
    db: Database,
    actor: Actor,
    dossier_id: int,
    line_id: int,
    data: LineInput,
    expected_version: int | None = None,
) -> None:
    with transaction(db, actor) as (session, actor):
        dossier = _lock_dossier(session, actor, dossier_id, expected_version)
        line = _allowed_line(actor, dossier, line_id, can_edit_line)
        values = _validate_line(session, dossier, data, line)
        before = _snapshot(line, list(values))
        for name, value in values.items():
            setattr(line, name, value)
        if before["refusing_establishment_id"] != line.refusing_establishment_id:
            line.is_line_holder = is_line_holder(
                session, line.refusing_establishment_id, dossier.specialty_id
            )
        changes = audit.diff(before, values)
        if changes:
            _touch(dossier)
            _audit(
                session,
                actor,
                "line_updated",
                dossier,
                line=line,
                changes=changes,
            )


def remove_line(
    db: Database,
    actor: Actor,
    dossier_id: int,
    line_id: int,
    expected_version: int | None = None,
) -> None:
    """Take a line out of a draft (kept in the database and the audit trail)."""
    with transaction(db, actor) as (session, actor):
        dossier = _lock_dossier(session, actor, dossier_id, expected_version)
        line = _allowed_line(actor, dossier, line_id, can_remove_line)
        line.removed_at = now()
        _touch(dossier)
        _audit(
            session,
            actor,
            "line_removed",
            dossier,
            line=line,
            refusing_establishment_id=line.refusing_establishment_id,
        )


def finalise(
    db: Database,
    actor: Actor,
    dossier_id: int,
    expected_version: int | None = None,
    data: DossierInput | None = None,
) -> DossierRef:
    """Check everything, close the requester's part and tell the refusers (mails). With
    ``data`` (the form as it stands: the destination is often chosen just before), the
    dossier is saved and finalised in one transaction, so nothing typed is lost."""
    with transaction(db, actor) as (session, actor):
        dossier = _lock_dossier(session, actor, dossier_id, expected_version)
        allow(can_finalise(actor, dossier))
        before = _snapshot(dossier, _DOSSIER_FIELDS)
        current = data if data is not None else DossierInput(**before)
        errors: list[FieldError] = []
        values: dict[str, Any] = {}
        try:
            values = _validate_dossier(session, actor, current, dossier, finalising=True)
        except ValidationError as exc:
            errors.extend(exc.errors)
        live = [ln for ln in dossier.lines if ln.removed_at is None]
        if not live:
            errors.append(
                FieldError(
                    "lines",
                    "Ajoutez au moins un établissement refuseur avant de finaliser le dossier.",
                )
            )
        raise_if(errors)
        changes = audit.diff(before, values)
        for name in changes:
            setattr(dossier, name, values[name])
        at = now()
        dossier.state = DossierState.FINALISED
        dossier.finalised_at = at
        _touch(dossier)
        sent = []
        unreached = []
        for line in live:
            if line.state is LineState.PENDING:
                line.state = LineState.AWAITING
                line.notified_at = at
                sent.append(line)
                if not notifications.refusal_sent(session, dossier, line):
                    unreached.append(line)
        _audit(
            session,
            actor,
            "dossier_finalised",
            dossier,
            lines_sent=[ln.id for ln in sent],
            lines_without_recipient=[ln.id for ln in unreached],
            changes=changes,
        )
        _notify_impact(session, dossier)
        session.flush()
        names = tuple(ln.refusing_establishment.name for ln in unreached)
        return replace(_ref(dossier), unreached=names)


def _close_with_reason(
    db: Database,
    actor: Actor,
    dossier_id: int,
    expected_version: int | None,
    *,
    permission: Callable[[Actor, Dossier], Decision],
    target: DossierState,
    action: str,
    reason: str | None,
    reason_label: str,
    reason_required: bool,
) -> DossierRef:
    """A state change that carries a written reason (reopen, abandon)."""
    with transaction(db, actor) as (session, actor):
        dossier = _lock_dossier(session, actor, dossier_id, expected_version)
        allow(permission(actor, dossier))
        errors: list[FieldError] = []
        cleaned = check_text(
            errors,
            "reason",
            reason_label,
            reason,
            required=reason_required,
            max_length=MAX_REASON_LENGTH,
        )
        raise_if(errors)
        dossier.state = target
        _touch(dossier)
        _audit(session, actor, action, dossier, reason=cleaned)
        session.flush()
        return _ref(dossier)


def reopen(
    db: Database,
    actor: Actor,
    dossier_id: int,
    reason: str | None,
    expected_version: int | None = None,
) -> DossierRef:
    """A Coordinateur PDSES takes a finalised dossier back to draft, saying why."""
    return _close_with_reason(
        db,
        actor,
        dossier_id,
        expected_version,
        permission=can_reopen,
        target=DossierState.DRAFT,
        action="dossier_reopened",
        reason=reason,
        reason_label=LABELS["reason"],
        reason_required=True,
    )


def abandon(
    db: Database,
    actor: Actor,
    dossier_id: int,
    reason: str | None = None,
    expected_version: int | None = None,
) -> DossierRef:
    """Hide a draft that was never sent; it stays in the database and the audit trail."""
    return _close_with_reason(
        db,
        actor,
        dossier_id,
        expected_version,
        permission=can_abandon,
        target=DossierState.ABANDONED,
        action="dossier_abandoned",
        reason=reason,
        reason_label="Motif de l'abandon",
        reason_required=False,
    )


def answer(
    db: Database,
    actor: Actor,
    dossier_id: int,
    line_id: int,
    data: AnswerInput,
) -> None:
    """The refusing establishment's own account of the refusal. A double submission is
    refused by the state (already answered); the requester's own edits of its statement on
    this line (after a reopening) must not make the answer conflict, so no version check."""
    with transaction(db, actor) as (session, actor):
        dossier = _lock_dossier(session, actor, dossier_id, None)
        line = _allowed_line(actor, dossier, line_id, can_answer)
        errors: list[FieldError] = []
        understood = lookup_active(
            session,
            errors,
            RequestMotif,
            "understood_motif_id",
            LABELS["understood_motif_id"],
            data.understood_motif_id,
        )
        motif = lookup_active(
            session,
            errors,
            RefusalMotif,
            "refusal_motif_id",
            LABELS["refusal_motif_id"],
            data.refusal_motif_id,
        )
        other = check_text(
            errors,
            "other_motif",
            LABELS["other_motif"],
            data.other_motif,
            required=motif is not None and motif.is_other,
            max_length=MAX_SHORT_TEXT_LENGTH,
        )
        comments = check_text(errors, "comments", LABELS["comments"], data.comments)
        raise_if(errors)
        assert understood is not None and motif is not None
        line.answer_understood_motif_id = understood.id
        line.answer_refusal_motif_id = motif.id
        line.answer_other_motif = other if motif.is_other else None
        line.answer_comments = comments
        line.answered_at = now()
        line.answered_by_id = actor.id
        line.state = LineState.ANSWERED
        _audit(
            session,
            actor,
            "line_answered",
            dossier,
            line=line,
            side="refuser",
            line_id=line.id,
            changes={
                "answer_understood_motif_id": [None, understood.id],
                "answer_refusal_motif_id": [None, motif.id],
                "answer_other_motif": [None, line.answer_other_motif],
                "answer_comments": [None, comments],
            },
        )
        session.flush()


def send_reminders(db: Database, days: int, *, limit: int = 1000) -> int:
    """Queue a reminder for every line awaiting its answer for more than ``days`` days;
    a line is reminded once. Returns the number of lines reminded (system action)."""
    cutoff = reminder_cutoff(days)
    count = 0
    with db.transaction() as session:
        # The dossier is locked with its line, in the order every user action takes them
        # (dossier, then lines): locking the line alone deadlocked against an answer being
        # recorded (the reminder's outbox and audit rows reference the dossier) on PostgreSQL.
        # A dossier held by a user is skipped; the next run reminds it.
        lines = session.scalars(
            select(RefuserLine)
            .join(RefuserLine.dossier)
            .where(
                RefuserLine.state == LineState.AWAITING,
                RefuserLine.removed_at.is_(None),
                RefuserLine.reminded_at.is_(None),
                RefuserLine.notified_at < cutoff,
            )
            .order_by(RefuserLine.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for line in lines:
            queued = notifications.reminder(session, line.dossier, line, days)
            line.reminded_at = now()
            audit.record(
                session,
                actor_id=None,
                # Said as it is in the history: with nobody to mail, no reminder went out.
                action="line_reminded" if queued else "line_reminder_unreached",
                entity="refuser_line",
                entity_id=line.id,
                dossier_id=line.dossier_id,
                side="refuser",
                line_id=line.id,
            )
            count += 1
    return count
