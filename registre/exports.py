"""Exports of the statistics page: the filtered dossiers, refusals and « fonctionnement non
conforme » reports, in CSV (``;``, UTF-8 with BOM, for French Excel) and Excel (with a sheet
describing each column).

Blindness is decided column by column: each column lists the perspectives allowed to see it,
and a column a perspective may not see is not even selected from the database. The rows are
those of ``statistics.refusal_conditions`` (``report_statistics.report_conditions`` for the
reports), so an export holds exactly what the figures count.
Every text cell that a spreadsheet would read as a formula (``= + - @``, tab, carriage
return) is neutralised with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import xlsxwriter
from sqlalchemy import Integer, func, select
from sqlalchemy import column as sql_column
from sqlalchemy.orm import Session, aliased

from registre.actors import Actor
from registre.auth import fresh_actor
from registre.db import Database
from registre.errors import ValidationError
from registre.models import (
    AGE_BAND_LABELS,
    SEX_LABELS,
    URGENCY_LABELS,
    Dossier,
    Establishment,
    FinalDestination,
    RefusalMotif,
    RefuserLine,
    Report,
    ReportType,
    RequestMotif,
    Service,
    Specialty,
)
from registre.permissions import Perspective
from registre.report_statistics import reports_query
from registre.statistics import Scope, StatsFilters, refusals_query, scope_of
from registre.timeutil import format_datetime, to_paris
from registre.workflow import DOSSIER_STATE_LABELS, LINE_STATE_LABELS, REPORT_STATE_LABELS

MAX_EXPORT_ROWS = 200_000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ALL = frozenset(Perspective)
REQUESTER_SIDE = frozenset({Perspective.REQUESTER, Perspective.REGIONAL})
REFUSER_SIDE = frozenset({Perspective.REFUSER, Perspective.REGIONAL})


def neutralise(value: str) -> str:
    """Prefix a cell that a spreadsheet would take for a formula (CSV/formula injection)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _yes_no(value: Any) -> str:
    return "Oui" if value else "Non"


@dataclass(frozen=True)
class Column:
    header: str
    description: str
    perspectives: frozenset[Perspective]
    expression: Any
    kind: str = "text"  # "text", "datetime", "int" or "label" (with ``labels``)
    labels: Callable[[Any], str] | None = None


@dataclass(frozen=True)
class ExportTable:
    name: str  # also the Excel sheet's name
    columns: tuple[Column, ...]
    rows: list[tuple[Any, ...]]

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def text_rows(self) -> Iterable[list[str]]:
        """Every cell as shown to a person: dates ``26/11/2026 03:15`` in Paris time."""
        for row in self.rows:
            yield [_as_text(column, value) for column, value in zip(self.columns, row, strict=True)]


def _as_text(column: Column, value: Any) -> str:
    if value is None:
        return ""
    if column.kind == "datetime":
        return format_datetime(value)
    if column.labels is not None:
        return column.labels(value)
    if column.kind == "int":
        return str(int(value))
    return neutralise(str(value))


# The aliases the columns read from.
_requester = aliased(Establishment, name="requester")
_refuser = aliased(Establishment, name="refuser")
_destination_est = aliased(Establishment, name="destination_est")
_stated_motif = aliased(RefusalMotif, name="stated_motif")
_answer_motif = aliased(RefusalMotif, name="answer_motif")
_understood = aliased(RequestMotif, name="understood")


def _dossier_identity() -> list[Column]:
    """What identifies the call: visible from every side (SPEC §5)."""
    return [
        Column("Numéro", "Numéro du dossier (R-AAAA-NNNNNN).", ALL, Dossier.number),
        Column(
            "Date et heure de la demande",
            "Date et heure de la demande, heure de Paris (JJ/MM/AAAA HH:MM).",
            ALL,
            Dossier.requested_at,
            "datetime",
        ),
        Column("Spécialité PDSES", "Spécialité PDSES concernée.", ALL, Specialty.label),
        Column("Etablissement demandeur", "Établissement qui a demandé.", ALL, _requester.name),
        Column(
            "Département du demandeur",
            "Département de l'établissement demandeur.",
            ALL,
            _requester.departement,
        ),
        Column("Service demandeur", "Service qui a demandé.", ALL, Service.name),
        Column(
            "Hors horaires PDSES",
            "Oui : demande faite hors des nuits, week-ends et jours fériés.",
            ALL,
            Dossier.in_pdses_hours,
            "label",
            lambda v: _yes_no(not v),
        ),
    ]


