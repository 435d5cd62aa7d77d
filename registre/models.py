"""The ORM (SQLAlchemy 2, typed). Alembic migrations live in ``registre/migrations``.

Conventions: every timestamp is stored as naive UTC through ``UTCDateTime`` and comes back
timezone-aware; enumerations are stored as short strings; nothing is ever hard-deleted
(``active`` flags, ``removed_at``, the ``abandonne`` state).
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Naive UTC in the database, aware UTC in Python, on SQLite and PostgreSQL alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=False,
        length=24,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Role(enum.StrEnum):
    DECLARANT = "declarant"
    REFERENT = "referent"
    COORDINATEUR = "coordinateur"
    DIRECTEUR = "directeur"
    ARS = "ars"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


# Who works for one establishment (all but the ARS and the administrator), and who of them
# may write (the Directeur reads). Every module takes these sets from here.
ESTABLISHMENT_ROLES = frozenset({Role.DECLARANT, Role.REFERENT, Role.COORDINATEUR, Role.DIRECTEUR})
WRITER_ROLES = frozenset({Role.DECLARANT, Role.REFERENT, Role.COORDINATEUR})

ROLE_LABELS: dict[Role, str] = {
    Role.DECLARANT: "Déclarant",
    Role.REFERENT: "Référent PDSES",
    Role.COORDINATEUR: "Coordinateur PDSES",
    Role.DIRECTEUR: "Directeur",
    Role.ARS: "Coordinateur régional (ARS)",
    Role.ADMIN: "Administrateur",
}


class DossierState(enum.StrEnum):
    DRAFT = "a_completer"
    FINALISED = "finalise"
    ABANDONED = "abandonne"


class LineState(enum.StrEnum):
    """A refuser line: hidden from the refuser until the dossier is first finalised."""

    PENDING = "en_preparation"
    AWAITING = "reponse_attendue"
    ANSWERED = "repondu"


class ReportState(enum.StrEnum):
    """A « fonctionnement non conforme » report: sent to the concerned establishment as soon
    as it is declared (SPEC §9), then answered, or withdrawn by its declarer."""

    AWAITING = "reponse_attendue"
    ANSWERED = "repondu"
    WITHDRAWN = "retire"


class AgeBand(enum.StrEnum):
    UNDER_1 = "moins_1"
    CHILD = "1_17"
    ADULT = "18_64"
    SENIOR = "65_79"
    ELDER = "80_plus"


AGE_BAND_LABELS: dict[AgeBand, str] = {
    AgeBand.UNDER_1: "Moins de 1 an",
    AgeBand.CHILD: "1 à 17 ans",
    AgeBand.ADULT: "18 à 64 ans",
    AgeBand.SENIOR: "65 à 79 ans",
    AgeBand.ELDER: "80 ans et plus",
}


class Sex(enum.StrEnum):
    FEMALE = "F"
    MALE = "M"
    UNKNOWN = "X"


SEX_LABELS: dict[Sex, str] = {
    Sex.FEMALE: "Féminin",
    Sex.MALE: "Masculin",
    Sex.UNKNOWN: "Non précisé",
}


class Urgency(enum.StrEnum):
    VITAL = "vitale"
    URGENT = "urgence"
    DEFERRABLE = "differable"


URGENCY_LABELS: dict[Urgency, str] = {
    Urgency.VITAL: "Urgence vitale",
    Urgency.URGENT: "Urgence",
    Urgency.DEFERRABLE: "Urgence différable",
}


class LineKind(enum.StrEnum):
    GARDE = "garde"
    ASTREINTE = "astreinte"


class OutboxStatus(enum.StrEnum):
    PENDING = "a_envoyer"
    SENDING = "en_cours"
    SENT = "envoye"
    FAILED = "echec"


# --- reference data -------------------------------------------------------------------


class Establishment(Base):
    __tablename__ = "establishments"

    id: Mapped[int] = mapped_column(primary_key=True)
    finess: Mapped[str] = mapped_column(String(9), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    departement: Mapped[str] = mapped_column(String(3), index=True)
    territory: Mapped[str | None] = mapped_column(String(120))
    director_email: Mapped[str | None] = mapped_column(String(254))
    finess_demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))

    services: Mapped[list[Service]] = relationship(back_populates="establishment")


class Service(Base):
    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("establishment_id", "name", name="establishment_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    establishment_id: Mapped[int] = mapped_column(ForeignKey("establishments.id"))
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))

    establishment: Mapped[Establishment] = relationship(back_populates="services")


class _ListItem:
    """A reference list entry: ordered, deactivatable, never deleted."""

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(200), unique=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))


class Specialty(_ListItem, Base):
    __tablename__ = "specialties"


class RefusalMotif(_ListItem, Base):
    __tablename__ = "refusal_motifs"
    is_other: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class RequestMotif(_ListItem, Base):
    __tablename__ = "request_motifs"
    is_other: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class FinalDestination(_ListItem, Base):
    __tablename__ = "final_destinations"
    requires_establishment: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )


class ReportType(_ListItem, Base):
    """« Type de dysfonctionnement » of a « fonctionnement non conforme » report."""

    __tablename__ = "report_types"


class PdsesLine(Base):
    """Which establishment holds which specialty's on-call line, for which territory."""

    __tablename__ = "pdses_lines"
    __table_args__ = (
        Index("ix_pdses_lines_specialty_establishment", "specialty_id", "establishment_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    establishment_id: Mapped[int] = mapped_column(ForeignKey("establishments.id"))
    specialty_id: Mapped[int] = mapped_column(ForeignKey("specialties.id"))
    kind: Mapped[LineKind] = mapped_column(_enum(LineKind, "line_kind"))
    territory: Mapped[str | None] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))

    establishment: Mapped[Establishment] = relationship()
    specialty: Mapped[Specialty] = relationship()


