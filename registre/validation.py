"""Shared input checks: free text (length, control characters, no nominative data) and
reference lookups. Every check appends ``FieldError``s so that a form shows every faulty
field at once; ``raise_if`` turns the list into one ``ValidationError``."""

from __future__ import annotations

import re
import unicodedata
from typing import TypeVar

from sqlalchemy.orm import Session

from registre import pii
from registre.errors import FieldError, ValidationError

MAX_TEXT_LENGTH = 2000
MAX_SHORT_TEXT_LENGTH = 300

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

T = TypeVar("T")


def clean_text(value: str | None) -> str | None:
    """Strip, normalise to NFC and line endings to ``\\n``; empty → None."""
    if value is None:
        return None
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n").strip()
    return value or None


def check_text(
    errors: list[FieldError],
    field: str,
    label: str,
    value: str | None,
    *,
    required: bool = False,
    max_length: int = MAX_TEXT_LENGTH,
) -> str | None:
    """Validate one free-text field; returns the cleaned value (kept even when faulty)."""
    cleaned = clean_text(value)
    if cleaned is None:
        if required:
            errors.append(FieldError(field, f"« {label} » est obligatoire."))
        return None
    if _CONTROL.search(cleaned):
        errors.append(FieldError(field, f"« {label} » contient des caractères non autorisés."))
    if len(cleaned) > max_length:
        errors.append(
            FieldError(field, f"« {label} » ne doit pas dépasser {max_length} caractères.")
        )
    for reason in pii.findings(cleaned):
        errors.append(FieldError(field, f"« {label} » : {reason}"))
    return cleaned


def require(errors: list[FieldError], field: str, label: str, value: T | None) -> T | None:
    if value is None or value == "":
        errors.append(FieldError(field, f"« {label} » est obligatoire."))
        return None
    return value


def lookup_active(
    session: Session,
    errors: list[FieldError],
    model: type[T],
    field: str,
    label: str,
    ident: int | None,
    *,
    required: bool = True,
    allow_inactive: int | None = None,
) -> T | None:
    """Fetch a reference row by id; it must exist and be active (or be the value already
    stored, ``allow_inactive``, so that deactivating an item never blocks editing old data)."""
    if ident is None:
        if required:
            errors.append(FieldError(field, f"« {label} » est obligatoire."))
        return None
    row = session.get(model, ident)
    if row is None or (not getattr(row, "active", True) and ident != allow_inactive):
        errors.append(FieldError(field, f"« {label} » : valeur inconnue ou désactivée."))
        return None
    return row


def raise_if(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationError(errors)


def like_pattern(words: str) -> str:
    """``%words%`` for a LIKE with ``escape="\\"``: a typed % or _ is a character, not a
    wildcard."""
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
