"""Steps a person takes in the browser."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect


def wait_app(page: Page) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_selector("[data-testid='stApp']")
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"] button')"
        " && document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0",
        timeout=20_000,
    )


def live(page: Page) -> Locator:
    """The elements of the current run. While a run replaces the page, Streamlit keeps the
    previous run's elements, marked ``data-stale="true"``, until the new run ends: after a
    logout or a reload, CI saw the old login form next to the new one for seconds."""
    return page.locator("[data-testid='stElementContainer']:not([data-stale='true'])")


def login(page: Page, username: str, password: str) -> None:
    """Once the page is idle: a click on « Se connecter » while the cookie component's first
    rerun is on its way was lost (CI, two workers: the form stayed, filled, for 20 s)."""
    from .steps import settle

    expect_login_form(page)
    settle(page)
    live(page).get_by_label("Identifiant").fill(username)
    live(page).get_by_label("Mot de passe").fill(password)
    live(page).get_by_role("button", name="Se connecter").click()


def expect_login_form(page: Page) -> None:
    """The login form of the current run, once."""
    expect(live(page).get_by_label("Identifiant")).to_have_count(1, timeout=15_000)
    expect(live(page).get_by_role("button", name="Se connecter")).to_have_count(1)
    expect(live(page).get_by_label("Identifiant")).to_be_visible()
    expect(live(page).get_by_role("button", name="Se connecter")).to_be_visible()
