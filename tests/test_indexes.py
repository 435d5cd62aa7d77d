"""The two hot lists are served by their indexes, not by a table scan (issue 2, §3):
« latest dossiers of establishment X » and « lines awaiting the answer of establishment Y ».
PostgreSQL is told not to prefer a sequential scan on these tiny test tables."""

from __future__ import annotations

from sqlalchemy import select, text

from registre.models import Dossier, LineState, RefuserLine


def _plan(db, query) -> str:
    with db.engine.connect() as conn:
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        if db.engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            rows = conn.execute(text(f"EXPLAIN {compiled}")).all()
        else:
            rows = conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    return "\n".join(" ".join(str(c) for c in row) for row in rows)


def test_latest_dossiers_of_an_establishment_use_their_index(world):
    world.draft("declarant_req")
    query = (
        select(Dossier.id)
        .where(Dossier.requesting_establishment_id == world.est["req"])
        .order_by(Dossier.requested_at.desc())
        .limit(20)
    )
    assert "ix_dossiers_requester_latest" in _plan(world.db, query)


def test_lines_awaiting_an_establishment_use_their_index(world):
    world.finalised(lines=("ref",))
    query = (
        select(RefuserLine.id)
        .where(
            RefuserLine.refusing_establishment_id == world.est["ref"],
            RefuserLine.state == LineState.AWAITING,
        )
        .order_by(RefuserLine.notified_at.desc())
        .limit(20)
    )
    assert "ix_refuser_lines_refuser_state" in _plan(world.db, query)


def test_optimize_gives_sqlite_planner_statistics(world):
    """Without them SQLite drives a refuser's statistics from the wrong index (measured 10×
    slower at a million dossiers); PostgreSQL's autovacuum keeps its own."""
    world.finalised()
    world.db.optimize()
    if world.db.is_sqlite:
        with world.db.engine.connect() as conn:
            tables = set(conn.exec_driver_sql("SELECT tbl FROM sqlite_stat1").scalars())
        assert {"dossiers", "refuser_lines"} <= tables
