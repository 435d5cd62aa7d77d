"""Shared input checks: free text (length, forbidden characters, no nominative data), one-line
texts (labels, names, titles), numbers typed in a form, and reference lookups. Every check appends ``FieldError``s so that a form shows every faulty
field at once; ``raise_if`` turns the list into one ``ValidationError``."""

from __future__ import annotations

import re
import unicodedata
from typing import TypeVar

from sqlalchemy.orm import Session

from registre import pii
from registre.errors import FieldError, ValidationError

# Length limits, in characters (code points, as PostgreSQL counts them), per kind of field;
# the pages give the same ``max_chars`` to their widgets.
MAX_TEXT_LENGTH = 5000  # comments, descriptions of an impact or an event, analysis, measures
MAX_REASON_LENGTH = 1000  # why a dossier is reopened or abandoned, a report withdrawn
MAX_SHORT_TEXT_LENGTH = 300  # « Autre motif »
MAX_LABEL_LENGTH = 200  # list labels, names of establishments, services, accounts; titles
MAX_TERRITORY_LENGTH = 120
MAX_USERNAME_LENGTH = 80  # an identifier (``accounts``)
MAX_EMAIL_LENGTH = 254  # an e-mail address (RFC 5321)
# What a search box or a number field may hold and still match something stored (the longest
# searched column is an e-mail address); longer, it matches nothing.
MAX_SEARCH_LENGTH = 254
# An order typed in « Ordre » (lists, documents) and the ids a page sends: within ``integer``.
MIN_SORT_ORDER = -1_000_000
MAX_SORT_ORDER = 1_000_000
MAX_ID = 2**31 - 1

# Never stored, in any text: the C0 and C1 control characters — tab, line feed and carriage
# return excepted, the line breaks of a multi-line field —, NUL among them, which PostgreSQL
# refuses in text; the bidirectional embeddings, overrides and isolates (U+202A–U+202E,
# U+2066–U+2069), which make a text display otherwise than it reads (« Trojan Source »);
# lone surrogates, which no encoding can store. Zero-width spaces and joiners (emoji
# sequences), the LRM / RLM marks and right-to-left scripts are text like any other.
_FORBIDDEN = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)

T = TypeVar("T")


def format_count(count: int) -> str:
    """``5 000``: the French thousands separator (a no-break space)."""
    return f"{count:,}".replace(",", "\u00a0")


def too_long_message(subject: str, limit: int) -> str:
    """« Commentaires » ne doit pas dépasser 5 000 caractères."""
    return f"{subject} ne doit pas dépasser {format_count(limit)} caractères."


def characters_message(subject: str, code: str) -> str:
    """Names the character by its code (``U+0000``): invisible ones cannot be quoted."""
    return (
        f"{subject} contient un caractère invisible ou de contrôle non autorisé ({code}) : "
        "supprimez-le."
    )


def forbidden_character(value: str) -> str | None:
    """``U+XXXX`` of the first character no text may hold (see ``_FORBIDDEN``), else None."""
    found = _FORBIDDEN.search(value)
    return f"U+{ord(found.group()):04X}" if found else None


def check_characters(errors: list[FieldError], field: str, subject: str, value: str) -> None:
    code = forbidden_character(value)
    if code is not None:
        errors.append(FieldError(field, characters_message(subject, code)))


def searchable(words: str) -> bool:
    """Whether typed words (a search, a number) may match something stored: no forbidden
    character, not longer than any stored value. Otherwise the look-up finds nothing, without
    sending them to the database (PostgreSQL refuses NUL, SQLite a LIKE pattern too long)."""
    return len(words) <= MAX_SEARCH_LENGTH and forbidden_character(words) is None


def valid_id(ident: int) -> bool:
    """An id a page sent: beyond ``integer`` it cannot exist (and would overflow the driver)."""
    return 1 <= ident <= MAX_ID


def clean_line(value: str) -> str:
    """A one-line text as stored: NFC, blanks (line breaks and tabs included) collapsed."""
    return " ".join(unicodedata.normalize("NFC", value).split())


def check_line(
    errors: list[FieldError],
    field: str,
    subject: str,
    value: str,
    *,
    required: bool = True,
    max_length: int = MAX_LABEL_LENGTH,
) -> str:
    """Validate a one-line text (a label, a name, a title); ``subject`` opens the messages
    (« Le libellé »). Returns the cleaned value (kept even when faulty)."""
    check_characters(errors, field, subject, value)
    clean = clean_line(value)
    if not clean:
        if required:
            errors.append(FieldError(field, f"{subject} est obligatoire."))
    elif len(clean) > max_length:
        errors.append(FieldError(field, too_long_message(subject, max_length)))
    return clean


def check_sort_order(errors: list[FieldError], value: int, field: str = "sort_order") -> int:
    """« Ordre », typed in a number box: an integer within bounds (the column is ``integer``)."""
    if not MIN_SORT_ORDER <= value <= MAX_SORT_ORDER:
        errors.append(
            FieldError(
                field,
                "« Ordre » doit être un nombre entier compris entre "
                f"{format_count(MIN_SORT_ORDER)} et {format_count(MAX_SORT_ORDER)}.",
            )
        )
    return value


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
    """Validate one free-text field; returns the cleaned value (kept even when faulty). The
    characters are checked as typed: one that the cleaning would drop at an end is refused
    too, never silently removed."""
    subject = f"« {label} »"
    if value is not None:
        check_characters(errors, field, subject, value)
    cleaned = clean_text(value)
    if cleaned is None:
        if required:
            errors.append(FieldError(field, f"{subject} est obligatoire."))
        return None
    if len(cleaned) > max_length:
        errors.append(FieldError(field, too_long_message(subject, max_length)))
    for reason in pii.findings(cleaned):
        errors.append(FieldError(field, f"{subject} : {reason}"))
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
    row = session.get(model, ident) if valid_id(ident) else None
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
