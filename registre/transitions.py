"""What every transition shares, for refusal dossiers (``registre.dossiers``) and reports
(``registre.reports``) alike: one transaction with the actor reloaded, the permission gate,
the date-and-time check of what a user types, the facts derived from an instant, the PDSES
line holder, and the per-year human numbers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from registre.actors import Actor
from registre.auth import fresh_actor
from registre.db import Database
from registre.errors import ConflictError, FieldError, PermissionDenied, ValidationError
from registre.models import DossierCounter, PdsesLine
from registre.pdses import in_pdses_period
from registre.permissions import Decision
from registre.timeutil import as_utc, exists_in_paris, now, to_paris
from registre.validation import format_count, require

# Tolerance for clocks a little ahead of the server's.
FUTURE_TOLERANCE = timedelta(minutes=5)


def allow(decision: Decision) -> None:
    if not decision:
        raise PermissionDenied(decision.reason)


@contextmanager
def transaction(
    db: Database, actor: Actor, conflict: str | None = None
) -> Iterator[tuple[Session, Actor]]:
    """One transaction, the actor reloaded, concurrent writes turned into ConflictError
    (``conflict``: its message, when not about a dossier)."""
    try:
        with db.transaction() as session:
            yield session, fresh_actor(session, actor)
    except StaleDataError as exc:
        raise (ConflictError(conflict) if conflict else ConflictError()) from exc


def past_instant(
    errors: list[FieldError], field: str, label: str, value: datetime | None, *, of_what: str
) -> datetime | None:
    """A date and time as typed (naive: Paris), required, existing, not in the future; UTC."""
    instant = require(errors, field, label, value)
    if instant is None:
        return None
    try:
        exists = exists_in_paris(instant)
        instant = as_utc(instant)
        to_paris(instant)
    except OverflowError:  # year 1 or 9999 with an offset: beyond what a datetime holds
        errors.append(FieldError(field, f"La date{of_what} est invalide."))
        return None
    if not exists:
        errors.append(
            FieldError(
                field,
                "Cette heure n'existe pas ce jour-là (passage à l'heure d'été) : vérifiez "
                f"l'heure{of_what}.",
            )
        )
        return None
    if instant > now() + FUTURE_TOLERANCE:
        errors.append(
            FieldError(field, f"La date et l'heure{of_what} ne peuvent pas être dans le futur.")
        )
    elif to_paris(instant).year < 2000:
        errors.append(FieldError(field, f"La date{of_what} est invalide."))
    return instant


MAX_REMINDER_DAYS = 3650


def reminder_cutoff(days: int) -> datetime:
    """The instant before which an awaited answer is reminded, ``days`` days ago (from the
    configuration or ``registre remind --days``)."""
    if not 0 <= days <= MAX_REMINDER_DAYS:
        raise ValidationError.single(
            "days",
            "Le délai de relance doit être un nombre entier de jours compris entre 0 et "
            f"{format_count(MAX_REMINDER_DAYS)}.",
        )
    return now() - timedelta(days=days)


def is_line_holder(session: Session, establishment_id: int, specialty_id: int) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    PdsesLine.establishment_id == establishment_id,
                    PdsesLine.specialty_id == specialty_id,
                    PdsesLine.active.is_(True),
                )
            )
        )
    )


def time_facts(at: datetime, prefix: str = "requested") -> dict[str, Any]:
    """What is derived from an event's instant and stored with it: the PDSES flag and the
    Paris day, weekday and hour the statistics group by (``requested_*`` for a dossier,
    ``occurred_*`` for a report)."""
    local = to_paris(at)
    return {
        "in_pdses_hours": in_pdses_period(at),
        f"{prefix}_day": local.date(),
        f"{prefix}_weekday": local.weekday(),
        f"{prefix}_hour": local.hour,
    }


def next_number(
    session: Session, year: int, counter: Any = DossierCounter, prefix: str = "R"
) -> str:
    """``R-YYYY-NNNNNN`` (``F-`` for a report) from a per-year counter row (a row lock
    serialises concurrent ones)."""
    for _ in range(3):
        value = session.scalar(
            update(counter)
            .where(counter.year == year)
            .values(last_value=counter.last_value + 1)
            .returning(counter.last_value)
        )
        if value is not None:
            return f"{prefix}-{year}-{value:06d}"
        try:
            with session.begin_nested():
                session.add(counter(year=year, last_value=1))
            return f"{prefix}-{year}-{1:06d}"
        except IntegrityError:
            continue
    raise ConflictError("Impossible d'attribuer un numéro : réessayez.")
