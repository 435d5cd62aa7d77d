"""Browserless load driver: K simulated users speak Streamlit's own websocket protocol to a
running server, go through realistic journeys and the step timings are printed (not a test:
it prints numbers and never judges them).

    .venv/bin/python -m benchmarks.load --url http://127.0.0.1:8501 --sessions 10 --think 5 \\
        --duration 60 --journey mixed --start-floor
    .venv/bin/python -m benchmarks.load --start-server --sessions 10 --duration 30 --start-floor
    .venv/bin/python -m benchmarks.load --start-server --memory

The protocol is the browser's: one websocket on ``/_stcore/stream`` per user; every
interaction is a ``BackMsg`` ``rerun_script`` whose ``ClientState`` carries the query string,
the page (``page_script_hash`` as the menu sends it, or ``page_name``, the URL path, as a typed
URL does) and the widget states; the server answers with ``ForwardMsg`` (``new_session`` at
each script run, the ``delta`` elements, ``navigation``…) until ``script_finished`` (a run ended
by ``st.switch_page``/``st.rerun`` finishes « early for rerun » and another run follows: the
step lasts until the last one). A step's time runs from sending the ``BackMsg`` to that last
``script_finished``. The page's elements are rebuilt from the deltas' paths, so the driver
checks what a user would see: an ``Exception`` element, a missing title or the login form
instead of the page count as errors, as do time-outs and disconnections.

A user opens the websocket (« open »: the login page), logs in through the form like the
browser submits it (the two text inputs' values and the submit button's trigger in one
``rerun_script``), then the rerun that the cookie component triggers in a browser
(« cookie-rerun »; without a browser the cookie is never written: the session stays logged
in, in memory, for this websocket only). Then it loops over its journey's steps with a think
time (uniform between half and one and a half ``--think``) between steps:

- ``registry``: demo-referent, the registry page, then a dossier opened by clicking its
  button on that page (« 🔔 R-2026-… »; ``--dossier R-…`` opens that one by its URL instead);
- ``statistics``: demo-ars, the statistics page (and the ``--dossier``, if given);
- ``registry-page``: demo-referent, the registry page again and again (its reruns);
- ``mixed``: the users take in turn the registry journey, the Coordinateur PDSES's (registry,
  dossier, statistics) and the ARS's.

Differences from a browser: only the widget states an interaction needs are sent (a browser
sends every widget's state at every rerun; here the others take their defaults), no cached
message hashes (every message is sent in full), no static files, no heartbeats.

``--start-floor`` (or ``--floor-url``) measures the framework's floor in the same run, after
the app: the same number of users on ``benchmarks/floor/streamlit_app.py`` (``st.write("ok")``)
served with the same settings, each opening it then rerunning it with the same think time;
every step's p50 is then quoted as a ratio to the floor's (« open » to the floor's open, the
others to the floor's rerun).

``--memory`` reports the server's resident memory (``VmRSS`` of ``/proc/PID/status``; the
server's ``--pid`` or the one ``--start-server`` started) with 0 (after a first user came and
left), 50 and 200 idle users (logged in, their journey's first page shown, the websocket left
open), after they left, and after ``--churn`` (1,000) more users logged in and left in
batches. Streamlit keeps the last 128 disconnected sessions for
``server.disconnectedSessionTTL`` (120 s) in case they reconnect: ``--ttl-wait 130`` measures
once more after that delay. ``--concurrency`` users log in at once (4): on SQLite, the login's
transaction holds the database's write lock during the bcrypt check, so ten at once on two
CPUs can wait past the 10 s busy time-out (« database is locked »).

Before the timings, one user per profile of the journey goes through it once (the floor's
too): the first imports, caches and pools belong to a server's start, not to its users
(``--no-warmup`` measures them). On a fresh server this also hides a trap that the cold runs
show (« lost-submit » errors): Streamlit's flag « the app uses a ``pages/`` directory »
(``PagesManager.uses_pages_directory``) is process-wide; it is true at start, since
``pages/`` sits beside ``Home.py``, and the first ``st.navigation`` call (the first login)
turns it off for every session. A login form drawn before that (under MPA v1, the main
script's v1 page hash) gets other widget ids than the same form drawn after it, so a submit
sent with the old ids is ignored: the form comes back empty, without a message.

The driver runs on the same machine as the server and takes its share of the CPUs (it
parses every ``ForwardMsg``): on a small machine, compare runs with the same number of users.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a file: its folder must not shadow the standard library
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import asyncio
import contextlib
import math
import os
import random
import re
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from registre.config import DEFAULT_DEMO_PASSWORD

ROOT = Path(__file__).resolve().parent.parent
APP_SCRIPT = ROOT / "Home.py"
FLOOR_SCRIPT = Path(__file__).resolve().parent / "floor" / "streamlit_app.py"

APP_TITLE = "Registre des refus PDSES"
REGISTRY_SECTION = "Derniers refus enregistrés par votre établissement"
STATISTICS_TITLE = "Statistiques"
LOGIN_LABELS = ("Identifiant", "Mot de passe", "Se connecter")
DOSSIER_NUMBER = re.compile(r"\bR-\d{4}-\d+\b")
DRAFT_ICON = "📝"  # a draft opens its editing form (« refus »), not the dossier page

EARLY_FOR_RERUN = ForwardMsg.FINISHED_EARLY_FOR_RERUN
COMPILE_ERROR = ForwardMsg.FINISHED_WITH_COMPILE_ERROR
_TEXT_FIELDS = ("body", "label", "message", "title")

# Errors that leave the websocket unusable: the user reconnects (and logs in again).
FATAL_KINDS = frozenset({"connect", "timeout", "disconnect", "protocol"})


class StepError(Exception):
    """A failed step: ``kind`` is connect, timeout, disconnect, protocol, exception (an
    ``Exception`` element or a compile error), not-found, content (not the expected page) or
    lost-submit (the login form came back unchanged: the server did not see the submit)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


