"""Administration of accounts (the Administrateur only, ``permissions.can_administer``):
list and search, create with a temporary password, edit, deactivate and reactivate (never
delete: dossiers and the audit trail keep their author), unlock, reset the password.

Every function reloads the actor, checks the permission, and writes its audit entry in the
transaction of the change."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from registre import audit
from registre.accounts import (
    PERSONAL_EMAIL_WARNING,
    AccountFields,
    check_account,
    email_looks_personal,
    insert_account,
)
from registre.actors import Actor
from registre.auth import fresh_actor, hash_password, password_problems
from registre.db import Database
from registre.errors import FieldError, NotFound, PermissionDenied, ValidationError
from registre.models import (
    ROLE_LABELS,
    Account,
    AccountDepartement,
    Establishment,
    Role,
    Service,
    Specialty,
)
from registre.permissions import can_administer
from registre.queries import Choice, Page, paginate
from registre.timeutil import now
from registre.validation import like_pattern, searchable


@contextmanager
def admin_read(db: Database, actor: Actor) -> Iterator[Session]:
    with db.read() as session:
        _allow(fresh_actor(session, actor))
        yield session


@contextmanager
def admin_write(db: Database, actor: Actor) -> Iterator[tuple[Session, Actor]]:
    with db.transaction() as session:
        fresh = fresh_actor(session, actor)
        _allow(fresh)
        yield session, fresh


def _allow(actor: Actor) -> None:
    decision = can_administer(actor)
    if not decision:
        raise PermissionDenied(decision.reason)


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountRow:
    id: int
    username: str
    display_name: str
    email: str
    role: Role
    role_label: str
    establishment: str | None
    service: str | None
    active: bool
    locked_until: datetime | None
    must_change_password: bool
    last_login_at: datetime | None
    specialties: tuple[str, ...]
    departements: tuple[str, ...]

    @property
    def locked(self) -> bool:
        return self.locked_until is not None and self.locked_until > now()

    @property
    def status(self) -> str:
        if not self.active:
            return "Désactivé"
        if self.locked:
            return "Verrouillé"
        if self.must_change_password:
            return "Mot de passe provisoire"
        return "Actif"


def _row(account: Account) -> AccountRow:
    return AccountRow(
        id=account.id,
        username=account.username,
        display_name=account.display_name,
        email=account.email,
        role=account.role,
        role_label=ROLE_LABELS[account.role],
        establishment=account.establishment.name if account.establishment else None,
        service=account.service.name if account.service else None,
        active=account.active,
        locked_until=account.locked_until,
        must_change_password=account.must_change_password,
        last_login_at=account.last_login_at,
        specialties=tuple(sorted(s.label for s in account.specialties)),
        departements=tuple(d.departement for d in account.departements),
    )


def list_accounts(
    db: Database,
    actor: Actor,
    *,
    search: str = "",
    role: Role | None = None,
    establishment_id: int | None = None,
    active: bool | None = None,
    page: int = 1,
    page_size: int = 50,
) -> Page[AccountRow]:
    """Search in the identifier, the name, the e-mail address and the establishment
    (case-insensitive)."""
    with admin_read(db, actor) as session:
        query = select(Account)
        words = search.strip().lower()
        if words and not searchable(words):
            query = query.where(false())
        elif words:
            pattern = like_pattern(words)
            query = query.outerjoin(Establishment, Establishment.id == Account.establishment_id)
            query = query.where(
                or_(
                    func.lower(Account.username).like(pattern, escape="\\"),
                    func.lower(Account.display_name).like(pattern, escape="\\"),
                    func.lower(Account.email).like(pattern, escape="\\"),
                    func.lower(Establishment.name).like(pattern, escape="\\"),
                )
            )
        if role is not None:
            query = query.where(Account.role == role)
        if establishment_id is not None:
            query = query.where(Account.establishment_id == establishment_id)
        if active is not None:
            query = query.where(Account.active.is_(active))
        query = query.options(
            selectinload(Account.establishment),
            selectinload(Account.service),
            selectinload(Account.specialties),
            selectinload(Account.departements),
        ).order_by(Account.username)
        return paginate(session, query, page, page_size, lambda r: _row(r[0]))


@dataclass(frozen=True)
class AccountDetail:
    row: AccountRow
    fields: AccountFields


def get_account(db: Database, actor: Actor, account_id: int) -> AccountDetail:
    with admin_read(db, actor) as session:
        account = session.get(Account, account_id)
        if account is None:
            raise NotFound("Compte introuvable.")
        return AccountDetail(
            row=_row(account),
            fields=AccountFields(
                username=account.username,
                display_name=account.display_name,
                email=account.email,
                role=account.role,
                establishment_id=account.establishment_id,
                service_id=account.service_id,
                specialty_ids=[s.id for s in account.specialties],
                departements=[d.departement for d in account.departements],
            ),
        )


@dataclass(frozen=True)
class AccountFormOptions:
    establishments: tuple[Choice, ...]
    services: dict[int, tuple[Choice, ...]]  # by establishment id
    specialties: tuple[Choice, ...]
    departements: tuple[str, ...]


def establishment_choice(establishment: Establishment) -> Choice:
    """« Name (dept) », marked when deactivated: the administration lists show them all."""
    label = f"{establishment.name} ({establishment.departement})"
    return Choice(establishment.id, label if establishment.active else f"{label} (désactivé)")


def account_form_options(db: Database, actor: Actor) -> AccountFormOptions:
    """The lists of the account form (inactive establishments and services included, marked:
    an account may still belong to one)."""
    with admin_read(db, actor) as session:
        establishments = session.scalars(select(Establishment).order_by(Establishment.name)).all()
        services: dict[int, list[Choice]] = {}
        for service in session.scalars(select(Service).order_by(Service.name)):
            label = service.name if service.active else f"{service.name} (désactivé)"
            services.setdefault(service.establishment_id, []).append(Choice(service.id, label))
        return AccountFormOptions(
            establishments=tuple(establishment_choice(e) for e in establishments),
            services={k: tuple(v) for k, v in services.items()},
            specialties=tuple(
                Choice(s.id, s.label)
                for s in session.scalars(select(Specialty).order_by(Specialty.label))
            ),
            departements=tuple(sorted({e.departement for e in establishments})),
        )


# --- writing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedAccount:
    id: int
    username: str
    warning: str | None  # the address looks personal (SPEC §3): saved, but said


def _warning(email: str) -> str | None:
    return PERSONAL_EMAIL_WARNING if email_looks_personal(email) else None


def create(
    db: Database, actor: Actor, data: AccountFields, temporary_password: str
) -> SavedAccount:
    """A new account with a temporary password, to be changed at the first login."""
    with admin_write(db, actor) as (session, actor):
        checked, errors = check_account(session, data)
        errors.extend(FieldError("password", p) for p in password_problems(temporary_password))
        if errors:
            raise ValidationError(errors)
        account = insert_account(
            session,
            checked,
            password_hash=hash_password(temporary_password),
            must_change_password=True,
            actor_id=actor.id,
        )
        return SavedAccount(account.id, account.username, _warning(account.email))


def _load(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id, with_for_update=True)
    if account is None:
        raise NotFound("Compte introuvable.")
    return account


def update(db: Database, actor: Actor, account_id: int, data: AccountFields) -> SavedAccount:
    """Role, establishment, service, scope, name, e-mail, identifier. A change of role or
    establishment takes effect at the account's next action (the actor is reloaded)."""
    with admin_write(db, actor) as (session, actor):
        account = _load(session, account_id)
        checked, errors = check_account(session, data, account_id=account_id)
        if account.id == actor.id and checked.role is not Role.ADMIN:
            errors.append(
                FieldError("role", "Vous ne pouvez pas retirer votre propre profil Administrateur.")
            )
        if account.id == actor.id and checked.username != account.username:
            # The open session and its cookie name the account by its identifier.
            errors.append(
                FieldError(
                    "username",
                    "Vous ne pouvez pas changer votre propre identifiant : demandez-le à un "
                    "autre administrateur.",
                )
            )
        if errors:
            raise ValidationError(errors)
        before = {
            "username": account.username,
            "display_name": account.display_name,
            "email": account.email,
            "role": account.role,
            "establishment_id": account.establishment_id,
            "service_id": account.service_id,
            "specialty_ids": sorted(s.id for s in account.specialties),
            "departements": sorted(d.departement for d in account.departements),
        }
        if checked.username != account.username:
            # Its cookies name it by its identifier: they end (another account could take
            # the old identifier).
            account.sessions_revoked_at = now()
        account.username = checked.username
        account.display_name = checked.display_name
        account.email = checked.email
        account.role = checked.role
        account.establishment_id = checked.establishment_id
        account.service_id = checked.service_id
        account.specialties = checked.specialties
        account.departements = [AccountDepartement(departement=d) for d in checked.departements]
        after = {
            **before,
            "username": checked.username,
            "display_name": checked.display_name,
            "email": checked.email,
            "role": checked.role,
            "establishment_id": checked.establishment_id,
            "service_id": checked.service_id,
            "specialty_ids": sorted(s.id for s in checked.specialties),
            "departements": checked.departements,
        }
        changes = audit.diff(before, after)
        if changes:
            audit.record(
                session,
                actor_id=actor.id,
                action="account_updated",
                entity="account",
                entity_id=account.id,
                username=account.username,
                changes=changes,
            )
        return SavedAccount(account.id, account.username, _warning(account.email))


