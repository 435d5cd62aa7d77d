"""SQLite (the embedded default): the database file read-only, the disk full. The user gets a
French message fit for the IT team (``DatabaseReadOnly``, ``DatabaseFull``), nothing is
half-written, ``PRAGMA integrity_check`` stays ``ok``, and the app works again, on the same
``Database`` object, as soon as the condition is lifted.

These tests run in both passes of the suite (SQLite and PostgreSQL): each one works on its own
SQLite file, a copy of a world built once for the module, whatever the session's database.

How the faults are made (the tests run as root: a ``chmod`` would not stop a write):
- read-only: while on, the engine's connections open the file with ``mode=ro`` (a
  ``do_connect`` listener) – what SQLite itself does with a file the system does not let
  the process write (it falls back to reading only, then every write fails with « attempt to
  write a readonly database »); the URL form ``sqlite:///file:…?mode=ro&uri=true`` too;
- disk full: while on, ``PRAGMA max_page_count`` is set to the file's current size on every
  connection taken from the pool, so that any write needing a new page fails with
  SQLITE_FULL (« database or disk is full »), as on a full disk.
"""

from __future__ import annotations

import logging
import re
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from registre import dossiers, queries, timeutil
from registre.db import Database, get_database
from registre.errors import DatabaseFull, DatabaseReadOnly
from registre.migrate import upgrade
from registre.models import Dossier, DossierState, LineState

from . import apptest_helpers
from .apptest_helpers import REFUS, click, errors, open_page, page_text, widget
from .conftest import FakeClock
from .factories import World, build_world
from .readers import counts, lines_of, load

_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
# Two long free texts (2,000 characters each, two bytes each in UTF-8): the dossier's row and
# its audit entry need new pages of the file, which a full disk refuses.
LONG = "é" * 2000


class FileFaults:
    """Read-only file and full disk, switched on and off under a running engine."""

    def __init__(self, db: Database, path: Path) -> None:
        self.path = path
        self.readonly = False
        self.full = False
        self._default_max: int | None = None
        event.listen(db.engine, "do_connect", self._connect)
        event.listen(db.engine, "checkout", self._checkout)

    def _connect(self, _dialect: Any, _record: Any, _cargs: Any, cparams: Any) -> Any:
        if self.readonly:
            return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, **cparams)
        return None

    def _checkout(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if self._default_max is None:
                self._default_max = cursor.execute("PRAGMA max_page_count").fetchone()[0]
            if self.full:
                pages = cursor.execute("PRAGMA page_count").fetchone()[0]
                cursor.execute(f"PRAGMA max_page_count = {pages}")
            else:
                cursor.execute(f"PRAGMA max_page_count = {self._default_max}")
        finally:
            cursor.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, World]:
    """The world built once on an SQLite file of its own."""
    path = tmp_path_factory.mktemp("fault-sqlite") / "template.sqlite3"
    url = f"sqlite:///{path}"
    upgrade(url)
    db = Database(url)
    timeutil.set_clock(FakeClock(_start()))
    try:
        world = build_world(db)
    finally:
        timeutil.set_clock(None)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path, world


def _start():
    from datetime import UTC, datetime

    return datetime(2026, 11, 26, 2, 15, tzinfo=UTC)  # as the clock fixture


@pytest.fixture
def sqlite_file(template: tuple[Path, World], tmp_path: Path) -> Path:
    path = tmp_path / "registre.sqlite3"
    shutil.copyfile(template[0], path)
    return path


@pytest.fixture
def sqlite_world(
    template: tuple[Path, World], sqlite_file: Path, clock: FakeClock
) -> Iterator[World]:
    """The world on a fresh copy of the template, through a ``Database`` of its own (no
    connection open yet)."""
    db = Database(f"sqlite:///{sqlite_file}")
    yield replace(template[1], db=db)
    db.dispose()


@pytest.fixture
def faults(sqlite_world: World, sqlite_file: Path) -> FileFaults:
    return FileFaults(sqlite_world.db, sqlite_file)


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


