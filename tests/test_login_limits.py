"""Login limits beyond the per-account lockout: failed logins per client address (many
accounts tried from one place), sessions and login cookies ended by an idle time, and a
logout that ends the account's other sessions. Core rules here; the pages in
``test_page_home.py``-style AppTests at the end."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from registre import auth
from registre.models import AuditEntry, LoginThrottle

from . import apptest_helpers
from .apptest_helpers import button, home, login_via_form, widget
from .factories import PASSWORD

ATTACKER = "203.0.113.7"
NEIGHBOUR = "198.51.100.20"


def _audit(db, action):
    with db.read() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _fail(db, n, client=ATTACKER, start=0):
    """``n`` failed logins from ``client``, each on another identifier (some real)."""
    accounts = ["declarant-req", "referent-ref", "coordinateur-ref", "directeur-req"]
    results = []
    for i in range(start, start + n):
        username = accounts[i % len(accounts)] if i % 3 == 0 else f"inconnu-{i}"
        results.append(auth.authenticate(db, username, f"essai-{i}-faux", client=client))
    return results


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        (None, None, "127.0.0.1"),  # loopback, no proxy header: the machine itself
        ("192.0.2.10", None, "192.0.2.10"),  # a direct client
        ("192.0.2.10", "6.6.6.6", "192.0.2.10"),  # not a proxy: its header is ignored
        (None, "203.0.113.7", "203.0.113.7"),  # nginx on loopback
        (None, "6.6.6.6, 203.0.113.7", "203.0.113.7"),  # the client forged the first hop
        ("127.0.0.1", "203.0.113.7, 127.0.0.1", "203.0.113.7"),  # two proxies
        (None, " , ", "127.0.0.1"),
    ],
)
def test_the_client_address_behind_a_trusted_proxy(peer, forwarded, expected):
    assert auth.client_address(peer, forwarded, {"127.0.0.1", "::1"}) == expected


def test_many_accounts_tried_from_one_address_block_that_address(world, clock):
    db = world.db
    results = _fail(db, auth.ADDRESS_MAX_FAILURES)
    assert all(not r.ok and r.message == auth.LOGIN_FAILED_MESSAGE for r in results)
    assert [e.details["client"] for e in _audit(db, "address_blocked")] == [ATTACKER]
    # Now even the right password of an unlocked account is refused from that address…
    blocked = auth.authenticate(db, "referent-req", PASSWORD, client=ATTACKER)
    assert (blocked.ok, blocked.throttled, blocked.message) == (
        False,
        True,
        auth.ADDRESS_BLOCKED_MESSAGE,
    )
    assert len(_audit(db, "login_refused_address")) == 1
    # … but not from another address, and not once the window is over.
    assert auth.authenticate(db, "referent-req", PASSWORD, client=NEIGHBOUR).ok
    clock.advance(minutes=15, seconds=1)
    assert auth.authenticate(db, "referent-req", PASSWORD, client=ATTACKER).ok


def test_failures_older_than_the_window_are_forgotten(world, clock):
    db = world.db
    _fail(db, auth.ADDRESS_MAX_FAILURES - 1)
    clock.advance(minutes=15, seconds=1)
    _fail(db, auth.ADDRESS_MAX_FAILURES - 1, start=100)
    assert auth.authenticate(db, "referent-req", PASSWORD, client=ATTACKER).ok
    assert _audit(db, "address_blocked") == []


def test_a_success_does_not_reset_the_address_counter(world, clock):
    """Else one valid account would let an attacker try every other one."""
    db = world.db
    _fail(db, auth.ADDRESS_MAX_FAILURES - 1)
    assert auth.authenticate(db, "referent-req", PASSWORD, client=ATTACKER).ok
    _fail(db, 1, start=500)
    assert auth.authenticate(db, "referent-req", PASSWORD, client=ATTACKER).throttled


def test_parallel_failures_from_a_new_address_are_all_counted(world, clock):
    """The first failures of an address insert its row: several at once must neither
    collide nor lose a count (SQLite serialises writers; PostgreSQL's ON CONFLICT)."""
    db = world.db
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def attempt(i):
        barrier.wait()
        try:
            auth.authenticate(db, f"inconnu-parallele-{i}", "faux-mot-de-passe", client=ATTACKER)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with db.read() as s:
        assert s.get(LoginThrottle, ATTACKER).failures == 6


def test_an_idle_accounts_cookie_is_refused(world, clock):
    db = world.db
    assert auth.authenticate(db, "referent-req", PASSWORD).ok
    issued = clock()
    idle = timedelta(minutes=30)
    actor = auth.load_actor_for_cookie(db, "referent-req", issued, idle=idle)
    assert actor is not None
    clock.advance(minutes=20)
    auth.record_activity(db, actor)  # an action 20 minutes in
    clock.advance(minutes=29)
    assert auth.load_actor_for_cookie(db, "referent-req", issued, idle=idle) is not None
    clock.advance(minutes=3)  # 32 minutes since the last activity
    assert auth.load_actor_for_cookie(db, "referent-req", issued, idle=idle) is None


def test_a_logout_ends_the_accounts_other_sessions(world, clock):
    db = world.db
    logged_in_at = clock()
    assert auth.load_actor(db, "referent-req", logged_in_at=logged_in_at) is not None
    clock.advance(minutes=1)
    auth.record_logout(db, auth.load_actor(db, "referent-req"))
    assert auth.load_actor(db, "referent-req", logged_in_at=logged_in_at) is None
    clock.advance(minutes=1)
    assert auth.load_actor(db, "referent-req", logged_in_at=clock()) is not None


# --- the pages ---------------------------------------------------------------------------

app_env = apptest_helpers.app_env  # the fixture


def _login(at: AppTest, username: str, password: str) -> AppTest:
    widget(at.text_input, "Identifiant").input(username)
    widget(at.text_input, "Mot de passe").input(password)
    button(at, "Se connecter").click()
    at.run()
    return at.run()  # the cookie component's rerun, as in the browser


def test_the_login_form_says_when_the_address_is_blocked(app_env):
    # AppTest connects from no address: the app counts it as the machine itself.
    _fail(app_env.db, auth.ADDRESS_MAX_FAILURES, client="127.0.0.1")
    at = home().run()
    widget(at.text_input, "Identifiant").input("referent-req")
    widget(at.text_input, "Mot de passe").input(PASSWORD)
    at = button(at, "Se connecter").click().run()
    assert [e.value for e in at.error] == [auth.ADDRESS_BLOCKED_MESSAGE]
    assert not any(b.label == "Se déconnecter" for b in at.sidebar.button)


def test_an_idle_session_ends_with_a_french_message(app_env, clock):
    at = login_via_form("coordinateur-ref")
    assert any(b.label == "Se déconnecter" for b in at.sidebar.button)
    clock.advance(minutes=29)
    at = at.run()  # an action within the idle time keeps the session
    assert any(b.label == "Se déconnecter" for b in at.sidebar.button)
    clock.advance(minutes=31)
    at = at.run()
    assert [ti.label for ti in at.text_input] == ["Identifiant", "Mot de passe"]
    assert (
        "Votre session a expiré après 30 minutes sans activité : reconnectez-vous pour "
        "continuer." in [i.value for i in at.info]
    )
    assert not any(b.label == "Se déconnecter" for b in at.sidebar.button)
    assert len(_audit(app_env.db, "session_expired")) == 1
    # the next rerun is still logged out, and a login opens a new session
    at = _login(at.run(), "coordinateur-ref", PASSWORD)
    assert any(b.label == "Se déconnecter" for b in at.sidebar.button)


def test_the_idle_time_is_configurable(app_env, clock, monkeypatch):
    monkeypatch.setenv("REGISTRE_SESSION_IDLE_MINUTES", "5")
    at = login_via_form("coordinateur-ref")
    clock.advance(minutes=6)
    at = at.run()
    assert "Votre session a expiré après 5 minutes sans activité" in " ".join(
        i.value for i in at.info
    )


def test_a_forged_address_is_never_stored_as_typed(world, clock):
    """An address comes from a header: anything that is not one is counted under one key."""
    db = world.db
    auth.authenticate(db, "inconnu", "faux-mot-de-passe", client="1.2.3.4\x00<script>")
    with db.read() as s:
        assert [t.client for t in s.scalars(select(LoginThrottle))] == ["invalide"]
    assert [e.details["client"] for e in _audit(db, "login_failed")] == ["invalide"]