# --- accounts -------------------------------------------------------------------------

account_specialties = Table(
    "account_specialties",
    Base.metadata,
    Column("account_id", ForeignKey("accounts.id"), primary_key=True),
    Column("specialty_id", ForeignKey("specialties.id"), primary_key=True),
)


class AccountDepartement(Base):
    """The départements a Coordinateur régional is limited to (none: the whole region)."""

    __tablename__ = "account_departements"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    departement: Mapped[str] = mapped_column(String(3), primary_key=True)


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    establishment_id: Mapped[int | None] = mapped_column(ForeignKey("establishments.id"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    password_hash: Mapped[str] = mapped_column(String(100))
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Login cookies issued before this instant are refused (set by « Se déconnecter »).
    sessions_revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Last time a session of the account did something (at most a minute stale): a login
    # cookie of an account idle longer than the configured idle time is refused.
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    establishment: Mapped[Establishment | None] = relationship()
    service: Mapped[Service | None] = relationship()
    specialties: Mapped[list[Specialty]] = relationship(secondary=account_specialties)
    departements: Mapped[list[AccountDepartement]] = relationship(cascade="all, delete-orphan")

    __table_args__ = (Index("ix_accounts_establishment_role", "establishment_id", "role"),)


class LoginThrottle(Base):
    """Failed logins from one client address (any account) in the current window: trying
    many accounts from one place is stopped too, not only each account's five attempts."""

    __tablename__ = "login_throttle"

    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


# --- dossiers -------------------------------------------------------------------------


class DossierCounter(Base):
    """Per-year counter behind the human number ``R-2026-000042``."""

    __tablename__ = "dossier_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(Integer)


class Dossier(Base):
    __tablename__ = "dossiers"
    __table_args__ = (
        Index(
            "ix_dossiers_requester_latest",
            "requesting_establishment_id",
            "requested_at",
        ),
        Index("ix_dossiers_requested_at", "requested_at"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    state: Mapped[DossierState] = mapped_column(_enum(DossierState, "dossier_state"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    requesting_establishment_id: Mapped[int] = mapped_column(ForeignKey("establishments.id"))
    requesting_service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    specialty_id: Mapped[int] = mapped_column(ForeignKey("specialties.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    in_pdses_hours: Mapped[bool] = mapped_column(Boolean)
    # Paris wall-clock facts of ``requested_at``, kept with it (``transitions.time_facts``) so
    # that statistics group by day, weekday and hour in any database: SQLite has no zones.
    requested_day: Mapped[date] = mapped_column(Date)
    requested_weekday: Mapped[int] = mapped_column(SmallInteger)  # Monday 0 … Sunday 6
    requested_hour: Mapped[int] = mapped_column(SmallInteger)
    age_band: Mapped[AgeBand] = mapped_column(_enum(AgeBand, "age_band"))
    sex: Mapped[Sex | None] = mapped_column(_enum(Sex, "sex"))
    request_motif_id: Mapped[int] = mapped_column(ForeignKey("request_motifs.id"))
    request_other_motif: Mapped[str | None] = mapped_column(Text)
    urgency: Mapped[Urgency] = mapped_column(_enum(Urgency, "urgency"))
    final_destination_id: Mapped[int | None] = mapped_column(ForeignKey("final_destinations.id"))
    final_destination_establishment_id: Mapped[int | None] = mapped_column(
        ForeignKey("establishments.id")
    )
    impact: Mapped[bool] = mapped_column(Boolean, default=False)
    impact_description: Mapped[str | None] = mapped_column(Text)
    comments: Mapped[str | None] = mapped_column(Text)

    created_by_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finalised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    impact_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # One token per new-refusal form: a double click on « Enregistrer » creates one dossier.
    creation_token: Mapped[str | None] = mapped_column(String(64), unique=True)

    requesting_establishment: Mapped[Establishment] = relationship(
        foreign_keys=[requesting_establishment_id]
    )
    requesting_service: Mapped[Service] = relationship()
    specialty: Mapped[Specialty] = relationship()
    request_motif: Mapped[RequestMotif] = relationship()
    final_destination: Mapped[FinalDestination | None] = relationship()
    final_destination_establishment: Mapped[Establishment | None] = relationship(
        foreign_keys=[final_destination_establishment_id]
    )
    created_by: Mapped[Account] = relationship()
    lines: Mapped[list[RefuserLine]] = relationship(
        back_populates="dossier", order_by="RefuserLine.id"
    )

    # Optimistic locking: every UPDATE checks the version read; the transitions raise it by
    # exactly one per user action (``dossiers._touch``), whatever the number of flushes.
    __mapper_args__: dict[str, Any] = {"version_id_col": version, "version_id_generator": False}


class RefuserLine(Base):
    """One refusing establishment in a dossier: the requester's statement and the answer."""

    __tablename__ = "refuser_lines"
    __table_args__ = (
        Index(
            "ix_refuser_lines_refuser_state",
            "refusing_establishment_id",
            "state",
            "notified_at",
        ),
        Index("ix_refuser_lines_dossier", "dossier_id"),
        Index(
            "uq_refuser_lines_dossier_establishment_live",
            "dossier_id",
            "refusing_establishment_id",
            unique=True,
            sqlite_where=text("removed_at IS NULL"),
            postgresql_where=text("removed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    refusing_establishment_id: Mapped[int] = mapped_column(ForeignKey("establishments.id"))
    state: Mapped[LineState] = mapped_column(_enum(LineState, "line_state"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    is_line_holder: Mapped[bool] = mapped_column(Boolean, default=False)

    # The requester's statement.
    refusal_motif_id: Mapped[int] = mapped_column(ForeignKey("refusal_motifs.id"))
    other_motif: Mapped[str | None] = mapped_column(Text)
    comments: Mapped[str | None] = mapped_column(Text)

    # The refuser's answer.
    answer_understood_motif_id: Mapped[int | None] = mapped_column(ForeignKey("request_motifs.id"))
    answer_refusal_motif_id: Mapped[int | None] = mapped_column(ForeignKey("refusal_motifs.id"))
    answer_other_motif: Mapped[str | None] = mapped_column(Text)
    answer_comments: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))

    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    dossier: Mapped[Dossier] = relationship(back_populates="lines")
    refusing_establishment: Mapped[Establishment] = relationship()
    refusal_motif: Mapped[RefusalMotif] = relationship(foreign_keys=[refusal_motif_id])
    answer_understood_motif: Mapped[RequestMotif | None] = relationship()
    answer_refusal_motif: Mapped[RefusalMotif | None] = relationship(
        foreign_keys=[answer_refusal_motif_id]
    )

    __mapper_args__: dict[str, Any] = {"version_id_col": version}


# --- « fonctionnement non conforme » reports (SPEC §9) ---------------------------------------


class ReportCounter(Base):
    """Per-year counter behind the human number ``F-2026-000042``."""

    __tablename__ = "report_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(Integer)


class Report(Base):
    """A PDSES line that did not work as it should, declared by one establishment about
    another (the concerned one), and that establishment's answer."""

    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_declaring_latest", "declaring_establishment_id", "occurred_at"),
        Index("ix_reports_concerned_state", "concerned_establishment_id", "state", "created_at"),
        Index("ix_reports_occurred_at", "occurred_at"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    state: Mapped[ReportState] = mapped_column(_enum(ReportState, "report_state"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    declaring_establishment_id: Mapped[int] = mapped_column(ForeignKey("establishments.id"))
    concerned_establishment_id: Mapped[int] = mapped_column(ForeignKey("establishments.id"))
    specialty_id: Mapped[int] = mapped_column(ForeignKey("specialties.id"))
    report_type_id: Mapped[int] = mapped_column(ForeignKey("report_types.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    in_pdses_hours: Mapped[bool] = mapped_column(Boolean)
    occurred_day: Mapped[date] = mapped_column(Date)
    occurred_weekday: Mapped[int] = mapped_column(SmallInteger)  # Monday 0 … Sunday 6
    occurred_hour: Mapped[int] = mapped_column(SmallInteger)
    # Whether the concerned establishment held the specialty's PDSES line when declared.
    is_line_holder: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text)
    impact: Mapped[bool] = mapped_column(Boolean, default=False)
    impact_description: Mapped[str | None] = mapped_column(Text)

    # The concerned establishment's answer.
    analysis: Mapped[str | None] = mapped_column(Text)
    corrective_measures: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))

    created_by_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    impact_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # One token per declaration form: a double click declares once.
    creation_token: Mapped[str | None] = mapped_column(String(64), unique=True)

    declaring_establishment: Mapped[Establishment] = relationship(
        foreign_keys=[declaring_establishment_id]
    )
    concerned_establishment: Mapped[Establishment] = relationship(
        foreign_keys=[concerned_establishment_id]
    )
    specialty: Mapped[Specialty] = relationship()
    report_type: Mapped[ReportType] = relationship()
    created_by: Mapped[Account] = relationship(foreign_keys=[created_by_id])

    __mapper_args__: dict[str, Any] = {"version_id_col": version}


# --- documents ---------------------------------------------------------------------------


class StoredDocument(Base):
    """A file offered on « Accueil », uploaded by the administrator: kept in the database so
    that a backup of the database holds it."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(200))
    mime: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


# --- outbox and audit -------------------------------------------------------------------


class OutboxMail(Base):
    """A mail written in the same transaction as the change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id"))
    dedup_key: Mapped[str] = mapped_column(String(400), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus, "outbox_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_dossier", "dossier_id", "at"),
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor", "actor_id", "at"),
        Index("ix_audit_log_entity", "entity", "entity_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id"))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[Account | None] = relationship()
