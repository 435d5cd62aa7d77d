"""Statistiques (SPEC §10): figures, charts and exports over a period, for the Coordinateur
PDSES and the Directeur (their establishment, as requester or as refuser) and the ARS (its
region): the refusals, then the « fonctionnements non conformes » (SPEC §9). What each may see
is decided in ``registre.statistics`` and ``registre.report_statistics``."""

from datetime import date

import streamlit as st

from registre import exports, report_statistics, statistics
from registre.errors import RegistreError
from registre.permissions import Perspective
from registre.timeutil import format_datetime
from registre.web.auth import require_actor
from registre.web.navigation import STATISTICS_ROLES
from registre.web.resources import database
from registre.web.stats_view import (
    bar_chart,
    chart_block,
    heatmap,
    number,
    series_chart,
    show_figures,
    weekday_hour_chart,
)
from registre.web.widgets import choice_box, md

actor = require_actor(STATISTICS_ROLES)
db = database()

st.title("Statistiques")
try:
    options = statistics.options(db, actor)
except RegistreError as exc:
    st.error(exc.message)
    st.stop()

perspective = options.perspectives[0]
if len(options.perspectives) > 1:
    perspective = st.radio(
        "Point de vue",
        options.perspectives,
        format_func=lambda p: statistics.PERSPECTIVE_LABELS[p],
        horizontal=True,
        key="stats-point-de-vue",
    )
where = options.scope_label(perspective)
st.caption(md(where))
if perspective is Perspective.REFUSER:
    st.caption(
        "Comme établissement refuseur, vous voyez l'identification des appels reçus et vos "
        "propres réponses : ni les motifs, l'impact ou la destination déclarés par le "
        "demandeur, ni les autres établissements refuseurs."
    )

# --- filters ------------------------------------------------------------------------------

defaults = options.defaults
today = defaults.end
with st.form("filtres-statistiques"):
    c1, c2, c3 = st.columns(3)
    start: date | None = c1.date_input(
        "Du",
        value=defaults.start,
        min_value=date(2000, 1, 1),
        max_value=today,
        format="DD/MM/YYYY",
        key="stats-du",
    )
    end: date | None = c2.date_input(
        "Au",
        value=defaults.end,
        min_value=date(2000, 1, 1),
        max_value=today,
        format="DD/MM/YYYY",
        key="stats-au",
    )
    with c3:
        specialty_id = choice_box("Spécialité PDSES", options.specialties, key="stats-specialite")
    c4, c5, c6 = st.columns(3)
    departement: str | None = c4.selectbox(
        statistics.departement_filter_label(perspective),
        options.departements,
        index=None,
        placeholder="Tous",
        key=f"stats-departement-{perspective.value}",
    )
    requesting_id = refusing_id = None
    if perspective is not Perspective.REQUESTER:
        with c5:
            requesting_id = choice_box(
                "Etablissement demandeur",
                options.establishments,
                key=f"stats-demandeur-{perspective.value}",
            )
    if perspective is not Perspective.REFUSER:
        with c6 if perspective is Perspective.REGIONAL else c5:
            refusing_id = choice_box(
                "Etablissement refuseur",
                options.establishments,
                key=f"stats-refuseur-{perspective.value}",
            )
    holders_only = st.checkbox(
        "Titulaires de la ligne PDSES uniquement",
        key="stats-titulaires",
        help="Seulement les refus opposés par l'établissement qui tient la ligne PDSES de la "
        "spécialité.",
    )
    st.form_submit_button("Appliquer les filtres", type="primary")

if start is None or end is None:
    st.error("Indiquez la date de début et la date de fin de la période.")
    st.stop()
filters = statistics.StatsFilters(
    start=start,
    end=end,
    specialty_id=specialty_id,
    departement=departement,
    requesting_establishment_id=requesting_id,
    refusing_establishment_id=refusing_id,
    line_holders_only=holders_only,
)
try:
    stats = statistics.compute(db, actor, perspective, filters)
    report_stats = report_statistics.compute(db, actor, perspective, filters)
