"""Accessibility (RGAA 7.3, 12.13): the night clinician's journey with the keyboard only.

A Déclarant logs in, opens the registry from the top menu, records a refusal, adds a
refusing establishment and finalises the dossier, with ``page.keyboard`` alone: Tab and
Shift+Tab to move, Enter and Space to act, the arrow keys in a radio group and in a menu,
typing in fields and in selects (type to filter the list, Enter to choose). No mouse click,
no ``locator.click`` or ``locator.fill``: locators only check where the focus is and what the
page shows.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from .conftest import DEMO_PASSWORD, Server
from .helpers import expect_login_form
from .steps import form, main, settle

pytestmark = pytest.mark.e2e

NUMBER = re.compile(r"R-\d{4}-\d{6}")
MAX_PRESSES = 120

_ACTIVE = """() => {
  const e = document.activeElement;
  if (!e) return 'nothing';
  const label = e.getAttribute('aria-label') || (e.labels && e.labels[0]
    ? e.labels[0].innerText : '') || (e.innerText || '').slice(0, 60);
  return `${e.tagName} ${e.getAttribute('role') || ''} « ${label.trim()} »`;
}"""
_HAS_FOCUS = "el => el === document.activeElement || el.contains(document.activeElement)"
# Shift+Tab when the target comes before the focused element in the document, else Tab.
_DIRECTION = """el => {
  const a = document.activeElement;
  if (!a || a === document.body || el.contains(a)) return 'Tab';
  return a.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_PRECEDING ? 'Shift+Tab' : 'Tab';
}"""


def has_focus(target: Locator) -> bool:
    return target.count() > 0 and bool(target.first.evaluate(_HAS_FOCUS))


def tab_to(page: Page, target: Locator) -> None:
    """Tab (or Shift+Tab, towards the target) until the focus is on ``target``."""
    expect(target.first).to_be_visible()
    key = target.first.evaluate(_DIRECTION)
    for _ in range(MAX_PRESSES):
        if has_focus(target):
            return
        page.keyboard.press(key)
    raise AssertionError(
        f"{MAX_PRESSES} × {key} sans atteindre {target} : {page.evaluate(_ACTIVE)}"
    )


def press(page: Page, key: str) -> None:
    """A key that makes Streamlit run the page (Enter on a button): wait for the run."""
    page.keyboard.press(key)
    settle(page)


def type_in(page: Page, field: Locator, text: str) -> None:
    tab_to(page, field)
    page.keyboard.type(text)
    expect(field).to_have_value(text)


def choose(page: Page, box: Locator, typed: str, option: str) -> None:
    """A Streamlit select: focus it, type to filter the list, Enter on the only option."""
    tab_to(page, box)
    page.keyboard.type(typed)
    expect(page.get_by_role("option")).to_have_text([option])
    page.keyboard.press("Enter")
    expect(box).to_have_value(option)


def radio(page: Page, group: Locator, option: str) -> None:
    """A radio group: Tab into it, the arrow keys to the option, Space to check it."""
    tab_to(page, group)
    wanted = group.get_by_role("radio", name=option, exact=True)
    for _ in range(len(group.get_by_role("radio").all())):
        if has_focus(wanted):
            break
        page.keyboard.press("ArrowRight")
    assert has_focus(wanted), page.evaluate(_ACTIVE)
    page.keyboard.press("Space")
    expect(wanted).to_be_checked()


def button(page: Page, name: str, scope: Locator | None = None) -> Locator:
    where = scope if scope is not None else main(page)
    # a button with a tooltip has a hidden twin
    return where.get_by_role("button", name=name, exact=True).filter(visible=True)


def test_a_declarant_records_and_finalises_a_refusal_with_the_keyboard_only(
    server: Server, page: Page
) -> None:
    keyboard = page.keyboard
    page.goto(server.url)
    expect_login_form(page)
    settle(page)

    # Connexion: Tab to « Identifiant », type, Tab, type, Enter submits the form.
    type_in(page, main(page).get_by_label("Identifiant", exact=True), "demo-declarant")
    keyboard.press("Tab")
    password = main(page).get_by_label("Mot de passe", exact=True)
    assert has_focus(password), page.evaluate(_ACTIVE)
    keyboard.type(DEMO_PASSWORD)
    press(page, "Enter")
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    page.wait_for_function("() => document.cookie.includes('registre_pdses_session')")
    settle(page)

    # The top menu: « PDSES », Enter opens it, the arrows to « Registre des refus PDSES ».
    tab_to(page, page.get_by_test_id("stTopNavSection").filter(has_text="PDSES"))
    keyboard.press("Enter")
    entry = page.get_by_role("menuitem", name="Registre des refus PDSES")
    expect(entry).to_be_visible()
    for _ in range(page.get_by_role("menuitem").count()):
        if has_focus(entry):
            break
        keyboard.press("ArrowDown")
    assert has_focus(entry), page.evaluate(_ACTIVE)
    press(page, "Enter")
    expect(page.get_by_role("heading", name="Registre des refus PDSES")).to_be_visible()

    # « Spécialité PDS-ES » then « Nouveau refus ».
    choose(
        page,
        main(page).get_by_role("combobox", name="Spécialité PDS-ES"),
        "Neurochir",
        "Neurochirurgie",
    )
    tab_to(page, button(page, "Nouveau refus"))
    press(page, "Enter")
    expect(page.get_by_role("heading", name="Ajouter un nouveau refus")).to_be_visible()

    dossier = form(page, "Enregistrer")
    expect(dossier.get_by_role("combobox", name="Spécialité PDSES *")).to_have_value(
        "Neurochirurgie"
    )
    radio(page, dossier.get_by_role("radiogroup", name="Tranche d'âge du patient *"), "65 à 79 ans")
    choose(
        page,
        dossier.get_by_role("combobox", name="Motif de la demande *"),
        "Avis sp",
        "Avis spécialisé",
    )
    radio(page, dossier.get_by_role("radiogroup", name="Niveau d'urgence *"), "Urgence")
    type_in(page, dossier.get_by_label("Commentaires", exact=True), "saisi au clavier seul")
    # Shift+Tab back up to the checkbox, Space ticks it.
    impact = dossier.get_by_role(
        "checkbox", name="Ce refus a eu un impact sur la prise en charge du patient"
    )
    tab_to(page, impact)
    keyboard.press("Space")
    expect(impact).to_be_checked()
    type_in(page, dossier.get_by_label("Description de l'impact", exact=True), "attente prolongée")
    tab_to(page, button(page, "Enregistrer", dossier))
    press(page, "Enter")
    title = page.get_by_role("heading", name=re.compile(r"Refus R-\d{4}-\d{6} — à compléter"))
    expect(title).to_be_visible()
    match = NUMBER.search(title.inner_text())
    assert match is not None
    number = match.group(0)

    # One refusing establishment.
    line = form(page, "Ajouter le refuseur")
    choose(
        page,
        line.get_by_role("combobox", name="Etablissement refuseur *"),
        "Henri-Mondor",
        "Hôpital Henri-Mondor (AP-HP) (94)",
    )
    choose(
        page,
        line.get_by_role("combobox", name="Motif du refus *"),
        "praticien",
        "Absence de praticien disponible",
    )
    tab_to(page, button(page, "Ajouter le refuseur", line))
    press(page, "Enter")
    expect(main(page).get_by_text("Établissement refuseur enregistré.")).to_be_visible()
    expect(button(page, "Retirer")).to_have_count(1)

    # The final destination, then « Finaliser le dossier ».
    dossier = form(page, "Enregistrer")
    choose(
        page,
        dossier.get_by_role("combobox", name=re.compile(r"^Destination finale du patient")),
        "domicile",
        "Retour à domicile",
    )
    tab_to(page, button(page, "Finaliser le dossier", dossier))
    press(page, "Enter")
    expect(main(page).get_by_text(f"Dossier {number} finalisé", exact=False)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/registre"))

    # The registry lists it ✅; Enter on its button opens it: « Finalisé ».
    row = button(page, f"✅ {number}")
    tab_to(page, row)
    press(page, "Enter")
    expect(page.get_by_role("heading", name=f"✅ Refus {number}")).to_be_visible()
    expect(main(page).get_by_text("Finalisé", exact=True)).to_be_visible()
    expect(button(page, "Compléter le refus")).to_have_count(0)  # read-only now
