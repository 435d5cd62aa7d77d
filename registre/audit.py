"""The audit trail: who did what, when, and what changed. Written in the transaction of the
change itself, so that a change without its audit entry cannot exist."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from registre.models import AuditEntry
from registre.timeutil import now


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for the fields whose value changed."""
    return {
        key: [_plain(before.get(key)), _plain(after.get(key))]
        for key in after
        if _plain(before.get(key)) != _plain(after.get(key))
    }


def record(
    session: Session,
    *,
    actor_id: int | None,
    action: str,
    entity: str,
    entity_id: int | None = None,
    dossier_id: int | None = None,
    **details: Any,
) -> AuditEntry:
    entry = AuditEntry(
        at=now(),
        actor_id=actor_id,
        action=action,
        entity=entity,
        entity_id=entity_id,
        dossier_id=dossier_id,
        details={k: _plain(v) for k, v in details.items()},
    )
    session.add(entry)
    return entry
