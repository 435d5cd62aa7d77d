"""Every e-mail the registry sends: when, to whom, and what it must never contain (SPEC §7).

Mails are written to the outbox in the transaction of the change that causes them
(``registre.mailer`` delivers them afterwards). A mail addressed to a refusing establishment
is built only from ``RefuserFacts``, the fields that establishment may see: the requester's
motifs, comments, destination and impact cannot reach it because they are never passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from registre.config import load_settings
from registre.models import (
    Account,
    Dossier,
    Establishment,
    OutboxMail,
    OutboxStatus,
    RefuserLine,
    Report,
    Role,
)
from registre.timeutil import format_datetime, now

SUBJECT_PREFIX = "[Registre des refus PDSES]"
FOOTER = [
    "",
    "Ce message est envoyé automatiquement par le Registre des refus PDSES ; merci de ne pas y "
    "répondre.",
    "Il ne contient aucune donnée nominative. Pour toute question, adressez-vous au "
    "coordinateur PDSES de votre établissement.",
]


@dataclass(frozen=True)
class MailKind:
    key: str
    event: str
    recipients: str
    never_contains: tuple[str, ...]


REFUSAL_SENT = MailKind(
    "refus_transmis",
    "Dossier finalisé : un refus est transmis à l'établissement refuseur",
    "Coordinateurs PDSES et référents PDSES actifs de chaque établissement refuseur (les "
    "référents limités à d'autres spécialités sont exclus)",
    (
        "motifs du demandeur",
        "commentaires du demandeur",
        "destination finale",
        "impact",
        "autres refuseurs",
    ),
)
IMPACT = MailKind(
    "impact_directeur",
    "« Ce refus a eu un impact sur la prise en charge du patient » est coché",
    "Directeurs de l'établissement demandeur (comptes Directeur actifs et adresse de la "
    "direction de l'établissement), une seule fois par dossier",
    (),
)
REMINDER = MailKind(
    "relance",
    "Aucune réponse de l'établissement refuseur après N jours (7 par défaut)",
    "Coordinateurs PDSES et référents PDSES de l'établissement refuseur",
    (
        "motifs du demandeur",
        "commentaires du demandeur",
        "destination finale",
        "impact",
        "autres refuseurs",
    ),
)

_CONCERNED_NEVER = ("impact", "description de l'impact", "auteur de la déclaration")
REPORT_SENT = MailKind(
    "non_conforme_transmis",
    "Fonctionnement non conforme déclaré",
    "Coordinateurs PDSES et référents PDSES actifs de l'établissement concerné (les référents "
    "limités à d'autres spécialités sont exclus)",
    _CONCERNED_NEVER,
)
REPORT_REMINDER = MailKind(
    "non_conforme_relance",
    "Aucune réponse de l'établissement concerné après N jours (7 par défaut)",
    "Coordinateurs PDSES et référents PDSES de l'établissement concerné",
    _CONCERNED_NEVER,
)
REPORT_WITHDRAWN = MailKind(
    "non_conforme_retire",
    "Fonctionnement non conforme retiré par l'établissement déclarant avant sa réponse",
    "Coordinateurs PDSES et référents PDSES de l'établissement concerné (ceux qui ont reçu le "
    "premier mail)",
    (*_CONCERNED_NEVER, "motif du retrait"),
)
REPORT_IMPACT = MailKind(
    "non_conforme_impact_directeur",
    "Fonctionnement non conforme déclaré avec un impact sur la prise en charge du patient",
    "Directeurs de l'établissement déclarant (comptes Directeur actifs et adresse de la "
    "direction de l'établissement), une seule fois par signalement",
    (),
)

MAIL_KINDS: dict[str, MailKind] = {
    k.key: k
    for k in (
        REFUSAL_SENT,
        IMPACT,
        REMINDER,
        REPORT_SENT,
        REPORT_REMINDER,
        REPORT_WITHDRAWN,
        REPORT_IMPACT,
    )
}


@dataclass(frozen=True)
class RefuserFacts:
    """What a refusing establishment may know of a dossier (SPEC §5): nothing else."""

    number: str
    requested_at: str
    specialty: str
    requesting_establishment: str
    requesting_service: str
    refusing_establishment: str
    link: str

    @classmethod
    def of(cls, dossier: Dossier, line: RefuserLine) -> RefuserFacts:
        return cls(
            number=dossier.number,
            requested_at=format_datetime(dossier.requested_at),
            specialty=dossier.specialty.label,
            requesting_establishment=dossier.requesting_establishment.name,
            requesting_service=dossier.requesting_service.name,
            refusing_establishment=line.refusing_establishment.name,
            link=dossier_link(dossier.number),
        )


def dossier_link(number: str) -> str:
    return f"{load_settings().base_url}/dossier?numero={number}"


def refuser_recipients(session: Session, establishment_id: int, specialty_id: int) -> list[str]:
    accounts = session.scalars(
        select(Account)
        .where(
            Account.establishment_id == establishment_id,
            Account.role.in_([Role.COORDINATEUR, Role.REFERENT]),
            Account.active.is_(True),
        )
        .options(selectinload(Account.specialties))
        .order_by(Account.id)
    ).all()
    emails = [
        a.email
        for a in accounts
        if a.role is Role.COORDINATEUR
        or not a.specialties
        or specialty_id in {s.id for s in a.specialties}
    ]
    return _unique(emails)


def director_recipients(session: Session, establishment: Establishment) -> list[str]:
    emails = list(
        session.scalars(
            select(Account.email)
            .where(
                Account.establishment_id == establishment.id,
                Account.role == Role.DIRECTEUR,
                Account.active.is_(True),
            )
            .order_by(Account.id)
        )
    )
    if establishment.director_email:
        emails.append(establishment.director_email)
    return _unique(emails)


def _unique(emails: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for email in emails:
        seen.setdefault(email.strip().lower(), email.strip())
    return list(seen.values())


def _enqueue(
    session: Session,
    kind: MailKind,
    recipient: str,
    subject: str,
    lines: list[str],
    dossier_id: int | None,
    dedup_key: str,
) -> OutboxMail | None:
    """Add a mail unless the same one (``dedup_key``) was ever queued: never twice."""
    key = f"{kind.key}:{dedup_key}:{recipient.lower()}"
    if session.scalar(select(OutboxMail.id).where(OutboxMail.dedup_key == key)) is not None:
        return None
    at = now()
    mail = OutboxMail(
        kind=kind.key,
        recipient=recipient,
        subject=subject,
        body="\n".join(lines + FOOTER),
        dossier_id=dossier_id,
        dedup_key=key,
        status=OutboxStatus.PENDING,
        attempts=0,
        created_at=at,
        next_attempt_at=at,
    )
    session.add(mail)
    return mail


def _refuser_body(facts: RefuserFacts, opening: list[str]) -> list[str]:
    return [
        "Bonjour,",
        "",
        *opening,
        "",
        f"Dossier : {facts.number}",
        f"Date et heure de la demande : {facts.requested_at}",
        f"Spécialité PDSES : {facts.specialty}",
        f"Établissement demandeur : {facts.requesting_establishment}",
        f"Service demandeur : {facts.requesting_service}",
        "",
        "Merci d'indiquer dans le registre le motif compris de la demande et le motif du refus :",
        facts.link,
    ]


def refusal_sent(session: Session, dossier: Dossier, line: RefuserLine) -> list[OutboxMail]:
    facts = RefuserFacts.of(dossier, line)
    subject = f"{SUBJECT_PREFIX} Refus {facts.number} : réponse attendue de votre établissement"
    body = _refuser_body(
        facts,
        [
            f"L'établissement « {facts.requesting_establishment} » a enregistré dans le registre "
            f"un refus de prise en charge par votre établissement « {facts.refusing_establishment} "
            "». Votre établissement est invité à donner sa propre version de ce refus.",
        ],
    )
    mails = [
        _enqueue(session, REFUSAL_SENT, email, subject, body, dossier.id, f"{line.id}")
        for email in refuser_recipients(
            session, line.refusing_establishment_id, dossier.specialty_id
        )
    ]
    return [m for m in mails if m is not None]


def reminder(session: Session, dossier: Dossier, line: RefuserLine, days: int) -> list[OutboxMail]:
    facts = RefuserFacts.of(dossier, line)
    subject = f"{SUBJECT_PREFIX} Relance : refus {facts.number} toujours sans réponse"
    body = _refuser_body(
        facts,
        [
            f"Le refus ci-dessous, adressé à votre établissement « {facts.refusing_establishment} "
            f"», attend sa réponse depuis plus de {days} jours.",
        ],
    )
    mails = [
        _enqueue(session, REMINDER, email, subject, body, dossier.id, f"{line.id}")
        for email in refuser_recipients(
            session, line.refusing_establishment_id, dossier.specialty_id
        )
    ]
    return [m for m in mails if m is not None]


def impact_on_care(session: Session, dossier: Dossier) -> list[OutboxMail]:
    """The director(s) of the requesting establishment, once per dossier."""
    subject = (
        f"{SUBJECT_PREFIX} Refus {dossier.number} : impact sur la prise en charge d'un patient"
    )
    body = [
        "Bonjour,",
        "",
        f"Le service « {dossier.requesting_service.name} » de votre établissement « "
        f"{dossier.requesting_establishment.name} » a déclaré qu'un refus de prise en charge "
        "par un autre établissement a eu un impact sur la prise en charge d'un patient.",
        "",
        f"Dossier : {dossier.number}",
        f"Date et heure de la demande : {format_datetime(dossier.requested_at)}",
        f"Spécialité PDSES : {dossier.specialty.label}",
        f"Description de l'impact : {dossier.impact_description or 'non renseignée'}",
        "",
        "Le dossier complet est consultable dans le registre :",
        dossier_link(dossier.number),
    ]
    mails = [
        _enqueue(session, IMPACT, email, subject, body, dossier.id, f"{dossier.id}")
        for email in director_recipients(session, dossier.requesting_establishment)
    ]
    return [m for m in mails if m is not None]


# --- « fonctionnement non conforme » (SPEC §9) -----------------------------------------------


@dataclass(frozen=True)
class ConcernedFacts:
    """What the concerned establishment may know of a report in a mail: what happened, not
    the impact on the patient's care nor who declared it."""

    number: str
    occurred_at: str
    specialty: str
    report_type: str
    declaring_establishment: str
    concerned_establishment: str
    link: str

    @classmethod
    def of(cls, report: Report) -> ConcernedFacts:
        return cls(
            number=report.number,
            occurred_at=format_datetime(report.occurred_at),
            specialty=report.specialty.label,
            report_type=report.report_type.label,
            declaring_establishment=report.declaring_establishment.name,
            concerned_establishment=report.concerned_establishment.name,
            link=report_link(report.number),
        )