@contextmanager
def writes_of_each_transaction(db: Database) -> Iterator[list[int]]:
    """The number of write statements each transaction sent (a failing one included)."""
    seen: list[int] = []

    def begin(_conn: Any) -> None:
        seen.append(0)

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if _WRITE.match(statement) and seen:
            seen[-1] += 1

    event.listen(db.engine, "begin", begin)
    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "begin", begin)


def _logged(caplog: pytest.LogCaptureFixture, *parts: str) -> bool:
    return any(
        r.name == "registre.db"
        and r.levelno == logging.ERROR
        and all(p in r.getMessage() for p in parts)
        for r in caplog.records
    )


def _numbers(world: World) -> list[str]:
    with world.db.read() as s:
        return list(s.scalars(select(Dossier.number).order_by(Dossier.id)))


def _long_input(world: World, **overrides: Any) -> dossiers.DossierInput:
    return world.dossier_input(impact=True, impact_description=LONG, comments=LONG, **overrides)


def _draft_state(world: World, dossier_id: int) -> tuple[Any, ...]:
    dossier = load(world, dossier_id)
    return (
        dossier.state,
        dossier.version,
        dossier.comments,
        [ln.state for ln in lines_of(world, dossier_id)],
    )


# --- read-only ------------------------------------------------------------------------------


def test_a_read_only_file_refuses_writes_in_french_then_works_once_writable(
    sqlite_world, sqlite_file, faults, caplog
):
    world = sqlite_world
    draft = world.draft(lines=("ref",), final_destination_id=world.destination["Décédé"])
    world.db.engine.dispose()  # the app starts (again) on a file it may not write
    faults.readonly = True
    actor = world.actor("declarant_req")
    before, before_draft = counts(world), _draft_state(world, draft.id)
    # Reading works: the registry can still be consulted.
    assert queries.get_dossier(world.db, actor, dossier_id=draft.id).state is DossierState.DRAFT
    with pytest.raises(DatabaseReadOnly) as created:
        dossiers.create_draft(world.db, actor, world.dossier_input())
    with pytest.raises(DatabaseReadOnly) as finalised:
        dossiers.finalise(world.db, actor, draft.id)
    for caught in (created, finalised):
        assert caught.value.message.startswith("La base de données est en lecture seule")
        assert "service informatique" in caught.value.message
    assert _logged(caplog, "écriture", "attempt to write a readonly database")
    assert counts(world) == before and _draft_state(world, draft.id) == before_draft
    assert integrity(sqlite_file) == "ok"
    # The IT team makes the file writable: the same Database object works, no restart.
    faults.readonly = False
    ref = dossiers.create_draft(world.db, actor, world.dossier_input())
    assert ref.number == "R-2026-000002"  # the refused creation consumed no number
    assert dossiers.finalise(world.db, actor, draft.id).state is DossierState.FINALISED
    assert integrity(sqlite_file) == "ok"


def test_a_read_only_sqlite_uri_reads_and_refuses_writes(sqlite_world, sqlite_file, tmp_path):
    """``sqlite:///file:…?mode=ro&uri=true`` (a read-only copy for consultation): no directory
    named after the URI is created, reads work, writes get the French message."""
    world = sqlite_world
    draft = world.draft()
    readonly = Database(f"sqlite:///file:{sqlite_file}?mode=ro&uri=true")
    try:
        actor = world.actor("declarant_req")
        view = queries.get_dossier(readonly, actor, dossier_id=draft.id)
        assert view.state is DossierState.DRAFT
        with pytest.raises(DatabaseReadOnly):
            dossiers.create_draft(readonly, actor, world.dossier_input())
    finally:
        readonly.dispose()
    assert not (Path.cwd() / "file:").exists()
    assert _numbers(world) == [draft.number]
    assert integrity(sqlite_file) == "ok"


# --- disk full ------------------------------------------------------------------------------