LINE_COLUMNS: tuple[Column, ...] = (
    *_dossier_identity(),
    Column("Etablissement refuseur", "Établissement qui a refusé.", ALL, _refuser.name),
    Column(
        "Département du refuseur",
        "Département de l'établissement refuseur.",
        ALL,
        _refuser.departement,
    ),
    Column(
        "Titulaire de la ligne",
        "Oui : le refuseur tient la ligne PDSES de la spécialité.",
        ALL,
        RefuserLine.is_line_holder,
        "label",
        _yes_no,
    ),
    Column(
        "Motif du refus (demandeur)",
        "Motif du refus tel que déclaré par l'établissement demandeur.",
        REQUESTER_SIDE,
        _stated_motif.label,
    ),
    Column(
        "Autre motif (demandeur)",
        "Précision du demandeur quand le motif est « Autre ».",
        REQUESTER_SIDE,
        RefuserLine.other_motif,
    ),
    Column(
        "Commentaires (demandeur)",
        "Commentaires du demandeur sur ce refus.",
        REQUESTER_SIDE,
        RefuserLine.comments,
    ),
    Column(
        "État de la réponse",
        "Réponse attendue ou Répondu.",
        ALL,
        RefuserLine.state,
        "label",
        lambda v: LINE_STATE_LABELS[v],
    ),
    Column(
        "Date de transmission",
        "Date à laquelle le refus a été transmis à l'établissement refuseur.",
        ALL,
        RefuserLine.notified_at,
        "datetime",
    ),
    Column(
        "Date de la réponse",
        "Date de la réponse de l'établissement refuseur.",
        ALL,
        RefuserLine.answered_at,
        "datetime",
    ),
    Column(
        "Motif compris de la demande",
        "Ce que l'établissement refuseur a compris de la demande.",
        REFUSER_SIDE,
        _understood.label,
    ),
    Column(
        "Motif du refus (refuseur)",
        "Motif du refus tel que déclaré par l'établissement refuseur.",
        REFUSER_SIDE,
        _answer_motif.label,
    ),
    Column(
        "Autre motif (refuseur)",
        "Précision du refuseur quand le motif est « Autre ».",
        REFUSER_SIDE,
        RefuserLine.answer_other_motif,
    ),
    Column(
        "Commentaires (refuseur)",
        "Commentaires de l'établissement refuseur.",
        REFUSER_SIDE,
        RefuserLine.answer_comments,
    ),
)

# Read from the per-dossier subquery of ``export_tables`` (named like this column).
_refusals_per_dossier = sql_column("refusal_count", Integer)

DOSSIER_COLUMNS: tuple[Column, ...] = (
    *_dossier_identity(),
    Column(
        "État du dossier",
        "Finalisé, ou À compléter s'il a été rouvert pour correction.",
        REQUESTER_SIDE,
        Dossier.state,
        "label",
        lambda v: DOSSIER_STATE_LABELS[v],
    ),
    Column(
        "Tranche d'âge du patient",
        "Tranche d'âge du patient.",
        REQUESTER_SIDE,
        Dossier.age_band,
        "label",
        lambda v: AGE_BAND_LABELS[v],
    ),
    Column(
        "Sexe", "Sexe du patient.", REQUESTER_SIDE, Dossier.sex, "label", lambda v: SEX_LABELS[v]
    ),
    Column("Motif de la demande", "Motif de la demande.", REQUESTER_SIDE, RequestMotif.label),
    Column(
        "Autre motif de la demande",
        "Précision quand le motif de la demande est « Autre ».",
        REQUESTER_SIDE,
        Dossier.request_other_motif,
    ),
    Column(
        "Niveau d'urgence",
        "Niveau d'urgence.",
        REQUESTER_SIDE,
        Dossier.urgency,
        "label",
        lambda v: URGENCY_LABELS[v],
    ),
    Column(
        "Destination finale du patient",
        "Où le patient a finalement été pris en charge.",
        REQUESTER_SIDE,
        FinalDestination.label,
    ),
    Column(
        "Établissement de destination",
        "Quand le patient a été transféré dans un autre établissement.",
        REQUESTER_SIDE,
        _destination_est.name,
    ),
    Column(
        "Impact sur la prise en charge",
        "Oui : « Ce refus a eu un impact sur la prise en charge du patient » est coché.",
        REQUESTER_SIDE,
        Dossier.impact,
        "label",
        _yes_no,
    ),
    Column(
        "Description de l'impact",
        "Description de l'impact.",
        REQUESTER_SIDE,
        Dossier.impact_description,
    ),
    Column("Commentaires", "Commentaires du demandeur.", REQUESTER_SIDE, Dossier.comments),
    Column(
        "Date de finalisation",
        "Dernière finalisation du dossier.",
        REQUESTER_SIDE,
        Dossier.finalised_at,
        "datetime",
    ),
    Column(
        "Nombre de refus",
        "Établissements refuseurs du dossier retenus par les filtres.",
        REQUESTER_SIDE,
        _refusals_per_dossier,
        "int",
    ),
)


