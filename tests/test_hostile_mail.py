"""Hostile text in the mails (issue « Hostile input », XSS part): every free-text field of
``tests/xss_inventory.py`` holds a payload (``<img onerror>``, ``<script>``, a ``javascript:``
link, markdown and HTML bold), stored through ``registre``'s functions; every kind of mail
(``registre.notifications.MAIL_KINDS``) is triggered and received by a real SMTP server. The
HTML part carries each field that goes into that mail escaped, never as markup; the plain
part carries it as typed; a field that does not go into a mail is in none of its parts.

Also here: the inventory against ``registre.models``, so that a new text column is either
listed (and tested) or said not to hold free text.
"""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import replace

from sqlalchemy import Enum, String

from registre import administration, dossiers, mailer, referentials, reports
from registre.models import Base
from registre.notifications import MAIL_KINDS
from registre.referentials import EstablishmentFields, ListKind

from .smtp_server import (  # noqa: F401 - smtp_server_fixture registers the fixture
    ReceivedMail,
    smtp_server_fixture,
    smtp_settings,
)
from .xss_inventory import (
    FIELDS,
    FREE_TEXT_FIELDS,
    NOT_FREE_TEXT,
    SHORT_FIELDS,
    column_of,
    payload,
)


def test_the_inventory_names_every_text_column_of_the_models():
    columns = {
        f"{table.name}.{column.name}"
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, String) and not isinstance(column.type, Enum)
    }
    listed = {c for c in map(column_of, FREE_TEXT_FIELDS) if c is not None}
    assert listed <= columns, f"colonnes inconnues : {listed - columns}"
    assert not listed & NOT_FREE_TEXT.keys()
    assert set(NOT_FREE_TEXT) <= columns, f"colonnes inconnues : {set(NOT_FREE_TEXT) - columns}"
    unlisted = columns - listed - NOT_FREE_TEXT.keys()
    assert not unlisted, (
        f"colonnes de texte absentes de tests/xss_inventory.py : {sorted(unlisted)} — "
        "ajoutez-les à FREE_TEXT_FIELDS (et aux tests) ou à NOT_FREE_TEXT"
    )
    assert len(FIELDS) == len(FREE_TEXT_FIELDS)  # one key per field
    every_kind = {kind for field in FREE_TEXT_FIELDS for kind in field.mails}
    assert every_kind <= set(MAIL_KINDS)


def _hostile_world(world) -> tuple[dict[str, str], dict[str, int]]:
    """The fields that a mail could carry, and others that it must not, hostile; a finalised
    dossier and a report, both with an impact. Returns what each field holds and the ids of
    the new specialty and report type."""
    texts = {k: payload(k, short=k in SHORT_FIELDS) for k in FIELDS}
    db, admin = world.db, world.actor("admin")
    for key, suffix in (("req", ""), ("ref", " (refuseur)")):
        row = referentials.get_establishment(db, admin, world.est[key])
        fields = EstablishmentFields(
            row.finess,
            texts["etablissement"] + suffix,
            row.departement,
            texts["territoire-etablissement"],
            row.director_email or "",
        )
        referentials.save_establishment(db, admin, row.id, fields)
    referentials.save_service(db, admin, world.est["req"], world.services["req"], texts["service"])
    specialty = referentials.save_item(db, admin, ListKind.SPECIALTY, None, texts["specialite"], 0)
    report_type = referentials.save_item(
        db, admin, ListKind.REPORT_TYPE, None, texts["type-dysfonctionnement"], 0
    )
    destination = referentials.save_item(
        db, admin, ListKind.DESTINATION, None, texts["destination"], 0
    )
    declarant = world.actor("declarant_req")
    detail = administration.get_account(db, admin, declarant.id)
    administration.update(
        db, admin, declarant.id, replace(detail.fields, display_name=texts["nom-affiche"])
    )

    # A finalised dossier with an impact: the refuser's mails and the director's.
    data = world.dossier_input(
        specialty_id=specialty,
        request_motif_id=world.request_motif["Autre"],
        request_other_motif=texts["dossier-autre-motif-demande"],
        final_destination_id=destination,
        impact=True,
        impact_description=texts["dossier-impact"],
        comments=texts["dossier-commentaires"],
    )
    ref = dossiers.create_draft(db, declarant, data)
    line = world.line_input(
        "ref",
        refusal_motif_id=world.refusal_motif["Autre"],
        other_motif=texts["ligne-autre-motif"],
        comments=texts["ligne-commentaires"],
    )
    dossiers.add_line(db, declarant, ref.id, line)
    dossiers.finalise(db, declarant, ref.id)

    # A report with an impact: the concerned establishment's mail and the director's.
    report = world.report_input(
        specialty_id=specialty,
        report_type_id=report_type,
        description=texts["signalement-description"],
        impact=True,
        impact_description=texts["signalement-impact"],
    )
    reports.declare(db, declarant, report)
    return texts, {"specialty_id": specialty, "report_type_id": report_type}


def _kind_of(world, mails: list[ReceivedMail]) -> dict[str, list[ReceivedMail]]:
    """The received mails by kind, matched to the outbox by recipient and subject."""
    kinds = {
        (row.recipient.lower(), " ".join(row.subject.split())): row.kind
        for row in mailer.outbox_rows(world.db, limit=1000)
    }
    by_kind: dict[str, list[ReceivedMail]] = defaultdict(list)
    for mail in mails:
        by_kind[kinds[(mail.rcpt_tos[0].lower(), " ".join(mail.subject.split()))]].append(mail)
    return by_kind


def test_every_mail_escapes_the_hostile_text_in_html_and_keeps_it_in_plain_text(
    world, smtp_server, clock
):
    texts, ids = _hostile_world(world)
    db, declarant = world.db, world.actor("declarant_req")
    clock.advance(days=8)
    assert dossiers.send_reminders(db, 7) == 1
    assert reports.send_reminders(db, 7) == 1
    withdrawn = reports.declare(
        db,
        declarant,
        world.report_input(description=texts["signalement-description"], **ids),
    )
    reports.withdraw(db, declarant, withdrawn.id, texts["motif-retrait"])
    delivered = mailer.deliver_pending(db, smtp_settings(smtp_server))
    assert delivered.failed == delivered.retried == 0, delivered
    by_kind = _kind_of(world, smtp_server.wait_for(delivered.sent))
    assert set(by_kind) == set(MAIL_KINDS), (
        f"types de mail non reçus : {set(MAIL_KINDS) - set(by_kind)}"
    )

    for kind, mails in by_kind.items():
        carried = [f.key for f in FREE_TEXT_FIELDS if kind in f.mails]
        assert carried, f"{kind} : aucun champ libre ?"
        for mail in mails:
            where = f"{kind} → {mail.rcpt_tos[0]}"
            body = mail.html
            for raw in ("<img", "<script", "<b>", 'href="javascript'):
                assert raw not in body.lower(), f"{where} : « {raw} » brut dans le HTML"
            for key in carried:
                text = texts[key]
                assert html.escape(text) in body, f"{where} : {key} non échappé dans le HTML"
                assert text in mail.text, f"{where} : {key} pas tel que saisi dans le texte"
            for key in FIELDS.keys() - set(carried):
                text = texts[key]
                for part in (mail.text, body, mail.subject):
                    assert text not in part and html.escape(text) not in part, (
                        f"{where} : {key} dans un mail qui ne doit pas le contenir"
                    )
            for key, text in texts.items():
                assert text not in mail.subject, f"{where} : {key} dans l'objet"
