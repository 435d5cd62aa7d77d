"""Accounts: creation and checks shared by the CLI and, later, the administration pages."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from registre import audit
from registre.auth import hash_password, normalise_username, password_problems
from registre.errors import FieldError, ValidationError
from registre.models import (
    ESTABLISHMENT_ROLES,
    Account,
    AccountDepartement,
    Establishment,
    Role,
    Service,
    Specialty,
)
from registre.timeutil import now

_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")
# prenom.nom@…, p.nom@…: an address that names a person rather than a function.
_PERSONAL_EMAIL_RE = re.compile(r"^[a-z]+(?:-[a-z]+)?[._][a-z]+(?:-[a-z]+)?\d*@", re.IGNORECASE)
_GENERIC_WORDS = (
    "pdses",
    "urgence",
    "direction",
    "secretariat",
    "contact",
    "coordination",
    "garde",
    "astreinte",
    "bloc",
    "service",
    "accueil",
    "dim",
    "qualite",
)


def email_looks_personal(email: str) -> bool:
    """SPEC §3: warn (never refuse) when the address looks like ``prenom.nom@…``."""
    local = email.split("@", 1)[0].lower()
    if any(word in local for word in _GENERIC_WORDS):
        return False
    return bool(_PERSONAL_EMAIL_RE.match(email))


PERSONAL_EMAIL_WARNING = (
    "Cette adresse semble personnelle (prénom.nom@…). Une adresse générique créée par "
    "l'établissement (par exemple pdses@hopital.fr) est préférable : elle reste valable quand "
    "les personnes changent."
)


def normalise_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationError.single("email", f"Adresse e-mail invalide : {exc}") from exc


@dataclass
class AccountInput:
    username: str
    display_name: str
    email: str
    role: Role
    password: str
    establishment_finess: str | None = None
    service_name: str | None = None
    specialty_labels: list[str] = field(default_factory=list)
    departements: list[str] = field(default_factory=list)
    must_change_password: bool = False


def create_account(
    session: Session, data: AccountInput, *, actor_id: int | None = None, rounds: int = 12
) -> Account:
    errors: list[FieldError] = []
    username = normalise_username(data.username)
    if not _USERNAME_RE.match(username):
        errors.append(
            FieldError(
                "username",
                "L'identifiant doit comporter de 3 à 80 caractères : "
                "lettres minuscules, chiffres, point, tiret.",
            )
        )
    elif session.scalar(select(Account.id).where(Account.username == username)) is not None:
        errors.append(FieldError("username", "Cet identifiant est déjà utilisé."))
    if not data.display_name.strip():
        errors.append(FieldError("display_name", "Le nom affiché est obligatoire."))
    try:
        email = normalise_email(data.email)
    except ValidationError as exc:
        errors.extend(exc.errors)
        email = data.email
    errors.extend(FieldError("password", p) for p in password_problems(data.password))

    establishment: Establishment | None = None
    service: Service | None = None
    if data.role in ESTABLISHMENT_ROLES:
        if not data.establishment_finess:
            errors.append(
                FieldError("establishment", "Ce profil doit être rattaché à un établissement.")
            )
        else:
            establishment = session.scalars(
                select(Establishment).where(Establishment.finess == data.establishment_finess)
            ).first()
            if establishment is None:
                errors.append(FieldError("establishment", "Établissement inconnu."))
    if establishment is not None and data.service_name:
        service = session.scalars(
            select(Service).where(
                Service.establishment_id == establishment.id, Service.name == data.service_name
            )
        ).first()
        if service is None:
            errors.append(FieldError("service", "Service inconnu dans cet établissement."))
    specialties = _specialties(session, data.specialty_labels, errors)
    if specialties and data.role is not Role.REFERENT:
        errors.append(
            FieldError(
                "specialties", "Seul un Référent PDSES peut être limité à certaines spécialités."
            )
        )
    if data.departements and data.role is not Role.ARS:
        errors.append(
            FieldError(
                "departements", "Seul un Coordinateur régional peut être limité à des départements."
            )
        )
    if errors:
        raise ValidationError(errors)
    account = Account(
        username=username,
        display_name=data.display_name.strip(),
        email=email,
        role=data.role,
        establishment_id=establishment.id if establishment else None,
        service_id=service.id if service else None,
        password_hash=hash_password(data.password, rounds=rounds),
        must_change_password=data.must_change_password,
        active=True,
        failed_attempts=0,
        created_at=now(),
        specialties=specialties,
        departements=[AccountDepartement(departement=d) for d in sorted(set(data.departements))],
    )
    session.add(account)
    session.flush()
    audit.record(
        session,
        actor_id=actor_id,
        action="account_created",
        entity="account",
        entity_id=account.id,
        username=username,
        role=data.role,
    )
    return account


def _specialties(
    session: Session, labels: Iterable[str], errors: list[FieldError]
) -> list[Specialty]:
    found = []
    for label in labels:
        specialty = session.scalars(select(Specialty).where(Specialty.label == label)).first()
        if specialty is None:
            errors.append(FieldError("specialties", f"Spécialité inconnue : {label}"))
        else:
            found.append(specialty)
    return found