except RegistreError as exc:
    st.error(exc.message)
    st.stop()

freshness = statistics.cache_seconds()
st.caption(
    f"Période du {start:%d/%m/%Y} au {end:%d/%m/%Y} (date de la demande). Chiffres calculés "
    f"le {format_datetime(stats.computed_at)}, "
    + (
        f"mis à jour au plus toutes les {freshness:g} secondes."
        if freshness > 0
        else "à l'instant."
    )
)

# --- refusals: figures and charts ---------------------------------------------------------

GRANULARITIES = {"semaine": "Semaine", "mois": "Mois"}

show_figures(stats.figures)
if not stats.figure("refusals").value:
    st.info("Aucun refus ne correspond à ces filtres sur cette période.")
else:
    granularity = st.radio(
        "Regrouper les refus par",
        list(GRANULARITIES),
        index=1,
        format_func=GRANULARITIES.__getitem__,
        horizontal=True,
        key="stats-granularite",
    )
    per_period = statistics.series(stats, granularity)
    chart_block(
        f"Refus par {GRANULARITIES[granularity].lower()} et par spécialité",
        "periodes",
        lambda data: series_chart(data, granularity),
        per_period,
        granularity,
    )
    holder_column = "Titulaire de ligne"
    chart_block(
        stats.establishments_title,
        "etablissements",
        lambda data: bar_chart(data, "Établissement", "Refus", color=holder_column),
        stats.establishments,
        holder_column,
    )
    if stats.requester_motifs is not None:
        chart_block(
            "Motifs de refus déclarés par les demandeurs",
            "motifs-demandeurs",
            lambda data: bar_chart(data, "Motif", "Refus"),
            stats.requester_motifs,
        )
    if stats.refuser_motifs is not None:
        chart_block(
            "Motifs de refus déclarés par les refuseurs"
            if perspective is Perspective.REGIONAL
            else "Motifs de refus déclarés par mon établissement (réponses)",
            "motifs-refuseurs",
            lambda data: bar_chart(data, "Motif", "Refus"),
            stats.refuser_motifs,
        )
    if stats.concordance is not None:
        chart_block(
            "Concordance des motifs (demandeur × refuseur, refus ayant reçu une réponse)",
            "concordance",
            lambda data: heatmap(data, "Motif du refuseur", "Motif du demandeur", "Refus"),
            stats.concordance,
        )
    chart_block(
        "Refus par jour de la semaine et heure de la demande",
        "jour-heure",
        weekday_hour_chart,
        stats.weekday_hour,
    )
    if stats.destinations is not None:
        chart_block(
            "Destinations finales des patients",
            "destinations",
            lambda data: bar_chart(data, "Destination", "Dossiers"),
            stats.destinations,
        )

# --- fonctionnements non conformes (SPEC §9) ------------------------------------------

st.header("Fonctionnements non conformes")
st.caption(
    {
        Perspective.REQUESTER: "Signalements déclarés par votre établissement : vous voyez si "
        "l'établissement concerné a répondu et quand, jamais sa réponse.",
        Perspective.REFUSER: "Signalements qui concernent votre établissement : jamais "
        "l'impact sur la prise en charge déclaré par l'établissement déclarant.",
        Perspective.REGIONAL: "Signalements dont l'établissement déclarant ou l'établissement "
        "concerné est dans votre périmètre.",
    }[perspective]
    + " Période : date de l'événement ; les signalements retirés ne sont pas comptés. Les "
    "filtres d'établissement demandeur et refuseur portent sur l'établissement déclarant et "
    "l'établissement concerné."
)
show_figures(report_stats.figures)
if not report_stats.total:
    st.info("Aucun fonctionnement non conforme ne correspond à ces filtres sur cette période.")
