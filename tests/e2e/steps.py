"""What a person does in the registry, step by step, for the journeys of the guide.

Every step waits for Streamlit to settle (``settle``): the script has run to its end, no
element is stale, and that has held for a short quiet period, since a click reaches the
server a few milliseconds after Playwright returns and the page only then starts running.
Every rerun replaces the elements: locators are built again at each step.

``Person`` counts what the user does (``interactions``: a click on a button, a radio or a
box, or a field typed or chosen; ``clicks``: every mouse click, opening a list included)
so that a journey can be measured as a night clinician would live it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, expect

from .conftest import screenshot
from .helpers import expect_login_form, live

QUIET_MS = 250
_SETTLED_JS = """
(quietMs) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const ok = !!app
    && app.getAttribute('data-test-script-state') === 'notRunning'
    && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && document.querySelectorAll('[data-stale="true"]').length === 0
    && document.querySelectorAll('[data-testid="stSkeleton"]').length === 0;
  const now = performance.now();
  if (!ok) { window.__registreQuietSince = null; return false; }
  if (window.__registreQuietSince == null) { window.__registreQuietSince = now; }
  return now - window.__registreQuietSince >= quietMs;
}
"""


def settle(page: Page, *, quiet_ms: int = QUIET_MS, timeout: float = 30_000) -> None:
    """Wait until Streamlit has finished running and stayed idle for ``quiet_ms``."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout)
    page.evaluate("() => { window.__registreQuietSince = null; }")
    page.wait_for_function(_SETTLED_JS, arg=quiet_ms, timeout=timeout, polling=50)


def main(page: Page) -> Locator:
    return page.get_by_test_id("stMain")


@dataclass
class Person:
    """A user in front of the page, whose actions are counted."""

    page: Page
    interactions: int = 0
    clicks: int = 0
    steps: list[str] = field(default_factory=list)
    settles: int = 0  # each adds QUIET_MS of the test's own waiting to a timed journey

    def _count(self, step: str, clicks: int) -> None:
        self.interactions += 1
        self.clicks += clicks
        self.steps.append(step)

    def _settle(self) -> None:
        settle(self.page)
        self.settles += 1

    # -- navigation and buttons -------------------------------------------------------

    def click_button(self, name: str, *, scope: Locator | None = None) -> None:
        where = scope if scope is not None else self.page
        button = where.get_by_role("button", name=name, exact=True)
        expect(button).to_be_enabled()
        button.click()
        self._count(f"clic « {name} »", 1)
        self._settle()

    def open_menu(self, section: str, entry: str) -> None:
        """The top navigation: the section (« PDSES »), then one of its entries."""
        self.page.get_by_test_id("stTopNavSection").filter(has_text=section).click()
        item = self.page.get_by_role("menuitem", name=entry)
        expect(item).to_be_visible()
        item.click()
        self._count(f"menu « {section} »", 1)
        self._count(f"menu « {entry} »", 1)
        self._settle()

    # -- form fields --------------------------------------------------------------------

    def choose(
        self, label: str | re.Pattern[str], option: str, *, scope: Locator | None = None
    ) -> None:
        """A select (Streamlit selectbox): open it by its label, click the option."""
        where = scope if scope is not None else self.page
        box = where.get_by_role("combobox", name=label, exact=True)
        expect(box).to_be_editable()
        if not isinstance(label, str):  # the words of the pattern, for the list of steps
            label = re.sub(r"\(.*?\)\?|[\^$\\]", "", label.pattern)
        choice = self.page.get_by_role("option", name=option, exact=True)
        # The list closes when the page scrolls under it (Playwright scrolling the select
        # into view, the layout moving after a rerun): open it again, as a person would.
        for attempt in range(4):
            box.scroll_into_view_if_needed()
            box.click()
            try:
                expect(choice).to_be_visible(timeout=2_000)
                choice.click(timeout=2_000)
                break
            except (AssertionError, PlaywrightError):
                if attempt == 3:
                    raise
                self.page.keyboard.press("Escape")
        expect(box).to_have_value(option)
        self._count(f"choix « {option} » dans « {label} »", 2)

    def radio(self, group: str, option: str, *, scope: Locator | None = None) -> None:
        where = scope if scope is not None else self.page
        radiogroup = where.get_by_role("radiogroup", name=group, exact=True)
        radiogroup.get_by_text(option, exact=True).click()
        expect(radiogroup.get_by_role("radio", name=option, exact=True)).to_be_checked()
        self._count(f"« {option} » pour « {group} »", 1)

    def tick(self, label: str, *, scope: Locator | None = None) -> None:
        where = scope if scope is not None else self.page
        where.get_by_text(label, exact=True).click()
        expect(where.get_by_role("checkbox", name=label, exact=True)).to_be_checked()
        self._count(f"case « {label} »", 1)

    def type(self, label: str, text: str, *, scope: Locator | None = None) -> None:
        """A text input or text area, found by its label."""
        where = scope if scope is not None else self.page
        box = where.get_by_label(label, exact=True)
        box.click()
        box.fill(text)
        expect(box).to_have_value(text)
        self._count(f"saisie « {label} »", 1)

    def log_in(self, username: str, password: str) -> None:
        expect_login_form(self.page)
        self.type("Identifiant", username, scope=live(self.page))
        self.type("Mot de passe", password, scope=live(self.page))
        self.click_button("Se connecter", scope=live(self.page))

    def log_out(self) -> None:
        self.click_button("Se déconnecter")


def form(page: Page, button: str) -> Locator:
    """The Streamlit form (``stForm``) whose submit button is named ``button``."""
    return page.get_by_test_id("stForm").filter(
        has=page.get_by_role("button", name=button, exact=True)
    )


def expect_logged_out(page: Page) -> None:
    expect_login_form(page)
    expect(page.get_by_role("button", name="Se déconnecter")).to_have_count(0)


def full_screenshot(page: Page, name: str) -> None:
    """``conftest.screenshot`` of the whole page: Streamlit scrolls inside its own container,
    so ``full_page`` alone stops at the viewport; the viewport is stretched for the shot."""
    size = page.viewport_size or {"width": 1400, "height": 1000}
    height = page.evaluate(
        "() => Math.max(document.body.scrollHeight,"
        " ...[...document.querySelectorAll('[data-testid=\"stMain\"], section, div')]"
        ".map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 40, 8000)})
    try:
        settle(page, quiet_ms=150)
        screenshot(page, name)
    finally:
        page.set_viewport_size(size)
        settle(page, quiet_ms=150)
