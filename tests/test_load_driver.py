"""The browserless load driver (``benchmarks.load``) still speaks Streamlit's protocol to the
real app: a smoke test on a ``streamlit run`` server with the demo data, no timing asserted.
The login goes through the form (a wrong password gets the app's message), the registry
page is the registry page, and a short run of the command line (2 users, 2 rounds of their
journeys, then the floor page) finishes every step without an error."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest

from benchmarks import load
from registre.auth import LOGIN_FAILED_MESSAGE

from .e2e.conftest import DEMO_PASSWORD, Server, start_server, stop_server


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory):
    srv = start_server(tmp_path_factory.mktemp("load"))
    yield srv
    stop_server(srv)


T = TypeVar("T")


def in_own_thread(run: Callable[[], T]) -> T:
    """The driver's ``asyncio.run`` in a thread of its own: in the whole suite the browser
    tests' Playwright (sync API) keeps an event loop running in the main thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def test_a_user_logs_in_through_the_form_then_opens_the_registry_and_a_dossier(
    app_server: Server,
):
    cfg = load.LoadConfig(url=app_server.url, password=DEMO_PASSWORD, timeout=30)
    state = load.UserState(random.Random(0))

    async def journey() -> tuple[load.RunResult, ...]:
        session = load.Session(app_server.url, timeout=30)
        try:
            opened = await session.open()
            login = await session.login("demo-referent", DEMO_PASSWORD)
            registry = await load.run_step(session, "registre", state, cfg)
            dossier = await load.run_step(session, "dossier", state, cfg)
            return opened, login, registry, dossier
        finally:
            await session.close()

    opened, login, registry, dossier = in_own_thread(lambda: asyncio.run(journey()))

    assert opened.page.has_login_form()
    assert not login.exceptions and not login.page.has_login_form()
    assert not registry.exceptions
    assert "Registre des refus PDSES" in registry.page.headings()
    assert registry.page.contains("Derniers refus enregistrés par votre établissement")
    assert state.dossier_buttons, "no dossier button on the registry page"
    # The click on a dossier's button switches page: two script runs, the dossier's title.
    assert dossier.runs == 2 and not dossier.exceptions
    assert any(re.search(r"Refus R-\d{4}-\d+", h) for h in dossier.page.headings())


def test_a_wrong_password_gets_the_apps_message(app_server: Server):
    async def attempt() -> load.RunResult:
        session = load.Session(app_server.url, timeout=30)
        try:
            await session.open()
            return await session.login("demo-declarant", "not-the-password")
        finally:
            await session.close()

    result = in_own_thread(lambda: asyncio.run(attempt()))

    assert LOGIN_FAILED_MESSAGE in result.page.errors()
    assert result.page.has_login_form()
    with pytest.raises(load.StepError, match="still the login form"):
        load.expect_logged_in(result)


def test_the_command_line_runs_two_users_and_the_floor(app_server: Server, capsys):
    code = in_own_thread(
        lambda: load.main(
            [
                "--url",
                app_server.url,
                "--sessions",
                "2",
                "--iterations",
                "2",
                "--think",
                "0",
                "--ramp",
                "0",
                "--timeout",
                "30",
                "--journey",
                "mixed",
                "--password",
                DEMO_PASSWORD,
                "--start-floor",
            ]
        )
    )
    out = capsys.readouterr().out
    assert code == 0, out

    app, _, floor = out.partition("floor (st.write('ok'), same settings):")
    rows = {
        m["step"]: (int(m["count"]), int(m["errors"]), m["ratio"])
        for m in re.finditer(
            r"^(?P<step>[a-z-]+)\s+(?P<count>\d+)\s+(?P<errors>\d+)\s+\d+\.\d\s+\d+\.\d\s+"
            r"\d+\.\d\s+\d+\.\d(?:\s+(?P<ratio>\S+))?$",
            app,
            re.MULTILINE,
        )
    }
    # User 0 follows the Référent's journey (registry, dossier), user 1 the Coordinateur's
    # (registry, dossier, statistics): two rounds each, every step finished without error.
    assert rows == {
        "open": (2, 0, rows["open"][2]),
        "login": (2, 0, rows["login"][2]),
        "cookie-rerun": (2, 0, rows["cookie-rerun"][2]),
        "registre": (4, 0, rows["registre"][2]),
        "dossier": (4, 0, rows["dossier"][2]),
        "statistiques": (2, 0, rows["statistiques"][2]),
    }, out
    assert all(ratio and ratio.endswith("×") for _, _, ratio in rows.values()), out
    assert re.search(r"^throughput: \d+\.\d+ steps/s \(16 steps in", app, re.MULTILINE), out
    assert re.search(r"^open\s+2\s+0\s", floor, re.MULTILINE), out
    assert re.search(r"^rerun\s+4\s+0\s", floor, re.MULTILINE), out
