"""Delivery of the outbox (``registre.notifications`` writes it, this module empties it).

Guarantees:

- **never twice**: a row is claimed by an atomic compare-and-set in its own short transaction
  (``a_envoyer`` and due, or ``en_cours`` whose lease has expired → ``en_cours`` with a lease)
  and only the sender whose ``UPDATE`` changed the row talks to SMTP. This holds for several
  threads or processes at once, on SQLite (``BEGIN IMMEDIATE``) as on PostgreSQL (row lock
  and re-check of the ``WHERE`` clause). No transaction stays open while SMTP is talked to;
  a sender that crashes mid-way leaves a lease that expires after ``LEASE``.
- **nothing lost**: a temporary failure (server down, time-out, 4xx) puts the mail back in
  the queue with an exponential back-off; a permanent refusal (5xx for that recipient or
  that message) or ``MAX_ATTEMPTS`` failures mark it ``echec``, listed by ``registre outbox``
  and put back with ``retry_failed``.
- **no page waits for SMTP**: ``flush_in_background`` delivers in a daemon thread.

yagmail builds the connection and the MIME message, but ``yagmail.SMTP.send`` is not used:
it opens a new connection on every call (without closing the previous one) and, when the
connection drops, sleeps 3 + 6 seconds and hides the failure in ``unsent``. Here one
connection serves a whole batch (checked with ``NOOP`` before reuse, reopened when it has
dropped) and every failure is classified and recorded.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import logging
import os
import re
import smtplib
import socket
import ssl
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.header import Header
from email.mime.text import MIMEText
from email.utils import parseaddr
from typing import Any

import yagmail
from sqlalchemy import ColumnElement, and_, func, or_, select, update
from yagmail.message import prepare_message

from registre.config import Settings, SmtpSettings
from registre.db import Database
from registre.models import OutboxMail, OutboxStatus
from registre.timeutil import now

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
"""How long a claimed row belongs to its sender; after that another sender may take it."""
# 1, 2, 4 … 256 minutes, then every 6 hours: 40 attempts span about 8 days, so a weekend
# without SMTP loses nothing; only then is a mail marked failed (and listed for a retry).
MAX_ATTEMPTS = 40
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=6)
SENDER_NAME = "Registre des refus PDSES"
ERROR_MAX_LENGTH = 300

_ADDRESS = re.compile(r"[^@\s<>()\[\]\\,;:\"]+@[^@\s<>()\[\]\\,;:\"]+")


# --- public types -------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryReport:
    """What one ``deliver_pending`` call did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def attempted(self) -> int:
        return self.sent + self.retried + self.failed


@dataclass(frozen=True)
class OutboxRow:
    """One line of ``registre outbox``."""

    id: int
    kind: str
    recipient: str
    subject: str
    status: OutboxStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class OutboxMailDetail(OutboxRow):
    """One mail with its body (``registre outbox --show ID``)."""

    body: str
    dossier_id: int | None
    next_attempt_at: datetime


# --- delivery -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Claimed:
    id: int
    recipient: str
    subject: str
    body: str
    dedup_key: str
    attempts: int


@dataclass(frozen=True)
class _Failure:
    message: str
    permanent: bool = False
    server_down: bool = False
    """The server cannot be used any more in this batch (unreachable, time-out, login)."""


def _due(at: datetime) -> ColumnElement[bool]:
    return or_(
        and_(OutboxMail.status == OutboxStatus.PENDING, OutboxMail.next_attempt_at <= at),
        and_(OutboxMail.status == OutboxStatus.SENDING, OutboxMail.lease_until < at),
    )


def _due_ids(db: Database, limit: int) -> list[int]:
    with db.read() as session:
        return list(
            session.scalars(
                select(OutboxMail.id)
                .where(_due(now()))
                .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
                .limit(limit)
            )
        )