def set_active(db: Database, actor: Actor, account_id: int, active: bool) -> None:
    """Deactivate (the account can no longer log in; its cookies are refused at once) or
    reactivate. Never a deletion."""
    with admin_write(db, actor) as (session, actor):
        account = _load(session, account_id)
        if account.id == actor.id and not active:
            raise ValidationError.single(
                "active", "Vous ne pouvez pas désactiver votre propre compte."
            )
        if account.active == active:
            return
        account.active = active
        if not active:
            account.sessions_revoked_at = now()
        audit.record(
            session,
            actor_id=actor.id,
            action="account_reactivated" if active else "account_deactivated",
            entity="account",
            entity_id=account.id,
            username=account.username,
        )


def unlock(db: Database, actor: Actor, account_id: int) -> None:
    """Lift the lock set after repeated failed logins."""
    with admin_write(db, actor) as (session, actor):
        account = _load(session, account_id)
        account.locked_until = None
        account.failed_attempts = 0
        audit.record(
            session,
            actor_id=actor.id,
            action="account_unlocked",
            entity="account",
            entity_id=account.id,
            username=account.username,
        )


def reset_password(db: Database, actor: Actor, account_id: int, temporary_password: str) -> None:
    """A temporary password, to be changed at the next login; the account's open sessions
    end and a lock is lifted."""
    with admin_write(db, actor) as (session, actor):
        account = _load(session, account_id)
        problems = password_problems(temporary_password)
        if problems:
            raise ValidationError([FieldError("password", p) for p in problems])
        account.password_hash = hash_password(temporary_password)
        account.must_change_password = True
        account.sessions_revoked_at = now()
        account.locked_until = None
        account.failed_attempts = 0
        audit.record(
            session,
            actor_id=actor.id,
            action="password_reset",
            entity="account",
            entity_id=account.id,
            username=account.username,
        )


__all__ = ["AccountFields", "AccountRow", "SavedAccount"]