def _create(world: World, _draft_id: int) -> Any:
    return dossiers.create_draft(world.db, world.actor("declarant_req"), _long_input(world))


def _finalise(world: World, draft_id: int) -> Any:
    data = _long_input(world, final_destination_id=world.destination["Décédé"])
    return dossiers.finalise(world.db, world.actor("declarant_req"), draft_id, data=data)


@pytest.mark.parametrize("action", [_create, _finalise], ids=["create", "finalise"])
def test_a_full_disk_stops_the_action_whole_then_it_works_once_space_is_freed(
    sqlite_world, sqlite_file, faults, caplog, action
):
    world = sqlite_world
    draft = world.draft(lines=("ref",))
    before, before_draft = counts(world), _draft_state(world, draft.id)
    faults.full = True
    with writes_of_each_transaction(world.db) as writes, pytest.raises(DatabaseFull) as caught:
        action(world, draft.id)
    # The creation: the number taken (a write), then the dossier refused. The finalisation:
    # its first write, the dossier with its texts, refused.
    assert writes[-1] == (2 if action is _create else 1), writes
    assert caught.value.message.startswith("Le disque de la base de données est plein")
    assert "service informatique" in caught.value.message
    assert _logged(caplog, "écriture", "database or disk is full")
    assert counts(world) == before and _draft_state(world, draft.id) == before_draft
    assert _numbers(world) == [draft.number]
    assert integrity(sqlite_file) == "ok"
    # Space freed: the same Database object, the same action, done whole.
    faults.full = False
    action(world, draft.id)
    assert integrity(sqlite_file) == "ok"
    if action is _create:
        assert _numbers(world) == [draft.number, "R-2026-000002"]
    else:
        assert load(world, draft.id).state is DossierState.FINALISED
        assert [ln.state for ln in lines_of(world, draft.id)] == [LineState.AWAITING]


# --- page level -----------------------------------------------------------------------------


@pytest.fixture
def sqlite_app(
    monkeypatch: pytest.MonkeyPatch, sqlite_file: Path, sqlite_world: World
) -> Iterator[tuple[World, FileFaults]]:
    """The app on this test's SQLite file (whatever the session's database), its Database
    (the one the pages use) under the faults."""
    url = f"sqlite:///{sqlite_file}"
    apptest_helpers._environment(monkeypatch, url)
    real_init = apptest_helpers.PagesManager.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        apptest_helpers.PagesManager.uses_pages_directory = False  # as app_env does

    monkeypatch.setattr(apptest_helpers.PagesManager, "__init__", init)
    app_db = get_database(url)
    try:
        yield sqlite_world, FileFaults(app_db, sqlite_file)
    finally:
        from registre import db as registre_db

        registre_db._databases.pop(app_db.url, None)
        app_db.dispose()


def test_a_full_disk_during_a_page_action_shows_french_then_the_next_click_works(
    sqlite_app, sqlite_file
):
    world, faults = sqlite_app
    draft = world.draft(lines=("ref",))
    app = open_page(REFUS, "declarant-req", id=str(draft.id))
    widget(app.selectbox, "Destination finale du patient").select(world.destination["Décédé"])
    [comments] = [t for t in app.text_area if t.key == f"d{draft.id}-commentaires"]
    comments.input(LONG)
    faults.full = True
    app = click(app, "Finaliser le dossier")
    assert not app.exception, app.exception
    [message] = errors(app)
    assert message.startswith("Le disque de la base de données est plein")
    assert "sqlite" not in page_text(app).lower()
    assert load(world, draft.id).state is DossierState.DRAFT
    assert integrity(sqlite_file) == "ok"
    faults.full = False
    app = click(app, "Finaliser le dossier")  # the form is still filled in
    assert not app.exception, app.exception
    assert errors(app) == []
    finalised = load(world, draft.id)
    assert (finalised.state, finalised.comments) == (DossierState.FINALISED, LONG)