def report_link(number: str) -> str:
    return f"{load_settings().base_url}/signalement?numero={number}"


def _concerned_body(facts: ConcernedFacts, opening: list[str]) -> list[str]:
    return [
        "Bonjour,",
        "",
        *opening,
        "",
        f"Signalement : {facts.number}",
        f"Date et heure : {facts.occurred_at}",
        f"Spécialité PDSES : {facts.specialty}",
        f"Type de dysfonctionnement : {facts.report_type}",
        f"Établissement déclarant : {facts.declaring_establishment}",
        "",
        "La description et le formulaire de réponse (analyse de l'établissement, mesures "
        "correctives) sont dans le registre :",
        facts.link,
    ]


def _to_concerned(
    session: Session, kind: MailKind, report: Report, subject: str, body: list[str]
) -> list[OutboxMail]:
    mails = [
        _enqueue(session, kind, email, subject, body, None, f"{report.id}")
        for email in refuser_recipients(
            session, report.concerned_establishment_id, report.specialty_id
        )
    ]
    return [m for m in mails if m is not None]


def report_sent(session: Session, report: Report) -> list[OutboxMail]:
    facts = ConcernedFacts.of(report)
    subject = (
        f"{SUBJECT_PREFIX} Fonctionnement non conforme {facts.number} : réponse attendue de "
        "votre établissement"
    )
    body = _concerned_body(
        facts,
        [
            f"L'établissement « {facts.declaring_establishment} » a déclaré dans le registre un "
            f"fonctionnement non conforme de la ligne PDSES de votre établissement « "
            f"{facts.concerned_establishment} ». Votre établissement est invité à en donner son "
            "analyse et les mesures correctives envisagées.",
        ],
    )
    return _to_concerned(session, REPORT_SENT, report, subject, body)


