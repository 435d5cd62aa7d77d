"""Resources for the pages: settings (read at each run: cheap, and a changed environment
counts) and the database (one engine and pool per URL for the whole process)."""

from __future__ import annotations

from registre.config import Settings, load_settings
from registre.db import Database, get_database


def settings() -> Settings:
    return load_settings()


def database() -> Database:
    return get_database(settings().database_url)
