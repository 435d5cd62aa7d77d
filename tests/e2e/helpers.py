"""Steps a person takes in the browser."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def wait_app(page: Page) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_selector("[data-testid='stApp']")
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"] button')"
        " && document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0",
        timeout=20_000,
    )


def login(page: Page, username: str, password: str) -> None:
    expect_login_form(page)
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()


def expect_login_form(page: Page) -> None:
    """The form, once: while a run replaces the page, the old form and the new one can
    both be in the DOM for a moment (seen in CI after a logout), so wait until one is left."""
    expect(page.get_by_label("Identifiant")).to_have_count(1, timeout=15_000)
    expect(page.get_by_role("button", name="Se connecter")).to_have_count(1)
    expect(page.get_by_label("Identifiant")).to_be_visible()
    expect(page.get_by_role("button", name="Se connecter")).to_be_visible()
