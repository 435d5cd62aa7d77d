"""The « Déclaration d'accessibilité » (RGAA) that a French public service must publish,
shipped as ``registre/docs/declaration_accessibilite.md``. Rendered by the « Accessibilité »
page and, for a visitor who is not logged in, under the login form."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import streamlit as st

STATEMENT = Path(__file__).resolve().parent.parent / "docs" / "declaration_accessibilite.md"


@cache
def _statement() -> tuple[str, str]:
    """The title (the first line, « # … ») and the body of the statement."""
    first, _, body = STATEMENT.read_text(encoding="utf-8").partition("\n")
    return first.removeprefix("#").strip(), body.strip()


def render_accessibility_statement(*, title: bool = True) -> None:
    """The statement; ``title=False`` leaves out its « Déclaration d'accessibilité » title
    (e.g. inside an expander that already says it)."""
    heading, body = _statement()
    if title:
        st.title(heading)
    st.markdown(body)
