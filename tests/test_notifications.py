"""Mails from real transitions to a real SMTP server (aiosmtpd on 127.0.0.1): recipients,
French subject and body, the dossier link, and never a field the recipient may not see
(SPEC §7)."""

from __future__ import annotations

import pytest

from registre import dossiers, mailer, queries
from registre.models import OutboxStatus
from registre.notifications import MAIL_KINDS, RefuserFacts

from .smtp_server import smtp_server_fixture, smtp_settings  # noqa: F401

SECRETS = (
    "commentaire-tres-secret",
    "impact-secret-hibou",
    "ligne-secrete-renard",
    "Retour à domicile",
    "Foch",
)


def _finalised_with_secrets(world, specialty="Neurochirurgie"):
    ref = world.draft(
        "declarant_req",
        specialty_id=world.specialty[specialty],
        comments=SECRETS[0],
        impact=True,
        impact_description=SECRETS[1],
        final_destination_id=world.destination[SECRETS[3]],
    )
    actor = world.actor("declarant_req")
    for est in ("ref", "other"):
        dossiers.add_line(world.db, actor, ref.id, world.line_input(est, comments=SECRETS[2]))
    return dossiers.finalise(world.db, actor, ref.id)


def test_finalised_dossier_mails_each_refuser_without_the_requester_statements(world, smtp_server):
    ref = _finalised_with_secrets(world)
    report = mailer.deliver_pending(world.db, smtp_settings(smtp_server))
    assert report.sent == 3 and report.failed == 0
    received = smtp_server.wait_for(3)
    refusal_mails = [m for m in received if "réponse attendue" in m.subject]
    assert sorted(r for m in refusal_mails for r in m.rcpt_tos) == [
        "coordinateur-ref@example.org",
        "referent-ref@example.org",
    ]  # not the ORL-limited référent, nor the déclarant or directeur; Foch has no account
    mail = refusal_mails[0]
    assert mail.subject == (
        f"[Registre des refus PDSES] Refus {ref.number} : réponse attendue de votre établissement"
    )
    for expected in (
        "Bonjour,",
        f"Dossier : {ref.number}",
        "Date et heure de la demande : 26/11/2026 03:15",
        "Spécialité PDSES : Neurochirurgie",
        "Établissement demandeur : Centre hospitalier Sud Francilien",
        f"/dossier?numero={ref.number}",
        "aucune donnée nominative",
    ):
        assert expected in mail.text
        assert expected.replace("'", "&#x27;") in mail.html or expected in mail.html
    for refusal in refusal_mails:
        raw = refusal.text + refusal.html + refusal.subject
        for secret in SECRETS:
            assert secret not in raw, f"a refuser's mail contains « {secret} »"


def test_referent_limited_to_orl_is_mailed_for_an_orl_dossier(world, smtp_server):
    _finalised_with_secrets(world, specialty="ORL")
    mailer.deliver_pending(world.db, smtp_settings(smtp_server))
    recipients = {r for m in smtp_server.wait_for(4) for r in m.rcpt_tos}
    assert "referent-ref-orl@example.org" in recipients


def test_impact_mails_the_director_once_with_user_text_escaped(world, smtp_server):
    hostile = "<img src=x onerror=alert(1)>"
    ref = world.draft("declarant_req", impact=True, impact_description=f"Retard {hostile}")
    data = world.dossier_input(impact=True, impact_description="Retard aggravé")
    dossiers.update_draft(world.db, world.actor("declarant_req"), ref.id, data)
    mailer.deliver_pending(world.db, smtp_settings(smtp_server))
    mails = smtp_server.wait_for(1)
    assert len(mails) == 1
    mail = mails[0]
    assert mail.rcpt_tos == ("directeur-req@example.org",)
    assert "impact sur la prise en charge" in mail.subject
    assert hostile in mail.text
    assert "<img" not in mail.html and "&lt;img src=x onerror=alert(1)&gt;" in mail.html
    view = queries.get_dossier(world.db, world.actor("declarant_req"), dossier_id=ref.id)
    assert view.impact_description == "Retard aggravé"


