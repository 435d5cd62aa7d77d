"""Delivery of the outbox against a real SMTP server (aiosmtpd) and the real database."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from registre import mailer
from registre.db import Database
from registre.mailer import DeliveryReport, deliver_pending, retry_failed
from registre.models import OutboxMail, OutboxStatus
from registre.notifications import FOOTER, REFUSAL_SENT, SUBJECT_PREFIX, _enqueue
from registre.timeutil import now

from .smtp_server import (  # noqa: F401 - smtp_server_fixture registers the fixture
    TEST_MAIL_FROM,
    SmtpRecorder,
    free_port,
    smtp_server_fixture,
    smtp_settings,
)

SUBJECT = f"{SUBJECT_PREFIX} Refus R-2026-000042 : réponse attendue de votre établissement « Hôpital Henri-Mondor »"
LINES = [
    "Bonjour,",
    "",
    "L'établissement « Centre hospitalier Sud Francilien » a enregistré un refus.",
    "Spécialité PDSES : Neurochirurgie — garde de nuit, 03 h 15 (œdème, ßeta, 日本)",
    "Merci d'indiquer dans le registre le motif compris de la demande :",
    "http://registre.test/dossier?numero=R-2026-000042",
]


def queue(
    db: Database,
    recipient: str,
    *,
    subject: str = SUBJECT,
    lines: list[str] | None = None,
) -> int:
    with db.transaction() as session:
        mail = _enqueue(
            session, REFUSAL_SENT, recipient, subject, lines or LINES, None, uuid.uuid4().hex
        )
        assert mail is not None
        session.flush()
        return mail.id


def row(db: Database, mail_id: int) -> OutboxMail:
    with db.read() as session:
        mail = session.get(OutboxMail, mail_id)
        assert mail is not None
        return mail


def body_of(lines: list[str]) -> str:
    return "\n".join(lines + FOOTER)


# --- delivery ---------------------------------------------------------------------------


def test_each_recipient_gets_the_french_subject_and_body_intact(db, clock, smtp_server):
    settings = smtp_settings(smtp_server)
    ids = [queue(db, "coordinateur@chu-mondor.fr"), queue(db, "référent-pdses@example.org")]
    ids.append(queue(db, "referent@chu-mondor.fr"))

    report = deliver_pending(db, settings)

    # The non-ASCII local part cannot cross plain SMTP: refused for good, others unharmed.
    assert report == DeliveryReport(sent=2, failed=1)
    received = smtp_server.messages
    assert sorted(r for m in received for r in m.rcpt_tos) == [
        "coordinateur@chu-mondor.fr",
        "referent@chu-mondor.fr",
    ]
    for mail in received:
        assert mail.subject == SUBJECT
        assert mail.text == body_of(LINES)
        assert mail.mail_from == TEST_MAIL_FROM
        assert mail.sender == f"Registre des refus PDSES <{TEST_MAIL_FROM}>"
        assert mail.to == mail.rcpt_tos[0]
        assert mail.header("Auto-Submitted") == "auto-generated"
        assert (mail.header("Message-ID") or "").endswith("@ght-test.fr>")
        assert "Spécialité PDSES : Neurochirurgie — garde de nuit" in mail.html
        assert "œdème, ßeta, 日本" in mail.html
        # Only the registry's own link is clickable.
        assert '<a href="http://registre.test/dossier?numero=R-2026-000042">' in mail.html
        assert mail.raw.isascii()  # headers RFC 2047-encoded, bodies base64
        assert [line for line in mail.raw.splitlines() if len(line) > 78] == []  # folded
    assert len({m.header("Message-ID") for m in received}) == 2
    assert smtp_server.sessions == 1  # one connection for the batch

    sent = row(db, ids[0])
    assert sent.status is OutboxStatus.SENT
    assert sent.sent_at == now()
    assert sent.lease_until is None
    assert sent.attempts == 1
    assert sent.last_error is None
    refused = row(db, ids[1])
    assert refused.status is OutboxStatus.FAILED
    assert "Adresse du destinataire invalide" in (refused.last_error or "")


def test_html_part_escapes_user_text_and_plain_part_stays_readable(db, smtp_server):
    settings = smtp_settings(smtp_server)
    existing_file = str(Path(__file__).resolve())
    lines = [
        "Description de l'impact : <img src=x onerror=alert(1)>",
        "<script>alert('x')</script> & « guillemets »",
        existing_file,  # yagmail would attach this file if the line were not wrapped in raw()
        "https://phishing.example/dossier",
    ]
    queue(db, "directeur@chsf.fr", lines=lines)

    assert deliver_pending(db, settings).sent == 1

    mail = smtp_server.messages[0]
    assert "<img" not in mail.html
    assert "<script" not in mail.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in mail.html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; « guillemets »" in mail.html
    assert "<a " not in mail.html  # a URL typed by someone is not turned into a link
    assert mail.text == body_of(lines)
    assert [p.get_content_type() for p in mail.message.walk()] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
    ]


def test_a_real_refusal_reaches_the_refusing_establishment(world, smtp_server):
    ref = world.finalised()
    settings = smtp_settings(smtp_server)

    report = deliver_pending(world.db, settings)

    recipients = sorted(r for m in smtp_server.messages for r in m.rcpt_tos)
    assert report.sent == len(recipients) > 0
    assert "coordinateur-ref@example.org" in recipients
    assert "referent-ref-orl@example.org" not in recipients
    for mail in smtp_server.messages:
        assert ref.number in mail.subject
        assert f"Dossier : {ref.number}" in mail.text


def test_a_sent_mail_is_never_sent_again(db, clock, smtp_server):
    settings = smtp_settings(smtp_server)
    mail_id = queue(db, "coordinateur@chu-mondor.fr")

    assert deliver_pending(db, settings).sent == 1
    clock.advance(days=3)
    assert deliver_pending(db, settings) == DeliveryReport()
    clock.advance(hours=1)  # even once any lease would have expired
    assert deliver_pending(db, settings) == DeliveryReport()

    assert len(smtp_server.messages) == 1
    assert row(db, mail_id).attempts == 1


def test_server_down_keeps_the_mails_then_delivers_them_once(db, clock, smtp_server):
    settings = smtp_settings(smtp_server)
    ids = [queue(db, f"dest{i}@chu.fr") for i in range(3)]
    smtp_server.stop()

    report = deliver_pending(db, settings)

    assert report == DeliveryReport(retried=3)
    for mail_id in ids:
        mail = row(db, mail_id)
        assert mail.status is OutboxStatus.PENDING
        assert mail.attempts == 1
        assert "Serveur SMTP injoignable" in (mail.last_error or "")
        assert mail.next_attempt_at == now() + timedelta(minutes=1)
        assert mail.lease_until is None

    # Not due yet: nothing attempted, nothing counted.
    assert deliver_pending(db, settings) == DeliveryReport()
    assert row(db, ids[0]).attempts == 1

    # Second failure: the wait doubles.
    clock.advance(minutes=1)
    assert deliver_pending(db, settings).retried == 3
    assert row(db, ids[0]).next_attempt_at == now() + timedelta(minutes=2)

    smtp_server.start()
    clock.advance(minutes=1)
    assert deliver_pending(db, settings) == DeliveryReport()  # still waiting
    clock.advance(minutes=1)
    assert deliver_pending(db, settings) == DeliveryReport(sent=3)
    clock.advance(hours=12)
    assert deliver_pending(db, settings) == DeliveryReport()

    assert Counter(r for m in smtp_server.messages for r in m.rcpt_tos) == {
        f"dest{i}@chu.fr": 1 for i in range(3)
    }
    assert {row(db, i).attempts for i in ids} == {3}
    assert {row(db, i).last_error for i in ids} == {None}


def test_permanent_refusal_fails_without_retry_until_retry_failed(db, clock, smtp_server):
    settings = smtp_settings(smtp_server)
    smtp_server.reject("inconnu@chu.fr", 550)
    bad = queue(db, "inconnu@chu.fr")
    good = queue(db, "connu@chu.fr")

    assert deliver_pending(db, settings) == DeliveryReport(sent=1, failed=1)
    failed = row(db, bad)
    assert failed.status is OutboxStatus.FAILED
    assert failed.last_error is not None
    assert "550" in failed.last_error and "Destinataire refusé" in failed.last_error
    assert row(db, good).status is OutboxStatus.SENT
    assert [m.rcpt_tos for m in smtp_server.messages] == [("connu@chu.fr",)]

    clock.advance(days=2)
    assert deliver_pending(db, settings) == DeliveryReport()
    assert smtp_server.rejected == [("inconnu@chu.fr", 550)]

    listed = mailer.outbox_rows(db, status=OutboxStatus.FAILED)
    assert [(r.id, r.recipient, r.status) for r in listed] == [
        (bad, "inconnu@chu.fr", OutboxStatus.FAILED)
    ]

    smtp_server.accept("inconnu@chu.fr")
    assert retry_failed(db) == 1
    assert retry_failed(db) == 0
    again = row(db, bad)
    assert (again.status, again.attempts, again.next_attempt_at) == (
        OutboxStatus.PENDING,
        0,
        now(),
    )
    assert deliver_pending(db, settings) == DeliveryReport(sent=1)
    assert len(smtp_server.messages_to("inconnu@chu.fr")) == 1
    assert len(smtp_server.messages) == 2


def test_retry_failed_limited_to_given_ids(db, smtp_server):
    settings = smtp_settings(smtp_server)
    smtp_server.reject("a@chu.fr")
    smtp_server.reject("b@chu.fr")
    a, b = queue(db, "a@chu.fr"), queue(db, "b@chu.fr")
    assert deliver_pending(db, settings).failed == 2

    assert retry_failed(db, []) == 0
    assert retry_failed(db, [b, 999_999]) == 1
    assert row(db, a).status is OutboxStatus.FAILED
    assert row(db, b).status is OutboxStatus.PENDING


def test_temporary_refusal_is_retried_later(db, clock, smtp_server):
    settings = smtp_settings(smtp_server)
    smtp_server.reject("plein@chu.fr", 451)
    mail_id = queue(db, "plein@chu.fr")

    assert deliver_pending(db, settings) == DeliveryReport(retried=1)
    mail = row(db, mail_id)
    assert mail.status is OutboxStatus.PENDING
    assert "451" in (mail.last_error or "")
    assert mail.next_attempt_at == now() + timedelta(minutes=1)

    assert deliver_pending(db, settings) == DeliveryReport()
    smtp_server.accept()
    clock.advance(minutes=1)
    assert deliver_pending(db, settings) == DeliveryReport(sent=1)
    assert len(smtp_server.messages) == 1
    assert smtp_server.rejected == [("plein@chu.fr", 451)]


def test_gives_up_after_max_attempts(db, clock, smtp_server):
    settings = smtp_settings(smtp_server)
    smtp_server.reject("plein@chu.fr", 451)
    mail_id = queue(db, "plein@chu.fr")

    waits = []
    for attempt in range(1, mailer.MAX_ATTEMPTS):
        assert deliver_pending(db, settings) == DeliveryReport(retried=1), attempt
        waits.append(row(db, mail_id).next_attempt_at - now())
        clock.advance(hours=6)
    assert waits[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert waits[-1] == timedelta(hours=6)

    assert deliver_pending(db, settings) == DeliveryReport(failed=1)
    mail = row(db, mail_id)
    assert mail.status is OutboxStatus.FAILED
    assert mail.attempts == mailer.MAX_ATTEMPTS
    assert f"abandon après {mailer.MAX_ATTEMPTS} tentatives" in (mail.last_error or "")
    clock.advance(days=1)
    assert deliver_pending(db, settings) == DeliveryReport()


def test_invalid_or_injected_addresses_fail_without_reaching_the_server(db, smtp_server):
    settings = smtp_settings(smtp_server)
    ids = [queue(db, "pas-une-adresse"), queue(db, "a@chu.fr\r\nBcc: espion@evil.example")]

    assert deliver_pending(db, settings) == DeliveryReport(failed=2)
    for mail_id in ids:
        assert "Adresse du destinataire invalide" in (row(db, mail_id).last_error or "")
    assert smtp_server.messages == []
    assert smtp_server.sessions == 0


# --- concurrency -------------------------------------------------------------------------


def test_two_senders_in_parallel_send_each_mail_exactly_once(db, smtp_server):
    settings = smtp_settings(smtp_server)
    ids = [queue(db, f"dest{i:02d}@chu.fr") for i in range(30)]
    other_process = Database(db.url)  # its own engine and pool, as another process would
    reports: list[DeliveryReport] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def sender(database: Database, name: str) -> None:
        try:
            barrier.wait()
            reports.append(deliver_pending(database, settings, worker=name))
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=sender, args=(db, "a")),
        threading.Thread(target=sender, args=(other_process, "b")),
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        other_process.dispose()

    assert errors == []
    assert sum(r.sent for r in reports) == 30
    assert sum(r.retried + r.failed for r in reports) == 0
    counts = Counter(r for m in smtp_server.messages for r in m.rcpt_tos)
    assert counts == {f"dest{i:02d}@chu.fr": 1 for i in range(30)}
    assert {row(db, i).status for i in ids} == {OutboxStatus.SENT}
    assert {row(db, i).attempts for i in ids} == {1}


def test_a_crashed_senders_claim_is_taken_again_after_the_lease(db, clock, smtp_server):
    settings = smtp_settings(smtp_server)
    mail_id = queue(db, "dest@chu.fr")
    with db.transaction() as session:  # what a sender killed after claiming leaves behind
        session.execute(
            update(OutboxMail)
            .where(OutboxMail.id == mail_id)
            .values(status=OutboxStatus.SENDING, attempts=1, lease_until=now() + mailer.LEASE)
        )

    assert deliver_pending(db, settings) == DeliveryReport()
    clock.advance(minutes=9)
    assert deliver_pending(db, settings) == DeliveryReport()
    clock.advance(minutes=2)
    assert deliver_pending(db, settings) == DeliveryReport(sent=1)
    assert row(db, mail_id).attempts == 2
    assert len(smtp_server.messages) == 1


def test_the_claim_is_an_atomic_compare_and_set(db):
    # Eight senders (over four engines, as separate processes would have) that all saw the
    # same mails as due race to claim them: exactly one wins each mail.
    ids = [queue(db, f"dest{i}@chu.fr") for i in range(10)]
    databases = [db] + [Database(db.url) for _ in range(3)]
    barrier = threading.Barrier(8)
    wins: list[tuple[int, int]] = []

    def sender(database: Database) -> None:
        for mail_id in ids:
            barrier.wait()
            claimed = mailer._claim(database, mail_id)
            if claimed is not None:
                wins.append((claimed.id, claimed.attempts))

    threads = [threading.Thread(target=sender, args=(databases[i % 4],)) for i in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for database in databases[1:]:
            database.dispose()

    assert sorted(wins) == [(mail_id, 1) for mail_id in ids]
    assert {row(db, i).status for i in ids} == {OutboxStatus.SENDING}


# --- connection --------------------------------------------------------------------------


def test_reconnects_when_the_server_drops_the_connection(db, smtp_server):
    settings = smtp_settings(smtp_server)
    smtp_server.drop_after_message = True
    for i in range(3):
        queue(db, f"dest{i}@chu.fr")

    assert deliver_pending(db, settings) == DeliveryReport(sent=3)
    assert len(smtp_server.messages) == 3
    assert smtp_server.sessions == 3


def test_login_with_a_user_that_is_not_an_address(db, clock, smtp_server):
    smtp_server.stop()
    server = SmtpRecorder(credentials=("registre", "s3cret")).start()
    try:
        mail_id = queue(db, "dest@chu.fr")
        wrong = smtp_settings(server, user="registre", password="mauvais-mot-de-passe")
        assert deliver_pending(db, wrong) == DeliveryReport(retried=1)
        error = row(db, mail_id).last_error or ""
        assert "Authentification refusée" in error
        assert "mauvais-mot-de-passe" not in error
        assert server.auth_failures >= 1  # smtplib tries PLAIN, then LOGIN

        # smtplib cannot send a non-ASCII password: a configuration error, retried.
        clock.advance(minutes=1)
        accented = smtp_settings(server, user="registre", password="s3cret-Ü")
        assert deliver_pending(db, accented) == DeliveryReport(retried=1)
        error = row(db, mail_id).last_error or ""
        assert "caractères non ASCII" in error and "Ü" not in error

        right = smtp_settings(server, user="registre", password="s3cret")
        assert deliver_pending(db, right) == DeliveryReport()  # waiting for its next attempt
        clock.advance(minutes=2)
        assert deliver_pending(db, right) == DeliveryReport(sent=1)
        mail = server.messages[0]
        assert mail.login == "registre"  # not "registre@gmail.com" (yagmail's default)
        assert mail.mail_from == TEST_MAIL_FROM
        assert mail.sender == f"Registre des refus PDSES <{TEST_MAIL_FROM}>"
    finally:
        server.stop()


def test_mail_from_with_a_display_name(db, smtp_server):
    settings = smtp_settings(smtp_server, mail_from="Registre PDSES Île-de-France <pdses@ars.fr>")
    queue(db, "dest@chu.fr")

    assert deliver_pending(db, settings).sent == 1
    mail = smtp_server.messages[0]
    assert mail.mail_from == "pdses@ars.fr"
    assert mail.sender == "Registre PDSES Île-de-France <pdses@ars.fr>"


def test_a_stalled_server_costs_one_timeout_and_keeps_the_mails(db, smtp_server):
    settings = smtp_settings(smtp_server, timeout=1)
    smtp_server.data_delay = 30
    ids = [queue(db, f"dest{i}@chu.fr") for i in range(3)]

    started = time.monotonic()
    report = deliver_pending(db, settings)
    elapsed = time.monotonic() - started

    assert 0.9 <= elapsed < 2.5, elapsed
    assert report == DeliveryReport(retried=3)
    for mail_id in ids:
        mail = row(db, mail_id)
        assert mail.status is OutboxStatus.PENDING
        assert mail.attempts == 1
        assert "Délai d'attente dépassé (1 s)" in (mail.last_error or "")
    assert smtp_server.messages == []


def test_an_unanswering_port_times_out(db):
    # A socket that accepts connections but never greets: the timeout covers the greeting.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        server = SmtpRecorder(port=listener.getsockname()[1])  # not started: only its address
        settings = smtp_settings(server, timeout=1)
        mail_id = queue(db, "dest@chu.fr")
        started = time.monotonic()
        assert deliver_pending(db, settings) == DeliveryReport(retried=1)
        assert time.monotonic() - started < 2.5
        assert "Délai d'attente dépassé" in (row(db, mail_id).last_error or "")
    finally:
        listener.close()


# --- without SMTP, in the background ------------------------------------------------------


def test_without_smtp_nothing_is_sent_and_mails_are_kept(db, smtp_server):
    settings = replace(smtp_settings(smtp_server), smtp=None)
    ids = [queue(db, "a@chu.fr"), queue(db, "b@chu.fr")]

    assert deliver_pending(db, settings) == DeliveryReport(skipped=2)
    assert mailer.flush_in_background(db, settings) is False
    assert smtp_server.messages == []
    for mail_id in ids:
        mail = row(db, mail_id)
        assert (mail.status, mail.attempts, mail.last_error) == (OutboxStatus.PENDING, 0, None)


def test_flush_in_background_does_not_wait_for_smtp(db, smtp_server):
    settings = smtp_settings(smtp_server)
    smtp_server.data_delay = 0.5
    mail_id = queue(db, "dest@chu.fr")
    try:
        started = time.monotonic()
        assert mailer.flush_in_background(db, settings) is True
        assert mailer.flush_in_background(db, settings) is False  # one thread at a time
        assert time.monotonic() - started < 0.3

        smtp_server.wait_for(1, timeout=5)
    finally:
        assert mailer.wait_for_background(10)
    assert row(db, mail_id).status is OutboxStatus.SENT
    assert len(smtp_server.messages) == 1

    # Idle again: the next flush starts a new thread, and a mail queued meanwhile goes too.
    smtp_server.data_delay = 0
    queue(db, "autre@chu.fr")
    assert mailer.flush_in_background(db, settings) is True
    assert mailer.wait_for_background(10)
    assert len(smtp_server.messages_to("autre@chu.fr")) == 1
    assert len(smtp_server.messages) == 2


def test_flush_in_background_logs_errors_instead_of_raising(db, smtp_server, caplog, tmp_path):
    settings = smtp_settings(smtp_server)
    broken = Database(f"sqlite:///{tmp_path / 'sans-tables.sqlite3'}")  # no outbox table
    try:
        with caplog.at_level("ERROR", logger="registre.mailer"):
            assert mailer.flush_in_background(broken, settings) is True
            assert mailer.wait_for_background(10)
        assert "arrière-plan" in caplog.text
    finally:
        broken.dispose()
    # And the next flush works.
    queue(db, "dest@chu.fr")
    assert mailer.flush_in_background(db, settings) is True
    assert mailer.wait_for_background(10)
    assert len(smtp_server.messages) == 1


# --- administration -------------------------------------------------------------------------


def test_outbox_rows_and_detail(db, clock, smtp_server):
    settings = smtp_settings(smtp_server)
    smtp_server.reject("refuse@chu.fr")
    first = queue(db, "ok@chu.fr")
    clock.advance(minutes=1)
    second = queue(db, "refuse@chu.fr")
    deliver_pending(db, settings)
    third = queue(db, "attente@chu.fr", lines=["Corps <b>brut</b>"])

    rows = mailer.outbox_rows(db)
    assert [(r.id, r.status) for r in rows] == [
        (third, OutboxStatus.PENDING),
        (second, OutboxStatus.FAILED),
        (first, OutboxStatus.SENT),
    ]
    assert rows[2].sent_at == now() and rows[2].kind == REFUSAL_SENT.key
    assert rows[1].last_error and "550" in rows[1].last_error
    assert [r.id for r in mailer.outbox_rows(db, status=OutboxStatus.SENT)] == [first]
    assert len(mailer.outbox_rows(db, limit=2)) == 2

    detail = mailer.outbox_mail(db, third)
    assert detail is not None
    assert detail.body == body_of(["Corps <b>brut</b>"])
    assert detail.recipient == "attente@chu.fr" and detail.subject == SUBJECT
    assert mailer.outbox_mail(db, 999_999) is None


def test_backoff_is_capped():
    assert mailer.backoff(1) == timedelta(minutes=1)
    assert mailer.backoff(3) == timedelta(minutes=4)
    assert mailer.backoff(10) == timedelta(hours=6)
    assert mailer.backoff(200) == timedelta(hours=6)


def test_free_port_is_bindable():
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_a_weekend_without_smtp_loses_nothing():
    """Temporary failures are retried for about a week before a mail is given up."""
    waited = sum((mailer.backoff(n) for n in range(1, mailer.MAX_ATTEMPTS)), timedelta())
    assert timedelta(days=7) <= waited <= timedelta(days=10)