# --- what the browser would show ----------------------------------------------------------


@dataclass
class Element:
    """An element or a block of the page (``kind`` is the proto's field: « heading »,
    « button », « block:form »…)."""

    kind: str
    proto: Any

    @property
    def text(self) -> str:
        fields = self.proto.DESCRIPTOR.fields_by_name
        parts = [getattr(self.proto, name) for name in _TEXT_FIELDS if name in fields]
        return " ".join(p for p in parts if isinstance(p, str) and p)


class Page:
    """The elements of a script run, by delta path (the first index is the container: 0
    the main area, 1 the sidebar); an element written again at a path replaces the old one
    and its children, as in the browser."""

    def __init__(self) -> None:
        self.elements: dict[tuple[int, ...], Element] = {}

    def put(self, path: tuple[int, ...], element: Element) -> None:
        if path in self.elements:
            size = len(path)
            for key in [k for k in self.elements if len(k) > size and k[:size] == path]:
                del self.elements[key]
        self.elements[path] = element

    def ordered(self) -> list[Element]:
        return [self.elements[k] for k in sorted(self.elements)]

    def of_kind(self, kind: str) -> list[Any]:
        return [e.proto for e in self.ordered() if e.kind == kind]

    def texts(self) -> list[str]:
        return [t for t in (e.text for e in self.ordered()) if t]

    def headings(self) -> list[str]:
        return [h.body for h in self.of_kind("heading")]

    def alerts(self, fmt: int | None = None) -> list[str]:
        return [a.body for a in self.of_kind("alert") if fmt is None or a.format == fmt]

    def errors(self) -> list[str]:
        return self.alerts(Alert.ERROR)

    def contains(self, text: str) -> bool:
        return any(text in t for t in self.texts())

    def widget(self, kind: str, label: str) -> Any | None:
        return next((w for w in self.of_kind(kind) if w.label == label), None)

    def has_login_form(self) -> bool:
        return self.widget("text_input", LOGIN_LABELS[0]) is not None


@dataclass
class RunResult:
    """One interaction: from the ``BackMsg`` to the last ``script_finished``."""

    ms: float
    page: Page
    runs: int
    received_bytes: int
    exceptions: list[str]
    page_not_found: bool
    lost_submit: bool = False  # a form came back as it was, its widgets under new ids


# --- one simulated browser tab ------------------------------------------------------------


