"""The guide's « Connexion » in Chromium: wrong pair → our message; demo accounts log in
and out; the login cookie survives a reload, and a logout survives it too."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import DEMO_PASSWORD, screenshot, start_server, stop_server
from .helpers import expect_login_form, login

pytestmark = pytest.mark.e2e


def test_wrong_password_shows_the_message(server, page):
    page.goto(server.url)
    expect_login_form(page)
    login(page, "demo-declarant", "pas-le-bon-mot-de-passe")
    expect(page.get_by_text("Identifiant ou mot de passe incorrect.")).to_be_visible()
    screenshot(page, "connexion-erreur")


@pytest.mark.parametrize(
    ("username", "role", "establishment"),
    [
        ("demo-declarant", "Déclarant", "Centre hospitalier Sud Francilien"),
        ("demo-directeur", "Directeur", "Centre hospitalier Sud Francilien"),
        ("demo-referent", "Référent PDSES", "Hôpital Henri-Mondor"),
        ("demo-coordinateur", "Coordinateur PDSES", "Hôpital Henri-Mondor"),
        ("demo-ars", "Coordinateur régional (ARS)", None),
        ("demo-admin", "Administrateur", None),
    ],
)
def test_each_demo_account_logs_in_and_out(server, page, username, role, establishment):
    page.goto(server.url)
    login(page, username, DEMO_PASSWORD)
    main = page.get_by_test_id("stMain")
    expect(main.get_by_text(role, exact=False).first).to_be_visible()
    if establishment:
        expect(main.get_by_text(establishment, exact=False).first).to_be_visible()
    page.get_by_role("button", name="Se déconnecter").click()
    expect_login_form(page)


def test_login_survives_a_reload_and_logout_survives_it_too(server, page):
    page.goto(server.url)
    login(page, "demo-referent", DEMO_PASSWORD)
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    screenshot(page, "accueil")
    # the cookie component writes the cookie, then the page is reloaded: still logged in
    page.wait_for_function("() => document.cookie.includes('registre_pdses_session')")
    page.reload()
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    # Clicked at once (no wait for the page to settle): a reload's session draws no cookie
    # component, whose first rerun used to swallow such a click (1 in 25).
    page.get_by_role("button", name="Se déconnecter").click()
    expect_login_form(page)
    # Whether or not the browser has deleted the cookie yet, the server refuses it now.
    page.reload()
    expect_login_form(page)
    expect(page.get_by_role("button", name="Se déconnecter")).to_have_count(0)


def test_after_a_logout_back_and_a_page_url_stay_logged_out(server, page):
    page.goto(server.url)
    login(page, "demo-referent", DEMO_PASSWORD)
    page.wait_for_function("() => document.cookie.includes('registre_pdses_session')")
    page.goto(f"{server.url}/registre")  # a second page in the history, opened by its URL
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    expect(page.get_by_role("heading", name="Registre des refus PDSES")).to_be_visible()
    page.get_by_role("button", name="Se déconnecter").click()
    expect_login_form(page)
    # The browser's « back » to the page seen while logged in: still logged out.
    page.go_back()
    expect_login_form(page)
    expect(page.get_by_role("button", name="Se déconnecter")).to_have_count(0)
    page.go_forward()
    expect_login_form(page)
    page.goto(f"{server.url}/registre")
    expect_login_form(page)
    expect(page.get_by_role("button", name="Se déconnecter")).to_have_count(0)
    expect(page.get_by_text("Hôpital Henri-Mondor")).to_have_count(0)


def _logged_in_cookie(browser, server, username):  # type: ignore[no-untyped-def]
    """A login in a browser of its own; the login cookie it got, and its page."""
    context = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris")
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(server.url)
    login(page, username, DEMO_PASSWORD)
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    page.wait_for_function("() => document.cookie.includes('registre_pdses_session')")
    (cookie,) = [c for c in context.cookies() if c["name"] == "registre_pdses_session"]
    return cookie, page


def test_a_logged_out_cookie_stays_refused_when_the_cookie_lifetime_is_shortened(browser, tmp_path):
    """Issue 14 § 5: cookies issued under a 30-day setting, one account logged out, then the
    servers restarted with a 1-day setting. The logged-out account's cookie stays refused;
    the other account's, never revoked, is still accepted (the replay itself works)."""
    first = start_server(tmp_path, {"REGISTRE_COOKIE_EXPIRY_DAYS": "30"})
    try:
        revoked, page = _logged_in_cookie(browser, first, "demo-referent")
        kept, _ = _logged_in_cookie(browser, first, "demo-coordinateur")
        page.get_by_role("button", name="Se déconnecter").click()
        expect_login_form(page)
    finally:
        stop_server(first, keep_database=True)
    second = start_server(
        tmp_path, {"REGISTRE_COOKIE_EXPIRY_DAYS": "1"}, database_url=first.database_url
    )
    try:
        for cookie, accepted in ((kept, True), (revoked, False)):
            context = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris")
            context.set_default_timeout(20_000)
            context.add_cookies(
                [{"name": cookie["name"], "value": cookie["value"], "url": second.url}]
            )
            replay = context.new_page()
            replay.goto(second.url)
            if accepted:
                expect(replay.get_by_role("button", name="Se déconnecter")).to_be_visible()
            else:
                expect_login_form(replay)
                expect(replay.get_by_role("button", name="Se déconnecter")).to_have_count(0)
            context.close()
    finally:
        stop_server(second)
