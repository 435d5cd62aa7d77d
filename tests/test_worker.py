"""Background duties: reminders queued and the outbox delivered without any click."""

from __future__ import annotations

from registre import mailer, worker
from registre.config import load_settings
from registre.models import OutboxStatus

from .smtp_server import smtp_server_fixture, smtp_settings  # noqa: F401


def test_run_once_queues_reminders_and_delivers(world, smtp_server, clock):
    world.finalised(lines=("ref",))
    settings = smtp_settings(smtp_server)
    worker.run_once(world.db, settings, reminders=True)
    assert mailer.wait_for_background(10)
    assert len(smtp_server.wait_for(2)) == 2  # the refusal, to ref's coordinator and référent
    clock.advance(days=8)
    worker.run_once(world.db, settings, reminders=True)
    assert mailer.wait_for_background(10)
    reminders = [m for m in smtp_server.wait_for(4) if "Relance" in m.subject]
    assert len(reminders) == 2
    worker.run_once(world.db, settings, reminders=True)
    assert mailer.wait_for_background(10)
    assert len(smtp_server.messages) == 4  # nothing twice
    assert {r.status for r in mailer.outbox_rows(world.db)} == {OutboxStatus.SENT}


def test_start_is_once_per_process_and_database(world, monkeypatch):
    """The endless loop itself is replaced: only the once-per-process guard is tested."""
    monkeypatch.setattr(worker, "_started", set())
    monkeypatch.setattr(worker, "_loop", lambda db, settings: None)
    settings = load_settings({})
    assert worker.start(world.db, settings) is True
    assert worker.start(world.db, settings) is False
