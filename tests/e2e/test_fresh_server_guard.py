"""Trap 1 of DEVELOPERS.md: right after a server start, before any session ran Home.py, a
page opened by its URL must show the login and no data. Every page file is probed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import ROOT, start_server, stop_server
from .helpers import expect_login_form

pytestmark = pytest.mark.e2e


def page_paths() -> list[str]:
    """URL paths Streamlit gives to ``Home.py`` and to every file in ``pages/``."""
    paths = [""]
    for file in sorted((ROOT / "pages").glob("*.py")):
        name = re.sub(r"^\d+[_ -]*", "", file.stem)
        paths.append(name)
    return paths


def test_every_page_url_on_a_fresh_server_shows_only_the_login(tmp_path: Path, browser):
    server = start_server(tmp_path)
    try:
        for path in page_paths():
            context = browser.new_context(locale="fr-FR")
            page = context.new_page()
            page.goto(f"{server.url}/{path}")
            expect_login_form(page)
            body = page.get_by_test_id("stMain").inner_text()
            for secret in ("R-20", "F-20", "Sud Francilien", "Henri-Mondor", "Se déconnecter"):
                assert secret not in body, f"/{path} shows « {secret} » without login"
            context.close()
    finally:
        stop_server(server)