# « Fonctionnements non conformes »: the declaring establishment has the requester's side
# (the impact on care), the concerned one the refuser's (its analysis and corrective
# measures); both see what happened, and whether and when it was answered.
REPORTS_TABLE = "Fonctionnements non conformes"
REPORT_ROWS = "fonctionnements non conformes"  # in the size message
_declaring = aliased(Establishment, name="declaring")
_concerned = aliased(Establishment, name="concerned")

REPORT_COLUMNS: tuple[Column, ...] = (
    Column("Numéro", "Numéro du signalement (F-AAAA-NNNNNN).", ALL, Report.number),
    Column(
        "Date et heure",
        "Date et heure du dysfonctionnement, heure de Paris (JJ/MM/AAAA HH:MM).",
        ALL,
        Report.occurred_at,
        "datetime",
    ),
    Column(
        "Horaires PDSES",
        "Oui : pendant les nuits, week-ends et jours fériés (horaires PDSES).",
        ALL,
        Report.in_pdses_hours,
        "label",
        _yes_no,
    ),
    Column("Spécialité PDSES", "Spécialité PDSES concernée.", ALL, Specialty.label),
    Column(
        "Type de dysfonctionnement", "Type de dysfonctionnement signalé.", ALL, ReportType.label
    ),
    Column("Etablissement déclarant", "Établissement qui a signalé.", ALL, _declaring.name),
    Column(
        "Département du déclarant",
        "Département de l'établissement déclarant.",
        ALL,
        _declaring.departement,
    ),
    Column(
        "Etablissement concerné",
        "Établissement dont la ligne PDSES n'a pas fonctionné comme prévu.",
        ALL,
        _concerned.name,
    ),
    Column(
        "Département de l'établissement concerné",
        "Département de l'établissement concerné.",
        ALL,
        _concerned.departement,
    ),
    Column(
        "Titulaire de la ligne",
        "Oui : l'établissement concerné tient la ligne PDSES de la spécialité.",
        ALL,
        Report.is_line_holder,
        "label",
        _yes_no,
    ),
    Column("Description", "Description du dysfonctionnement.", ALL, Report.description),
    Column(
        "Impact",
        "Oui : « Ce dysfonctionnement a eu un impact sur la prise en charge du patient » est "
        "coché.",
        REQUESTER_SIDE,
        Report.impact,
        "label",
        _yes_no,
    ),
    Column(
        "Description de l'impact",
        "Description de l'impact.",
        REQUESTER_SIDE,
        Report.impact_description,
    ),
    Column(
        "État",
        "Réponse attendue ou Répondu.",
        ALL,
        Report.state,
        "label",
        lambda v: REPORT_STATE_LABELS[v],
    ),
    Column(
        "Réponse le",
        "Date de la réponse de l'établissement concerné.",
        ALL,
        Report.answered_at,
        "datetime",
    ),
    Column(
        "Analyse de l'établissement",
        "Analyse de l'établissement concerné.",
        REFUSER_SIDE,
        Report.analysis,
    ),
    Column(
        "Mesures correctives",
        "Mesures correctives annoncées par l'établissement concerné.",
        REFUSER_SIDE,
        Report.corrective_measures,
    ),
)