def test_smtp_down_keeps_the_mails_until_it_comes_back(world, smtp_server, clock):
    smtp_server.stop()
    _finalised_with_secrets(world)  # the user's action succeeds with SMTP down
    settings = smtp_settings(smtp_server, timeout=2)
    first = mailer.deliver_pending(world.db, settings)
    assert first.sent == 0 and first.retried == 3
    assert {r.status for r in mailer.outbox_rows(world.db)} == {OutboxStatus.PENDING}
    smtp_server.start()
    clock.advance(minutes=5)
    assert mailer.deliver_pending(world.db, settings).sent == 3
    assert len(smtp_server.wait_for(3)) == 3
    assert mailer.deliver_pending(world.db, settings).sent == 0  # never twice


def test_every_mail_kind_documents_its_recipients_and_what_it_never_contains():
    assert set(MAIL_KINDS) == {
        "refus_transmis",
        "impact_directeur",
        "relance",
        "non_conforme_transmis",
        "non_conforme_relance",
        "non_conforme_retire",
        "non_conforme_impact_directeur",
    }
    for kind in MAIL_KINDS.values():
        assert kind.event and kind.recipients
    hidden = (
        "motifs du demandeur",
        "commentaires du demandeur",
        "destination finale",
        "impact",
        "autres refuseurs",
    )
    for key in ("refus_transmis", "relance"):
        assert set(hidden) <= set(MAIL_KINDS[key].never_contains)
    for key in ("non_conforme_transmis", "non_conforme_relance", "non_conforme_retire"):
        assert {"impact", "auteur de la déclaration"} <= set(MAIL_KINDS[key].never_contains)
    fields = set(RefuserFacts.__dataclass_fields__)
    assert fields == {
        "number",
        "requested_at",
        "specialty",
        "requesting_establishment",
        "requesting_service",
        "refusing_establishment",
        "link",
    }


@pytest.mark.parametrize("days", [7, 10])
def test_reminder_mail_after_n_days_once(world, smtp_server, clock, days):
    _finalised_with_secrets(world)
    settings = smtp_settings(smtp_server)
    mailer.deliver_pending(world.db, settings)
    smtp_server.clear()
    clock.advance(days=days - 1)
    assert dossiers.send_reminders(world.db, days) == 0
    clock.advance(days=1, minutes=1)
    assert dossiers.send_reminders(world.db, days) == 2  # ref and other, both unanswered
    assert dossiers.send_reminders(world.db, days) == 0
    mailer.deliver_pending(world.db, settings)
    mails = smtp_server.wait_for(2)
    assert all(m.subject.startswith("[Registre des refus PDSES] Relance") for m in mails)
    assert {r for m in mails for r in m.rcpt_tos} == {
        "coordinateur-ref@example.org",
        "referent-ref@example.org",
    }
    for m in mails:
        assert f"plus de {days} jours" in m.text
        for secret in SECRETS:
            assert secret not in m.text + m.html


def test_impact_mail_waits_for_a_director_to_exist(world, smtp_server):
    """No director account yet: the mail is not marked sent, it goes when one exists."""
    from sqlalchemy import select

    from registre.models import Account

    with world.db.transaction() as s:
        s.scalars(select(Account).where(Account.username == "directeur-req")).one().active = False
    ref = world.draft("declarant_req", impact=True, impact_description="Retard")
    assert mailer.outbox_rows(world.db) == []
    with world.db.transaction() as s:
        s.scalars(select(Account).where(Account.username == "directeur-req")).one().active = True
    data = world.dossier_input(impact=True, impact_description="Retard de deux heures")
    dossiers.update_draft(world.db, world.actor("declarant_req"), ref.id, data)
    mailer.deliver_pending(world.db, smtp_settings(smtp_server))
    assert [m.rcpt_tos for m in smtp_server.wait_for(1)] == [("directeur-req@example.org",)]
