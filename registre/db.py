"""Engine and transactions.

SQLite is the embedded default (a file under ``./data/``); PostgreSQL in production. The
URL comes from ``REGISTRE_DATABASE_URL``. Every write of the application happens inside
``Database.transaction()``: one database transaction per user action, so that the change,
its audit entries and its outbox mails are committed together or not at all.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from registre.config import DEFAULT_POOL_SIZE, load_settings
from registre.errors import (
    DATABASE_CUT_AT_COMMIT,
    DATABASE_UNREACHABLE,
    DATABASE_UNREACHABLE_WRITE,
    DatabaseFull,
    DatabaseReadOnly,
    DatabaseUnavailable,
)

logger = logging.getLogger(__name__)

# SQLite's primary result codes (the low byte of ``sqlite3.Error.sqlite_errorcode``).
_SQLITE_READONLY = 8  # "attempt to write a readonly database"
_SQLITE_FULL = 13  # "database or disk is full"
# PostgreSQL's SQLSTATEs: a standby answering after a failover; no space left for the data.
_PG_READ_ONLY = "25006"
_PG_DISK_FULL = "53100"


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


def _is_read_only(error: BaseException | None) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF == _SQLITE_READONLY:
        return True
    return getattr(error, "sqlstate", None) == _PG_READ_ONLY


def _read_only_is_a_disconnect(context: Any) -> None:
    # A PostgreSQL connection to a server turned standby stays there; an SQLite connection
    # opened on a file the process could not write stays read-only. A "disconnect" makes
    # SQLAlchemy drop this connection and the pool's others, so that, once the IT team has
    # fixed it, the next action gets new ones.
    if _is_read_only(context.original_exception):
        context.is_disconnect = True


def _sqlite_read_only_recovery(engine: Engine) -> None:
    """SQLite opens a file the process may not write for reading only, silently: the reads
    of the pages go on, each write fails. The connections opened meanwhile (by reads) are
    not kept in the pool, so that the first action after the rights are fixed writes; the
    first commit that goes through ends this."""
    read_only = threading.Event()

    def error(context: Any) -> None:
        if _is_read_only(context.original_exception):
            read_only.set()

    def checkin(dbapi_connection: Any, record: Any) -> None:
        if read_only.is_set() and dbapi_connection is not None:
            record.invalidate(soft=True)  # closed and reopened at its next checkout

    def commit(_conn: Any) -> None:
        read_only.clear()

    event.listen(engine, "handle_error", error)
    event.listen(engine, "checkin", checkin)
    event.listen(engine, "commit", commit)


def make_engine(url: str, pool_size: int = DEFAULT_POOL_SIZE) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # ``sqlite:///file:…?mode=ro&uri=true``: an SQLite URI (read-only here), no directory.
        is_uri = parsed.query.get("uri") in ("true", "1")
        if parsed.database and parsed.database != ":memory:" and not is_uri:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; emit it ourselves so that a
        # transaction really starts where SQLAlchemy thinks it does.
        event.listen(engine, "begin", _sqlite_begin)

        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        event.listen(engine, "handle_error", _read_only_is_a_disconnect)
        _sqlite_read_only_recovery(engine)
        return engine
    # JIT compilation costs more than it saves on the statistics' queries (measured at a
    # million dossiers: about a second per page, benchmarks/statistics.py).
    # A connection opened beyond ``pool_size`` (the overflow) is closed as soon as it is
    # returned: under load (100 users, make bench) the constant new connections, each a new
    # PostgreSQL backend, took the CPUs with 5; ``REGISTRE_DB_POOL_SIZE`` (10) sets the
    # connections kept per process. The overflow stays, for bursts (never a wait, so never a
    # deadlock of a thread that would hold one connection and ask for another).
    # A restart of the server: the connection that meets it is invalidated with the whole
    # pool (SQLAlchemy's disconnect handling) and ``pool_pre_ping`` checks every connection
    # taken from the pool, so the next action reconnects (tests/test_fault_database.py).
    engine = create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=10,
        connect_args={"options": "-c jit=off"},
    )
    event.listen(engine, "handle_error", _read_only_is_a_disconnect)
    return engine


def database_fault(
    exc: BaseException, *, writing: bool, committing: bool = False
) -> DatabaseUnavailable | None:
    """The French error for a database that cannot be reached or cannot write (a restart,
    a cut connection, a refused connection, a read-only file, a full disk, a lock held too
    long), or None for anything else (a constraint, a bug: raised as is). The technical
    cause is logged for the IT team (the statement, never its parameters)."""
    if isinstance(exc, sa_exc.TimeoutError):  # no connection of the pool came free in time
        fault: DatabaseUnavailable = DatabaseUnavailable(
            DATABASE_UNREACHABLE_WRITE if writing else DATABASE_UNREACHABLE
        )
        logger.error("Base de données : pas de connexion libre à temps (%s).", exc)
        return fault
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    orig = exc.orig
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    primary = sqlite_code & 0xFF if isinstance(sqlite_code, int) else None
    sqlstate = getattr(orig, "sqlstate", None)
    if primary == _SQLITE_READONLY or sqlstate == _PG_READ_ONLY:
        fault = DatabaseReadOnly()
    elif primary == _SQLITE_FULL or sqlstate == _PG_DISK_FULL:
        fault = DatabaseFull()
    elif (
        isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
        or exc.connection_invalidated
    ):
        if committing:
            # The COMMIT may have reached the server before the cut: the user checks.
            fault = DatabaseUnavailable(DATABASE_CUT_AT_COMMIT)
        else:
            fault = DatabaseUnavailable(
                DATABASE_UNREACHABLE_WRITE if writing else DATABASE_UNREACHABLE
            )
    else:
        return None
    statement = " ".join((exc.statement or "").split())[:200]
    logger.error(
        "Base de données indisponible (%s%s) : %s: %s%s",
        "écriture" if writing else "lecture",
        ", pendant le COMMIT" if committing else "",
        type(orig).__name__,
        str(orig).strip(),
        f" — requête : {statement}" if statement else "",
    )
    return fault


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
        """A session whose work is committed on success and rolled back on any error. A
        database that cannot be reached or cannot write raises ``DatabaseUnavailable`` (a
        French message); the pool drops the dead connections, so the next call reconnects."""
        committing = False
        try:
            with self._sessions() as session, session.begin():
                session.connection(execution_options={"registre_write": True})
                yield session
                committing = True
        except (sa_exc.DBAPIError, sa_exc.TimeoutError) as exc:
            fault = database_fault(exc, writing=True, committing=committing)
            if fault is None:
                raise
            raise fault from exc

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads only: nothing is committed; closing it ends the transaction
        without expiring what was loaded. Faults of the database as in ``transaction``."""
        try:
            with self._sessions() as session:
                yield session
        except (sa_exc.DBAPIError, sa_exc.TimeoutError) as exc:
            fault = database_fault(exc, writing=False)
            if fault is None:
                raise
            raise fault from exc

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
