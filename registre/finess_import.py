"""Import of establishments from a CSV file (Administrateur only), in two formats:

- the public FINESS extraction (« extraction du fichier FINESS », ``;``-separated): the
  establishment lines start with ``structureet`` and carry the FINESS number (2nd column),
  the short and long names (4th, 5th) and the département (14th); the file's other lines
  (header, geolocation) are not establishments and are skipped;
- a simple ``finess;nom;departement`` file (header optional, département optional: taken
  from the FINESS number when empty).

``preview`` parses and compares with the database without writing; ``apply`` does the same
in one transaction and inserts or updates. Idempotent: the same file again changes nothing.
A rejected line (invalid FINESS, no name, twice in the file…) is listed with its reason and
never stops the others.
"""

from __future__ import annotations

import csv
import enum
import io
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from registre import audit, finess
from registre.actors import Actor
from registre.administration import admin_read, admin_write
from registre.db import Database
from registre.errors import ValidationError
from registre.models import Establishment
from registre.validation import clean_line, forbidden_character

MAX_BYTES = 64 * 1024 * 1024
EXTRACTION_TAG = "structureet"
# The extraction codes the overseas départements 9A…9F.
OVERSEAS = {"9A": "971", "9B": "972", "9C": "973", "9D": "974", "9E": "975", "9F": "976"}
_DEPARTEMENT_RE = re.compile(r"^(?:\d{2}|2[AB]|97\d|98\d)$")


class ImportFormat(enum.StrEnum):
    EXTRACTION = "Extraction FINESS (lignes structureet)"
    SIMPLE = "Fichier simple finess;nom;departement"


class Change(enum.StrEnum):
    ADD = "Ajout"
    UPDATE = "Mise à jour"
    SAME = "Inchangé"


@dataclass(frozen=True)
class ImportLine:
    line_no: int
    finess: str
    name: str
    departement: str
    change: Change


@dataclass(frozen=True)
class Rejected:
    line_no: int
    content: str
    reason: str


@dataclass(frozen=True)
class ImportReport:
    format: ImportFormat
    lines: tuple[ImportLine, ...]
    rejected: tuple[Rejected, ...]
    applied: bool = False

    def count(self, change: Change) -> int:
        return sum(1 for line in self.lines if line.change is change)


@dataclass(frozen=True)
class _Parsed:
    line_no: int
    finess: str
    name: str
    departement: str


def _decode(content: bytes) -> str:
    if len(content) > MAX_BYTES:
        raise ValidationError.single("file", f"Le fichier dépasse {MAX_BYTES // (1024 * 1024)} Mo.")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")  # the extraction's older encoding


def parse(content: bytes) -> tuple[ImportFormat, list[_Parsed], list[Rejected]]:
    text = _decode(content)
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    extraction = any(row and row[0].strip().lower() == EXTRACTION_TAG for row in rows)
    parsed: list[_Parsed] = []
    rejected: list[Rejected] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        if not any(cell.strip() for cell in row):
            continue
        shown = ";".join(row)[:160]
        if extraction:
            if row[0].strip().lower() != EXTRACTION_TAG:
                continue  # header, geolocation: not an establishment line
            if len(row) < 14:
                rejected.append(Rejected(number, shown, "Ligne incomplète (moins de 14 colonnes)."))
                continue
            raw_finess, name = row[1], (row[4].strip() or row[3].strip())
            raw_dept = row[13]
        else:
            if number == 1 and row[0].strip().lower() == "finess":
                continue  # header
            if len(row) < 2:
                rejected.append(Rejected(number, shown, "Format attendu : finess;nom;departement."))
                continue
            raw_finess, name = row[0], row[1].strip()
            raw_dept = row[2] if len(row) > 2 else ""
        code = finess.normalise(raw_finess)
        problem = finess.error_message(code)
        if problem:
            rejected.append(Rejected(number, shown, problem))
            continue
        code_point = forbidden_character(name)
        if code_point is not None:  # NUL (refused by PostgreSQL), control, bidi override…
            rejected.append(
                Rejected(
                    number,
                    shown,
                    f"Le nom contient un caractère invisible ou de contrôle non autorisé "
                    f"({code_point}).",
                )
            )
            continue
        name = clean_line(name)
        if not name:
            rejected.append(Rejected(number, shown, "Le nom de l'établissement est vide."))
            continue
        if len(name) > 200:
            rejected.append(Rejected(number, shown, "Le nom dépasse 200 caractères."))
            continue
        departement = raw_dept.strip().upper()
        departement = OVERSEAS.get(departement, departement)
        if not _DEPARTEMENT_RE.match(departement):
            departement = finess.departement(code)
        if code in seen:
            rejected.append(
                Rejected(number, shown, f"FINESS déjà présent à la ligne {seen[code]} du fichier.")
            )
            continue
        seen[code] = number
        parsed.append(_Parsed(number, code, name, departement))
    kind = ImportFormat.EXTRACTION if extraction else ImportFormat.SIMPLE
    if not parsed and not rejected:
        raise ValidationError.single("file", "Le fichier ne contient aucun établissement.")
    return kind, parsed, rejected


def _compare(
    session: Session, parsed: list[_Parsed]
) -> tuple[list[ImportLine], dict[str, Establishment]]:
    existing: dict[str, Establishment] = {}
    numbers = [p.finess for p in parsed]
    for start in range(0, len(numbers), 1000):
        chunk = numbers[start : start + 1000]
        for est in session.scalars(select(Establishment).where(Establishment.finess.in_(chunk))):
            existing[est.finess] = est
    lines = []
    for p in parsed:
        known = existing.get(p.finess)
        if known is None:
            change = Change.ADD
        elif known.name != p.name or known.departement != p.departement:
            change = Change.UPDATE
        else:
            change = Change.SAME
        lines.append(ImportLine(p.line_no, p.finess, p.name, p.departement, change))
    return lines, existing


def preview(db: Database, actor: Actor, content: bytes) -> ImportReport:
    """What ``apply`` would do, without writing anything."""
    kind, parsed, rejected = parse(content)
    with admin_read(db, actor) as session:
        lines, _existing = _compare(session, parsed)
    return ImportReport(kind, tuple(lines), tuple(rejected))


def apply(db: Database, actor: Actor, content: bytes, filename: str = "") -> ImportReport:
    """Insert the new establishments and update the changed ones, in one transaction."""
    kind, parsed, rejected = parse(content)
    with admin_write(db, actor) as (session, actor):
        lines, existing = _compare(session, parsed)
        for line in lines:
            if line.change is Change.ADD:
                session.add(
                    Establishment(
                        finess=line.finess,
                        name=line.name,
                        departement=line.departement,
                        active=True,
                        finess_demo=False,
                    )
                )
            elif line.change is Change.UPDATE:
                est = existing[line.finess]
                est.name = line.name
                est.departement = line.departement
        report = ImportReport(kind, tuple(lines), tuple(rejected), applied=True)
        audit.record(
            session,
            actor_id=actor.id,
            action="establishments_imported",
            entity="establishments",
            file=filename[:200],
            format=kind.value,
            added=report.count(Change.ADD),
            updated=report.count(Change.UPDATE),
            unchanged=report.count(Change.SAME),
            rejected=len(rejected),
        )
        return report