def _claim(db: Database, mail_id: int) -> _Claimed | None:
    """Take the row if nobody else has: the ``UPDATE`` is the lock."""
    at = now()
    with db.transaction() as session:
        result = session.connection().execute(
            update(OutboxMail)
            .where(OutboxMail.id == mail_id, _due(at))
            .values(
                status=OutboxStatus.SENDING,
                lease_until=at + LEASE,
                attempts=OutboxMail.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return None
        row = session.execute(
            select(
                OutboxMail.recipient,
                OutboxMail.subject,
                OutboxMail.body,
                OutboxMail.dedup_key,
                OutboxMail.attempts,
            ).where(OutboxMail.id == mail_id)
        ).one()
    return _Claimed(mail_id, row.recipient, row.subject, row.body, row.dedup_key, row.attempts)


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after ``attempts`` failed ones: 1, 2, 4 … minutes, 6 h at most."""
    exponent = max(attempts - 1, 0)
    if exponent >= 20:  # 2**20 minutes is far beyond the cap
        return BACKOFF_MAX
    return min(BACKOFF_BASE * (1 << exponent), BACKOFF_MAX)


def _record(db: Database, mail: _Claimed, failure: _Failure | None) -> OutboxStatus | None:
    """Write the outcome, only if the row is still ours (same claim, lease not taken over)."""
    at = now()
    if failure is None:
        status = OutboxStatus.SENT
        values: dict[str, Any] = {
            "status": status,
            "sent_at": at,
            "lease_until": None,
            "last_error": None,
        }
    elif failure.permanent or mail.attempts >= MAX_ATTEMPTS:
        status = OutboxStatus.FAILED
        message = failure.message
        if not failure.permanent:
            message = f"{message} (abandon après {mail.attempts} tentatives)"
        values = {"status": status, "lease_until": None, "last_error": _shorten(message)}
    else:
        status = OutboxStatus.PENDING
        values = {
            "status": status,
            "lease_until": None,
            "last_error": _shorten(failure.message),
            "next_attempt_at": at + backoff(mail.attempts),
        }
    with db.transaction() as session:
        result = session.connection().execute(
            update(OutboxMail)
            .where(
                OutboxMail.id == mail.id,
                OutboxMail.status == OutboxStatus.SENDING,
                OutboxMail.attempts == mail.attempts,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            log.warning(
                "Mail #%s : le résultat de l'envoi n'a pas été enregistré (bail repris entre-temps).",
                mail.id,
            )
            return None
    return status


def _shorten(message: str) -> str:
    message = " ".join(message.split())
    if len(message) > ERROR_MAX_LENGTH:
        message = message[: ERROR_MAX_LENGTH - 1] + "…"
    return message


def _sender(settings: Settings) -> tuple[str, str]:
    """(display name, address) of ``REGISTRE_MAIL_FROM`` (``Nom <adresse>`` is accepted)."""
    name, address = parseaddr(settings.mail_from)
    return (name or SENDER_NAME), (address or settings.mail_from)


class _Connection:
    """One SMTP connection (through yagmail) for a whole batch, reopened when it drops."""

    def __init__(self, settings: Settings, smtp: SmtpSettings) -> None:
        self.smtp = smtp
        self.display_name, self.address = _sender(settings)
        login = smtp.user is not None and smtp.password is not None
        if smtp.user is not None and smtp.password is None:
            log.warning(
                "REGISTRE_SMTP_USER est défini sans REGISTRE_SMTP_PASSWORD : envoi sans "
                "authentification."
            )
        kwargs: dict[str, Any] = {"timeout": smtp.timeout}
        if smtp.ssl:
            # smtplib's default context does not check the certificate.
            kwargs["context"] = ssl.create_default_context()
        starttls: bool | dict[str, Any] = (
            {"context": ssl.create_default_context()} if smtp.starttls else False
        )
        # yagmail quirks: without a password and without smtp_skip_login it asks the system
        # keyring (then getpass); a user without "@" gets "@gmail.com" appended unless it is
        # given as {address: alias}; soft_email_validation would refuse a login like "apikey".
        self.client: Any = yagmail.SMTP(
            user={(smtp.user if login and smtp.user else self.address): self.display_name},
            password=smtp.password if login else None,
            host=smtp.host,
            port=smtp.port,
            smtp_starttls=starttls,
            smtp_ssl=smtp.ssl,
            smtp_skip_login=not login,
            soft_email_validation=False,
            **kwargs,
        )
        self.client.set_logging(None)  # yagmail installs its own stderr handler otherwise
        self.open = False
        self.fresh = False

    def _connect(self) -> None:
        self.discard()
        self.client.login()  # connect, STARTTLS, AUTH: every step under smtp.timeout
        self.open = True
        self.fresh = True

    def _ensure(self) -> None:
        if self.open and not self.fresh:
            try:
                code, _ = self.client.smtp.noop()
                if code == 250:
                    return
            except (smtplib.SMTPException, OSError):
                pass
            log.info("Connexion SMTP perdue : reconnexion.")
            self._connect()
        elif not self.open:
            self._connect()
        self.fresh = False

    def send(self, mail: _Claimed, base_url: str) -> None:
        recipient = mail.recipient.strip()
        message = build_message(
            recipient,
            mail.subject,
            mail.body,
            sender=(self.display_name, self.address),
            message_id=_message_id(mail, self.address),
            base_url=base_url,
        )
        try:
            self._ensure()
        except Exception as exc:
            raise _ConnectError(exc) from exc
        self.client.smtp.sendmail(self.address, [recipient], message)

    def after_failure(self, failure: _Failure) -> None:
        """Leave the connection in a known state (smtplib resets only some errors)."""
        if not self.open:
            return
        if failure.server_down:
            self.discard()
            return
        try:
            self.client.smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.discard()

    def discard(self) -> None:
        """Drop the socket without QUIT (a stalled server would make QUIT wait too)."""
        smtp = getattr(self.client, "smtp", None)
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()
        self.open = False
        self.client.is_closed = True

    def close(self) -> None:
        if self.open:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.client.smtp.quit()
        self.discard()


def _message_id(mail: _Claimed, sender_address: str) -> str:
    # Stable across retries: a receiver can drop the copy of a mail whose first delivery
    # was accepted but not acknowledged. yagmail's default (a hash of From, To and Subject)
    # would give two reminders of the same dossier the same Message-ID.
    domain = sender_address.rpartition("@")[2] or "registre.invalid"
    digest = hashlib.sha256(mail.dedup_key.encode()).hexdigest()[:16]
    return f"<outbox-{mail.id}-{digest}@{domain}>"


def _html_line(line: str, base_url: str) -> str:
    if not line.strip():
        return "<br>"
    escaped = html.escape(line)
    stripped = line.strip()
    if base_url and stripped.startswith(base_url + "/") and " " not in stripped:
        # Only the registry's own links become clickable: never a URL typed by a user.
        return f'<a href="{html.escape(stripped)}">{escaped}</a>'
    return escaped


def build_message(
    recipient: str,
    subject: str,
    body: str,
    *,
    sender: tuple[str, str],
    message_id: str,
    base_url: str = "",
) -> str:
    """The MIME message (yagmail): an HTML part where every line is escaped and a plain-text
    part that is the body itself."""
    if not (recipient.isascii() and _ADDRESS.fullmatch(recipient)):
        raise _InvalidRecipient(recipient)
    lines = body.splitlines() or [""]
    # yagmail.raw: a plain string equal to an existing file path would be attached as that
    # file (yagmail tries os.path.isfile on every content); raw() turns that off.
    contents = [yagmail.raw(_html_line(line, base_url)) for line in lines]
    msg: Any = prepare_message(
        sender[1],
        sender[0],
        {"recipients": [recipient], "To": recipient},
        None,
        contents,
        None,
        {"Auto-Submitted": "auto-generated", "Content-Language": "fr"},
        "utf-8",
        prettify_html=False,
        message_id=message_id,
        group_messages=True,
        dkim=None,
    )
    # Encoded and folded as RFC 2047 wants (yagmail: one overlong line, as_string() folds
    # nothing unless given maxheaderlen).
    msg["Subject"] = Header(" ".join(subject.split()), "utf-8", header_name="Subject")
    # yagmail's text/plain alternative is the HTML-escaped lines joined: put the body back.
    parts = msg.get_payload(0).get_payload()
    if parts and parts[0].get_content_type() == "text/plain":
        parts[0] = MIMEText("\n".join(lines), "plain", "utf-8")
    return str(msg.as_string(maxheaderlen=78))


class _InvalidRecipient(ValueError):
    pass


class _ConnectError(Exception):
    """Connecting, STARTTLS or logging in failed: nothing of the mail itself is at fault."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip()


def _timeout_text(smtp: SmtpSettings) -> str:
    return (
        f"Délai d'attente dépassé ({smtp.timeout:g} s) avec le serveur SMTP {smtp.host}:{smtp.port}"
    )


def classify(exc: BaseException, smtp: SmtpSettings) -> _Failure:
    """A French, password-free description of a failure, and what it means for the mail."""
    failure = _classify(exc, smtp)
    if smtp.password:
        failure = _Failure(
            failure.message.replace(smtp.password, "***"), failure.permanent, failure.server_down
        )
    return failure


def _classify(exc: BaseException, smtp: SmtpSettings) -> _Failure:
    where = f"{smtp.host}:{smtp.port}"
    if isinstance(exc, _ConnectError):
        if isinstance(exc.cause, UnicodeError):
            # smtplib encodes AUTH PLAIN/LOGIN in ASCII.
            message = (
                f"Connexion au serveur SMTP {where} impossible : l'identifiant ou le mot de "
                "passe SMTP contient des caractères non ASCII, non pris en charge"
            )
        else:
            message = _classify(exc.cause, smtp).message
        return _Failure(message, server_down=True)
    if isinstance(exc, _InvalidRecipient):
        return _Failure(f"Adresse du destinataire invalide : {exc}", permanent=True)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (0, b""))
        return _Failure(
            f"Destinataire refusé par le serveur SMTP ({_reply(code, text)})",
            permanent=500 <= code < 600,
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        # The same for every mail: a configuration matter, retried, never "échec" at once.
        return _Failure(
            f"Expéditeur {exc.sender} refusé par le serveur SMTP "
            f"({_reply(exc.smtp_code, exc.smtp_error)})"
        )
    if isinstance(exc, smtplib.SMTPDataError):
        return _Failure(
            f"Message refusé par le serveur SMTP ({_reply(exc.smtp_code, exc.smtp_error)})",
            permanent=500 <= exc.smtp_code < 600,
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return _Failure(
            f"Authentification refusée par le serveur SMTP {where} "
            f"({_reply(exc.smtp_code, exc.smtp_error)})",
            server_down=True,
        )
    if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPHeloError):
        return _Failure(
            f"Le serveur SMTP {where} refuse la connexion ({_reply(exc.smtp_code, exc.smtp_error)})",
            server_down=True,
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        if isinstance(exc.__context__, TimeoutError):
            return _Failure(_timeout_text(smtp), server_down=True)
        return _Failure(f"Connexion SMTP interrompue ({where}) : {exc}")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return _Failure(f"Le serveur SMTP {where} ne prend pas en charge : {exc}", server_down=True)
    if isinstance(exc, smtplib.SMTPResponseException):
        return _Failure(
            f"Erreur du serveur SMTP ({_reply(exc.smtp_code, exc.smtp_error)})",
            server_down=exc.smtp_code == 421,
        )
    if isinstance(exc, smtplib.SMTPException):
        return _Failure(f"Erreur SMTP : {exc}")
    if isinstance(exc, TimeoutError):
        return _Failure(_timeout_text(smtp), server_down=True)
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return _Failure(f"Échec TLS avec le serveur SMTP {where} : {exc}", server_down=True)
    if isinstance(exc, socket.gaierror):
        return _Failure(f"Serveur SMTP introuvable ({where}) : {exc.strerror}", server_down=True)
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc) or type(exc).__name__
        return _Failure(f"Serveur SMTP injoignable ({where}) : {reason}", server_down=True)
    if isinstance(exc, UnicodeError):
        return _Failure(
            f"Message impossible à transmettre (caractères non pris en charge) : {exc}",
            permanent=True,
        )
    return _Failure(f"Erreur inattendue lors de l'envoi : {type(exc).__name__}")


def _count_due(db: Database) -> int:
    with db.read() as session:
        return int(
            session.scalar(select(func.count()).select_from(OutboxMail).where(_due(now()))) or 0
        )


def deliver_pending(
    db: Database, settings: Settings, *, limit: int = 50, worker: str | None = None
) -> DeliveryReport:
    """Send up to ``limit`` due mails over one SMTP connection; never raises for SMTP errors.

    Without SMTP configuration nothing is sent: the due mails stay in the outbox and are
    counted as ``skipped``. Once the server proves unusable in this batch (unreachable,
    time-out, login refused), the remaining claimed mails get the same temporary failure
    without another connection attempt, so that a dead server costs one time-out per call.
    """
    name = worker or f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"
    smtp = settings.smtp
    if smtp is None:
        skipped = _count_due(db)
        if skipped:
            log.info("Pas de serveur SMTP configuré : %s mail(s) restent en file.", skipped)
        return DeliveryReport(skipped=skipped)
    ids = _due_ids(db, limit)
    if not ids:
        return DeliveryReport()
    sent = retried = failed = 0
    connection: _Connection | None = None
    down: _Failure | None = None
    down_logged = False
    try:
        for mail_id in ids:
            mail = _claim(db, mail_id)
            if mail is None:
                continue  # taken by another sender
            failure = down
            if failure is None:
                try:
                    if connection is None:
                        connection = _Connection(settings, smtp)
                    connection.send(mail, settings.base_url)
                except Exception as exc:  # every failure is recorded, none escapes
                    failure = classify(exc, smtp)
                    cause = exc.cause if isinstance(exc, _ConnectError) else exc
                    if not isinstance(cause, smtplib.SMTPException | OSError | ValueError):
                        log.exception("Mail #%s : erreur inattendue (%s).", mail.id, name)
                    if failure.server_down:
                        down = failure
                    if connection is not None:
                        connection.after_failure(failure)
            outcome = _record(db, mail, failure)
            if outcome is OutboxStatus.SENT:
                sent += 1
            elif outcome is OutboxStatus.FAILED:
                failed += 1
                log.warning(
                    "Mail #%s en échec définitif : %s", mail.id, failure and failure.message
                )
            elif outcome is OutboxStatus.PENDING:
                retried += 1
                if failure is not None and not (failure is down and down_logged):
                    log.info("Mail #%s à réessayer : %s", mail.id, failure.message)
                    down_logged = failure is down
    finally:
        if connection is not None:
            connection.close()
    report = DeliveryReport(sent=sent, retried=retried, failed=failed)
    if report.attempted:
        log.info(
            "Envoi des mails (%s) : %s envoyé(s), %s à réessayer, %s en échec.",
            name,
            sent,
            retried,
            failed,
        )
    return report


# --- background delivery ---------------------------------------------------------------

_state = threading.Lock()
_idle = threading.Event()
_idle.set()
_running = False
_again = False


def flush_in_background(db: Database, settings: Settings) -> bool:
    """Deliver the due mails in a daemon thread, so that no page waits for SMTP.

    At most one such thread per process: when one is running, it is asked to make one more
    pass (a mail committed after it read the queue is not left waiting) and ``False`` is
    returned. ``False`` too when no SMTP server is configured. Errors are logged only.
    """
    global _running, _again
    if settings.smtp is None:
        return False
    with _state:
        if _running:
            _again = True
            return False
        _running = True
        _again = False
        _idle.clear()
    try:
        thread = threading.Thread(
            target=_background_loop, args=(db, settings), name="registre-mailer", daemon=True
        )
        thread.start()
    except Exception:
        log.exception("Impossible de lancer l'envoi des mails en arrière-plan.")
        with _state:
            _running = False
            _idle.set()
        return False
    return True


def _background_loop(db: Database, settings: Settings) -> None:
    global _running, _again
    limit = 50
    again = True
    try:
        while again:
            full_batch = False
            try:
                report = deliver_pending(db, settings, limit=limit, worker="arrière-plan")
                full_batch = report.attempted >= limit
            except Exception:
                log.exception("Échec de l'envoi des mails en arrière-plan.")
            with _state:
                again = _again or full_batch
                _again = False
                if not again:
                    _running = False
                    _idle.set()
    finally:
        if again:  # left through an exception that is not an Exception
            with _state:
                _running = False
                _idle.set()


def wait_for_background(timeout: float | None = None) -> bool:
    """Wait until no background delivery runs (tests, orderly shutdown); ``True`` if idle."""
    return _idle.wait(timeout)


# --- outbox administration ---------------------------------------------------------------


def _row(mail: OutboxMail) -> OutboxRow:
    return OutboxRow(
        id=mail.id,
        kind=mail.kind,
        recipient=mail.recipient,
        subject=mail.subject,
        status=mail.status,
        attempts=mail.attempts,
        last_error=mail.last_error,
        created_at=mail.created_at,
        sent_at=mail.sent_at,
    )


def outbox_rows(
    db: Database, *, status: OutboxStatus | None = None, limit: int = 100
) -> list[OutboxRow]:
    """The most recent mails first, optionally of one status."""
    stmt = select(OutboxMail).order_by(OutboxMail.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(OutboxMail.status == status)
    with db.read() as session:
        return [_row(mail) for mail in session.scalars(stmt)]


def outbox_mail(db: Database, mail_id: int) -> OutboxMailDetail | None:
    with db.read() as session:
        mail = session.get(OutboxMail, mail_id)
        if mail is None:
            return None
        row = _row(mail)
        return OutboxMailDetail(
            **row.__dict__,
            body=mail.body,
            dossier_id=mail.dossier_id,
            next_attempt_at=mail.next_attempt_at,
        )


def retry_failed(db: Database, ids: list[int] | None = None) -> int:
    """Put mails in ``echec`` back in the queue (all of them, or those of ``ids``)."""
    if ids is not None and not ids:
        return 0
    stmt = (
        update(OutboxMail)
        .where(OutboxMail.status == OutboxStatus.FAILED)
        .values(
            status=OutboxStatus.PENDING,
            attempts=0,
            next_attempt_at=now(),
            lease_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    if ids is not None:
        stmt = stmt.where(OutboxMail.id.in_(ids))
    with db.transaction() as session:
        return int(session.connection().execute(stmt).rowcount)
