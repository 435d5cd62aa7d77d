"""Reading the audit trail (Administrateur only): filter by user, action, dossier and period,
page through it, export it as CSV (the same format as the statistics' exports)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import false, func, select
from sqlalchemy.orm import aliased

from registre import exports
from registre.actors import Actor
from registre.administration import admin_read
from registre.db import Database
from registre.errors import ValidationError
from registre.exports import neutralise
from registre.models import Account, AuditEntry, Dossier, Report
from registre.queries import ACTION_LABELS as DOSSIER_ACTIONS
from registre.queries import Page, paginate
from registre.report_queries import ACTION_LABELS as REPORT_ACTIONS
from registre.timeutil import PARIS, format_datetime
from registre.validation import searchable

ACTION_LABELS: dict[str, str] = {
    **DOSSIER_ACTIONS,
    **REPORT_ACTIONS,
    "login_succeeded": "Connexion",
    "login_failed": "Échec de connexion",
    "login_refused_locked": "Connexion refusée (compte verrouillé)",
    "account_locked": "Compte verrouillé après des échecs",
    "logout": "Déconnexion",
    "password_changed": "Mot de passe changé",
    "password_reset": "Mot de passe provisoire défini",
    "account_created": "Compte créé",
    "account_updated": "Compte modifié",
    "account_deactivated": "Compte désactivé",
    "account_reactivated": "Compte réactivé",
    "account_unlocked": "Compte déverrouillé",
    "reference_created": "Référentiel : ajout",
    "reference_updated": "Référentiel : modification",
    "reference_deactivated": "Référentiel : désactivation",
    "reference_reactivated": "Référentiel : réactivation",
    "establishments_imported": "Import d'établissements",
    "document_added": "Document ajouté",
    "document_updated": "Document modifié",
    "document_replaced": "Document remplacé",
    "document_removed": "Document retiré",
}


@dataclass(frozen=True)
class AuditFilters:
    username: str = ""
    action: str | None = None
    dossier_number: str = ""
    start: date | None = None
    end: date | None = None

    def validate(self) -> None:
        if self.start and self.end and self.start > self.end:
            raise ValidationError.single(
                "period", "La date de début de la période doit précéder sa date de fin."
            )


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    who: str
    action: str
    action_label: str
    entity: str
    entity_id: int | None
    dossier_number: str | None
    details: str


# The journal tells who did what, when, on which record and which fields changed; never what
# someone typed (issue 14): the administrator may not « Voir le dossier », and the journal is
# no side door to either side's clinical text. Deny by default: a text value is shown as
# stored only under these keys (codes, identifiers, dates, states); any other is replaced by
# its length. Numbers, booleans and lists of identifiers are shown as they are.
CODED_KEYS = frozenset(
    {
        # top-level details
        "side",
        "role",
        "number",
        "username",
        "client",
        "until",
        "format",
        "sha256",
        # changed fields (``changes``): coded values of the forms
        "age_band",
        "sex",
        "urgency",
        "requested_at",
        "occurred_at",
        "state",
        "email",
        "finess",
        "departement",
        "departements",
        "kind",
    }
)
# « reason » is a typed text (reopening, abandon, withdrawal) except after a failed login.
CODED_REASON_ACTIONS = frozenset({"login_failed"})


def masked(text: str) -> str:
    return f"‹ texte masqué, {len(text)} caractère{'s' if len(text) > 1 else ''} ›"


def _shown(value: Any, *, coded: bool) -> Any:
    if isinstance(value, str):
        return value if coded or value == "" else masked(value)
    if isinstance(value, list):
        return [_shown(item, coded=coded) for item in value]
    if isinstance(value, dict):
        return {k: _shown(v, coded=k in CODED_KEYS) for k, v in value.items()}
    return value  # None, a number, a boolean


def visible_details(action: str, details: dict[str, Any]) -> dict[str, Any]:
    """The details of an entry as the administrator sees them: typed texts masked."""
    out: dict[str, Any] = {}
    for key, value in details.items():
        if key == "changes" and isinstance(value, dict):
            out[key] = {
                name: _shown(change, coded=name in CODED_KEYS) for name, change in value.items()
            }
        else:
            coded = key in CODED_KEYS or (key == "reason" and action in CODED_REASON_ACTIONS)
            out[key] = _shown(value, coded=coded)
    return out


def _details(action: str, details: dict[str, Any]) -> str:
    if not details:
        return ""
    return json.dumps(visible_details(action, details), ensure_ascii=False, sort_keys=True)


def _query(filters: AuditFilters) -> Any:
    who = aliased(Account)
    number = func.coalesce(Dossier.number, Report.number)
    query = (
        select(AuditEntry, who.username, number)
        .outerjoin(who, who.id == AuditEntry.actor_id)
        .outerjoin(Dossier, Dossier.id == AuditEntry.dossier_id)
        .outerjoin(Report, (AuditEntry.entity == "report") & (Report.id == AuditEntry.entity_id))
    )
    typed = [filters.username.strip(), filters.dossier_number.strip()]
    if not all(searchable(words) for words in typed):
        return query.where(false())  # nothing stored holds that
    if filters.username.strip():
        query = query.where(func.lower(who.username) == filters.username.strip().lower())
    if filters.action:
        query = query.where(AuditEntry.action == filters.action)
    if filters.dossier_number.strip():
        query = query.where(number == filters.dossier_number.strip().upper())
    if filters.start:
        query = query.where(AuditEntry.at >= datetime.combine(filters.start, time(), PARIS))
    if filters.end:
        end = datetime.combine(filters.end + timedelta(days=1), time(), PARIS)
        query = query.where(AuditEntry.at < end)
    return query


def _row(entry: AuditEntry, username: str | None, number: str | None) -> AuditRow:
    return AuditRow(
        id=entry.id,
        at=entry.at,
        who=username or "—",
        action=entry.action,
        action_label=ACTION_LABELS.get(entry.action, entry.action),
        entity=entry.entity,
        entity_id=entry.entity_id,
        dossier_number=number,
        details=_details(entry.action, entry.details),
    )


def list_entries(
    db: Database, actor: Actor, filters: AuditFilters, *, page: int = 1, page_size: int = 50
) -> Page[AuditRow]:
    """Latest first."""
    filters.validate()
    with admin_read(db, actor) as session:
        query = _query(filters).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        return paginate(session, query, page, page_size, lambda r: _row(*r))


def action_choices() -> list[tuple[str, str]]:
    return sorted(ACTION_LABELS.items(), key=lambda item: item[1])


CSV_HEADERS = [
    "Date et heure",
    "Utilisateur",
    "Action",
    "Code de l'action",
    "Objet",
    "Identifiant de l'objet",
    "Dossier ou signalement",
    "Détails",
]


def export_csv(db: Database, actor: Actor, filters: AuditFilters) -> bytes:
    """The filtered entries, oldest first, ``;``-separated UTF-8 with BOM."""
    filters.validate()
    with admin_read(db, actor) as session:
        query = _query(filters)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        message = exports.too_large_message(total, "entrées")
        if message:
            raise ValidationError.single("export", message)
        rows = (
            [
                format_datetime(row.at),
                neutralise(row.who),
                row.action_label,
                row.action,
                row.entity,
                "" if row.entity_id is None else str(row.entity_id),
                row.dossier_number or "",
                neutralise(row.details),
            ]
            for row in (
                _row(*r)
                for r in session.execute(
                    query.order_by(AuditEntry.at, AuditEntry.id).execution_options(yield_per=5000)
                )
            )
        )
        return exports.csv_bytes(CSV_HEADERS, rows)


__all__ = ["ACTION_LABELS", "AuditFilters", "AuditRow"]