def _visible(columns: tuple[Column, ...], perspective: Perspective) -> tuple[Column, ...]:
    return tuple(c for c in columns if perspective in c.perspectives)


def _identity_joins(query: Any) -> Any:
    return (
        query.join(Specialty, Specialty.id == Dossier.specialty_id)
        .join(_requester, _requester.id == Dossier.requesting_establishment_id)
        .join(Service, Service.id == Dossier.requesting_service_id)
    )


def _count(session: Session, scope: Scope, filters: StatsFilters) -> int:
    return int(session.scalar(refusals_query(scope, filters, func.count(RefuserLine.id))) or 0)


def grouped(value: int) -> str:
    """``200 000``: thousands grouped by a narrow no-break space."""
    return f"{value:,}".replace(",", "\u202f")


def too_large_message(total: int, rows: str = "refus") -> str | None:
    """Why an export of ``total`` ``rows`` is refused, or None."""
    if total <= MAX_EXPORT_ROWS:
        return None
    return (
        f"L'export compterait {grouped(total)} {rows}, au-delà de la limite de "
        f"{grouped(MAX_EXPORT_ROWS)} : réduisez la période ou ajoutez un filtre."
    )


def count_rows(db: Database, actor: Actor, perspective: Perspective, filters: StatsFilters) -> int:
    """How many refusals an export would hold (the page tells before anyone waits)."""
    filters.validate()
    with db.read() as session:
        scope = scope_of(fresh_actor(session, actor), perspective)
        return _count(session, scope, filters)


def export_tables(
    db: Database, actor: Actor, perspective: Perspective, filters: StatsFilters
) -> list[ExportTable]:
    """« Refus » (one row per refusal) for every perspective, and « Dossiers » (one row per
    dossier) for the requester and regional ones: a refuser sees no dossier-level field."""
    filters.validate()
    with db.read() as session:
        scope = scope_of(fresh_actor(session, actor), perspective)
        message = too_large_message(_count(session, scope, filters))
        if message:
            raise ValidationError.single("export", message)

        line_columns = _visible(LINE_COLUMNS, perspective)
        lines_query = (
            _identity_joins(refusals_query(scope, filters, *(c.expression for c in line_columns)))
            .join(_refuser, _refuser.id == RefuserLine.refusing_establishment_id)
            .join(_stated_motif, _stated_motif.id == RefuserLine.refusal_motif_id)
            .outerjoin(_answer_motif, _answer_motif.id == RefuserLine.answer_refusal_motif_id)
            .outerjoin(_understood, _understood.id == RefuserLine.answer_understood_motif_id)
            .order_by(Dossier.requested_at, Dossier.id, RefuserLine.id)
        )
        tables = [
            ExportTable(
                "Refus",
                line_columns,
                [tuple(r) for r in session.execute(lines_query.execution_options(yield_per=5000))],
            )
        ]
        if perspective in REQUESTER_SIDE:
            dossier_columns = _visible(DOSSIER_COLUMNS, perspective)
            matching = (
                refusals_query(
                    scope,
                    filters,
                    RefuserLine.dossier_id.label("dossier_id"),
                    func.count(RefuserLine.id).label("refusal_count"),
                )
                .group_by(RefuserLine.dossier_id)
                .subquery("matching")
            )
            dossiers_query = (
                _identity_joins(
                    select(*(c.expression for c in dossier_columns))
                    .select_from(Dossier)
                    .join(matching, matching.c.dossier_id == Dossier.id)
                )
                .join(RequestMotif, RequestMotif.id == Dossier.request_motif_id)
                .outerjoin(FinalDestination, FinalDestination.id == Dossier.final_destination_id)
                .outerjoin(
                    _destination_est,
                    _destination_est.id == Dossier.final_destination_establishment_id,
                )
                .order_by(Dossier.requested_at, Dossier.id)
            )
            tables.insert(
                0,
                ExportTable(
                    "Dossiers",
                    dossier_columns,
                    [
                        tuple(r)
                        for r in session.execute(dossiers_query.execution_options(yield_per=5000))
                    ],
                ),
            )
        return tables