class Session:
    """One user's websocket session, speaking the frontend's protocol."""

    def __init__(self, url: str, *, timeout: float = 60.0) -> None:
        self.base = url.rstrip("/")
        scheme, _, rest = self.base.partition("://")
        self.ws_url = f"{'wss' if scheme == 'https' else 'ws'}://{rest}/_stcore/stream"
        self.timeout = timeout
        self.ws: ClientConnection | None = None
        self.page = Page()
        self.page_hash = ""  # the current page, as the frontend tracks it
        self.path = ""  # its URL path
        self.query = ""  # the URL's query string
        self.pages: dict[str, str] = {}  # URL path -> page script hash (st.navigation)

    async def open(self, path: str = "", query: str = "") -> RunResult:
        """Connect and run the page at ``path`` (as loading the URL in a new tab does)."""
        started = time.perf_counter()
        try:
            self.ws = await asyncio.wait_for(
                connect(
                    self.ws_url,
                    subprotocols=["streamlit"],  # type: ignore[list-item]
                    origin=self.base,  # type: ignore[arg-type]
                    max_size=None,
                    max_queue=None,
                    proxy=None,
                ),
                self.timeout,
            )
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise StepError("connect", f"{type(exc).__name__}: {exc}") from exc
        return await self.rerun(page_name=path, query=query, started=started)

    async def close(self) -> None:
        ws, self.ws = self.ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 5)

    async def rerun(
        self,
        *,
        widgets: Iterable[WidgetState] = (),
        page_hash: str | None = None,
        page_name: str = "",
        query: str | None = None,
        started: float | None = None,
    ) -> RunResult:
        """Send a ``rerun_script``: the current page unless ``page_hash`` (a menu click) or
        ``page_name`` (a URL path) names another one."""
        if self.ws is None:
            raise StepError("disconnect", "not connected")
        msg = BackMsg()
        state = msg.rerun_script
        state.SetInParent()
        state.query_string = self.query if query is None else query
        if page_name:
            state.page_name = page_name
        else:
            state.page_script_hash = self.page_hash if page_hash is None else page_hash
        state.widget_states.widgets.extend(widgets)
        context = state.context_info
        context.timezone = "Europe/Paris"
        context.timezone_offset = -60
        context.locale = "fr-FR"
        context.url = f"{self.base}/{page_name or self.path}"
        payload = msg.SerializeToString()
        if started is None:
            started = time.perf_counter()
        try:
            await self.ws.send(payload)
            return await self._read_run(started)
        except ConnectionClosed as exc:
            raise StepError("disconnect", str(exc) or type(exc).__name__) from exc

    async def _read_run(self, started: float) -> RunResult:
        assert self.ws is not None
        page: Page | None = None  # until this request's first new_session
        runs = received = 0
        exceptions: list[str] = []
        not_found = False
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    data = await self.ws.recv(decode=False)
                    received += len(data)
                    fmsg = ForwardMsg()
                    fmsg.ParseFromString(data)
                    kind = fmsg.WhichOneof("type")
                    if kind == "new_session":
                        page = Page()
                        self.page_hash = fmsg.new_session.page_script_hash
                    elif kind == "delta":
                        if page is not None:
                            self._delta(fmsg, page, exceptions)
                    elif kind == "navigation":
                        self._navigation(fmsg)
                    elif kind == "page_info_changed":
                        self.query = fmsg.page_info_changed.query_string
                    elif kind == "page_not_found":
                        not_found = True
                    elif kind == "session_event":
                        if fmsg.session_event.HasField("script_compilation_exception"):
                            exc = fmsg.session_event.script_compilation_exception
                            exceptions.append(f"{exc.type}: {exc.message}")
                    elif kind == "ref_hash":
                        raise StepError("protocol", "a cached message reference was sent")
                    elif kind == "script_finished" and page is not None:
                        runs += 1
                        if fmsg.script_finished == EARLY_FOR_RERUN:
                            continue
                        if fmsg.script_finished == COMPILE_ERROR and not exceptions:
                            exceptions.append("script compile error")
                        break
        except TimeoutError as exc:
            raise StepError("timeout", f"no script_finished after {self.timeout:g} s") from exc
        assert page is not None
        self.page = page
        ms = (time.perf_counter() - started) * 1000
        return RunResult(ms, page, runs, received, exceptions, not_found)

    def _delta(self, fmsg: ForwardMsg, page: Page, exceptions: list[str]) -> None:
        delta = fmsg.delta
        path = tuple(fmsg.metadata.delta_path)
        which = delta.WhichOneof("type")
        if which == "new_element":
            kind = delta.new_element.WhichOneof("type") or ""
            proto = getattr(delta.new_element, kind) if kind else delta.new_element
            page.put(path, Element(kind, proto))
            if kind == "exception" and not proto.is_warning:
                exceptions.append(f"{proto.type}: {proto.message}")
        elif which == "add_block":
            block = delta.add_block.WhichOneof("type") or ""
            proto = getattr(delta.add_block, block) if block else delta.add_block
            page.put(path, Element(f"block:{block}", proto))

    def _navigation(self, fmsg: ForwardMsg) -> None:
        nav = fmsg.navigation
        self.pages = {p.url_pathname: p.page_script_hash for p in nav.app_pages}
        if nav.page_script_hash:
            self.page_hash = nav.page_script_hash
            self.path = next(
                (p.url_pathname for p in nav.app_pages if p.page_script_hash == self.page_hash),
                self.path,
            )

    # --- what a user does ------------------------------------------------------------------

    async def goto(self, url_path: str, query: str = "") -> RunResult:
        """The menu's link to a page (its script hash), else the page's URL."""
        page_hash = self.pages.get(url_path)
        if page_hash:
            return await self.rerun(page_hash=page_hash, query=query)
        return await self.rerun(page_name=url_path, query=query)

    async def click(self, button: Any) -> RunResult:
        return await self.rerun(widgets=[WidgetState(id=button.id, trigger_value=True)])

    async def login(self, username: str, password: str) -> RunResult:
        """Fill in the login form and submit it, as the frontend submits a form: the form's
        widget values and the submit button's trigger in one ``rerun_script``."""
        user, secret, submit = (
            self.page.widget("text_input", LOGIN_LABELS[0]),
            self.page.widget("text_input", LOGIN_LABELS[1]),
            self.page.widget("button", LOGIN_LABELS[2]),
        )
        if user is None or secret is None or submit is None:
            raise StepError("content", "no login form on the page")
        result = await self.rerun(
            widgets=[
                WidgetState(id=user.id, string_value=username),
                WidgetState(id=secret.id, string_value=password),
                WidgetState(id=submit.id, trigger_value=True),
            ]
        )
        again = result.page.widget("text_input", LOGIN_LABELS[0])
        if again is not None and again.id != user.id and not result.page.errors():
            # Nothing said, and the form's ids changed: the server never saw the submit
            # (the ids hash the running page: see the module's notes on a fresh server).
            result.lost_submit = True
        return result


