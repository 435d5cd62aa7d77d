"""Engine and transactions.

SQLite is the embedded default (a file under ``./data/``); PostgreSQL in production. The
URL comes from ``REGISTRE_DATABASE_URL``. Every write of the application happens inside
``Database.transaction()``: one database transaction per user action, so that the change,
its audit entries and its outbox mails are committed together or not at all.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from registre.config import DEFAULT_POOL_SIZE, load_settings


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (psycopg2 is not a dependency)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # A write transaction takes the write lock at once (BEGIN IMMEDIATE): a deferred one
    # that reads first and writes later can fail with "database is locked" under load.
    immediate = conn.get_execution_options().get("registre_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, pool_size: int = DEFAULT_POOL_SIZE) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; emit it ourselves so that a
        # transaction really starts where SQLAlchemy thinks it does.
        event.listen(engine, "begin", _sqlite_begin)

        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        return engine
    # JIT compilation costs more than it saves on the statistics' queries (measured at a
    # million dossiers: about a second per page, benchmarks/statistics.py).
    # A connection opened beyond ``pool_size`` (the overflow) is closed as soon as it is
    # returned: under load (100 users, make bench) the constant new connections, each a new
    # PostgreSQL backend, took the CPUs with 5; ``REGISTRE_DB_POOL_SIZE`` (10) sets the
    # connections kept per process. The overflow stays, for bursts (never a wait, so never a
    # deadlock of a thread that would hold one connection and ask for another).
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=10,
        connect_args={"options": "-c jit=off"},
    )


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, pool_size)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any error."""
        with self._sessions() as session, session.begin():
            session.connection(execution_options={"registre_write": True})
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads only: nothing is committed; closing it ends the transaction
        without expiring what was loaded."""
        with self._sessions() as session:
            yield session

    def optimize(self) -> None:
        """Refresh the query planner's statistics. SQLite has no autovacuum to do it: without
        them it drives a refuser's statistics from the wrong index (10× slower, measured);
        PostgreSQL's autovacuum does it already."""
        if self.is_sqlite:
            with self.engine.connect() as conn:
                # A sampled ANALYZE: milliseconds even at a million dossiers.
                conn.exec_driver_sql("PRAGMA analysis_limit=1000")
                conn.exec_driver_sql("ANALYZE")
                conn.commit()

    def dispose(self) -> None:
        self.engine.dispose()


_databases: dict[str, Database] = {}
_lock = threading.Lock()


def get_database(url: str | None = None) -> Database:
    """One ``Database`` per URL for the whole process (the app's sessions share the pool)."""
    settings = load_settings()
    key = normalise_url(url or settings.database_url)
    with _lock:
        if key not in _databases:
            _databases[key] = Database(key, settings.db_pool_size)
        return _databases[key]
