"""Passwords and login: bcrypt, a password policy, and lockouts kept in the database.

The account lockout (5 consecutive failures → 15 minutes) lives in the ``accounts`` table so
that it survives a restart and holds across several app processes; a success resets it. A
second limit counts the failures from one client address, whatever the account
(``ADDRESS_MAX_FAILURES`` in ``ADDRESS_WINDOW``), so that trying many accounts from one place
is stopped too. Every success, failure and lockout is audited. The message never says
whether the account exists. Sessions and login cookies end after an idle time
(``Settings.session_idle_minutes``): the account's last activity is kept, a minute precise.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import bcrypt
import jwt
from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload, selectinload

from registre import audit
from registre.actors import Actor
from registre.config import load_settings
from registre.db import Database
from registre.errors import AuthenticationError, FieldError, ValidationError
from registre.models import Account, LoginThrottle
from registre.timeutil import now
from registre.validation import characters_message, forbidden_character

MAX_FAILURES = 5
LOCK_DURATION = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_BYTES = 72
LOGIN_FAILED_MESSAGE = "Identifiant ou mot de passe incorrect."
# A hospital's staff may share one public address (NAT): far above what a few people mistyping
# their passwords reach in 15 minutes, far below what trying a list of accounts needs.
ADDRESS_MAX_FAILURES = 30
ADDRESS_WINDOW = timedelta(minutes=15)
ADDRESS_BLOCKED_MESSAGE = (
    "Trop d'essais de connexion infructueux depuis votre poste ou votre réseau : "
    "réessayez dans 15 minutes ou contactez l'administrateur du registre."
)
UNKNOWN_CLIENT = "inconnue"
# The account's last activity is written at most once a minute (not at every rerun).
SEEN_PRECISION = timedelta(minutes=1)
# Shown under the form to everyone, so that a locked account answers exactly like a wrong
# password or an unknown identifier: the message never tells whether an account exists.
LOCKOUT_NOTICE = (
    "Après 5 essais infructueux, le compte est verrouillé pendant 15 minutes. En cas de "
    "difficulté, contactez l'administrateur du registre."
)


def bcrypt_rounds() -> int:
    """The configured cost (REGISTRE_BCRYPT_ROUNDS; 12, never lower outside the tests)."""
    return load_settings().bcrypt_rounds


@functools.cache
def _dummy_hash(rounds: int) -> str:
    """A real hash at the configured cost, checked against when the account does not exist,
    so that the answer takes the same time whether the identifier exists or not."""
    return bcrypt.hashpw(b"registre-pdses-dummy-password", bcrypt.gensalt(rounds=rounds)).decode(
        "ascii"
    )


def password_problems(password: str) -> list[str]:
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(
            f"Le mot de passe doit comporter au moins {MIN_PASSWORD_LENGTH} caractères."
        )
    code = forbidden_character(password)
    if code is not None:  # also what UTF-8 cannot encode (a lone surrogate)
        problems.append(characters_message("Le mot de passe", code))
    elif len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        problems.append(
            f"Le mot de passe ne doit pas dépasser {MAX_PASSWORD_BYTES} octets "
            "(les caractères accentués en comptent deux)."
        )
    if password.strip() != password:
        problems.append("Le mot de passe ne doit ni commencer ni finir par une espace.")
    return problems


def hash_password(password: str, *, rounds: int | None = None) -> str:
    problems = password_problems(password)
    if problems:
        raise ValidationError([FieldError("password", p) for p in problems])
    cost = bcrypt_rounds() if rounds is None else rounds
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=cost)).decode("ascii")


def check_password(password: str, password_hash: str) -> bool:
    try:
        encoded = password.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no password holds one
        return False
    if len(encoded) > MAX_PASSWORD_BYTES:
        return False
    try:
        return bcrypt.checkpw(encoded, password_hash.encode("ascii"))
    except ValueError:
        return False


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


# An account with its specialties and départements in one statement: the pages reload the
# actor in every read (``fresh_actor``), four or five times a rerun; three round trips each
# (selectin) were 2.5 ms, one join 1.3 ms on PostgreSQL.
_WITH_SCOPE = (joinedload(Account.specialties), joinedload(Account.departements))


def _load_account(session: Session, username: str, *, for_update: bool = False) -> Account | None:
    query = select(Account).where(Account.username == normalise_username(username))
    if for_update:
        # FOR UPDATE cannot lock the outer side of a join: the collections come after.
        query = query.options(
            selectinload(Account.specialties), selectinload(Account.departements)
        ).with_for_update()
        return session.scalars(query).one_or_none()
    return session.scalars(query.options(*_WITH_SCOPE)).unique().one_or_none()


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    message: str = ""
    actor: Actor | None = None
    locked: bool = False  # for the audit and the tests; never shown differently to the user
    throttled: bool = False  # the client address is blocked (any account)


def _hidden_identifier(username: str) -> str:
    """What was typed in « Identifiant » for an unknown account may be a mistyped password:
    only a digest is kept in the audit trail."""
    typed = username.encode("utf-8", "surrogatepass")
    return "sha256:" + hashlib.sha256(typed).hexdigest()[:16]


def client_address(peer: str | None, forwarded_for: str | None, trusted: Iterable[str]) -> str:
    """The address a login comes from: the peer's, or, when the peer is a trusted reverse
    proxy (nginx on loopback), the last address of ``X-Forwarded-For`` that is not one of
    the trusted proxies (the ones before it may be forged by the client). ``peer`` is None
    for loopback (as Streamlit reports it)."""
    trusted = set(trusted)
    peer = peer or "127.0.0.1"
    if peer not in trusted:
        return peer
    hops = [h.strip() for h in (forwarded_for or "").split(",") if h.strip()]
    while hops and hops[-1] in trusted:
        hops.pop()
    return hops[-1] if hops else peer


_ADDRESS_CHARACTERS = re.compile(r"[0-9A-Za-z.:%_-]{1,64}")


def _client_key(client: str | None) -> str:
    """An IPv4 or IPv6 address as given (a header may carry anything: then one key for all
    such attempts, never the raw text in the database or the audit trail)."""
    if client is None:
        return UNKNOWN_CLIENT
    client = client.strip()
    return client if _ADDRESS_CHARACTERS.fullmatch(client) else "invalide"


def _count_address_failure(session: Session, client: str) -> None:
    """One more failed login from ``client``; past the limit the address is blocked."""
    at = now()
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(LoginThrottle)
        .values(client=client, failures=0, window_start=at)
        .on_conflict_do_nothing(index_elements=["client"])
    )
    row = session.scalars(
        select(LoginThrottle).where(LoginThrottle.client == client).with_for_update()
    ).one()
    if row.window_start <= at - ADDRESS_WINDOW:
        row.failures, row.window_start = 0, at
    row.failures += 1
    if row.failures >= ADDRESS_MAX_FAILURES:
        row.blocked_until = at + ADDRESS_WINDOW
        row.failures, row.window_start = 0, at
        audit.record(
            session,
            actor_id=None,
            action="address_blocked",
            entity="login_throttle",
            client=client,
            until=row.blocked_until,
        )
    # Rows of addresses quiet for two windows are forgotten.
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.window_start < at - 2 * ADDRESS_WINDOW,
            or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until < at),
        )
    )


def authenticate(
    db: Database, username: str, password: str, *, client: str | None = None
) -> LoginResult:
    """Check a login from the client address ``client`` (None when unknown); record the
    outcome (lockout counters and audit) in one transaction."""
    username = normalise_username(username)
    # Where the attempt came from, in the audit trail when known (not for the CLI, tests).
    where: dict[str, Any] = {"client": _client_key(client)} if client is not None else {}
    client = where.get("client", UNKNOWN_CLIENT)
    if not username or not password:
        return LoginResult(False, "Saisissez votre identifiant et votre mot de passe.")
    with db.read() as session:
        blocked_until = session.scalar(
            select(LoginThrottle.blocked_until).where(LoginThrottle.client == client)
        )
    if blocked_until is not None and blocked_until > now():
        with db.transaction() as session:
            audit.record(
                session,
                actor_id=None,
                action="login_refused_address",
                entity="login_throttle",
                **where,
                username=_hidden_identifier(username),
            )
        return LoginResult(False, ADDRESS_BLOCKED_MESSAGE, throttled=True)
    # bcrypt (about 250 ms) runs before the write transaction: on SQLite a write transaction
    # holds the whole database's lock, and concurrent logins queued behind it until « database
    # is locked » (measured with benchmarks/load.py). An unknown account costs the same time.
    # An identifier with a character no identifier holds (NUL, which PostgreSQL refuses; a
    # lone surrogate, which cannot be encoded) is an unknown account, not sent to the database.
    plausible = forbidden_character(username) is None
    seen = None
    if plausible:
        with db.read() as session:
            seen = session.scalar(select(Account.password_hash).where(Account.username == username))
    verified = check_password(password, seen or _dummy_hash(bcrypt_rounds()))
    with db.transaction() as session:
        # The row is locked: parallel attempts cannot lose an increment of the counter.
        account = _load_account(session, username, for_update=True) if plausible else None
        at = now()
        if account is None or not account.active:
            audit.record(
                session,
                actor_id=account.id if account else None,
                action="login_failed",
                entity="account",
                entity_id=account.id if account else None,
                username=username if account else _hidden_identifier(username),
                reason="inactive" if account else "unknown",
                **where,
            )
            _count_address_failure(session, client)
            return LoginResult(False, LOGIN_FAILED_MESSAGE)
        if account.locked_until is not None and account.locked_until > at:
            audit.record(
                session,
                actor_id=account.id,
                action="login_refused_locked",
                entity="account",
                entity_id=account.id,
                **where,
            )
            _count_address_failure(session, client)
            return LoginResult(False, LOGIN_FAILED_MESSAGE, locked=True)
        if account.password_hash != seen:  # changed between the two reads: check again
            verified = check_password(password, account.password_hash)
        if not verified:
            account.failed_attempts += 1
            audit.record(
                session,
                actor_id=account.id,
                action="login_failed",
                entity="account",
                entity_id=account.id,
                failures=account.failed_attempts,
                **where,
            )
            _count_address_failure(session, client)
            if account.failed_attempts >= MAX_FAILURES:
                account.locked_until = at + LOCK_DURATION
                account.failed_attempts = 0
                audit.record(
                    session,
                    actor_id=account.id,
                    action="account_locked",
                    entity="account",
                    entity_id=account.id,
                    until=account.locked_until,
                )
                return LoginResult(False, LOGIN_FAILED_MESSAGE, locked=True)
            return LoginResult(False, LOGIN_FAILED_MESSAGE)
        account.failed_attempts = 0
        account.locked_until = None
        account.last_login_at = at
        account.last_seen_at = at
        audit.record(
            session,
            actor_id=account.id,
            action="login_succeeded",
            entity="account",
            entity_id=account.id,
            **where,
        )
        return LoginResult(True, actor=Actor.from_account(account))


def load_actor(
    db: Database, username: str, *, logged_in_at: datetime | None = None
) -> Actor | None:
    """The active account behind a session, else None; with ``logged_in_at``, None too when
    the account logged out since (« Se déconnecter » ends its sessions everywhere)."""
    with db.read() as session:
        account = _load_account(session, username)
        if account is None or not account.active:
            return None
        revoked = account.sessions_revoked_at
        if logged_in_at is not None and revoked is not None and revoked > logged_in_at:
            return None
        return Actor.from_account(account)


def record_activity(db: Database, actor: Actor) -> None:
    """The account is in use now (at most one write a minute): its login cookie stays valid."""
    at = now()
    with db.transaction() as session:
        session.execute(
            update(Account)
            .where(
                Account.id == actor.id,
                or_(Account.last_seen_at.is_(None), Account.last_seen_at < at - SEEN_PRECISION),
            )
            .values(last_seen_at=at)
        )


def record_session_expired(db: Database, actor: Actor) -> None:
    with db.transaction() as session:
        audit.record(
            session,
            actor_id=actor.id,
            action="session_expired",
            entity="account",
            entity_id=actor.id,
        )


def fresh_actor(session: Session, actor: Actor) -> Actor:
    """Reload the actor inside a transaction: a deactivated account or a changed role counts
    from the very next action, not from the next login."""
    account = (
        session.scalars(select(Account).where(Account.id == actor.id).options(*_WITH_SCOPE))
        .unique()
        .one_or_none()
    )
    if account is None or not account.active:
        raise AuthenticationError("Votre compte n'est plus actif : reconnectez-vous.")
    if account.must_change_password:
        # The pages show only the change form; the rules refuse too (defence in depth).
        raise AuthenticationError(
            "Votre mot de passe est provisoire : changez-le avant de continuer."
        )
    return Actor.from_account(account)


def change_password(db: Database, actor: Actor, current: str, new: str) -> None:
    with db.transaction() as session:
        account = session.get(Account, actor.id)
        if account is None or not account.active:
            raise AuthenticationError("Votre compte n'est plus actif : reconnectez-vous.")
        if not check_password(current, account.password_hash):
            raise ValidationError.single(
                "current_password", "Le mot de passe actuel est incorrect."
            )
        if current == new:
            raise ValidationError.single(
                "new_password", "Le nouveau mot de passe doit être différent de l'actuel."
            )
        account.password_hash = hash_password(new)
        account.must_change_password = False
        audit.record(
            session,
            actor_id=account.id,
            action="password_changed",
            entity="account",
            entity_id=account.id,
        )


def record_logout(db: Database, actor: Actor) -> None:
    """« Se déconnecter »: every login cookie of the account issued until now is refused from
    now on, even if the browser never got to delete it (a page still loading, a copy)."""
    with db.transaction() as session:
        account = session.get(Account, actor.id)
        if account is not None:
            account.sessions_revoked_at = now()
        audit.record(
            session, actor_id=actor.id, action="logout", entity="account", entity_id=actor.id
        )


LOGIN_TOKEN_ALGORITHM = "HS256"  # noqa: S105 (an algorithm name)


@dataclass(frozen=True)
class LoginToken:
    """What the login cookie says once its signature is checked."""

    username: str
    issued_at: datetime


def encode_login_token(username: str, key: str, *, issued_at: datetime, lifetime: timedelta) -> str:
    """The login cookie's value: a JWT signed with ``key`` that names the account, when it
    was issued and until when it may be used. The issue time is written in the token, so that
    a logout refuses it whatever later happens to the configured lifetime (issue 14 § 5)."""
    return jwt.encode(
        {
            "username": username,
            "issued_at": issued_at.timestamp(),
            "exp_date": (issued_at + lifetime).timestamp(),
        },
        key,
        algorithm=LOGIN_TOKEN_ALGORITHM,
    )


def decode_login_token(
    raw: str, key: str, *, lifetime: timedelta, at: datetime | None = None
) -> LoginToken | None:
    """The account and issue time of a login cookie, or None when it is not one of ours:
    badly signed, without an issue time (the ``{username, exp_date}`` tokens written by
    streamlit-authenticator before this version do not say when they were issued: their
    holders log in once more), past its own expiry, or older than the lifetime configured
    now (shortening ``REGISTRE_COOKIE_EXPIRY_DAYS`` shortens the cookies already issued)."""
    try:
        claims = jwt.decode(raw, key, algorithms=[LOGIN_TOKEN_ALGORITHM])
    except jwt.PyJWTError:
        return None
    if not isinstance(claims, dict):
        return None
    username, issued, expires = (claims.get(k) for k in ("username", "issued_at", "exp_date"))
    if not isinstance(username, str) or not username:
        return None
    if isinstance(issued, bool) or not isinstance(issued, int | float):
        return None
    if isinstance(expires, bool) or not isinstance(expires, int | float):
        return None
    moment = (at or now()).timestamp()
    if expires <= moment or issued + lifetime.total_seconds() <= moment:
        return None
    if issued > moment + 300:
        return None  # issued « in the future »: more than a clock skew between our processes
    return LoginToken(username, datetime.fromtimestamp(issued, UTC))


def load_actor_for_cookie(
    db: Database, username: str, issued_at: datetime, *, idle: timedelta | None = None
) -> Actor | None:
    """The account behind a login cookie, unless it is inactive, the cookie was issued
    before a logout, or (with ``idle``) the account has been idle longer than that."""
    with db.read() as session:
        account = _load_account(session, username)
        if account is None or not account.active:
            return None
        if idle is not None:
            seen = account.last_seen_at or account.last_login_at
            if seen is None or seen + SEEN_PRECISION < now() - idle:
                return None
        revoked = account.sessions_revoked_at
        if revoked is not None and issued_at <= revoked:
            return None
        if issued_at < account.created_at:
            return None  # issued to an earlier account of that identifier (since renamed)
        return Actor.from_account(account)
