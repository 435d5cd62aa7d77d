"""Structural rules: only ``registre.web`` imports Streamlit; pages never touch the database."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STREAMLIT_MODULES = ("streamlit", "streamlit_authenticator", "extra_streamlit_components")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def core_modules() -> list[Path]:
    return [
        p
        for p in (ROOT / "registre").rglob("*.py")
        if "web" not in p.relative_to(ROOT / "registre").parts
    ]


def test_core_never_imports_streamlit_in_its_source():
    offenders = {
        str(p.relative_to(ROOT)): sorted(
            n for n in _imports(p) if n.split(".")[0] in STREAMLIT_MODULES
        )
        for p in core_modules()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_the_whole_core_loads_no_streamlit():
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in core_modules()
        if p.name != "__init__.py" and "migrations" not in p.parts
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {STREAMLIT_MODULES!r}]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_pages_do_not_touch_the_database_or_sqlalchemy():
    pages = [ROOT / "Home.py", *sorted((ROOT / "pages").glob("*.py"))]
    for page in pages:
        names = _imports(page)
        assert not any(n.startswith("sqlalchemy") for n in names), page
        text = page.read_text(encoding="utf-8")
        for forbidden in (
            r"session\.(execute|query|add)",
            r"db\.(transaction|read)\(",
            r"(?<![\w.])select\(",
        ):
            assert not re.search(forbidden, text), f"{page.name} uses {forbidden}"


def test_every_page_starts_with_the_guard():
    """Trap 1: a page run directly by URL must authenticate first."""
    for page in sorted((ROOT / "pages").glob("*.py")):
        text = page.read_text(encoding="utf-8")
        body = text.split("require_actor(", 1)
        assert len(body) == 2, f"{page.name} never calls require_actor"
        before = body[0]
        for call in ("st.write", "st.markdown", "st.dataframe", "queries.", "dossiers."):
            assert call not in before, f"{page.name} renders before the guard ({call})"