# --- checks ---------------------------------------------------------------------------------


def check_run(result: RunResult) -> None:
    if result.exceptions:
        raise StepError("exception", "; ".join(result.exceptions)[:300])
    if result.page_not_found:
        raise StepError("not-found", "page not found")


def expect_heading(result: RunResult, wanted: str) -> None:
    check_run(result)
    if not any(wanted in h for h in result.page.headings()):
        page = result.page
        seen = "the login form" if page.has_login_form() else f"titles {page.headings()[:4]}"
        errors = f", errors {page.errors()[:2]}" if page.errors() else ""
        raise StepError("content", f"no title « {wanted} »: {seen}{errors}")


def expect_logged_in(result: RunResult) -> None:
    check_run(result)
    if result.lost_submit:
        raise StepError("lost-submit", "the login form came back, its widgets under new ids")
    if result.page.has_login_form():
        raise StepError("content", f"still the login form {result.page.errors()[:1]}")


# --- journeys ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    name: str
    username: str
    steps: tuple[str, ...]
    login: bool = True


PROFILES = {
    "referent": Profile("referent", "demo-referent", ("registre", "dossier")),
    "coordinateur": Profile(
        "coordinateur", "demo-coordinateur", ("registre", "dossier", "statistiques")
    ),
    "ars": Profile("ars", "demo-ars", ("statistiques",)),
    "registre": Profile("registre", "demo-referent", ("registre",)),
}
JOURNEYS = {
    "registry": ("referent",),
    "registry-page": ("registre",),
    "statistics": ("ars",),
    "mixed": ("referent", "coordinateur", "ars"),
}
FLOOR_PROFILE = Profile("floor", "", ("rerun",), login=False)


@dataclass
class LoadConfig:
    url: str
    sessions: int = 10
    think: float = 5.0
    duration: float = 60.0
    journey: str = "mixed"
    password: str = DEFAULT_DEMO_PASSWORD
    user: str | None = None
    dossier: str | None = None
    iterations: int | None = None
    timeout: float = 60.0
    ramp: float | None = None
    seed: int = 1
    floor: bool = False
    usernames: dict[str, str] = field(default_factory=dict)  # profile name → account
    accounts: int = 0  # > 0: a username's « {n} » is the user's number modulo this, from 1

    def profile(self, index: int) -> Profile:
        if self.floor:
            return FLOOR_PROFILE
        profile = PROFILES[JOURNEYS[self.journey][index % len(JOURNEYS[self.journey])]]
        steps = profile.steps
        if self.dossier and "dossier" not in steps:
            steps = (*steps, "dossier")  # the ARS reads the dossier by its URL
        username = self.user or self.usernames.get(profile.name) or profile.username
        if self.accounts > 0:
            username = username.replace("{n}", str(index % self.accounts + 1))
        return Profile(profile.name, username, steps)


@dataclass
class Recorder:
    samples: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, Counter[str]] = field(default_factory=dict)
    examples: dict[tuple[str, str], str] = field(default_factory=dict)
    sessions: int = 0
    reconnects: int = 0
    elapsed: float = 0.0

    def ok(self, step: str, ms: float) -> None:
        self.samples.setdefault(step, []).append(ms)
        self.errors.setdefault(step, Counter())

    def error(self, step: str, err: StepError) -> None:
        self.samples.setdefault(step, [])
        self.errors.setdefault(step, Counter())[err.kind] += 1
        self.examples.setdefault((step, err.kind), err.detail)

    def steps(self) -> list[str]:
        return list(self.samples)

    def total_ok(self) -> int:
        return sum(len(v) for v in self.samples.values())

    def total_errors(self) -> int:
        return sum(sum(c.values()) for c in self.errors.values())


@dataclass
class UserState:
    """What a user remembers between steps: the dossier buttons of the registry page."""

    rng: random.Random
    dossier_buttons: list[Any] = field(default_factory=list)


