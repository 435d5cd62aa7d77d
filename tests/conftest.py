"""Shared fixtures: a real database (SQLite file by default, PostgreSQL when
``REGISTRE_TEST_DATABASE_URL`` is set), migrated with Alembic once per test session and
emptied between tests; a controllable clock; reference data; accounts of every role."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Table, create_engine, text
from sqlalchemy.engine import make_url

from registre import statistics, timeutil
from registre.db import Database, normalise_url
from registre.migrate import upgrade
from registre.models import Base

from .factories import World, build_world

PG_URL = os.environ.get("REGISTRE_TEST_DATABASE_URL")
# In-process app runs (AppTest) must not start the background duties against test databases;
# the end-to-end servers get their own environment and do run them.
os.environ["REGISTRE_BACKGROUND"] = "0"
# bcrypt at cost 4 instead of 12 (0.3 s a hash): the suite hashes and checks thousands of
# passwords. Only under the tests may the cost go below 12 (registre/config.py).
os.environ["REGISTRE_UNDER_TEST"] = "1"
os.environ["REGISTRE_BCRYPT_ROUNDS"] = "4"


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def set(self, value: datetime) -> None:
        self.current = value

    def advance(self, **kwargs: float) -> None:
        from datetime import timedelta

        self.current = self.current + timedelta(**kwargs)


def _fresh_postgres_database(base_url: str) -> str:
    """A new empty database on the server of ``base_url`` (dropped at the end)."""
    url = make_url(normalise_url(base_url))
    name = f"registre_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(url_str: str) -> None:
    url = make_url(url_str)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if PG_URL:
        url = _fresh_postgres_database(PG_URL)
        upgrade(url)
        yield url
        _drop_postgres_database(url)
    else:
        path: Path = tmp_path_factory.mktemp("db") / "registre-test.sqlite3"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def session_db(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


def _empty(db: Database) -> None:
    tables = list(reversed(Base.metadata.sorted_tables))
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    # Thursday 26 November 2026, 03:15 in Paris: a PDSES night.
    fake = FakeClock(datetime(2026, 11, 26, 2, 15, tzinfo=UTC))
    timeutil.set_clock(fake)
    yield fake
    timeutil.set_clock(None)


@pytest.fixture
def db(session_db: Database, clock: FakeClock) -> Iterator[Database]:
    _empty(session_db)
    statistics.clear_cache()  # the same database object holds another test's rows now
    yield session_db


_snapshots: dict[str, tuple[World, list[tuple[Table, list[dict[str, object]]]]]] = {}


def _dump(db: Database) -> list[tuple[Table, list[dict[str, object]]]]:
    with db.engine.connect() as conn:
        return [
            (table, [dict(row) for row in conn.execute(table.select()).mappings()])
            for table in Base.metadata.sorted_tables
        ]


def _restore(db: Database, rows: list[tuple[Table, list[dict[str, object]]]]) -> None:
    with db.engine.begin() as conn:
        for table, values in rows:
            if values:
                conn.execute(table.insert(), values)
        if db.engine.dialect.name == "postgresql":
            for table, _values in rows:
                if "id" in table.c and table.c.id.autoincrement is not False:
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                            f'COALESCE((SELECT MAX(id) FROM "{table.name}"), 1), '
                            f'(SELECT COUNT(*) > 0 FROM "{table.name}"))'
                        )
                    )


@pytest.fixture
def world(db: Database) -> World:
    """Reference data and one account per role (see ``tests/factories.py``): built once per
    test session, then restored row for row before each test (a rebuild costs 20 times more)."""
    snapshot = _snapshots.get(db.url)
    if snapshot is None:
        built = build_world(db)
        _snapshots[db.url] = (built, _dump(db))
        return built
    built, rows = snapshot
    _restore(db, rows)
    return built
