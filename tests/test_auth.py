"""Authentication core: bcrypt, password policy, the database lockout and its audit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registre import auth
from registre.errors import AuthenticationError, ValidationError
from registre.models import Account, AuditEntry

from .factories import PASSWORD


def _account(db, username):
    with db.read() as s:
        return s.scalars(select(Account).where(Account.username == username)).one()


def _actions(db, username):
    with db.read() as s:
        account_id = s.scalar(select(Account.id).where(Account.username == username))
        return [
            e.action
            for e in s.scalars(
                select(AuditEntry)
                .where(AuditEntry.entity_id == account_id, AuditEntry.entity == "account")
                .order_by(AuditEntry.id)
            )
        ]


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("court", False),
        ("onze-caract", False),
        ("douze-caract", True),
        ("é" * 36, True),  # 72 bytes
        ("é" * 37, False),  # 74 bytes: bcrypt would silently cut it
        (" espace-au-debut", False),
    ],
)
def test_password_policy(password, ok):
    assert (auth.password_problems(password) == []) is ok


def test_hash_and_check_roundtrip():
    hashed = auth.hash_password("un-mot-de-passe-solide")
    assert hashed.startswith("$2")
    assert auth.check_password("un-mot-de-passe-solide", hashed)
    assert not auth.check_password("un-autre-mot-de-passe", hashed)
    assert not auth.check_password("x" * 100, hashed)


def test_the_hash_cost_is_the_configured_one(monkeypatch):
    """The suite hashes at cost 4 (tests/conftest.py); the same code hashes at 12 otherwise."""
    assert auth.hash_password("un-mot-de-passe-solide").startswith("$2b$04$")
    monkeypatch.delenv("REGISTRE_BCRYPT_ROUNDS")
    assert auth.bcrypt_rounds() == 12
    assert auth.hash_password("un-mot-de-passe-solide", rounds=5).startswith("$2b$05$")


def test_hash_refuses_a_weak_password():
    with pytest.raises(ValidationError) as exc:
        auth.hash_password("court")
    assert exc.value.errors[0].field == "password"


def test_success_returns_the_actor_and_is_audited(world):
    result = auth.authenticate(world.db, "  Declarant-REQ ", PASSWORD)
    assert result.ok and result.actor is not None
    assert result.actor.username == "declarant-req"
    assert _actions(world.db, "declarant-req")[-1] == "login_succeeded"
    assert _account(world.db, "declarant-req").last_login_at is not None


def test_unknown_and_wrong_password_give_the_same_message(world):
    unknown = auth.authenticate(world.db, "inconnu", "nimporte-quoi-123")
    wrong = auth.authenticate(world.db, "declarant-req", "nimporte-quoi-123")
    assert not unknown.ok and not wrong.ok
    assert unknown.message == wrong.message == auth.LOGIN_FAILED_MESSAGE


def test_lockout_after_five_failures_for_fifteen_minutes(world, clock):
    for attempt in range(1, auth.MAX_FAILURES):
        assert auth.authenticate(world.db, "referent-ref", "faux").message == (
            auth.LOGIN_FAILED_MESSAGE
        )
        assert _account(world.db, "referent-ref").failed_attempts == attempt
    fifth = auth.authenticate(world.db, "referent-ref", "faux")
    assert fifth.locked and fifth.message == auth.LOGIN_FAILED_MESSAGE
    # locked: even the right password is refused, with the very same message
    locked = auth.authenticate(world.db, "referent-ref", PASSWORD)
    assert not locked.ok and locked.locked and locked.message == auth.LOGIN_FAILED_MESSAGE
    clock.advance(minutes=14, seconds=59)
    assert not auth.authenticate(world.db, "referent-ref", PASSWORD).ok
    clock.advance(seconds=2)
    assert auth.authenticate(world.db, "referent-ref", PASSWORD).ok
    actions = _actions(world.db, "referent-ref")
    assert actions.count("login_failed") == 5
    assert "account_locked" in actions
    assert actions.count("login_refused_locked") == 2


def test_a_success_resets_the_failure_count(world):
    for _ in range(auth.MAX_FAILURES - 1):
        auth.authenticate(world.db, "referent-ref", "faux")
    assert auth.authenticate(world.db, "referent-ref", PASSWORD).ok
    assert _account(world.db, "referent-ref").failed_attempts == 0
    for _ in range(auth.MAX_FAILURES - 1):
        auth.authenticate(world.db, "referent-ref", "faux")
    assert auth.authenticate(world.db, "referent-ref", PASSWORD).ok


def test_lockout_lives_in_the_database(world, session_db):
    """Another process (here: another engine on the same database) sees the lock."""
    from registre.db import Database

    for _ in range(auth.MAX_FAILURES):
        auth.authenticate(world.db, "coordinateur-req", "faux")
    other = Database(session_db.url)
    try:
        assert auth.authenticate(other, "coordinateur-req", PASSWORD).locked
    finally:
        other.dispose()


def test_inactive_account_cannot_log_in_nor_act(world):
    with world.db.transaction() as s:
        s.scalars(select(Account).where(Account.username == "declarant-req")).one().active = False
    assert auth.authenticate(world.db, "declarant-req", PASSWORD).message == (
        auth.LOGIN_FAILED_MESSAGE
    )
    assert auth.load_actor(world.db, "declarant-req") is None
    with pytest.raises(AuthenticationError):
        world.draft("declarant_req")


def test_change_password(world):
    actor = world.actor("declarant_req")
    with pytest.raises(ValidationError):
        auth.change_password(world.db, actor, "faux-mot-de-passe", "nouveau-mot-de-passe-1")
    with pytest.raises(ValidationError):
        auth.change_password(world.db, actor, PASSWORD, "court")
    auth.change_password(world.db, actor, PASSWORD, "nouveau-mot-de-passe-1")
    assert auth.authenticate(world.db, "declarant-req", "nouveau-mot-de-passe-1").ok
    assert not auth.authenticate(world.db, "declarant-req", PASSWORD).ok


def test_a_locked_account_answers_like_an_unknown_one(world):
    """The message never tells whether the account exists (issue 2, §9)."""
    for _ in range(auth.MAX_FAILURES + 1):
        known = auth.authenticate(world.db, "declarant-ref", "faux")
        unknown = auth.authenticate(world.db, "personne-ici", "faux")
    assert known.locked
    assert known.message == unknown.message == auth.LOGIN_FAILED_MESSAGE


def test_an_unknown_identifier_is_not_kept_in_clear(world):
    auth.authenticate(world.db, "mon-mot-de-passe-tape-ici", "faux")
    with world.db.read() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "login_failed").order_by(AuditEntry.id)
        ).all()[-1]
    assert "mon-mot-de-passe" not in repr(entry.details)
    assert entry.details["username"].startswith("sha256:")


def test_the_database_password_is_not_in_the_settings_repr(tmp_path, monkeypatch):
    from registre.config import load_settings

    monkeypatch.setenv("REGISTRE_SECRETS_FILE", str(tmp_path / "absent.toml"))
    url = "postgresql://reg:S3cretPw@db/registre"  # pragma: allowlist secret (a fake one)
    settings = load_settings({"REGISTRE_DATABASE_URL": url})
    assert "S3cretPw" not in repr(settings)


def test_a_logout_refuses_every_cookie_issued_before_it(world, clock):
    from datetime import timedelta

    actor = world.actor("declarant-req".replace("-", "_"))
    issued = clock.current
    assert auth.load_actor_for_cookie(world.db, "declarant-req", issued) is not None
    clock.advance(minutes=30)
    auth.record_logout(world.db, actor)
    assert auth.load_actor_for_cookie(world.db, "declarant-req", issued) is None
    # a cookie of a later login is accepted again
    later = clock.current + timedelta(seconds=1)
    assert auth.load_actor_for_cookie(world.db, "declarant-req", later) is not None
