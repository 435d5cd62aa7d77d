"""Shared fixtures: a real database (SQLite file by default, PostgreSQL when
``REGISTRE_TEST_DATABASE_URL`` is set), migrated with Alembic once per test session and
emptied between tests; a controllable clock; reference data; accounts of every role."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, create_engine, text
from sqlalchemy.engine import make_url

from registre import statistics, timeutil
from registre.db import Database, normalise_url
from registre.migrate import upgrade
from registre.models import Base

from .factories import World, build_world

PG_URL = os.environ.get("REGISTRE_TEST_DATABASE_URL")
# The PostgreSQL pass runs only what touches the database (the rest already ran on SQLite);
# REGISTRE_TEST_EVERYTHING=1 runs every test there too.
EVERYTHING = bool(os.environ.get("REGISTRE_TEST_EVERYTHING"))
E2E_DIR = Path(__file__).resolve().parent / "e2e"
# What a module uses when it builds its own database (rather than through ``database_url``).
_OWN_DATABASE = ("PG_URL", "_fresh_postgres_database", "start_server")
# In-process app runs (AppTest) must not start the background duties against test databases;
# the end-to-end servers get their own environment and do run them.
os.environ["REGISTRE_BACKGROUND"] = "0"
# bcrypt at cost 4 instead of 12 (0.3 s a hash): the suite hashes and checks thousands of
# passwords. Only under the tests may the cost go below 12 (registre/config.py).
os.environ["REGISTRE_UNDER_TEST"] = "1"
os.environ["REGISTRE_BCRYPT_ROUNDS"] = "4"


def touches_database(item: pytest.Item) -> bool:
    """Whether the test's outcome may depend on the engine: it uses the test database, builds
    its own, or runs a server on one."""
    if "database_url" in getattr(item, "fixturenames", ()):
        return True
    if item.get_closest_marker("e2e") or item.get_closest_marker("postgres"):
        return True
    module = getattr(item, "module", None)
    return any(name in vars(module) for name in _OWN_DATABASE) if module else False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)
    if not PG_URL:
        # What only PostgreSQL can show (a server restart) runs in the PostgreSQL pass.
        _keep(config, items, lambda item: item.get_closest_marker("postgres") is None)
    elif not EVERYTHING:
        _keep(config, items, touches_database)


def _keep(
    config: pytest.Config, items: list[pytest.Item], wanted: Callable[[pytest.Item], bool]
) -> None:
    kept, dropped = [], []
    for item in items:
        (kept if wanted(item) else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def _strict_skips() -> list[str]:
    return sorted(set(_skipped)) if os.environ.get("REGISTRE_CI_STRICT") else []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI (REGISTRE_CI_STRICT=1) a skipped test fails the run: nothing may be left out."""
    if _strict_skips() and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    skipped = _strict_skips()
    if skipped:
        terminalreporter.write_line(
            f"REGISTRE_CI_STRICT : {len(skipped)} test(s) ignoré(s), interdit en CI : "
            + ", ".join(skipped[:5]),
            red=True,
        )


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


def _restart_sequences() -> str:
    """One statement that restarts every id sequence at 1 (PostgreSQL)."""
    calls = [
        f"setval(pg_get_serial_sequence('\"{t.name}\"', 'id'), 1, false)"
        for t in Base.metadata.sorted_tables
        if "id" in t.c and t.c.id.autoincrement is not False and t.c.id.primary_key
    ]
    return "SELECT " + ", ".join(calls)


def _empty(db: Database) -> None:
    """One DELETE per table, children first: on PostgreSQL 29 ms a test against 87 ms for a
    TRUNCATE of the 20 tables (issue 13); the sequences restart so that ids repeat."""
    tables = list(reversed(Base.metadata.sorted_tables))
    with db.engine.begin() as conn:
        for table in tables:
            conn.execute(table.delete())
        if db.engine.dialect.name == "postgresql":
            conn.execute(text(_restart_sequences()))


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
