"""The login cookie's token (issue 14 § 5): it carries its issue time, so that a logout refuses
every cookie issued before it whatever later happens to ``REGISTRE_COOKIE_EXPIRY_DAYS``; the
lifetime configured now bounds the cookies already issued."""

from __future__ import annotations

import json
from datetime import timedelta

import jwt
import pytest

from registre import auth

from . import apptest_helpers
from .apptest_helpers import COOKIE_KEY, PASSWORD, button, home, widget

app_env = apptest_helpers.app_env  # the fixture

KEY = "une-clé-de-test-assez-longue-pour-HS256-0123456789"  # pragma: allowlist secret
DAY = timedelta(days=1)


def _accepted(world, raw: str, lifetime: timedelta, clock) -> bool:
    token = auth.decode_login_token(raw, KEY, lifetime=lifetime, at=clock.current)
    if token is None:
        return False
    return auth.load_actor_for_cookie(world.db, token.username, token.issued_at) is not None


def test_the_token_names_the_account_and_its_issue_time(clock):
    raw = auth.encode_login_token("declarant-req", KEY, issued_at=clock.current, lifetime=DAY)
    token = auth.decode_login_token(raw, KEY, lifetime=DAY, at=clock.current)
    assert token == auth.LoginToken("declarant-req", clock.current)


@pytest.mark.parametrize(
    ("issued_with", "read_with"),
    [(30 * DAY, DAY), (DAY, 30 * DAY), (30 * DAY, 30 * DAY), (DAY / 2, DAY / 2)],
    ids=["setting-shortened", "setting-lengthened", "unchanged-30-days", "unchanged-half-day"],
)
def test_a_logout_refuses_the_cookies_issued_before_it_whatever_the_setting_becomes(
    world, clock, issued_with, read_with
):
    """The reproduction of the issue: issued under 30 days, logged out 10 minutes later, the
    setting then shortened to 1 day. The previous code derived the issue time from the expiry
    date and the setting of the moment (29 days after the logout) and accepted the cookie."""
    raw = auth.encode_login_token(
        "declarant-req", KEY, issued_at=clock.current, lifetime=issued_with
    )
    assert _accepted(world, raw, read_with, clock)
    clock.advance(minutes=10)
    auth.record_logout(world.db, world.actor("declarant_req"))
    clock.advance(minutes=10)
    assert not _accepted(world, raw, read_with, clock)
    # the next login's cookie is accepted
    fresh = auth.encode_login_token(
        "declarant-req", KEY, issued_at=clock.current, lifetime=issued_with
    )
    assert _accepted(world, fresh, read_with, clock)


def test_shortening_the_setting_shortens_the_cookies_already_issued(clock):
    raw = auth.encode_login_token("declarant-req", KEY, issued_at=clock.current, lifetime=30 * DAY)
    clock.advance(hours=23)
    assert auth.decode_login_token(raw, KEY, lifetime=DAY, at=clock.current) is not None
    clock.advance(hours=2)  # 25 hours after its issue: beyond the day configured now
    assert auth.decode_login_token(raw, KEY, lifetime=DAY, at=clock.current) is None
    assert auth.decode_login_token(raw, KEY, lifetime=30 * DAY, at=clock.current) is not None


def test_a_token_past_its_own_expiry_is_refused_even_if_the_setting_grows(clock):
    raw = auth.encode_login_token("declarant-req", KEY, issued_at=clock.current, lifetime=DAY)
    clock.advance(hours=25)
    assert auth.decode_login_token(raw, KEY, lifetime=30 * DAY, at=clock.current) is None


def _signed(claims: dict[str, object], key: str = KEY) -> str:
    return jwt.encode(claims, key, algorithm="HS256")


@pytest.mark.parametrize(
    "case",
    [
        "older-format",
        "other-key",
        "issued-in-the-future",
        "issue-time-not-a-number",
        "issue-time-a-boolean",
        "no-username",
        "not-a-jwt",
        "unsigned",
    ],
)
def test_a_token_that_is_not_ours_is_refused(clock, case):
    at = clock.current.timestamp()
    good = {"username": "declarant-req", "issued_at": at, "exp_date": at + 3600}
    raw = {
        # streamlit-authenticator's own {username, exp_date}: it does not say when it was
        # issued, so a logout could not be applied to it; its holder logs in once more
        "older-format": _signed({"username": "declarant-req", "exp_date": at + 3600}),
        "other-key": _signed(good, key="une-autre-clé-de-signature-tout-aussi-longue-0000"),
        "issued-in-the-future": _signed({**good, "issued_at": at + 3600}),
        "issue-time-not-a-number": _signed({**good, "issued_at": "hier"}),
        "issue-time-a-boolean": _signed({**good, "issued_at": True}),
        "no-username": _signed({**good, "username": ""}),
        "not-a-jwt": "registre_pdses_session",
        "unsigned": jwt.encode(good, None, algorithm="none"),
    }[case]
    assert auth.decode_login_token(raw, KEY, lifetime=DAY, at=clock.current) is None
    assert auth.decode_login_token(_signed(good), KEY, lifetime=DAY, at=clock.current)


# --- what the login asks the browser to store (AppTest reads the cookie component's call) ---


def _cookie_written(at) -> dict:
    calls = [json.loads(node.proto.json_args) for node in at.get("component_instance")]
    (written,) = [c for c in calls if c.get("method") == "set"]
    return written


@pytest.mark.parametrize(
    ("base_url", "secure"), [("https://registre.example.fr", True), ("http://127.0.0.1:8501", None)]
)
def test_the_login_writes_our_token_strict_bounded_and_secure_behind_https(
    app_env, monkeypatch, clock, base_url, secure
):
    monkeypatch.setenv("REGISTRE_BASE_URL", base_url)
    monkeypatch.setenv("REGISTRE_COOKIE_EXPIRY_DAYS", "2")
    at = home().run()
    widget(at.text_input, "Identifiant").input("declarant-req")
    widget(at.text_input, "Mot de passe").input(PASSWORD)
    button(at, "Se connecter").click()
    at.run()
    written = _cookie_written(at)
    assert written["cookie"] == "registre_pdses_session"
    assert written["options"].get("secure") is secure
    assert written["options"]["sameSite"] == "strict"
    assert written["options"]["maxAge"] == 2 * 86400
    token = auth.decode_login_token(
        written["value"], COOKIE_KEY, lifetime=2 * DAY, at=clock.current
    )
    assert token == auth.LoginToken("declarant-req", clock.current)
