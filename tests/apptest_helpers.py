"""Helpers for the AppTest page tests (``tests/test_page_*.py``).

What Streamlit 1.67's ``AppTest`` does with this app (checked, see test_page_accueil.py):

- ``AppTest.from_file("Home.py")`` then ``.run()`` runs ``Home.py``: the gate
  (``require_actor(entrypoint=True)``), ``st.navigation(pages_for(actor), position="top")``
  and the default page, Accueil.
- **Trap**: out of the box, ``at.switch_page("pages/registre.py").run()`` does *not* go
  through ``Home.py``. ``AppTest`` resets ``PagesManager.uses_pages_directory`` before
  every run; since the app has a ``pages/`` directory, each run starts in Streamlit's
  "MPA v1" emulation (``script_runner._mpa_v1``), which runs the selected page file on
  its own: ``Home.py`` and its ``st.navigation`` are skipped (a wrapper around
  ``st.navigation`` sees no call). That is exactly what a real server does for the first
  URL it serves before any session has run ``Home.py`` (``st.navigation`` sets the class
  flag to False for the whole process). The page's own ``require_actor`` then does the
  gate. The fixture ``fresh_server_env`` keeps that behaviour on purpose.
- The fixture ``app_env`` pins ``uses_pages_directory`` to False after each
  ``PagesManager`` is built – the state of a running server – so that every run executes
  ``Home.py``: the gate, the role's menu, then the page selected by ``switch_page`` or by
  the page itself (``st.switch_page(REFUS, query_params=...)``). ``switch_page`` resolves
  the file against the pages registered by the *previous* run's ``st.navigation``: a page
  that the role's menu does not offer raises ``ValueError``. Called before the first run
  it stands for a URL typed in a new session (``open_by_url``): ``st.navigation`` then
  picks the page if the menu has it, else falls back to Accueil.
- Query parameters: set ``at.query_params[...]`` after ``switch_page`` and before
  ``.run()``; after a run they hold what the page left in the URL (``id`` after
  ``st.switch_page(REFUS, query_params={"id": ...})``).
- Logging in, two ways, both work through ``st.navigation``:

  (a) ``login_via_form(username)``: type the identifier and the password in the form of
      ``Home.py``, submit, then ``run()`` once more (in the browser the cookie component
      reruns the script right after the login; the widget ids of that run are the ones a
      user clicks). ``open_page(..., via_form=True)``.
  (b) ``logged_in(username)``: pre-set ``authentication_status`` and ``registre_actor``
      in the session state before the first run. The gate reloads the account from the
      database at every run (``registre.web.auth._session_actor``), so role,
      establishment and active flag are the real ones. Faster (no form run, no bcrypt):
      ``open_page`` uses it by default.

- ``run_directly("pages/registre.py")`` runs a page file as the main script (no
  ``Home.py`` at all): nobody logged in, it must show the login form and no data.
- The top navigation is not in AppTest's element tree (the ``Navigation`` message goes
  to the browser, and ``st.Page`` keeps ``visibility`` on the object): ``record_menu``
  wraps ``st.navigation`` and records the sections and pages it receives (title, url
  path, visibility) – the menu the browser would draw.

Reading a page: ``page_text`` collects every string of every element and block (their
protobuf: markdown bodies, labels, options, help texts, captions; plus current widget
values) with the backslashes of ``registre.web.widgets.md`` removed, so that a test can
assert that something appears nowhere on the page. ``table_rows`` reads the tables that
the pages draw with ``st.columns``.

The test clock is frozen: a save changes a dossier's version only when its ``updated_at``
changes, so a test that needs the next form of the page (keys built on the version) lets
time pass with ``clock.advance`` as a user would.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from google.protobuf import text_format
from sqlalchemy import func, select
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from registre import dossiers, queries
from registre.models import Dossier, Establishment
from registre.web.navigation import (
    ACCESSIBILITE,
    ACCUEIL,
    ADMIN_COMPTES,
    ADMIN_DOCUMENTS,
    ADMIN_JOURNAL,
    ADMIN_REFERENTIELS,
    DOSSIER,
    MON_COMPTE,
    NON_CONFORME,
    REFUS,
    REGISTRE,
    SIGNALEMENT,
    STATISTIQUES,
)

from .factories import PASSWORD, World

ROOT = Path(__file__).resolve().parent.parent
COOKIE_KEY = "test-cookie-key-" + "x" * 32
TIMEOUT = 30
PAGE_FILES = (
    ACCUEIL,
    REGISTRE,
    REFUS,
    DOSSIER,
    NON_CONFORME,
    SIGNALEMENT,
    STATISTIQUES,
    MON_COMPTE,
    ACCESSIBILITE,
    ADMIN_COMPTES,
    ADMIN_REFERENTIELS,
    ADMIN_DOCUMENTS,
    ADMIN_JOURNAL,
)
LOGIN_LABELS = ["Identifiant", "Mot de passe"]
LOGIN_BUTTON = "Se connecter"
DENIED = "Votre profil ne donne pas accès à cette page."


def _environment(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("REGISTRE_DATABASE_URL", database_url)
    monkeypatch.setenv("REGISTRE_COOKIE_KEY", COOKIE_KEY)
    monkeypatch.delenv("REGISTRE_SMTP_HOST", raising=False)  # mails stay in the outbox
    monkeypatch.setenv("REGISTRE_BACKGROUND", "0")  # no delivery/reminder thread


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, database_url: str, world: World) -> World:
    """The app's environment (the test database, a cookie key) and the test world; every
    run goes through ``Home.py`` and its ``st.navigation``, as on a running server."""
    _environment(monkeypatch, database_url)
    real_init = PagesManager.__init__

    def init(self: PagesManager, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        # What the server's first st.navigation call does for the whole process.
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)
    return world


@pytest.fixture
def fresh_server_env(monkeypatch: pytest.MonkeyPatch, database_url: str, world: World) -> World:
    """Like ``app_env`` but as a server that has not run ``st.navigation`` yet: a page URL
    runs its page file alone, without ``Home.py`` (the "page run directly" trap)."""
    _environment(monkeypatch, database_url)
    return world


# --- opening pages ------------------------------------------------------------------------


def home() -> AppTest:
    """``Home.py``, not run yet."""
    return AppTest.from_file(str(ROOT / "Home.py"), default_timeout=TIMEOUT)


def run_directly(page: str, username: str | None = None, **params: str) -> AppTest:
    """The page file run as the main script, without ``Home.py``; nobody logged in unless
    ``username`` is given."""
    at = AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT)
    _authenticate(at, username)
    at.query_params.update(params)
    return at.run()


def open_by_url(page: str, username: str | None = None, **params: str) -> AppTest:
    """A new browser session that opens the page's URL (``/registre?...``) directly: with
    ``app_env`` ``Home.py`` runs and ``st.navigation`` picks the page if the role's menu has
    it (else its default page, Accueil); with ``fresh_server_env`` the page file runs alone."""
    at = home()
    _authenticate(at, username)
    at.switch_page(page)
    at.query_params.update(params)
    return at.run()


def _authenticate(at: AppTest, username: str | None) -> None:
    if username is not None:
        at.session_state["authentication_status"] = True
        at.session_state["registre_actor"] = username


def login_via_form(username: str, password: str = PASSWORD) -> AppTest:
    """(a) Log in through the form of ``Home.py``; returns the app after the cookie rerun
    (on the default page, Accueil)."""
    at = home().run()
    widget(at.text_input, "Identifiant").input(username)
    widget(at.text_input, "Mot de passe").input(password)
    button(at, LOGIN_BUTTON).click()
    at.run()
    return at.run()


def logged_in(username: str) -> AppTest:
    """(b) ``Home.py`` with a session already authenticated as ``username``, not run yet."""
    at = home()
    _authenticate(at, username)
    return at


def open_page(page: str, username: str, *, via_form: bool = False, **params: str) -> AppTest:
    """Open ``page`` (e.g. ``REGISTRE``) through ``Home.py``'s navigation as ``username``,
    with the given query parameters; returns the app after the page's run."""
    at = login_via_form(username) if via_form else logged_in(username).run()
    assert not at.exception, at.exception
    if page == ACCUEIL and not params:
        return at
    at.switch_page(page)
    at.query_params.clear()
    at.query_params.update(params)
    return at.run()


