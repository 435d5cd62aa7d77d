"""Resources for the pages: settings (read at each run: cheap, and a changed environment
counts) and the database (one engine and pool per URL for the whole process)."""

from __future__ import annotations

from registre import worker
from registre.config import Settings, load_settings
from registre.db import Database, get_database


def settings() -> Settings:
    return load_settings()


def database() -> Database:
    return get_database(settings().database_url)


def start_background_duties() -> None:
    """Outbox delivery and reminders in this process (started once; cheap to call)."""
    conf = settings()
    if conf.background_duties:
        worker.start(database(), conf)
