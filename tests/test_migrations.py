"""Alembic: up, down and up again on an empty database; the models match the migrations."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import MetaData, create_engine, inspect, select

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


def test_0002_backfills_the_paris_day_weekday_and_hour(tmp_path):
    """Dossiers stored before 0002 get the Paris day, weekday and hour of their request,
    not the UTC ones: summer time and a day that differs from the UTC day."""
    url = _url(tmp_path)
    try:
        upgrade(url, "0001")
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        meta = MetaData()
        meta.reflect(engine)
        t = meta.tables
        created = datetime(2026, 11, 1, 12, 0)
        with engine.begin() as conn:
            conn.execute(
                t["establishments"].insert(),
                [{"id": 1, "finess": "910020254", "name": "CHSF", "departement": "91"}],
            )
            conn.execute(
                t["services"].insert(), [{"id": 1, "establishment_id": 1, "name": "Urgences"}]
            )
            conn.execute(t["specialties"].insert(), [{"id": 1, "label": "Neurochirurgie"}])
            conn.execute(t["request_motifs"].insert(), [{"id": 1, "label": "Avis spécialisé"}])
            conn.execute(
                t["accounts"].insert(),
                [
                    {
                        "id": 1,
                        "username": "coordinateur",
                        "display_name": "Coordinateur",
                        "email": "pdses@example.org",
                        "role": "coordinateur",
                        "establishment_id": 1,
                        "password_hash": "x",
                        "created_at": created,
                    }
                ],
            )
            common = {
                "state": "finalise",
                "version": 1,
                "requesting_establishment_id": 1,
                "requesting_service_id": 1,
                "specialty_id": 1,
                "in_pdses_hours": True,
                "age_band": "18_64",
                "request_motif_id": 1,
                "urgency": "urgence",
                "impact": False,
                "created_by_id": 1,
                "created_at": created,
                "updated_at": created,
            }
            conn.execute(
                t["dossiers"].insert(),
                [
                    # 01:30 UTC on the night summer time starts: 03:30 in Paris, a Sunday.
                    {
                        **common,
                        "id": 1,
                        "number": "R-2026-000001",
                        "requested_at": datetime(2026, 3, 29, 1, 30),
                    },
                    # 22:30 UTC on Saturday 24 October: already Sunday 25, 00:30 in Paris.
                    {
                        **common,
                        "id": 2,
                        "number": "R-2026-000002",
                        "requested_at": datetime(2026, 10, 24, 22, 30),
                    },
                    # 23:30 UTC in winter: 00:30 on Thursday 26 November in Paris.
                    {
                        **common,
                        "id": 3,
                        "number": "R-2026-000003",
                        "requested_at": datetime(2026, 11, 25, 23, 30),
                    },
                ],
            )
        engine.dispose()
        upgrade(url)
        check(url)
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        meta = MetaData()
        meta.reflect(engine)
        dossiers = meta.tables["dossiers"]
        with engine.connect() as conn:
            got = conn.execute(
                select(
                    dossiers.c.id,
                    dossiers.c.requested_day,
                    dossiers.c.requested_weekday,
                    dossiers.c.requested_hour,
                ).order_by(dossiers.c.id)
            ).all()
        nullable = {c["name"]: c["nullable"] for c in inspect(engine).get_columns("dossiers")}
        engine.dispose()
        assert [tuple(r) for r in got] == [
            (1, date(2026, 3, 29), 6, 3),
            (2, date(2026, 10, 25), 6, 0),
            (3, date(2026, 11, 26), 3, 0),
        ]
        for name in ("requested_day", "requested_weekday", "requested_hour"):
            assert nullable[name] is False, name
    finally:
        if PG_URL:
            _drop_postgres_database(url)