def record_menu(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, list[tuple[str, str, str]]]]:
    """Wrap ``st.navigation``: each call appends ``{section: [(title, url_path,
    visibility), ...]}`` to the returned list, then draws the real menu."""
    calls: list[dict[str, list[tuple[str, str, str]]]] = []
    real: Callable[..., Any] = st.navigation

    def recording(pages: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(
            {
                section: [(p.title, p.url_path, p.visibility) for p in section_pages]
                for section, section_pages in pages.items()
            }
        )
        return real(pages, *args, **kwargs)

    monkeypatch.setattr(st, "navigation", recording)
    return calls


# --- finding widgets ----------------------------------------------------------------------


def widget(widgets: Any, label: str) -> Any:
    """The only widget of ``widgets`` (e.g. ``at.selectbox``) labelled ``label``."""
    found = [w for w in widgets if w.label == label]
    assert len(found) == 1, (
        f"{len(found)} widget(s) labelled {label!r}: {[w.label for w in widgets]}"
    )
    return found[0]


def button(at: Any, label: str) -> Any:
    """The only button (``st.button`` or form submit button) labelled ``label``."""
    return widget(at.button, label)


def click(at: AppTest, label: str) -> AppTest:
    button(at, label).click()
    return at.run()


# --- reading the page ---------------------------------------------------------------------


def _unescape(text: str) -> str:
    # registre.web.widgets.md escapes markdown characters with a backslash.
    return text.replace("\\", "")


def page_text(at: AppTest) -> str:
    """Every string of every element and block of the page (main and sidebar)."""
    parts: list[str] = []
    for node in at:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(text_format.MessageToString(proto, as_utf8=True))
        if hasattr(node, "id") and hasattr(node, "_value"):
            try:
                value = node.value
            except Exception:  # a widget without state has no value to read
                value = None
            if value is not None:
                parts.append(str(value))
    return _unescape("\n".join(parts))


def markdown_text(at: AppTest) -> str:
    """The markdown (and captions) of the page, escapes removed."""
    return _unescape("\n".join(m.value for m in at.markdown))


def table_rows(at: AppTest, key_prefix: str) -> list[list[str]]:
    """The rows of a table drawn with ``st.columns`` whose first cell is a button keyed
    ``<key_prefix><id>``: each row as the text of its cells (button label or markdown)."""
    rows = []
    for node in at.main:
        if getattr(node, "type", None) != "flex_container":
            continue
        cells = [c for c in node.children.values() if getattr(c, "type", None) == "column"]
        if not cells or not any((b.key or "").startswith(key_prefix) for b in cells[0].button):
            continue
        rows.append(
            [
                cell.button[0].label
                if len(cell.button)
                else _unescape(" ".join(m.value for m in cell.markdown))
                for cell in cells
            ]
        )
    return rows


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def line_id(world: World, dossier_id: int, est: str = "ref") -> int:
    """The live line of ``dossier_id`` addressed to the establishment ``est``."""
    view = queries.get_dossier(world.db, world.actor("coordinateur_req"), dossier_id=dossier_id)
    assert isinstance(view, queries.RequesterView)
    return next(ln.id for ln in view.lines if ln.refusing_establishment_id == world.est[est])


def answer(world: World, dossier_id: int, est: str = "ref", **values: Any) -> None:
    """The refusing establishment ``est`` answers (as its Coordinateur PDSES)."""
    data = {
        "understood_motif_id": world.request_motif["Avis spécialisé"],
        "refusal_motif_id": world.refusal_motif["Absence de praticien disponible"],
        **values,
    }
    dossiers.answer(
        world.db,
        world.actor(f"coordinateur_{est}"),
        dossier_id,
        line_id(world, dossier_id, est),
        dossiers.AnswerInput(**data),
    )


def dossier_count(world: World) -> int:
    with world.db.read() as session:
        return session.scalar(select(func.count()).select_from(Dossier)) or 0


def establishment_names(world: World) -> list[str]:
    with world.db.read() as session:
        return list(session.scalars(select(Establishment.name)))


def assert_login_form_only(at: AppTest, *absent: str) -> None:
    """The login form, nothing else of the app, and none of ``absent`` anywhere."""
    assert not at.exception, at.exception
    assert [ti.label for ti in at.text_input] == LOGIN_LABELS
    assert [b.label for b in at.button] == [LOGIN_BUTTON]
    assert not at.selectbox and not at.text_area
    # Only the accessibility statement, public (registre.web.accessibility).
    assert [e.label for e in at.expander] == ["Déclaration d'accessibilité"]
    text = page_text(at)
    for value in absent:
        assert value not in text
