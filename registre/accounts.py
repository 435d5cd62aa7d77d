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
from registre.validation import check_line

_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")
_DEPARTEMENT_RE = re.compile(r"[0-9]{2,3}|2[AB]")
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
    # whole words only: « dim » (département d'information médicale) is not « dimitri »
    words = [w for w in re.split(r"[._+\-\d]+", local) if w]
    if any(w in _GENERIC_WORDS or w.removesuffix("s") in _GENERIC_WORDS for w in words):
        return False
    return bool(_PERSONAL_EMAIL_RE.match(email))


PERSONAL_EMAIL_WARNING = (
    "Cette adresse semble personnelle (prénom.nom@…). Une adresse générique créée par "
    "l'établissement (par exemple pdses@hopital.fr) est préférable : elle reste valable quand "
    "les personnes changent."
)


INVALID_EMAIL = (
    "Adresse e-mail invalide : une seule adresse de la forme nom@domaine.fr est attendue, "
    "sans espace ni caractère spécial."
)


def normalise_email(email: str) -> str:
    """The address as stored. The library's reasons are in English and may quote what was
    typed: one French message instead."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationError.single("email", INVALID_EMAIL) from exc


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


@dataclass
class AccountFields:
    """An account as the administration form gives it (ids from the lists)."""

    username: str
    display_name: str
    email: str
    role: Role
    establishment_id: int | None = None
    service_id: int | None = None
    specialty_ids: list[int] = field(default_factory=list)
    departements: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CheckedAccount:
    username: str
    display_name: str
    email: str
    role: Role
    establishment_id: int | None
    service_id: int | None
    specialties: list[Specialty]
    departements: list[str]


def check_account(
    session: Session, data: AccountFields, *, account_id: int | None = None
) -> tuple[CheckedAccount, list[FieldError]]:
    """Every rule of an account (SPEC §3), each faulty field listed: the identifier, one valid
    e-mail address, the establishment of the establishment roles (none for the others), the
    service of that establishment, a specialty scope only for a Référent PDSES and
    départements only for a Coordinateur régional."""
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
    else:
        taken = session.scalar(select(Account.id).where(Account.username == username))
        if taken is not None and taken != account_id:
            errors.append(FieldError("username", "Cet identifiant est déjà utilisé."))
    display_name = check_line(errors, "display_name", "Le nom affiché", data.display_name)
    try:
        email = normalise_email(data.email)
    except ValidationError as exc:
        errors.extend(exc.errors)
        email = data.email
    establishment_id = data.establishment_id
    service_id = data.service_id
    if data.role in ESTABLISHMENT_ROLES:
        if establishment_id is None:
            errors.append(
                FieldError("establishment", "Ce profil doit être rattaché à un établissement.")
            )
        elif session.get(Establishment, establishment_id) is None:
            errors.append(FieldError("establishment", "Établissement inconnu."))
    else:
        establishment_id = service_id = None  # ARS and administrator: no establishment
    if service_id is not None:
        service = session.get(Service, service_id)
        if service is None or service.establishment_id != establishment_id:
            errors.append(FieldError("service", "Ce service n'appartient pas à l'établissement."))
    specialties = [s for s in (session.get(Specialty, i) for i in data.specialty_ids) if s]
    if len(specialties) != len(set(data.specialty_ids)):
        errors.append(FieldError("specialties", "Spécialité inconnue."))
    if specialties and data.role is not Role.REFERENT:
        errors.append(
            FieldError(
                "specialties", "Seul un Référent PDSES peut être limité à certaines spécialités."
            )
        )
    departements = sorted({d.strip().upper() for d in data.departements if d.strip()})
    if any(not _DEPARTEMENT_RE.fullmatch(d) for d in departements):
        # never echoed: it may be anything (a page sends the codes of a list)
        errors.append(
            FieldError(
                "departements",
                "Département invalide : un code de 2 ou 3 caractères est attendu (75, 2A, 971…).",
            )
        )
        departements = [d for d in departements if _DEPARTEMENT_RE.fullmatch(d)]
    if departements and data.role is not Role.ARS:
        errors.append(
            FieldError(
                "departements", "Seul un Coordinateur régional peut être limité à des départements."
            )
        )
    known = set(session.scalars(select(Establishment.departement).distinct()))
    unknown = [d for d in departements if d not in known]
    if unknown:
        errors.append(
            FieldError("departements", "Département sans établissement : " + ", ".join(unknown))
        )
    checked = CheckedAccount(
        username=username,
        display_name=display_name,
        email=email,
        role=data.role,
        establishment_id=establishment_id,
        service_id=service_id,
        specialties=specialties,
        departements=departements,
    )
    return checked, errors


def create_account(
    session: Session, data: AccountInput, *, actor_id: int | None = None, rounds: int | None = None
) -> Account:
    """An account from names (the CLI, the demo): the FINESS, the service's name, the
    specialties' labels."""
    errors: list[FieldError] = []
    establishment_id = service_id = None
    if data.establishment_finess:
        establishment_id = session.scalar(
            select(Establishment.id).where(Establishment.finess == data.establishment_finess)
        )
        if establishment_id is None:
            errors.append(FieldError("establishment", "Établissement inconnu."))
    if establishment_id is not None and data.service_name:
        service_id = session.scalar(
            select(Service.id).where(
                Service.establishment_id == establishment_id, Service.name == data.service_name
            )
        )
        if service_id is None:
            errors.append(FieldError("service", "Service inconnu dans cet établissement."))
    specialties = _specialties(session, data.specialty_labels, errors)
    fields = AccountFields(
        username=data.username,
        display_name=data.display_name,
        email=data.email,
        role=data.role,
        establishment_id=establishment_id,
        service_id=service_id,
        specialty_ids=[s.id for s in specialties],
        departements=data.departements,
    )
    checked, more = check_account(session, fields)
    if establishment_id is None and data.role in ESTABLISHMENT_ROLES and errors:
        more = [e for e in more if e.field != "establishment"]
    errors.extend(more)
    errors.extend(FieldError("password", p) for p in password_problems(data.password))
    if errors:
        raise ValidationError(errors)
    return insert_account(
        session,
        checked,
        password_hash=hash_password(data.password, rounds=rounds),
        must_change_password=data.must_change_password,
        actor_id=actor_id,
    )


def insert_account(
    session: Session,
    checked: CheckedAccount,
    *,
    password_hash: str,
    must_change_password: bool,
    actor_id: int | None,
) -> Account:
    account = Account(
        username=checked.username,
        display_name=checked.display_name,
        email=checked.email,
        role=checked.role,
        establishment_id=checked.establishment_id,
        service_id=checked.service_id,
        password_hash=password_hash,
        must_change_password=must_change_password,
        active=True,
        failed_attempts=0,
        created_at=now(),
        specialties=checked.specialties,
        departements=[AccountDepartement(departement=d) for d in checked.departements],
    )
    session.add(account)
    session.flush()
    audit.record(
        session,
        actor_id=actor_id,
        action="account_created",
        entity="account",
        entity_id=account.id,
        username=checked.username,
        role=checked.role,
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
