"""End-to-end fixtures: a real ``streamlit run`` server on a fresh database with the demo
data, and Debian's Chromium driven by Playwright. Without Chromium these tests are skipped
locally with a message; in CI (``REGISTRE_CI_STRICT=1``) a missing browser is a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..conftest import PG_URL, _drop_postgres_database, _fresh_postgres_database
from ..smtp_server import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DEMO_PASSWORD = "mot-de-passe-demo-e2e"


def _require_browser() -> str:
    if CHROMIUM:
        return CHROMIUM
    message = "Chromium absent (apt-get install -y chromium) : tests de bout en bout ignorés."
    if os.environ.get("REGISTRE_CI_STRICT"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Server:
    url: str
    database_url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"streamlit did not start: {log.read_text()[-2000:]}")


def start_server(
    tmp: Path,
    extra_env: dict[str, str] | None = None,
    *,
    port: int | None = None,
    database_url: str | None = None,
) -> Server:
    """A fresh database initialised with ``registre init --demo`` (or, with ``database_url``,
    that of a stopped server, as it was), then ``streamlit run``."""
    reuse = database_url is not None
    if database_url is None:
        database_url = (
            _fresh_postgres_database(PG_URL) if PG_URL else f"sqlite:///{tmp / 'e2e.sqlite3'}"
        )
    env = {
        **os.environ,
        "REGISTRE_DATABASE_URL": database_url,
        "REGISTRE_DEMO": "1",
        "REGISTRE_BACKGROUND": "1",
        "REGISTRE_DEMO_PASSWORD": DEMO_PASSWORD,
        "REGISTRE_SECRETS_FILE": str(tmp / "no-secrets.toml"),
        **(extra_env or {}),
    }
    if not reuse:
        subprocess.run(
            [sys.executable, "-m", "registre.cli", "init", "--demo"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    port = port or free_port()
    log = tmp / f"streamlit-{port}.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "Home.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_healthy(url, process, log)
    return Server(url, database_url, env, process, log)


def stop_server(server: Server, *, keep_database: bool = False) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
    if PG_URL and not keep_database:
        _drop_postgres_database(server.database_url)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _require_browser()
    srv = start_server(tmp_path_factory.mktemp("e2e"))
    yield srv
    stop_server(srv)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    executable = _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ],
        )
        yield chromium
        chromium.close()


_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_FAILED] = report.failed


def _diagnose(request, pg) -> None:  # type: ignore[no-untyped-def]
    """A failed browser test leaves what CI needs to tell a lost click from a stuck server:
    a screenshot, the page's text and the end of the server's log, in the test's report."""
    name = request.node.name.replace("/", "_")[:120]
    try:
        screenshot(pg, f"echec-{name}")
        text = pg.locator("body").inner_text(timeout=2_000)
    except Exception as exc:  # the page may be gone: the log still helps
        text = f"(page illisible : {exc})"
    print(f"\n--- page at failure ({pg.url}) ---\n{text[-3000:]}")
    if "server" in request.fixturenames:
        log = request.getfixturevalue("server").log
        print(f"--- end of {log} ---\n{log.read_text(errors='replace')[-6000:]}")


@pytest.fixture
def page(browser, request):  # type: ignore[no-untyped-def]
    context = browser.new_context(
        locale="fr-FR", timezone_id="Europe/Paris", viewport={"width": 1400, "height": 1000}
    )
    context.set_default_timeout(20_000)
    # Assertions wait as long as actions: on a loaded 2-CPU machine a login's cookie rerun
    # took more than the default 5 s once (the sidebar still said « Connexion… »).
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    pg = context.new_page()
    yield pg
    if request.node.stash.get(_FAILED, False):
        _diagnose(request, pg)
    context.close()


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
