"""Hostile text (issue « Hostile input », XSS part): the inventory of every free-text field
a user can store, and the payloads, shared by ``tests/e2e/test_hostile_text.py`` (every page,
in Chromium) and ``tests/test_hostile_mail.py`` (every mail, over SMTP).

``FREE_TEXT_FIELDS`` lists them; ``test_hostile_mail.py`` fails when a String or Text column
appears in ``registre.models`` that is neither listed here nor in ``NOT_FREE_TEXT`` (with the
reason it cannot hold text typed by a user): a new field must be added to these tests.
"""

from __future__ import annotations

from dataclasses import dataclass

# What each payload would do if it ran: leave a trace the browser test looks for
# (``window.__xss``), or open a dialog (``alert``).
TRACE = "window.__xss=1"


def payload(tag: str, *, short: bool = False) -> str:
    """The hostile text stored in the field ``tag``: an ``<img onerror>``, a ``<script>``, a
    ``javascript:`` markdown link, markdown and HTML bold. ``short`` (120 characters at most,
    for the territories): the image, the link and the markdown only."""
    if short:
        return f'{tag} <img src=x onerror="{TRACE}"> [x](javascript:{TRACE}) **gras**'
    return (
        f'{tag} <img src=x onerror="{TRACE};alert(1)"> <script>{TRACE}</script> '
        f"[x](javascript:{TRACE}) **gras** <b>b</b>"
    )


# Mail kinds (``registre.notifications.MAIL_KINDS``), to say which field goes where.
REFUSAL_SENT = "refus_transmis"
IMPACT = "impact_directeur"
REMINDER = "relance"
REPORT_SENT = "non_conforme_transmis"
REPORT_REMINDER = "non_conforme_relance"
REPORT_WITHDRAWN = "non_conforme_retire"
REPORT_IMPACT = "non_conforme_impact_directeur"
REFUSAL_MAILS = (REFUSAL_SENT, IMPACT, REMINDER)
REPORT_MAILS = (REPORT_SENT, REPORT_REMINDER, REPORT_WITHDRAWN, REPORT_IMPACT)

# Pages (``registre.web.navigation``).
ACCUEIL = "accueil"
MON_COMPTE = "mon_compte"
REGISTRE = "registre"
REFUS = "refus"
DOSSIER = "dossier"
NON_CONFORME = "fonctionnement_non_conforme"
SIGNALEMENT = "signalement"
STATISTIQUES = "statistiques"
ADMIN_COMPTES = "admin_comptes"
ADMIN_REFERENTIELS = "admin_referentiels"
ADMIN_DOCUMENTS = "admin_documents"
ADMIN_JOURNAL = "admin_journal"


@dataclass(frozen=True)
class FreeText:
    """A free-text field: where it is stored (``table.column``, or what of the audit
    details), who types it, the pages that show it and the mails that carry it."""

    key: str
    stored_in: str
    typed_by: str
    pages: tuple[str, ...]
    mails: tuple[str, ...] = ()


