"""Form widgets shared by the pages: selects over reference lists, enum radios, error
display next to each field, flash messages, formatting."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, TypeVar

import streamlit as st

from registre.exports import grouped
from registre.queries import Choice, Count
from registre.timeutil import format_datetime, now, to_paris

E = TypeVar("E", bound=enum.Enum)
_FLASH = "registre_flash"
_ERRORS = "registre_errors"
PLACEHOLDER = "Choisir…"


def choice_box(
    label: str,
    choices: Iterable[Choice],
    *,
    key: str,
    value: int | None = None,
    help: str | None = None,
    disabled: bool = False,
) -> int | None:
    items = list(choices)
    ids = [c.id for c in items]
    labels = {c.id: c.label for c in items}
    index = ids.index(value) if value in labels else None
    selected: int | None = st.selectbox(
        label,
        ids,
        index=index,
        format_func=lambda i: labels.get(i, str(i)),
        key=key,
        placeholder=PLACEHOLDER,
        help=help,
        disabled=disabled,
    )
    return selected


def enum_radio(
    label: str, labels: Mapping[E, str], *, key: str, value: E | None = None
) -> E | None:
    options = list(labels)
    index = options.index(value) if value is not None and value in labels else None
    selected: E | None = st.radio(
        label, options, index=index, format_func=lambda v: labels[v], key=key, horizontal=True
    )
    return selected


def errors_for(scope: str) -> dict[str, list[str]]:
    return dict(st.session_state.get(_ERRORS, {}).get(scope, {}))


def set_errors(scope: str, errors: dict[str, list[str]]) -> None:
    st.session_state.setdefault(_ERRORS, {})[scope] = errors


def clear_errors(scope: str) -> None:
    st.session_state.setdefault(_ERRORS, {}).pop(scope, None)


def field_errors(errors: Mapping[str, list[str]], *fields: str) -> None:
    for field in fields:
        for message in errors.get(field, []):
            st.error(message, icon="⚠️")


def flash(message: str) -> None:
    """A success message shown once, on the next run (after a switch of page or a rerun)."""
    st.session_state[_FLASH] = message


def show_flash() -> None:
    message = st.session_state.pop(_FLASH, None)
    if message:
        st.success(message, icon="✅")
        # also where the eyes are: the page may be scrolled far below its top
        st.toast(message, icon="✅")


def paris_now() -> datetime:
    return to_paris(now()).replace(second=0, microsecond=0)


def combine_paris(day: date | None, clock: time | None) -> datetime | None:
    """A date and a time as typed: naive, Paris local time (``registre`` checks it exists)."""
    if day is None or clock is None:
        return None
    return datetime.combine(day, clock)


def dt(value: datetime | None) -> str:
    return format_datetime(value)


def md(text: Any) -> str:
    """Escape user text for st.markdown (no formatting, no HTML, no links)."""
    value = str(text)
    for char in "\\`*_{}[]()#+-.!|<>~$":
        value = value.replace(char, "\\" + char)
    return value.replace("\n", "  \n")


def md_label(text: Any) -> str:
    """Escape user text for a widget label (a button, an expander): labels render inline
    markdown only (bold, italics, code, links, images, maths), so fewer characters need it."""
    value = str(text)
    for char in "\\`*_[]<~$":
        value = value.replace(char, "\\" + char)
    return value


def page_number(key: str, filters: object) -> int:
    """The current page of a paginated list; back to 1 when the filters change."""
    state = st.session_state.setdefault(f"{key}-pager", {"filters": filters, "page": 1})
    if state["filters"] != filters:
        state.update(filters=filters, page=1)
    return int(state["page"])


def count_text(count: Count) -> str:
    """« 12 », or « plus de 1 000 » when the count stopped there."""
    return f"plus de {grouped(count.value)}" if count.more else grouped(count.value)


def pager(key: str, page: int, pages: int, total: int, more: bool = False) -> None:
    """◀ ▶ and « Page 2 sur 5 — 112 élément(s) »; ``more``: the count stopped at ``total``
    (« plus de 1 000 élément(s) »), the next pages stay open."""
    state = st.session_state[f"{key}-pager"]
    left, middle, right = st.columns([1, 2, 1])
    if left.button("◀ Précédents", key=f"{key}-prev", disabled=page <= 1):
        state["page"] = max(1, page - 1)
        st.rerun()
    if more:
        shown = count_text(Count(total, more=True))
        middle.caption(f"Page {page} — {shown} élément(s) : affinez avec les filtres")
    else:
        middle.caption(f"Page {page} sur {pages} — {total} élément(s)")
    if right.button("Suivants ▶", key=f"{key}-next", disabled=page >= pages and not more):
        state["page"] = page + 1
        st.rerun()


def facts(rows: Iterable[tuple[str, object]]) -> None:
    """« - **Label** : value » lines of a record (escaped); empty values are left out."""
    st.markdown("\n".join(f"- **{label}** : {md(value)}" for label, value in rows if value != ""))


@dataclass(frozen=True)
class ListRow:
    """One line of a registry-like list: a button that opens ``page`` with ``params``, then
    markdown cells (already escaped with ``md``)."""

    key: str
    label: str
    help: str
    page: str
    params: dict[str, str]
    cells: Sequence[str] = ()


def listing(widths: Sequence[float], titles: Sequence[str], rows: Iterable[ListRow]) -> None:
    """The lists of the registry and of the reports: a header, then one line per row whose
    first cell is the button that opens it (a button, not a dataframe selection: AppTest and
    keyboard users can click it)."""
    header = st.columns(list(widths))
    for col, title in zip(header, titles, strict=True):
        col.markdown(f"**{title}**")
    for row in rows:
        cols = st.columns(list(widths), vertical_alignment="center")
        if cols[0].button(row.label, key=row.key, help=row.help):
            st.switch_page(row.page, query_params=row.params)
        for col, cell in zip(cols[1:], row.cells, strict=True):
            col.markdown(cell)
