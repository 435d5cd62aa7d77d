"""« Fonctionnement non conforme » mails from real actions to a real SMTP server (aiosmtpd on
127.0.0.1, ``tests/smtp_server.py``) through ``registre.mailer``: recipients, the French
subject with the F- number, the body with the type and the link to the report, the HTML part
escaped, and never the impact on care in a mail to the concerned establishment (SPEC §7, §9).
"""

from __future__ import annotations

import pytest

from registre import mailer, reports
from registre.mailer import DeliveryReport
from registre.models import Establishment, OutboxStatus

from .smtp_server import (  # noqa: F401 - smtp_server_fixture registers the fixture
    TEST_MAIL_FROM,
    smtp_server_fixture,
    smtp_settings,
)

BASE_URL = "http://registre.test"
HOSTILE_NAME = "CH Sud <b>Francilien</b> & Essonne"
IMPACT_SECRET = "impact-secret-hibou"
CONCERNED = ["coordinateur-ref@example.org", "referent-ref@example.org"]


@pytest.fixture(autouse=True)
def registry_address(monkeypatch, tmp_path):
    """The link in a mail is built when it is queued, from the configured address."""
    monkeypatch.setenv("REGISTRE_BASE_URL", BASE_URL)
    monkeypatch.setenv("REGISTRE_SECRETS_FILE", str(tmp_path / "none.toml"))


def rename(world, key: str, name: str) -> None:
    with world.db.transaction() as s:
        s.get(Establishment, world.est[key]).name = name


def recipients(messages) -> list[str]:
    return sorted(r for m in messages for r in m.rcpt_tos)


def test_the_concerned_establishment_receives_the_report(world, smtp_server):
    rename(world, "req", HOSTILE_NAME)
    ref = world.report(
        "declarant_req",
        report_type_id=world.report_type["Délai de rappel excessif"],
        impact=True,
        impact_description=IMPACT_SECRET,
    )
    assert ref.number == "F-2026-000001"

    report = mailer.deliver_pending(world.db, smtp_settings(smtp_server))

    assert report == DeliveryReport(sent=3)
    received = smtp_server.wait_for(3)
    to_concerned = [m for m in received if m.rcpt_tos[0] in CONCERNED]
    assert recipients(to_concerned) == CONCERNED  # not the ORL référent, declarant, director
    link = f"{BASE_URL}/signalement?numero={ref.number}"
    for mail in to_concerned:
        assert mail.subject == (
            f"[Registre des refus PDSES] Fonctionnement non conforme {ref.number} : réponse "
            "attendue de votre établissement"
        )
        assert mail.mail_from == TEST_MAIL_FROM
        assert mail.to == mail.rcpt_tos[0]
        for expected in (
            "Bonjour,",
            f"Signalement : {ref.number}",
            "Date et heure : 26/11/2026 03:15",
            "Spécialité PDSES : Neurochirurgie",
            "Type de dysfonctionnement : Délai de rappel excessif",
            f"Établissement déclarant : {HOSTILE_NAME}",
            "« Hôpital Henri-Mondor (AP-HP) »",
            link,
            "aucune donnée nominative",
        ):
            assert expected in mail.text
        # the registry's link is clickable; the establishment name is text, not markup
        assert f'<a href="{link}">' in mail.html
        assert "<b>" not in mail.html
        assert "CH Sud &lt;b&gt;Francilien&lt;/b&gt; &amp; Essonne" in mail.html
        assert "Type de dysfonctionnement : Délai de rappel excessif" in mail.html
        for hidden in (IMPACT_SECRET, "impact", "declarant_req", "declarant-req@"):
            assert hidden not in mail.subject + mail.text + mail.html
        assert mail.raw.isascii()


def test_the_director_receives_the_impact_escaped(world, smtp_server):
    rename(world, "req", HOSTILE_NAME)
    hostile = "<img src=x onerror=alert(1)>"
    ref = world.report(impact=True, impact_description=f"Retard {hostile} {IMPACT_SECRET}")
    mailer.deliver_pending(world.db, smtp_settings(smtp_server))
    [mail] = smtp_server.messages_to("directeur-req@example.org")
    assert mail.rcpt_tos == ("directeur-req@example.org",)
    assert mail.subject == (
        f"[Registre des refus PDSES] Fonctionnement non conforme {ref.number} : impact sur la "
        "prise en charge d'un patient"
    )
    assert f"Description de l'impact : Retard {hostile} {IMPACT_SECRET}" in mail.text
    assert "<img" not in mail.html and "&lt;img src=x onerror=alert(1)&gt;" in mail.html
    assert "<b>" not in mail.html and "&lt;b&gt;Francilien&lt;/b&gt; &amp;" in mail.html
    assert f'<a href="{BASE_URL}/signalement?numero={ref.number}">' in mail.html


def test_an_orl_report_also_reaches_the_orl_referent(world, smtp_server):
    world.report(specialty_id=world.specialty["ORL"])
    assert mailer.deliver_pending(world.db, smtp_settings(smtp_server)).sent == 3
    assert recipients(smtp_server.wait_for(3)) == [
        "coordinateur-ref@example.org",
        "referent-ref-orl@example.org",
        "referent-ref@example.org",
    ]


def test_the_reminder_reaches_the_concerned_establishment_once(world, smtp_server, clock):
    ref = world.report(impact=True, impact_description=IMPACT_SECRET)
    settings = smtp_settings(smtp_server)
    mailer.deliver_pending(world.db, settings)
    smtp_server.clear()
    clock.advance(days=8)
    assert reports.send_reminders(world.db, days=7) == 1
    assert reports.send_reminders(world.db, days=7) == 0
    assert mailer.deliver_pending(world.db, settings) == DeliveryReport(sent=2)
    assert mailer.deliver_pending(world.db, settings) == DeliveryReport()
    mails = smtp_server.wait_for(2)
    assert recipients(mails) == CONCERNED
    for mail in mails:
        assert mail.subject == (
            f"[Registre des refus PDSES] Relance : fonctionnement non conforme {ref.number} "
            "toujours sans réponse"
        )
        assert "depuis plus de 7 jours" in mail.text
        assert f"{BASE_URL}/signalement?numero={ref.number}" in mail.text
        assert IMPACT_SECRET not in mail.text + mail.html


def test_a_report_nobody_can_be_told_of_sends_nothing(world, smtp_server):
    ref = world.report(concerned="other")
    assert ref.unreached is True
    assert mailer.deliver_pending(world.db, smtp_settings(smtp_server)) == DeliveryReport()
    assert smtp_server.messages == []


def test_smtp_down_keeps_the_report_mails_until_it_comes_back(world, smtp_server, clock):
    smtp_server.stop()
    ref = world.report()  # the declaration succeeds with SMTP down
    settings = smtp_settings(smtp_server, timeout=2)
    assert mailer.deliver_pending(world.db, settings).retried == 2
    assert {r.status for r in mailer.outbox_rows(world.db)} == {OutboxStatus.PENDING}
    smtp_server.start()
    clock.advance(minutes=5)
    assert mailer.deliver_pending(world.db, settings).sent == 2
    assert all(ref.number in m.subject for m in smtp_server.wait_for(2))
    assert mailer.deliver_pending(world.db, settings).sent == 0  # never twice