async def run_step(
    session: Session, name: str, state: UserState, cfg: LoadConfig
) -> RunResult:  # one journey step
    if name == "registre":
        state.dossier_buttons = []
        result = await session.goto("registre")
        expect_heading(result, APP_TITLE)
        if not result.page.contains(REGISTRY_SECTION):
            raise StepError("content", f"no « {REGISTRY_SECTION} » on the registry page")
        state.dossier_buttons = [
            b
            for b in result.page.of_kind("button")
            if DOSSIER_NUMBER.search(b.label) and not b.label.startswith(DRAFT_ICON)
        ]
        return result
    if name == "dossier":
        if cfg.dossier:
            number = cfg.dossier
            result = await session.goto("dossier", f"numero={quote(number)}")
        else:
            if not state.dossier_buttons or session.path != "registre":
                raise StepError("content", "no dossier button on the registry page")
            button = state.rng.choice(state.dossier_buttons)
            number = DOSSIER_NUMBER.search(button.label).group()  # type: ignore[union-attr]
            result = await session.click(button)
        expect_heading(result, f"Refus {number}")
        return result
    if name == "statistiques":
        result = await session.goto("statistiques")
        expect_heading(result, STATISTICS_TITLE)
        return result
    if name == "rerun":  # the floor page
        result = await session.rerun()
        check_run(result)
        return result
    raise ValueError(f"unknown step {name!r}")


async def _timed(recorder: Recorder, step: str, action: Awaitable[RunResult]) -> RunResult:
    try:
        result = await action
    except StepError as err:
        recorder.error(step, err)
        raise
    recorder.ok(step, result.ms)
    return result


async def _checked(action: Awaitable[RunResult], check: Callable[[RunResult], None]) -> RunResult:
    result = await action
    check(result)
    return result


def _expect_floor(result: RunResult) -> None:
    check_run(result)
    if not result.page.contains("ok"):
        raise StepError("content", "the floor page did not say « ok »")


def _expect_login_page(result: RunResult) -> None:
    check_run(result)
    if not result.page.has_login_form():
        raise StepError("content", f"no login form: titles {result.page.headings()[:3]}")


async def login_session(
    session: Session, profile: Profile, cfg: LoadConfig, recorder: Recorder | None = None
) -> None:
    """Open the login page, log in and let the cookie component's rerun happen (no think
    time): the state a user is in once the home page shows."""
    rec = recorder or Recorder()
    await _timed(rec, "open", _checked(session.open(), _expect_login_page))
    await _timed(
        rec, "login", _checked(session.login(profile.username, cfg.password), expect_logged_in)
    )
    await _timed(rec, "cookie-rerun", _checked(session.rerun(), expect_logged_in))


async def simulate_user(
    index: int, cfg: LoadConfig, recorder: Recorder, deadline: float, rng: random.Random
) -> None:
    profile = cfg.profile(index)
    state = UserState(rng)
    done = 0

    def finished() -> bool:
        if cfg.iterations is not None:
            return done >= cfg.iterations
        return time.monotonic() >= deadline

    async def think() -> bool:
        """Wait like a reading user; False when the run is over meanwhile."""
        if cfg.think > 0:
            pause = rng.uniform(0.5, 1.5) * cfg.think
            if cfg.iterations is None:
                pause = min(pause, max(0.0, deadline - time.monotonic()))
            await asyncio.sleep(pause)
        return not finished()

    ramp = cfg.think if cfg.ramp is None else cfg.ramp
    await asyncio.sleep(rng.uniform(0, ramp) if ramp > 0 else 0)
    first = True
    while not finished():
        if not first:
            recorder.reconnects += 1
        first = False
        recorder.sessions += 1
        session = Session(cfg.url, timeout=cfg.timeout)
        try:
            if profile.login:
                await _timed(recorder, "open", _checked(session.open(), _expect_login_page))
                if not await think():
                    break
                await _timed(
                    recorder,
                    "login",
                    _checked(session.login(profile.username, cfg.password), expect_logged_in),
                )
                await _timed(recorder, "cookie-rerun", _checked(session.rerun(), expect_logged_in))
            else:
                await _timed(recorder, "open", _checked(session.open(), _expect_floor))
            while not finished():
                for step in profile.steps:
                    if not await think():
                        break
                    try:
                        await _timed(recorder, step, run_step(session, step, state, cfg))
                    except StepError as err:
                        if err.kind in FATAL_KINDS:
                            raise
                else:
                    done += 1
        except StepError:
            done += 1  # with --iterations, a failed session counts as a round (no endless retry)
            await think()  # then a new tab, a new session, a new login
        finally:
            await session.close()


async def warm_up(cfg: LoadConfig) -> None:
    """One user per profile of the journey, one round each, before any timing: the first
    imports, caches and connection pools are not what a user meets on a running server."""
    seen: set[Profile] = set()
    for index in range(len(JOURNEYS[cfg.journey])):
        profile = cfg.profile(index)
        if profile in seen:
            continue
        seen.add(profile)
        session = Session(cfg.url, timeout=cfg.timeout)
        try:
            if profile.login:
                await login_session(session, profile, cfg)
            else:
                await _checked(session.open(), _expect_floor)
            state = UserState(random.Random(cfg.seed))
            for step in profile.steps:
                await run_step(session, step, state, cfg)
        finally:
            await session.close()


