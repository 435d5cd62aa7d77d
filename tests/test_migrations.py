"""Alembic: up, down and up again on an empty database; the models match the migrations."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect

from registre.migrate import check, downgrade, upgrade
from registre.models import Base

from .conftest import PG_URL, _drop_postgres_database, _fresh_postgres_database


def _url(tmp_path):
    return _fresh_postgres_database(PG_URL) if PG_URL else f"sqlite:///{tmp_path / 'm.sqlite3'}"


def test_upgrade_downgrade_upgrade_and_check(tmp_path):
    url = _url(tmp_path)
    try:
        upgrade(url)
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        check(url)  # raises when models and migrations disagree
        downgrade(url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(url)
        check(url)
        engine.dispose()
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        indexes = {ix["name"] for ix in inspect(engine).get_indexes("dossiers")}
        assert "ix_dossiers_requester_latest" in indexes
        line_indexes = {ix["name"] for ix in inspect(engine).get_indexes("refuser_lines")}
        assert "ix_refuser_lines_refuser_state" in line_indexes
        engine.dispose()
    finally:
        if PG_URL:
            _drop_postgres_database(url)
