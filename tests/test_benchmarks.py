"""The statistics benchmark still runs (a smoke test with a few hundred dossiers, so that the
script cannot rot): it fills the database and prints a timing for every aggregate."""

from __future__ import annotations

import re

from sqlalchemy import create_engine, func, select

from benchmarks import statistics as bench
from registre.models import Dossier, DossierState, LineState, RefuserLine

DOSSIERS = 300


def test_the_statistics_benchmark_fills_and_times_every_aggregate(tmp_path, capsys):
    path = tmp_path / "bench.sqlite3"
    code = bench.main(
        [
            "--dossiers",
            str(DOSSIERS),
            "--database-url",
            f"sqlite:///{path}",
            "--repeat",
            "1",
            "--batch-size",
            "128",
            "--keep",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0

    for case in bench.CASES:
        expected = [name for name, _ in bench.aggregates(case.perspective)]
        expected += ["compute (cold)", "compute (warm, cached)", "page (cold)", "page (warm)"]
        expected += ["export_tables", "to_xlsx (all sheets)"]
        for measure in expected:
            row = rf"^{re.escape(case.name)}\s.*\s{re.escape(measure)}\s+\d+\.\d\s+\d+\.\d"
            assert re.search(row, out, re.MULTILINE), f"no timing of {measure} for {case.name}"
    assert f"Fill: {DOSSIERS:_} dossiers" in out
    assert "EXPLAIN QUERY PLAN of the figures query" in out
    assert "Slowest cold page:" in out

    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Dossier.__table__)) == DOSSIERS
        states = dict(
            conn.execute(
                select(Dossier.__table__.c.state, func.count()).group_by(Dossier.__table__.c.state)
            ).all()
        )
        assert set(states) <= {DossierState.FINALISED.value, DossierState.DRAFT.value}
        line_states = set(conn.scalars(select(RefuserLine.__table__.c.state).distinct()))
        assert line_states <= {s.value for s in LineState}
        numbers = conn.scalar(select(func.count(func.distinct(Dossier.__table__.c.number))))
        assert numbers == DOSSIERS
    engine.dispose()