async def run_load(cfg: LoadConfig) -> Recorder:
    """Run ``cfg.sessions`` users until ``cfg.duration`` seconds have passed (or each did
    ``cfg.iterations`` rounds of its journey) and return their timings."""
    recorder = Recorder()
    started = time.monotonic()
    deadline = started + cfg.duration
    seeds = random.Random(cfg.seed)
    await asyncio.gather(
        *(
            simulate_user(i, cfg, recorder, deadline, random.Random(seeds.random()))
            for i in range(cfg.sessions)
        )
    )
    recorder.elapsed = time.monotonic() - started
    return recorder


# --- report -----------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q % of the values at or below it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def format_table(recorder: Recorder, floor: Recorder | None = None) -> str:
    header = f"{'step':<14}{'count':>7}{'errors':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}"
    header += f"{'max ms':>10}"
    if floor is not None:
        header += f"{'p50/floor':>11}"
    lines = [header]
    floor_open = percentile(floor.samples.get("open", []), 50) if floor else math.nan
    floor_rerun = percentile(floor.samples.get("rerun", []), 50) if floor else math.nan
    for step in recorder.steps():
        values = recorder.samples[step]
        errors = sum(recorder.errors.get(step, Counter()).values())
        p50 = percentile(values, 50)
        line = f"{step:<14}{len(values):>7}{errors:>8}{_ms(p50):>10}"
        line += f"{_ms(percentile(values, 95)):>10}{_ms(percentile(values, 99)):>10}"
        line += f"{_ms(max(values) if values else math.nan):>10}"
        if floor is not None:
            base = floor_open if step == "open" else floor_rerun
            ratio = p50 / base if base and not math.isnan(base) else math.nan
            line += f"{'-' if math.isnan(ratio) else f'{ratio:.1f}×':>11}"
        lines.append(line)
    ok, elapsed = recorder.total_ok(), recorder.elapsed
    rate = ok / elapsed if elapsed > 0 else math.nan
    lines.append(
        f"throughput: {rate:.2f} steps/s ({ok} steps in {elapsed:.1f} s), "
        f"errors: {recorder.total_errors()}, sessions: {recorder.sessions} "
        f"(reconnections: {recorder.reconnects})"
    )
    for (step, kind), detail in recorder.examples.items():
        lines.append(f"  error {step}/{kind} ×{recorder.errors[step][kind]}: {detail[:200]}")
    return "\n".join(lines)


# --- memory -----------------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    """The process's resident memory (``VmRSS``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


@dataclass
class MemoryRow:
    label: str
    sessions: int
    rss: float


@dataclass
class MemoryReport:
    rows: list[MemoryRow]
    failures: Counter[str]  # users whose login or first page failed, by error kind
    examples: dict[str, str]  # the first error of each kind


async def measure_memory(
    cfg: LoadConfig,
    pid: int,
    *,
    levels: Sequence[int] = (50, 200),
    churn: int = 1000,
    batch: int = 50,
    concurrency: int = 4,
    settle: float = 5.0,
    ttl_wait: float = 0.0,
    report: Callable[[MemoryRow], None] | None = None,
) -> MemoryReport:
    """RSS with idle logged-in users (each logged in, looked at its journey's first page,
    then idles with its websocket open), after they left, and after ``churn`` more users
    (each logged in, so saw the home page, and left) in batches of ``batch``."""
    rows: list[MemoryRow] = []
    failures: Counter[str] = Counter()
    examples: dict[str, str] = {}
    profile = cfg.profile(0)
    rng = random.Random(cfg.seed)
    gate = asyncio.Semaphore(concurrency)

    def note(label: str, sessions: int) -> None:
        if failures:
            label += f" ({sum(failures.values())} users failed)"
        row = MemoryRow(label, sessions, rss_mb(pid))
        rows.append(row)
        if report is not None:
            report(row)

    async def user(*, steps: Sequence[str]) -> Session | None:
        async with gate:
            session = Session(cfg.url, timeout=cfg.timeout)
            try:
                await login_session(session, profile, cfg)
                state = UserState(rng)
                for step in steps:
                    await run_step(session, step, state, cfg)
            except StepError as err:
                failures[err.kind] += 1
                examples.setdefault(err.kind, err.detail)
                await session.close()
                return None
            return session

    async def close(sessions: Iterable[Session | None]) -> None:
        await asyncio.gather(*(s.close() for s in sessions if s is not None))

    note("as found", 0)
    await close([await user(steps=profile.steps)])  # imports, caches, pools: a first user
    await asyncio.sleep(settle)
    note("0 idle (after one user)", 0)
    idle: list[Session | None] = []
    for level in levels:
        idle += await asyncio.gather(
            *(user(steps=profile.steps[:1]) for _ in range(level - len(idle)))
        )
        await asyncio.sleep(settle)
        note(f"{level} idle", level)
    await close(idle)
    await asyncio.sleep(settle)
    note(f"{len(idle)} closed", 0)
    done = 0
    while done < churn:
        size = min(batch, churn - done)
        await close(await asyncio.gather(*(user(steps=()) for _ in range(size))))
        done += size
    await asyncio.sleep(settle)
    note(f"after {churn} opened and closed", 0)
    if ttl_wait > 0:
        await asyncio.sleep(ttl_wait)
        # A write to the session store drops the expired disconnected sessions.
        await close([await user(steps=())])
        await asyncio.sleep(settle)
        note(f"+{ttl_wait:g} s (disconnected TTL)", 0)
    return MemoryReport(rows, failures, examples)


