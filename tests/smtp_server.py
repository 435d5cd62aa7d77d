"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1, a free port).

``SmtpRecorder`` keeps every message it accepts, can refuse chosen recipients (``550``
permanent or ``451`` temporary), answer ``DATA`` slowly (``data_delay``: a stalled server
when longer than the client's time-out), drop the connection after each message, require a
login, and be stopped and restarted on the same port (a stopped server refuses connections).
``smtp_server`` is the pytest fixture (importing ``smtp_server_fixture`` into a test module
or a conftest registers it), ``smtp_settings`` the ``Settings`` that point at a server:

    from .smtp_server import smtp_server_fixture, smtp_settings  # noqa: F401

    def test_something(db, smtp_server):
        settings = smtp_settings(smtp_server, timeout=2)
        ...
        mail = smtp_server.wait_for(1)[0]
        assert "Dossier" in mail.text and "<img" not in mail.html

Outside pytest (an end-to-end server in another process, say): ``with SmtpRecorder() as
server: ...``.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from registre.config import Settings, SmtpSettings, load_settings

HOST = "127.0.0.1"
TEST_MAIL_FROM = "registre-pdses@ght-test.fr"

REJECT_TEXT = {
    550: "5.1.1 Recipient address rejected: User unknown",
    451: "4.3.0 Temporary local problem, try again later",
}


def free_port(host: str = HOST) -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the server received it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage = field(repr=False)
    login: str | None = None

    @property
    def subject(self) -> str:
        """Decoded (RFC 2047) subject."""
        return str(self.message["Subject"])

    @property
    def sender(self) -> str:
        return str(self.message["From"])

    @property
    def to(self) -> str:
        return str(self.message["To"])

    def header(self, name: str) -> str | None:
        value = self.message[name]
        return None if value is None else str(value)

    def part(self, content_type: str) -> str | None:
        """The first part of that type, decoded to ``str`` (charset applied)."""
        for part in self.message.walk():
            if part.get_content_type() == content_type and not part.is_multipart():
                return str(part.get_content())
        return None

    @property
    def text(self) -> str:
        """The text/plain part ('' when none)."""
        return self.part("text/plain") or ""

    @property
    def html(self) -> str:
        """The text/html part ('' when none)."""
        return self.part("text/html") or ""


class _Handler:
    def __init__(self, recorder: SmtpRecorder) -> None:
        self.recorder = recorder

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        self.recorder._count_session()
        return responses

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        # aiosmtpd's own auth_required warns when TLS is not required too: enforced here.
        if self.recorder.credentials is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        code = self.recorder.rejection(address)
        if code is not None:
            self.recorder._note_rejection(address, code)
            return f"{code} {REJECT_TEXT.get(code, 'Rejected')}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        delay = self.recorder.data_delay
        if delay:
            await asyncio.sleep(delay)
        content = envelope.original_content or b""
        login = None
        if isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode()
        self.recorder._record(
            ReceivedMail(
                mail_from=str(envelope.mail_from),
                rcpt_tos=tuple(envelope.rcpt_tos),
                raw=content,
                message=email.message_from_bytes(content, policy=email.policy.default),
                login=login,
            )
        )
        if self.recorder.drop_after_message and server.transport is not None:
            asyncio.get_running_loop().call_soon(server.transport.close)  # after the 250
        return "250 2.0.0 Message accepted for delivery"


class SmtpRecorder:
    """A recording SMTP server; thread-safe to inspect from the test."""

    def __init__(
        self,
        host: str = HOST,
        port: int | None = None,
        *,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.credentials = credentials
        self.data_delay = 0.0
        self.drop_after_message = False
        self._lock = threading.Lock()
        self._messages: list[ReceivedMail] = []
        self._rejections: dict[str, int] = {}
        self._rejected: list[tuple[str, int]] = []
        self._sessions = 0
        self._auth_failures = 0
        self._controller: Controller | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> SmtpRecorder:
        if self._controller is not None:
            return self
        kwargs: dict[str, Any] = {"server_hostname": "smtp.test.invalid"}
        if self.credentials is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        controller = Controller(_Handler(self), hostname=self.host, port=self.port, **kwargs)
        deadline = time.monotonic() + 5
        while True:  # the port of a just-stopped server may take a moment to be free
            try:
                controller.start()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
                controller = Controller(
                    _Handler(self), hostname=self.host, port=self.port, **kwargs
                )
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening (connections are then refused) until ``start``."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def restart(self) -> SmtpRecorder:
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> SmtpRecorder:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- behaviour ---------------------------------------------------------------------

    def reject(self, address: str, code: int = 550) -> None:
        """Refuse RCPT TO for ``address`` with ``code`` (550 permanent, 451 temporary)."""
        with self._lock:
            self._rejections[address.lower()] = code

    def accept(self, address: str | None = None) -> None:
        """Stop refusing ``address`` (every address when None)."""
        with self._lock:
            if address is None:
                self._rejections.clear()
            else:
                self._rejections.pop(address.lower(), None)

    def rejection(self, address: str) -> int | None:
        with self._lock:
            return self._rejections.get(address.lower())

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and self.credentials is not None
            and auth_data.login.decode() == self.credentials[0]
            and auth_data.password.decode() == self.credentials[1]
        )
        if not ok:
            with self._lock:
                self._auth_failures += 1
        return AuthResult(success=ok, auth_data=auth_data if ok else None, handled=False)

    # -- recording ---------------------------------------------------------------------

    def _record(self, mail: ReceivedMail) -> None:
        with self._lock:
            self._messages.append(mail)

    def _note_rejection(self, address: str, code: int) -> None:
        with self._lock:
            self._rejected.append((address, code))

    def _count_session(self) -> None:
        with self._lock:
            self._sessions += 1

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._messages)

    @property
    def rejected(self) -> list[tuple[str, int]]:
        """(address, code) of every refused RCPT TO."""
        with self._lock:
            return list(self._rejected)

    @property
    def sessions(self) -> int:
        """Number of EHLO/HELO greetings, i.e. of SMTP sessions opened."""
        with self._lock:
            return self._sessions

    @property
    def auth_failures(self) -> int:
        with self._lock:
            return self._auth_failures

    def messages_to(self, address: str) -> list[ReceivedMail]:
        return [m for m in self.messages if address.lower() in (r.lower() for r in m.rcpt_tos)]

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._rejected.clear()
            self._sessions = 0
            self._auth_failures = 0

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMail]:
        """Wait until at least ``count`` messages arrived; fail the test otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.messages
            if len(messages) >= count:
                return messages
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(messages)} message(s) reçu(s) en {timeout} s, {count} attendu(s)"
                )
            time.sleep(0.02)


_SMTP_FIELDS = {f.name for f in fields(SmtpSettings)}


def smtp_settings(server: SmtpRecorder, **overrides: Any) -> Settings:
    """``Settings`` whose SMTP points at ``server`` (plain SMTP, no login, 5 s time-out).

    Overrides may name an ``SmtpSettings`` field (``timeout=1``, ``user=...``, ``port=...``)
    or a ``Settings`` field (``mail_from=...``, ``base_url=...``, ``database_url=...``).
    """
    smtp_values: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "user": None,
        "password": None,
        "starttls": False,
        "ssl": False,
        "timeout": 5.0,
    }
    settings_values: dict[str, Any] = {
        "mail_from": TEST_MAIL_FROM,
        "base_url": "http://registre.test",
    }
    for key, value in overrides.items():
        if key in _SMTP_FIELDS:
            smtp_values[key] = value
        else:
            settings_values[key] = value
    return replace(load_settings({}), smtp=SmtpSettings(**smtp_values), **settings_values)


@pytest.fixture(name="smtp_server")
def smtp_server_fixture() -> Iterator[SmtpRecorder]:
    """A running ``SmtpRecorder`` for one test (import ``smtp_server_fixture`` to use it)."""
    server = SmtpRecorder().start()
    try:
        yield server
    finally:
        server.stop()