FREE_TEXT_FIELDS: list[FreeText] = [
    # the requester's dossier (SPEC §5)
    FreeText(
        "dossier-autre-motif-demande",
        "dossiers.request_other_motif",
        "demandeur",
        (DOSSIER, REFUS),
    ),
    FreeText(
        "dossier-impact", "dossiers.impact_description", "demandeur", (DOSSIER, REFUS), (IMPACT,)
    ),
    FreeText("dossier-commentaires", "dossiers.comments", "demandeur", (DOSSIER, REFUS)),
    FreeText("ligne-autre-motif", "refuser_lines.other_motif", "demandeur", (DOSSIER, REFUS)),
    FreeText("ligne-commentaires", "refuser_lines.comments", "demandeur", (DOSSIER, REFUS)),
    # the refuser's answer
    FreeText("reponse-autre-motif", "refuser_lines.answer_other_motif", "refuseur", (DOSSIER,)),
    FreeText("reponse-commentaires", "refuser_lines.answer_comments", "refuseur", (DOSSIER,)),
    # « fonctionnement non conforme » (SPEC §9)
    FreeText("signalement-description", "reports.description", "déclarant", (SIGNALEMENT,)),
    FreeText(
        "signalement-impact",
        "reports.impact_description",
        "déclarant",
        (SIGNALEMENT,),
        (REPORT_IMPACT,),
    ),
    FreeText("signalement-analyse", "reports.analysis", "établissement concerné", (SIGNALEMENT,)),
    FreeText(
        "signalement-mesures",
        "reports.corrective_measures",
        "établissement concerné",
        (SIGNALEMENT,),
    ),
    # reasons, kept in the audit trail only
    FreeText(
        "motif-reouverture",
        "audit_log.details.reason (dossier_reopened)",
        "coordinateur du demandeur",
        (DOSSIER,),
    ),
    FreeText(
        "motif-abandon",
        "audit_log.details.reason (dossier_abandoned)",
        "demandeur",
        (DOSSIER,),
    ),
    FreeText(
        "motif-retrait",
        "audit_log.details.reason (report_withdrawn)",
        "déclarant",
        (SIGNALEMENT,),
    ),
    # accounts and reference data (typed by the administrator, shown to everyone)
    FreeText(
        "nom-affiche",
        "accounts.display_name",
        "administrateur",
        (ACCUEIL, MON_COMPTE, DOSSIER, SIGNALEMENT, ADMIN_COMPTES),
    ),
    FreeText(
        "etablissement",
        "establishments.name",
        "administrateur (ou import FINESS)",
        (
            ACCUEIL,
            REGISTRE,
            REFUS,
            DOSSIER,
            NON_CONFORME,
            SIGNALEMENT,
            STATISTIQUES,
            ADMIN_COMPTES,
            ADMIN_REFERENTIELS,
        ),
        (*REFUSAL_MAILS, *REPORT_MAILS),
    ),
    FreeText(
        "territoire-etablissement",
        "establishments.territory",
        "administrateur",
        (ADMIN_REFERENTIELS,),
    ),
    FreeText(
        "service",
        "services.name",
        "administrateur",
        (ACCUEIL, REGISTRE, REFUS, DOSSIER, ADMIN_REFERENTIELS),
        REFUSAL_MAILS,
    ),
    FreeText(
        "specialite",
        "specialties.label",
        "administrateur",
        (REGISTRE, REFUS, DOSSIER, NON_CONFORME, SIGNALEMENT, STATISTIQUES, ADMIN_REFERENTIELS),
        (*REFUSAL_MAILS, *REPORT_MAILS),
    ),
    FreeText(
        "motif-refus",
        "refusal_motifs.label",
        "administrateur",
        (REFUS, DOSSIER, STATISTIQUES, ADMIN_REFERENTIELS),
    ),
    FreeText(
        "motif-demande",
        "request_motifs.label",
        "administrateur",
        (REFUS, DOSSIER, ADMIN_REFERENTIELS),
    ),
    FreeText(
        "destination",
        "final_destinations.label",
        "administrateur",
        (REFUS, DOSSIER, STATISTIQUES, ADMIN_REFERENTIELS),
    ),
    FreeText(
        "type-dysfonctionnement",
        "report_types.label",
        "administrateur",
        (NON_CONFORME, SIGNALEMENT, STATISTIQUES, ADMIN_REFERENTIELS),
        REPORT_MAILS,
    ),
    FreeText("territoire-ligne", "pdses_lines.territory", "administrateur", (ADMIN_REFERENTIELS,)),
    FreeText("document-titre", "documents.title", "administrateur", (ACCUEIL, ADMIN_DOCUMENTS)),
    FreeText(
        "document-fichier",
        "documents.filename (reduced to letters, digits, « _ . - » and spaces on upload)",
        "administrateur",
        (ADMIN_DOCUMENTS,),
    ),
]
"""Every free-text field; every change to any of them is also kept, as typed, in
``audit_log.details``; « Journal d'audit » shows only its length (``audit_log.masked``)."""

FIELDS = {f.key: f for f in FREE_TEXT_FIELDS}
SHORT_FIELDS = {"territoire-etablissement", "territoire-ligne"}  # 120 characters at most

# String and Text columns that cannot hold text typed freely by a user, and why.
NOT_FREE_TEXT: dict[str, str] = {
    "establishments.finess": "9 characters checked (Luhn)",
    "establishments.departement": "3 characters at most",
    "establishments.director_email": "a validated e-mail address",
    "account_departements.departement": "a département of a known establishment",
    "accounts.username": "3-80 characters among a-z 0-9 . -",
    "accounts.email": "a validated e-mail address",
    "accounts.password_hash": "a bcrypt hash",
    "dossiers.number": "generated",
    "dossiers.creation_token": "generated",
    "reports.number": "generated",
    "reports.creation_token": "generated",
    "documents.mime": "chosen from the accepted types",
    "documents.sha256": "computed",
    "outbox.kind": "generated",
    "outbox.recipient": "an account's validated address",
    "outbox.subject": "generated (numbers only)",
    "outbox.body": "built from the fields above (checked by test_hostile_mail.py)",
    "outbox.dedup_key": "generated",
    "outbox.last_error": "the SMTP server's answer, never shown in a page",
    "login_throttle.client": "the client's address, never shown",
    "audit_log.action": "generated",
    "audit_log.entity": "generated",
}


def column_of(field: FreeText) -> str | None:
    """``table.column`` of a field stored in a column of its own."""
    stored = field.stored_in.split(" ")[0]
    return None if stored.startswith("audit_log.") else stored