def format_memory_row(row: MemoryRow, base: float | None) -> str:
    line = f"{row.label:<34}{row.rss:>10.1f}"
    if base is not None:
        line += f"{row.rss - base:>+10.1f}"
        if row.sessions:
            line += f"{(row.rss - base) / row.sessions:>12.2f}"
    return line


# --- servers ----------------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(server: Server, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"streamlit exited: {server.log.read_text()[-2000:]}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as resp,
        ):
            if resp.status == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"streamlit did not start: {server.log.read_text()[-2000:]}")


def start_streamlit(
    script: Path, *, env: dict[str, str], options: Sequence[str], workdir: Path
) -> Server:
    """``streamlit run`` from the project root (its ``.streamlit/config.toml``), headless on
    127.0.0.1 and a free port, with the extra ``--option value`` pairs."""
    port = free_port()
    log = workdir / f"streamlit-{script.stem}-{port}.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(script),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            *options,
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_healthy(server)
    except BaseException:
        stop_server(server)
        raise
    return server


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def app_environment(database_url: str, workdir: Path, password: str) -> dict[str, str]:
    env = {
        **os.environ,
        "REGISTRE_DATABASE_URL": database_url,
        "REGISTRE_DEMO": "1",
        "REGISTRE_DEMO_PASSWORD": password,
    }
    # No secrets file unless one is asked for: no SMTP server of a real configuration.
    env.setdefault("REGISTRE_SECRETS_FILE", str(workdir / "no-secrets.toml"))
    return env


