"""Helpers of the concurrency tests (``tests/test_concurrency*.py``): run calls at the same
instant in real threads, sort their outcomes, read back the outbox and the audit trail."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from registre import notifications
from registre.errors import ConflictError, PermissionDenied
from registre.models import AuditEntry, Establishment, OutboxMail

# Each race is run this many times (a fresh dossier or report each round): a wrong
# implementation (no lock, no version check) is then very likely to fail at least once.
ROUNDS = 5
_UNSET = object()


def race(*calls: Callable[[], Any], timeout: float = 60) -> list[Any]:
    """Run the calls at the same instant (a barrier), each in its own thread; their outcomes
    in order: the value returned or the exception raised (any exception, so that a raw
    database error fails the test's checks instead of vanishing in a thread)."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [_UNSET] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout)
            outcomes[i] = call()
        except BaseException as exc:  # every outcome is checked by the test
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a racing call never returned (deadlock?)"
    assert _UNSET not in outcomes, outcomes
    return outcomes


def is_refusal(outcome: object) -> bool:
    """A clear refusal shown to the user as is: a French ConflictError or PermissionDenied."""
    return isinstance(outcome, ConflictError | PermissionDenied) and bool(outcome.message)


def one_wins(outcomes: list[Any], success: Callable[[Any], bool]) -> tuple[int, Exception]:
    """Exactly one outcome is a success and the other a clear refusal: (winner, refusal)."""
    assert len(outcomes) == 2, outcomes
    won = [i for i, o in enumerate(outcomes) if not isinstance(o, BaseException) and success(o)]
    assert len(won) == 1, outcomes
    loser = outcomes[1 - won[0]]
    assert is_refusal(loser), outcomes
    return won[0], loser


def mails(db: Any, kind: str, *, dossier_id: int | None = None, report_id: int | None = None):
    """Outbox rows of ``kind`` about one dossier (or report), counted per recipient."""
    query = select(OutboxMail.recipient).where(OutboxMail.kind == kind)
    if dossier_id is not None:
        query = query.where(OutboxMail.dossier_id == dossier_id)
    if report_id is not None:
        query = query.where(OutboxMail.dedup_key.like(f"{kind}:{report_id}:%"))
    with db.read() as s:
        return Counter(s.scalars(query))


def audit_count(
    db: Any, action: str, *, entity_id: int | None = None, dossier_id: int | None = None
) -> int:
    """Audit entries of ``action`` about one entity (or any row of one dossier)."""
    query = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    if dossier_id is not None:
        query = query.where(AuditEntry.dossier_id == dossier_id)
    with db.read() as s:
        return s.scalar(query) or 0


def once_each(emails) -> Counter:
    return Counter(dict.fromkeys(emails, 1))


def refuser_recipients(world) -> list[str]:
    """Who the world's refusing establishment mails (its Neurochirurgie line)."""
    with world.db.read() as s:
        emails = notifications.refuser_recipients(
            s, world.est["ref"], world.specialty["Neurochirurgie"]
        )
    assert emails, "the world's ref establishment has accounts to mail"
    return emails


def directors(world) -> list[str]:
    with world.db.read() as s:
        est = s.get(Establishment, world.est["req"])
        assert est is not None
        emails = notifications.director_recipients(s, est)
    assert emails
    return emails