def report_reminder(session: Session, report: Report, days: int) -> list[OutboxMail]:
    facts = ConcernedFacts.of(report)
    subject = (
        f"{SUBJECT_PREFIX} Relance : fonctionnement non conforme {facts.number} toujours sans "
        "réponse"
    )
    body = _concerned_body(
        facts,
        [
            f"Le fonctionnement non conforme ci-dessous, qui concerne votre établissement « "
            f"{facts.concerned_establishment} », attend sa réponse depuis plus de {days} jours.",
        ],
    )
    return _to_concerned(session, REPORT_REMINDER, report, subject, body)


def report_withdrawn(session: Session, report: Report) -> list[OutboxMail]:
    facts = ConcernedFacts.of(report)
    subject = (
        f"{SUBJECT_PREFIX} Fonctionnement non conforme {facts.number} retiré : plus de réponse "
        "attendue"
    )
    body = [
        "Bonjour,",
        "",
        f"L'établissement « {facts.declaring_establishment} » a retiré le fonctionnement non "
        f"conforme ci-dessous, qui concernait votre établissement « "
        f"{facts.concerned_establishment} » : aucune réponse n'est plus attendue.",
        "",
        f"Signalement : {facts.number}",
        f"Date et heure : {facts.occurred_at}",
        f"Spécialité PDSES : {facts.specialty}",
        f"Type de dysfonctionnement : {facts.report_type}",
        "",
        facts.link,
    ]
    return _to_concerned(session, REPORT_WITHDRAWN, report, subject, body)


def report_impact(session: Session, report: Report) -> list[OutboxMail]:
    """The director(s) of the declaring establishment, once per report."""
    subject = (
        f"{SUBJECT_PREFIX} Fonctionnement non conforme {report.number} : impact sur la prise en "
        "charge d'un patient"
    )
    body = [
        "Bonjour,",
        "",
        f"Votre établissement « {report.declaring_establishment.name} » a déclaré un "
        f"fonctionnement non conforme de la ligne PDSES de « "
        f"{report.concerned_establishment.name} » qui a eu un impact sur la prise en charge "
        "d'un patient.",
        "",
        f"Signalement : {report.number}",
        f"Date et heure : {format_datetime(report.occurred_at)}",
        f"Spécialité PDSES : {report.specialty.label}",
        f"Type de dysfonctionnement : {report.report_type.label}",
        f"Description de l'impact : {report.impact_description or 'non renseignée'}",
        "",
        "Le signalement complet est consultable dans le registre :",
        report_link(report.number),
    ]
    mails = [
        _enqueue(session, REPORT_IMPACT, email, subject, body, None, f"{report.id}")
        for email in director_recipients(session, report.declaring_establishment)
    ]
    return [m for m in mails if m is not None]
