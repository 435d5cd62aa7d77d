"""AppTest of « Accessibilité »: the RGAA « Déclaration d'accessibilité », for every role,
behind the login like every page."""

from __future__ import annotations

import pytest

from registre.web.accessibility import STATEMENT

from . import apptest_helpers
from .apptest_helpers import ACCESSIBILITE, assert_login_form_only, markdown_text, open_page

app_env = apptest_helpers.app_env  # the fixture
fresh_server_env = apptest_helpers.fresh_server_env  # the fixture

ALL_ROLES = [
    "declarant-req",
    "referent-ref",
    "coordinateur-req",
    "directeur-req",
    "ars",
    "admin",
]
SECTIONS = [
    "## État de conformité",
    "## Résultats des tests",
    "## Contenus non accessibles",
    "## Établissement de cette déclaration",
    "### Technologies utilisées pour la réalisation de l'application",
    "### Environnement de test",
    "## Retour d'information et contact",
    "## Voies de recours",
]


@pytest.mark.parametrize("username", ALL_ROLES)
def test_every_role_reads_the_accessibility_statement(app_env, username):
    at = open_page(ACCESSIBILITE, username)
    assert not at.exception, at.exception
    assert not at.error
    assert [t.value for t in at.title] == ["Déclaration d'accessibilité"]
    text = markdown_text(at)
    for section in SECTIONS:
        assert section in text, section
    assert "**non conforme**" in text
    assert "RGAA" in text
    assert "Cette déclaration a été établie le 26/11/2026." in text
    assert "axe-core version 4.12.1" in text
    assert "Chromium" in text
    for technology in ("HTML", "CSS", "JavaScript", "Streamlit"):
        assert f"- {technology}\n" in text
    assert "l'administrateur de votre établissement" in text
    assert "Défenseur des droits" in text
    assert "Libre réponse 71120, 75342 Paris CEDEX 07" in text


def test_the_statement_is_shipped_with_the_package():
    """``registre/docs/*`` is package data (pyproject.toml): the page works installed."""
    assert STATEMENT.is_file()
    assert STATEMENT.read_text(encoding="utf-8").startswith("# Déclaration d'accessibilité\n")


def test_the_page_run_alone_shows_only_the_login_form(fresh_server_env):
    at = apptest_helpers.run_directly(ACCESSIBILITE)
    assert_login_form_only(at)


def test_a_visitor_not_logged_in_reads_it_under_the_login_form(app_env):
    at = apptest_helpers.home().run()
    assert_login_form_only(at)
    (expander,) = at.expander
    text = " ".join(m.value for m in expander.markdown)
    assert "Défenseur des droits" in text and "non conforme" in text.lower()
    assert "# Déclaration d'accessibilité" not in text  # the expander's label is the title
