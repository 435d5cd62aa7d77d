"""Shared pieces of the hostile-input property tests (``tests/test_hostile_input_*.py``):
the hypothesis settings, the strategies of hostile text and values, an oracle that says what
``registre`` must answer for one free-text field, and the check of an action's outcome.

The oracle is written here again, independently of ``registre.validation``: which characters
no field may hold, the normal form a text is stored in (NFC, line breaks as ``\\n``, no
surrounding blanks; one-line fields: blanks collapsed), the length limits. Only the wording
of the messages and the nominative-data detector (``registre.pii``, tested on its own) are
taken from ``registre``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, example, settings
from hypothesis import strategies as st

from registre import pii
from registre.db import Database
from registre.errors import ValidationError
from registre.models import Base
from registre.validation import characters_message, too_long_message

# Database-backed properties: no deadline (a 100 kB text through the nominative-data detector
# and the database takes a while), a fixed seed so that CI replays the same examples, no
# example database on disk, and the function-scoped fixtures (``world``) shared by the
# examples of one test on purpose: every example builds the state it needs.
HOSTILE = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
# For the properties whose every example first builds a finalised dossier or the like.
FEW = settings(HOSTILE, max_examples=20)

# --------------------------------------------------------------------------- strategies

NASTY = [
    # SQL and LIKE
    "'; DROP TABLE dossier; --",
    '" OR 1=1 --',
    "Robert'); DROP TABLE dossiers;--",
    "%_\\",
    "' UNION SELECT password_hash FROM accounts --",
    # HTML, markdown, templates, format strings
    "<img src=x onerror=alert(1)>",
    "<script>alert('registre')</script>",
    "[ouvrir](javascript:alert(1))",
    "**gras** `code` # titre",
    "{{7*7}} ${jndi:ldap://x} %s%n {0}",
    # right-to-left scripts and bidirectional controls
    "مريض محول إلى المستشفى",
    "המטופל הועבר",
    "refus \u202etxt.exe\u202c fin",
    "\u2067isolé\u2069",
    "\u200f\u200e",
    # invisible characters
    "\u200b",
    "zéro\u200blargeur",
    "\ufeff",
    "\u00ad",
    # control characters
    "\x00",
    "avant\x00après",
    "\x1b[31mrouge\x1b[0m",
    "\x07\x08\x0b\x0c\x7f",
    "\x1c\x1d\x1e\x1f",
    "\x85\x9b",
    "ligne 1\r\nligne 2\rligne 3\n",
    "\t tabulé \t",
    # lone surrogates
    "\ud800",
    "a\udfffb",
    # emoji, combining characters, compatibility forms
    "👨\u200d👩\u200d👧\u200d👦 🏳️\u200d🌈 🚑🏥",
    "e\u0301",
    "ﬁ Ｒ－２０２６ ½",
    "İstanbul ß ǅ",
    "\U0010ffff\ufffe\uffff",
    "\u2028\u2029",
    # blanks and look-alike values
    "",
    "   ",
    "\n\n",
    "None",
    "null",
    "-1",
    "1e309",
    "R-2026-000001",
]
# Every code point, surrogates and unassigned ones included.
ANY_CHAR = st.characters(codec=None, exclude_categories=())
FRAGMENT = st.one_of(
    st.sampled_from(NASTY),
    st.text(ANY_CHAR, max_size=12),
    st.text(max_size=12),
)
BIG_UNITS = ["a", "é", "e\u0301", "😀", "\u05d0", "x ", "<b>", "\u200b"]
SIZES = [99, 100, 101, 119, 120, 121, 199, 200, 201, 299, 300, 301]
SIZES += [999, 1000, 1001, 4999, 5000, 5001, 100_000]


@st.composite
def big_text(draw: st.DrawFn) -> str:
    """Around a limit: exactly ``n`` code points of a repeated unit, maybe with a hostile
    fragment inside (a 100 kB comment, 5 001 emoji, a decomposed « é » that NFC halves)."""
    unit = draw(st.sampled_from(BIG_UNITS))
    size = draw(st.sampled_from(SIZES))
    text = (unit * size)[:size]
    if draw(st.booleans()):
        where = draw(st.integers(0, size))
        text = text[:where] + draw(st.sampled_from(NASTY)) + text[where:]
    return text


TEXT = st.one_of(st.lists(FRAGMENT, max_size=5).map("".join), big_text())
# A free-text field of a form: absent, or any text.
MAYBE_TEXT = st.one_of(st.none(), TEXT)
# Values typed in number boxes and ids: beyond 32 and 64 bits, negative, zero.
HUGE_INT = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, -(2**63) - 1]),
)

# The cases the issue names, tried first by every text property (``issue_samples``): all the
# text fields of the form hold the same sample.
ISSUE_SAMPLES = (
    "avant\x00après",  # PostgreSQL refuses NUL in text
    "\ud800",  # a lone surrogate: no encoding holds it
    "refus \u202etxt.exe\u202c",  # right-to-left override
    "ligne 1\r\nligne 2 \x1b[31mrouge",  # CR LF (kept as a line break), ESC (refused)
    "a" * 100_000,
    "'; DROP TABLE dossier; -- <img src=x onerror=alert(1)> <script>alert(1)</script>",
    "مريض محول 👨\u200d👩\u200d👧 המטופל הועבר zéro\u200blargeur e\u0301",
)


def issue_samples(*names: str, **fixed: Any) -> Callable[[Any], Any]:
    """One explicit example per ``ISSUE_SAMPLES`` entry, in every parameter of ``names``
    (the others as in ``fixed``); put it between the settings and ``@given``."""

    def decorate(test: Any) -> Any:
        for sample in reversed(ISSUE_SAMPLES):
            test = example(**fixed, **dict.fromkeys(names, sample))(test)
        return test

    return decorate


# --------------------------------------------------------------------------- the oracle

_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def forbidden(value: str) -> str | None:
    found = _FORBIDDEN.search(value)
    return f"U+{ord(found.group()):04X}" if found else None


def normal_text(value: str | None) -> str | None:
    """How a multi-line text is stored: NFC, ``\\n`` line breaks, no surrounding blanks."""
    if value is None:
        return None
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    return text.strip() or None


def normal_line(value: str) -> str:
    """How a one-line text (a label, a name, a title) is stored: NFC, blanks collapsed."""
    return " ".join(unicodedata.normalize("NFC", value).split())


@dataclass(frozen=True)
class Text:
    """A free-text field checked by ``registre.validation.check_text``."""

    field: str
    label: str
    limit: int
    required: bool = False

    def errors(self, value: str | None, *, required: bool | None = None) -> list[str]:
        subject = f"« {self.label} »"
        found: list[str] = []
        code = forbidden(value) if value is not None else None
        if code:
            found.append(characters_message(subject, code))
        cleaned = normal_text(value)
        if cleaned is None:
            if self.required if required is None else required:
                found.append(f"{subject} est obligatoire.")
            return found
        if len(cleaned) > self.limit:
            found.append(too_long_message(subject, self.limit))
        found.extend(f"{subject} : {reason}" for reason in pii.findings(cleaned))
        return found


@dataclass(frozen=True)
class Line:
    """A one-line field (label, name, title) with its own messages."""

    field: str
    subject: str  # « Le libellé », « Le titre »…
    limit: int
    required: bool = True

    def errors(self, value: str) -> list[str]:
        found: list[str] = []
        code = forbidden(value)
        if code:
            found.append(characters_message(self.subject, code))
        cleaned = normal_line(value)
        if not cleaned:
            if self.required:
                found.append(f"{self.subject} est obligatoire.")
        elif len(cleaned) > self.limit:
            found.append(too_long_message(self.subject, self.limit))
        return found


# --------------------------------------------------------------------------- outcomes


def snapshot(db: Database) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """Every row of every table, in a stable order (raw rows: cheaper than typed ones)."""
    with db.engine.connect() as conn:
        out = []
        for table in Base.metadata.sorted_tables:
            order = ", ".join(f'"{c.name}"' for c in table.primary_key.columns) or "1"
            rows = conn.exec_driver_sql(f'SELECT * FROM "{table.name}" ORDER BY {order}').all()
            out.append((table.name, [tuple(row) for row in rows]))
        return out


def _sorted(by_field: dict[str, list[str]]) -> dict[str, list[str]]:
    return {field: sorted(messages) for field, messages in by_field.items() if messages}


def outcome(
    db: Database,
    action: Callable[[], Any],
    expected: dict[str, list[str]],
) -> tuple[bool, Any]:
    """Run ``action``: either a ``ValidationError`` whose messages are exactly ``expected``
    (field → messages) and nothing written, or a success when nothing was expected. Any
    other exception escapes (the property fails on it). Returns (succeeded, result)."""
    wanted = _sorted(expected)
    before = snapshot(db)
    try:
        result = action()
    except ValidationError as exc:
        assert _sorted(exc.by_field()) == wanted, (exc.by_field(), wanted)
        assert snapshot(db) == before, "a refused action wrote to the database"
        return False, None
    assert not wanted, f"accepted although {wanted}"
    return True, result
