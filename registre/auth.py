"""Passwords and login: bcrypt, a password policy, and a lockout kept in the database.

The lockout (5 consecutive failures → 15 minutes) lives in the ``accounts`` table so that it
survives a restart and holds across several app processes; a success resets it. Every
success, failure and lockout is audited. The message never says whether the account exists.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import bcrypt
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from registre import audit
from registre.actors import Actor
from registre.db import Database
from registre.errors import AuthenticationError, FieldError, ValidationError
from registre.models import Account
from registre.timeutil import now

MAX_FAILURES = 5
LOCK_DURATION = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_BYTES = 72
LOGIN_FAILED_MESSAGE = "Identifiant ou mot de passe incorrect."
# Shown under the form to everyone, so that a locked account answers exactly like a wrong
# password or an unknown identifier: the message never tells whether an account exists.
LOCKOUT_NOTICE = (
    "Après 5 essais infructueux, le compte est verrouillé pendant 15 minutes. En cas de "
    "difficulté, contactez l'administrateur du registre."
)

# A real hash, checked against when the account does not exist, so that the answer takes the
# same time whether the identifier exists or not.
_DUMMY_HASH = bcrypt.hashpw(b"registre-pdses-dummy-password", bcrypt.gensalt(rounds=12))


def password_problems(password: str) -> list[str]:
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(
            f"Le mot de passe doit comporter au moins {MIN_PASSWORD_LENGTH} caractères."
        )
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        problems.append(
            f"Le mot de passe ne doit pas dépasser {MAX_PASSWORD_BYTES} octets "
            "(les caractères accentués en comptent deux)."
        )
    if password.strip() != password:
        problems.append("Le mot de passe ne doit ni commencer ni finir par une espace.")
    return problems


def hash_password(password: str, *, rounds: int = 12) -> str:
    problems = password_problems(password)
    if problems:
        raise ValidationError([FieldError("password", p) for p in problems])
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=rounds)).decode("ascii")


def check_password(password: str, password_hash: str) -> bool:
    encoded = password.encode("utf-8")
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


def _hidden_identifier(username: str) -> str:
    """What was typed in « Identifiant » for an unknown account may be a mistyped password:
    only a digest is kept in the audit trail."""
    return "sha256:" + hashlib.sha256(username.encode("utf-8")).hexdigest()[:16]


def authenticate(db: Database, username: str, password: str) -> LoginResult:
    """Check a login; record the outcome (lockout counters and audit) in one transaction."""
    username = normalise_username(username)
    if not username or not password:
        return LoginResult(False, "Saisissez votre identifiant et votre mot de passe.")
    # bcrypt (about 250 ms) runs before the write transaction: on SQLite a write transaction
    # holds the whole database's lock, and concurrent logins queued behind it until « database
    # is locked » (measured with benchmarks/load.py). An unknown account costs the same time.
    with db.read() as session:
        seen = session.scalar(select(Account.password_hash).where(Account.username == username))
    verified = check_password(password, seen or _DUMMY_HASH.decode("ascii"))
    with db.transaction() as session:
        # The row is locked: parallel attempts cannot lose an increment of the counter.
        account = _load_account(session, username, for_update=True)
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
            )
            return LoginResult(False, LOGIN_FAILED_MESSAGE)
        if account.locked_until is not None and account.locked_until > at:
            audit.record(
                session,
                actor_id=account.id,
                action="login_refused_locked",
                entity="account",
                entity_id=account.id,
            )
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
            )
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
        audit.record(
            session,
            actor_id=account.id,
            action="login_succeeded",
            entity="account",
            entity_id=account.id,
        )
        return LoginResult(True, actor=Actor.from_account(account))


def load_actor(db: Database, username: str) -> Actor | None:
    """The active account behind a session or a login cookie, else None."""
    with db.read() as session:
        account = _load_account(session, username)
        if account is None or not account.active:
            return None
        return Actor.from_account(account)


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


def load_actor_for_cookie(db: Database, username: str, issued_at: datetime) -> Actor | None:
    """The account behind a login cookie, unless it is inactive or the cookie was issued
    before a logout."""
    with db.read() as session:
        account = _load_account(session, username)
        if account is None or not account.active:
            return None
        revoked = account.sessions_revoked_at
        if revoked is not None and issued_at <= revoked:
            return None
        if issued_at < account.created_at:
            return None  # issued to an earlier account of that identifier (since renamed)
        return Actor.from_account(account)
