"""Accessibility (RGAA): an axe-core scan of the main pages in Chromium, one test per page.

A page fails on any violation of impact « serious » or « critical »; the failure lists each
violation (rule id, impact, help) and the CSS targets of its failing nodes. Violations that
come from Streamlit's own markup, which the app cannot change, are excluded one by one in
``STREAMLIT_OWN`` (exact rule and exact selector, with the reason); nothing else is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from registre.web.accessibility import STATEMENT

from .conftest import DEMO_PASSWORD, Server
from .helpers import expect_login_form, login, wait_app
from .steps import Person, form, settle

pytestmark = pytest.mark.e2e

BLOCKING = frozenset({"serious", "critical"})

# (rule id, exact CSS target as axe reports it) -> why it is Streamlit's own markup, which
# the app cannot change. Empty: with axe-core 4.12.1 and Streamlit 1.67 every serious or
# critical violation found was ours (the caption contrast, fixed in .streamlit/config.toml).
STREAMLIT_OWN: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Scan:
    name: str
    username: str | None
    menu: tuple[str, ...] = ()  # a top menu link, or a section and one of its entries
    then: Callable[[Page], None] | None = None


def _open(page: Page, menu: tuple[str, ...]) -> None:
    """The page, through the top menu as a user reaches it."""
    if len(menu) == 2:
        Person(page).open_menu(*menu)
    elif menu:
        link = page.get_by_role("navigation").get_by_role("link", name=menu[0], exact=True)
        link.click()
        settle(page)


def _open_new_refusal(page: Page) -> None:
    """« Nouveau refus » for a specialty, from the registry: the new dossier form."""
    person = Person(page)
    person.choose("Spécialité PDS-ES", "Neurochirurgie")
    person.click_button("Nouveau refus")
    expect(page.get_by_role("heading", name="Ajouter un nouveau refus")).to_be_visible()


def _open_awaiting_answer(page: Page) -> None:
    """A dossier addressed to the user's establishment that awaits its answer (🔔)."""
    bell = page.locator(
        "xpath=//*[self::h2 or self::h3][contains(., 'Refus adressés à votre établissement')]"
        "/following::button[starts-with(normalize-space(.), '🔔')]"
    ).filter(visible=True)
    expect(bell.first).to_be_visible()
    bell.first.click()
    settle(page)
    expect(page.get_by_role("heading", name=re.compile(r"🔔 Refus R-\d{4}-\d{6}"))).to_be_visible()
    expect(form(page, "Enregistrer la réponse")).to_be_visible()


REGISTRY = ("PDSES", "Registre des refus PDSES")
SCANS = [
    Scan("connexion", None),
    Scan("accueil", "demo-declarant"),
    Scan("registre", "demo-declarant", REGISTRY),
    Scan("nouveau-refus", "demo-declarant", REGISTRY, _open_new_refusal),
    Scan("reponse-refuseur", "demo-referent", REGISTRY, _open_awaiting_answer),
    Scan("statistiques", "demo-coordinateur", ("Statistiques",)),
    Scan("admin-comptes", "demo-admin", ("Administration", "Comptes")),
    Scan("admin-referentiels", "demo-admin", ("Administration", "Référentiels")),
    Scan("admin-documents", "demo-admin", ("Administration", "Documents")),
    Scan("admin-journal", "demo-admin", ("Administration", "Journal d'audit")),
    Scan("accessibilite", "demo-declarant", ("Accessibilité",)),
]


def _blocking(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The serious and critical violations, less the nodes of ``STREAMLIT_OWN``."""
    kept = []
    for violation in violations:
        if violation.get("impact") not in BLOCKING:
            continue
        nodes = [
            node
            for node in violation["nodes"]
            if (violation["id"], ", ".join(map(str, node["target"]))) not in STREAMLIT_OWN
        ]
        if nodes:
            kept.append({**violation, "nodes": nodes})
    return kept


def _report(name: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"{name} : {len(violations)} violation(s) « serious » ou « critical »"]
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}) : {violation['help']}")
        for node in violation["nodes"]:
            lines.append(f"    {', '.join(map(str, node['target']))}")
            lines.append(f"      {node.get('html', '')[:200]}")
    return "\n".join(lines)


@pytest.mark.parametrize("scan", SCANS, ids=[s.name for s in SCANS])
def test_page_has_no_serious_accessibility_violation(server: Server, page: Page, scan: Scan):
    page.goto(server.url)
    expect_login_form(page)
    settle(page)  # a field typed during the first run's last rerun would be lost
    if scan.username is not None:
        login(page, scan.username, DEMO_PASSWORD)
        expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
        settle(page)
        _open(page, scan.menu)
    wait_app(page)
    settle(page)
    if scan.then is not None:
        scan.then(page)
    wait_app(page)
    settle(page)
    results = Axe().run(page)
    violations = _blocking(results.response["violations"])
    report = _report(scan.name, violations)
    print(report)
    others = [v for v in results.response["violations"] if v.get("impact") not in BLOCKING]
    for violation in others:  # for the record (pytest -s): not failures
        print(f"  (non bloquant) {violation['id']} ({violation['impact']}) : {violation['help']}")
        for node in violation["nodes"]:
            print(f"      {', '.join(map(str, node['target']))}")
    assert not violations, report


def test_the_statement_names_the_axe_core_version_used():
    """The « Déclaration d'accessibilité » says which axe-core ran these scans."""
    found = re.match(r"/\*! axe v(\d+\.\d+\.\d+)", AXE_SCRIPT)
    assert found is not None
    assert f"axe-core version {found.group(1)}" in STATEMENT.read_text(encoding="utf-8")