def init_demo(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "registre.cli", "init", "--demo"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


def server_options(pairs: Sequence[str]) -> list[str]:
    options: list[str] = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--server-option {pair!r}: expected KEY=VALUE")
        options += [f"--{key.removeprefix('--')}", value]
    return options


# --- command line -----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.load",
        description="Browserless load driver speaking Streamlit's websocket protocol.",
    )
    where = p.add_argument_group("servers")
    where.add_argument("--url", help="the app's server, e.g. http://127.0.0.1:8501")
    where.add_argument(
        "--start-server",
        action="store_true",
        help="start the app with `streamlit run Home.py` (a fresh demo SQLite database unless "
        "--database-url)",
    )
    where.add_argument("--database-url", help="with --start-server: the database to serve")
    where.add_argument(
        "--init-demo",
        action="store_true",
        help="with --start-server --database-url: run `registre init --demo` on it first",
    )
    where.add_argument("--floor-url", help="a server of benchmarks/floor/streamlit_app.py")
    where.add_argument(
        "--start-floor",
        action="store_true",
        help="start the floor page's server with the same settings",
    )
    where.add_argument(
        "--log-dir",
        help="keep the logs of the servers started here in this folder (their tracebacks: the "
        "app's error messages are redacted)",
    )
    where.add_argument(
        "--server-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a streamlit option for the servers started here, e.g. runner.fastReruns=false",
    )
    load = p.add_argument_group("load")
    load.add_argument("--sessions", type=int, default=10, help="concurrent users (default 10)")
    load.add_argument("--think", type=float, default=5.0, help="think time in s (default 5)")
    load.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    load.add_argument(
        "--iterations",
        type=int,
        help="instead of --duration: rounds of its journey per user",
    )
    load.add_argument("--journey", choices=sorted(JOURNEYS), default="mixed")
    load.add_argument("--user", help="log every user in with this account")
    load.add_argument(
        "--password",
        default=os.environ.get("REGISTRE_DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD,
        help="the accounts' password (default: the demo password)",
    )
    load.add_argument("--dossier", help="open this dossier number by its URL")
    load.add_argument(
        "--ramp", type=float, help="users start at random within this many s (default --think)"
    )
    load.add_argument("--timeout", type=float, default=60.0, help="per step, in s (default 60)")
    load.add_argument("--floor-duration", type=float, help="default: --duration")
    load.add_argument(
        "--no-warmup",
        dest="warmup",
        action="store_false",
        help="no warm-up round before the timings (a cold server's first users)",
    )
    load.add_argument("--seed", type=int, default=1)
    mem = p.add_argument_group("memory")
    mem.add_argument("--memory", action="store_true", help="measure the server's RSS instead")
    mem.add_argument("--pid", type=int, help="the app server's process id (--memory)")
    mem.add_argument("--levels", default="50,200", help="idle users (default 50,200)")
    mem.add_argument("--churn", type=int, default=1000, help="users opened and closed")
    mem.add_argument("--batch", type=int, default=50, help="churn batch size (default 50)")
    mem.add_argument("--concurrency", type=int, default=4, help="logins at once (default 4)")
    mem.add_argument("--settle", type=float, default=5.0, help="s before each reading")
    mem.add_argument(
        "--ttl-wait",
        type=float,
        default=0.0,
        help="read once more after this many s (the disconnected sessions' TTL is 120 s)",
    )
    args = p.parse_args(argv)
    if args.start_server and args.url:
        p.error("--url and --start-server exclude each other")
    if not args.start_server and not args.url:
        p.error("give --url or --start-server")
    if args.memory and not (args.pid or args.start_server):
        p.error("--memory needs --pid or --start-server")
    return args


def _load_config(args: argparse.Namespace, url: str, *, floor: bool = False) -> LoadConfig:
    duration = args.floor_duration if floor and args.floor_duration else args.duration
    return LoadConfig(
        url=url,
        sessions=args.sessions,
        think=args.think,
        duration=duration,
        journey=args.journey,
        password=args.password,
        user=args.user,
        dossier=args.dossier,
        iterations=args.iterations,
        timeout=args.timeout,
        ramp=args.ramp,
        seed=args.seed,
        floor=floor,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    options = server_options(args.server_option)
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="registre-load-")))
        logs = workdir
        if args.log_dir:
            logs = Path(args.log_dir)
            logs.mkdir(parents=True, exist_ok=True)
        url, pid = args.url, args.pid
        if args.start_server:
            database_url = args.database_url or f"sqlite:///{workdir / 'load.sqlite3'}"
            env = app_environment(database_url, workdir, args.password)
            if not args.database_url or args.init_demo:
                print(f"registre init --demo ({database_url})…", flush=True)
                init_demo(env)
            server = start_streamlit(APP_SCRIPT, env=env, options=options, workdir=logs)
            stack.callback(stop_server, server)
            url, pid = server.url, server.process.pid
            print(f"app server: {url} (pid {pid})", flush=True)
            if args.log_dir:
                print(f"app server log: {server.log}")
        floor_url = args.floor_url
        if args.start_floor and not args.memory:
            floor_server = start_streamlit(
                FLOOR_SCRIPT, env=dict(os.environ), options=options, workdir=logs
            )
            stack.callback(stop_server, floor_server)
            floor_url = floor_server.url
            print(f"floor server: {floor_url} (pid {floor_server.process.pid})", flush=True)

        if args.memory:
            levels = [int(v) for v in args.levels.split(",") if v.strip()]
            cfg = _load_config(args, url)
            print(
                f"Memory of pid {pid} ({url}), profile {cfg.profile(0).name}: RSS in MB, "
                "Δ from « 0 idle », MB per session"
            )
            print(f"{'state':<34}{'RSS MB':>10}{'Δ MB':>10}{'MB/session':>12}", flush=True)
            base: list[float] = []

            def report(row: MemoryRow) -> None:
                if row.label.startswith("0 idle"):
                    base.append(row.rss)
                print(format_memory_row(row, base[0] if base else None), flush=True)

            memory = asyncio.run(
                measure_memory(
                    cfg,
                    pid,
                    levels=levels,
                    churn=args.churn,
                    batch=args.batch,
                    concurrency=args.concurrency,
                    settle=args.settle,
                    ttl_wait=args.ttl_wait,
                    report=report,
                )
            )
            for kind, detail in memory.examples.items():
                print(f"  failed users ({kind}) ×{memory.failures[kind]}: {detail[:300]}")
            return 0

        cfg = _load_config(args, url)
        span = f"{args.iterations} rounds" if args.iterations else f"{cfg.duration:g} s"
        print(
            f"Load: {cfg.sessions} users, journey {cfg.journey}, think {cfg.think:g} s, "
            f"{span}, on {url}",
            flush=True,
        )
        if args.warmup:
            started = time.monotonic()
            try:
                asyncio.run(warm_up(cfg))
            except StepError as err:
                print(f"warm-up failed: {err}")
                return 1
            print(f"warm-up: one round per profile in {time.monotonic() - started:.1f} s")
        rss_before = rss_mb(pid) if pid else None
        app = asyncio.run(run_load(cfg))
        rss_after = rss_mb(pid) if pid else None
        floor = None
        if floor_url:
            fcfg = _load_config(args, floor_url, floor=True)
            print(f"Floor: the same users on {floor_url} (open, then reruns)…", flush=True)
            if args.warmup:
                asyncio.run(warm_up(fcfg))
            floor = asyncio.run(run_load(fcfg))
        print()
        print(format_table(app, floor))
        if rss_before is not None and rss_after is not None:
            print(f"server RSS: {rss_before:.1f} MB before, {rss_after:.1f} MB after")
        if floor is not None:
            print()
            print("floor (st.write('ok'), same settings):")
            print(format_table(floor))
            print("p50/floor: the step's p50 over the floor's rerun p50 (open: floor's open)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
