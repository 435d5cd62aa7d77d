"""Rendering of ``registre.statistics``: French number formats, the Altair charts, and the
« Afficher les données » table under each chart (a chart is never the only way to read a
number)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from registre.statistics import WEEKDAYS, Figure

FIGURES_PER_ROW = 4


def number(value: float, decimals: int = 0) -> str:
    """``12 345`` / ``1,6``: French separators (a narrow no-break space for thousands)."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\u202f").replace(".", ",")


def duration(hours: float) -> str:
    if hours < 1:
        return f"{round(hours * 60)} min"
    if hours < 48:
        whole = int(hours)
        minutes = round((hours - whole) * 60)
        if minutes == 60:
            whole, minutes = whole + 1, 0
        return f"{whole} h {minutes:02d}" if minutes else f"{whole} h"
    return f"{number(hours / 24, 1)} jours"


def format_figure(figure: Figure) -> str:
    if figure.value is None:
        return "—"
    if figure.unit == "count":
        return number(figure.value)
    if figure.unit == "share":
        return f"{number(figure.value * 100, 1)} %"
    if figure.unit == "hours":
        return duration(figure.value)
    return number(figure.value, 2)


def show_figures(figures: tuple[Figure, ...]) -> None:
    for start in range(0, len(figures), FIGURES_PER_ROW):
        columns = st.columns(FIGURES_PER_ROW)
        for column, figure in zip(columns, figures[start : start + FIGURES_PER_ROW], strict=False):
            column.metric(figure.label, format_figure(figure), help=figure.help)


def _data_toggle(key: str, data: pd.DataFrame) -> None:
    if st.toggle("Afficher les données", key=f"donnees-{key}"):
        st.dataframe(data, hide_index=True, width="stretch")


ChartBuilder = Callable[[pd.DataFrame], "alt.Chart | alt.LayerChart"]

_SPEC_CACHE_SIZE = 256
_specs: OrderedDict[Hashable, dict[str, Any]] = OrderedDict()
_specs_lock = threading.Lock()


def _content_key(data: pd.DataFrame) -> tuple[Any, ...]:
    """What the chart shows: the columns, their types and every cell, in order (a digest)."""
    cells = pd.util.hash_pandas_object(data, index=True).to_numpy().tobytes()
    return (
        tuple(data.columns),
        tuple(str(t) for t in data.dtypes),
        len(data),
        hashlib.sha256(cells).hexdigest(),
    )


def vega_lite_spec(
    build: ChartBuilder, data: pd.DataFrame, variant: Hashable = ()
) -> dict[str, Any]:
    """The Vega-Lite spec of ``build(data)``, data inline, built once per content: building
    the Altair charts (encodings checked against the schema, then ``to_dict``) was 60 % of a
    cached rerun of the statistics page (230 ms for the ARS, ``make bench``). Keyed by the
    data's content (never by whose page it is: the same cells make the same chart, so one
    user's chart cannot reach another) and by ``variant``, what else ``build`` depends on."""
    key = (variant, _content_key(data))
    with _specs_lock:
        spec = _specs.get(key)
        if spec is not None:
            _specs.move_to_end(key)
            return spec
    # Fit the width only: a height given per row (``alt.Step``) then stays what it says,
    # whatever room the long axis labels take. No Altair theme: Streamlit's applies (as
    # ``st.altair_chart`` does).
    chart = build(data).properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))
    with _specs_lock, alt.theme.enable("none"):
        spec = chart.to_dict()
        _specs[key] = spec
        while len(_specs) > _SPEC_CACHE_SIZE:
            _specs.popitem(last=False)
    return spec


def chart_block(
    title: str, key: str, build: ChartBuilder, data: pd.DataFrame, variant: Hashable = ()
) -> None:
    """A subheader, the chart ``build(data)`` and its « Afficher les données » table.
    ``variant``: whatever else than ``data`` the chart depends on (a granularity…)."""
    st.subheader(title)
    if data.empty or int(data.select_dtypes("number").sum().sum()) == 0:
        st.info("Aucune donnée pour ces filtres.")
        return
    st.vega_lite_chart(spec=vega_lite_spec(build, data, (key, variant)), width="stretch")
    _data_toggle(key, data)


def series_chart(data: pd.DataFrame, granularity: str, value: str = "Refus") -> alt.Chart:
    """Stacked bars per period and specialty; ``value`` is the count column (« Refus »,
    « Signalements »)."""
    axis_format = "%d/%m/%Y" if granularity == "semaine" else "%m/%Y"
    chart: alt.Chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(
                "Période:T",
                title="Semaine du" if granularity == "semaine" else "Mois",
                timeUnit="yearmonthdate" if granularity == "semaine" else "yearmonth",
                axis=alt.Axis(format=axis_format),
            ),
            y=alt.Y(f"sum({value}):Q", title=value),
            color=alt.Color("Spécialité:N", legend=alt.Legend(orient="bottom", columns=3)),
            tooltip=[
                alt.Tooltip("Période:T", format="%d/%m/%Y"),
                "Spécialité:N",
                f"{value}:Q",
            ],
        )
        .properties(height=320)
    )
    return chart


def bar_chart(
    data: pd.DataFrame, category: str, value: str, *, color: str | None = None
) -> alt.Chart:
    encoding: dict[str, object] = {
        "y": alt.Y(f"{category}:N", sort="-x", title=None, axis=alt.Axis(labelLimit=380)),
        "x": alt.X(f"{value}:Q", title=value),
        "tooltip": list(data.columns),
    }
    if color:
        encoding["color"] = alt.Color(
            f"{color}:N",
            scale=alt.Scale(domain=["Oui", "Non"], range=["#c9191e", "#000091"]),
            legend=alt.Legend(orient="bottom"),
        )
    chart: alt.Chart = alt.Chart(data).mark_bar().encode(**encoding)
    # A step per bar (not a total height): the long labels never squeeze the bars.
    return chart.properties(height=alt.Step(24))


def heatmap(
    data: pd.DataFrame,
    x: str,
    y: str,
    value: str,
    *,
    x_sort: list[str] | None = None,
    y_sort: list[str] | None = None,
) -> alt.LayerChart:
    base = alt.Chart(data).encode(
        x=alt.X(
            f"{x}:N",
            sort=x_sort,
            title=x,
            axis=alt.Axis(labelAngle=-45, labelLimit=220, labelOverlap=False),
        ),
        y=alt.Y(f"{y}:N", sort=y_sort, title=y, axis=alt.Axis(labelLimit=260)),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            f"{value}:Q",
            scale=alt.Scale(scheme="blues"),
            title=value,
            legend=alt.Legend(format="d", tickMinStep=1),
        ),
        tooltip=[f"{x}:N", f"{y}:N", f"{value}:Q"],
    )
    labels = base.mark_text(fontSize=11).encode(
        text=alt.condition(alt.datum[value] > 0, f"{value}:Q", alt.value("")),
    )
    layered: alt.LayerChart = (cells + labels).properties(height=alt.Step(30))
    return layered


def weekday_hour_chart(data: pd.DataFrame) -> alt.LayerChart:
    hours = [f"{h:02d} h" for h in range(24)]
    return heatmap(data, "Heure", "Jour", "Refus", x_sort=hours, y_sort=list(WEEKDAYS))