else:
    report_granularity = st.radio(
        "Regrouper les fonctionnements non conformes par",
        list(GRANULARITIES),
        index=1,
        format_func=GRANULARITIES.__getitem__,
        horizontal=True,
        key="stats-granularite-signalements",
    )
    reports_per_period = report_statistics.series(report_stats, report_granularity)
    value = report_statistics.VALUE
    chart_block(
        f"Fonctionnements non conformes par {GRANULARITIES[report_granularity].lower()} "
        "et par spécialité",
        "signalements-periodes",
        lambda data: series_chart(data, report_granularity, value),
        reports_per_period,
        (report_granularity, value),
    )
    chart_block(
        "Fonctionnements non conformes par type de dysfonctionnement",
        "signalements-types",
        lambda data: bar_chart(data, "Type de dysfonctionnement", value),
        report_stats.types,
    )
    chart_block(
        "Fonctionnements non conformes par spécialité",
        "signalements-specialites",
        lambda data: bar_chart(data, "Spécialité", value),
        report_stats.specialties,
    )
    if report_stats.concerned is not None:
        chart_block(
            report_stats.concerned_title,
            "signalements-concernes",
            lambda data: bar_chart(
                data, "Établissement", value, color=report_statistics.HOLDER_COLUMN
            ),
            report_stats.concerned,
        )
    if report_stats.declaring is not None:
        chart_block(
            report_stats.declaring_title,
            "signalements-declarants",
            lambda data: bar_chart(data, "Établissement", value),
            report_stats.declaring,
        )

# --- exports --------------------------------------------------------------------------

# An export holds the refusals and reports counted above (``exports`` checks it again when
# it is built): counting them anew took 345 ms of the ARS's page at a million dossiers.
total = int(stats.figure("refusals").value or 0)
report_total = report_stats.total
if not total and not report_total:
    st.stop()
st.header("Exports")
too_large = exports.too_large_message(total)
reports_too_large = exports.too_large_message(report_total, exports.REPORT_ROWS)
for warning in (too_large, reports_too_large):
    if warning:
        st.warning(warning)
names = []
if total and not too_large:
    names = ["Dossiers", "Refus"] if perspective is not Perspective.REFUSER else ["Refus"]
with_reports = bool(report_total) and not reports_too_large
if not names and not with_reports:
    st.stop()
st.caption(
    f"{number(total)} refus et {number(report_total)} fonctionnements non conformes avec ces "
    "filtres. CSV : séparateur « ; », UTF-8, s'ouvre directement dans Excel. Excel : une "
    "feuille par tableau et une feuille « Colonnes » qui décrit chaque colonne."
)
stem = exports.file_stem(perspective, filters)


def _tables() -> list[exports.ExportTable]:
    return exports.export_tables(db, actor, perspective, filters)


def _csv(name: str) -> bytes:
    return exports.to_csv(next(t for t in _tables() if t.name == name))


def _workbook() -> bytes:
    tables = _tables() if names else []
    if with_reports:
        tables.append(exports.report_table(db, actor, perspective, filters))
    return exports.to_xlsx(tables, title=f"Registre des refus PDSES — {where}")


columns = st.columns(len(names) + int(with_reports) + 1)
for column, name in zip(columns, names, strict=False):
    column.download_button(
        f"⬇️ {name} (CSV)",
        data=lambda name=name: _csv(name),
        file_name=f"{stem}-{name.lower()}.csv",
        mime="text/csv",
        key=f"export-csv-{name}",
        on_click="ignore",
    )
if with_reports:
    columns[len(names)].download_button(
        "⬇️ Fonctionnements non conformes (CSV)",
        data=lambda: exports.to_csv(exports.report_table(db, actor, perspective, filters)),
        file_name=f"{stem}-fonctionnements-non-conformes.csv",
        mime="text/csv",
        key="export-csv-signalements",
        on_click="ignore",
    )
sheets = [*names, exports.REPORTS_TABLE] if with_reports else names
columns[-1].download_button(
    "⬇️ "
    + (f"{', '.join(sheets[:-1])} et {sheets[-1]}" if len(sheets) > 1 else sheets[0])
    + " (Excel)",
    data=_workbook,
    file_name=f"{stem}.xlsx",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    key="export-xlsx",
    on_click="ignore",
)
