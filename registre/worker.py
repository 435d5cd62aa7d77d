"""Background duties of an app process: deliver the outbox (retries included) and queue the
reminders, without anyone having to click. Several processes may run it at once: the
outbox claim and the once-per-line reminder make that safe. ``registre send-mail`` and
``registre remind`` do the same from cron when no app process is running."""

from __future__ import annotations

import logging
import threading
import time

from registre import dossiers, mailer, reports
from registre.config import Settings
from registre.db import Database

log = logging.getLogger(__name__)

DELIVERY_INTERVAL = 60.0
REMINDER_INTERVAL = 3600.0

_lock = threading.Lock()
_started: set[str] = set()


def start(db: Database, settings: Settings) -> bool:
    """Start the duties for this database once per process; ``False`` if already running."""
    with _lock:
        if db.url in _started:
            return False
        _started.add(db.url)
    thread = threading.Thread(
        target=_loop, args=(db, settings), name="registre-worker", daemon=True
    )
    thread.start()
    return True


def run_once(db: Database, settings: Settings, *, reminders: bool) -> None:
    if reminders:
        queued = dossiers.send_reminders(db, settings.reminder_days)
        queued += reports.send_reminders(db, settings.reminder_days)
        if queued:
            log.info("%d relance(s) mise(s) en file d'envoi.", queued)
        db.optimize()  # hourly too: the planner's statistics follow the registry's growth
    mailer.flush_in_background(db, settings)


def _loop(db: Database, settings: Settings) -> None:
    last_reminders = 0.0
    while True:
        now = time.monotonic()
        due = now - last_reminders >= REMINDER_INTERVAL
        try:
            run_once(db, settings, reminders=due)
        except Exception:
            log.exception("Tâches de fond du registre : échec, nouvel essai plus tard.")
        if due:
            last_reminders = now
        time.sleep(DELIVERY_INTERVAL)