def _report_count(session: Session, scope: Scope, filters: StatsFilters) -> int:
    return int(session.scalar(reports_query(scope, filters, func.count(Report.id))) or 0)


def count_report_rows(
    db: Database, actor: Actor, perspective: Perspective, filters: StatsFilters
) -> int:
    """How many « fonctionnement non conforme » reports an export would hold."""
    filters.validate()
    with db.read() as session:
        scope = scope_of(fresh_actor(session, actor), perspective)
        return _report_count(session, scope, filters)


def report_table(
    db: Database, actor: Actor, perspective: Perspective, filters: StatsFilters
) -> ExportTable:
    """« Fonctionnements non conformes »: one row per report counted by
    ``report_statistics`` (withdrawn ones excluded), with the columns ``perspective`` may
    see: no impact for the concerned establishment, no analysis for the declaring one."""
    filters.validate()
    with db.read() as session:
        scope = scope_of(fresh_actor(session, actor), perspective)
        message = too_large_message(_report_count(session, scope, filters), REPORT_ROWS)
        if message:
            raise ValidationError.single("export", message)
        columns = _visible(REPORT_COLUMNS, perspective)
        query = (
            reports_query(scope, filters, *(c.expression for c in columns))
            .join(Specialty, Specialty.id == Report.specialty_id)
            .join(ReportType, ReportType.id == Report.report_type_id)
            .join(_declaring, _declaring.id == Report.declaring_establishment_id)
            .join(_concerned, _concerned.id == Report.concerned_establishment_id)
            .order_by(Report.occurred_at, Report.id)
        )
        rows = [tuple(r) for r in session.execute(query.execution_options(yield_per=5000))]
        return ExportTable(REPORTS_TABLE, columns, rows)


def csv_bytes(headers: list[str], rows: Iterable[list[str]]) -> bytes:
    """``;``-separated, CRLF, UTF-8 with BOM: French Excel opens it without an import step.
    The cells come already written as text (and neutralised)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(headers)
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_csv(table: ExportTable) -> bytes:
    return csv_bytes(table.headers, table.text_rows())


def to_xlsx(tables: list[ExportTable], *, title: str = "") -> bytes:
    """One sheet per table, dates as real Excel dates, and a « Colonnes » sheet."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": True,
            # Text stays text: never a formula, a URL or a number guessed from a string.
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    bold = workbook.add_format({"bold": True})
    when = workbook.add_format({"num_format": "dd/mm/yyyy hh:mm"})
    for table in tables:
        sheet = workbook.add_worksheet(table.name)
        sheet.write_row(0, 0, table.headers, bold)
        sheet.freeze_panes(1, 0)
        for index, column in enumerate(table.columns):
            sheet.set_column(index, index, 22 if column.kind != "datetime" else 17)
        for r, row in enumerate(table.rows, start=1):
            for c, (column, value) in enumerate(zip(table.columns, row, strict=True)):
                if value is None:
                    continue
                if column.kind == "datetime":
                    local: datetime = to_paris(value).replace(tzinfo=None)
                    sheet.write_datetime(r, c, local, when)
                elif column.kind == "int":
                    sheet.write_number(r, c, int(value))
                else:
                    sheet.write_string(r, c, _as_text(column, value))
        if table.rows:
            sheet.autofilter(0, 0, len(table.rows), len(table.columns) - 1)
    described = workbook.add_worksheet("Colonnes")
    described.write_row(0, 0, ["Feuille", "Colonne", "Description"], bold)
    described.set_column(0, 0, 12)
    described.set_column(1, 1, 32)
    described.set_column(2, 2, 90)
    line = 1
    if title:
        described.write_string(line, 0, neutralise(title))
        line += 2
    for table in tables:
        for column in table.columns:
            described.write_row(line, 0, [table.name, column.header, column.description])
            line += 1
    workbook.close()
    return buffer.getvalue()


def file_stem(perspective: Perspective, filters: StatsFilters) -> str:
    return f"registre-refus-pdses-{perspective.value}-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}"
