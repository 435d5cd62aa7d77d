"""``make bench`` still runs end to end (a smoke run: a few hundred dossiers on SQLite and a
few seconds of each measure, ``--quick``), so that the script cannot rot: every row of the
table is there with a number, and nothing failed."""

from __future__ import annotations

import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from benchmarks import bench


def test_make_bench_prints_its_table(tmp_path, capsys):
    if not shutil.which("nginx") and not os.path.exists("/usr/sbin/nginx"):
        if os.environ.get("REGISTRE_CI_STRICT"):
            pytest.fail("nginx is missing (apt-get install nginx): the bench's scale-out row")
        pytest.skip("nginx is missing (apt-get install nginx)")
    url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    argv = ["--database-url", url, "--dossiers", "200", "--small", "80", "--quick"]
    # In a thread of its own: in the whole suite, the browser tests' Playwright keeps an
    # event loop running in this one, and the driver calls asyncio.run.
    with ThreadPoolExecutor(max_workers=1) as pool:
        code = pool.submit(bench.main, argv).result()
    out = capsys.readouterr().out
    assert code == 0
    table = [line for line in out.splitlines() if line.startswith("| ")]
    measures = [line.split("|")[1].strip() for line in table[1:]]
    expected = [
        "génération : 200 dossiers",
        "plancher : st.write('ok')",
        "page Registre, relance, 1 session, p50 (200 dossiers)",
        "page Registre, p50 à 200 / p50 à 80 dossiers",
        "page Statistiques, ARS région, 12 mois, sans cache, p95",
        "page Statistiques, ARS, relance en cache, p50",
        "mémoire du serveur, 0 session",
        "mémoire, 2 sessions inactives",
        "mémoire, 4 sessions inactives",
        "mémoire après 6 sessions ouvertes et fermées",
        "3 sessions, réflexion 0.2 s, page Registre, p95, 1 processus",
        "3 sessions : ouverture d'un dossier, p95",
        "débit via nginx, 3 sessions, réflexion 0.2 s, 1 processus",
        "débit via nginx, 3 sessions, réflexion 0.2 s, 2 processus",
        "débit 2 processus / 1 processus",
        "3 sessions, réflexion 0.2 s, page Registre, p95, 2 processus derrière nginx",
    ]
    assert len(measures) == len(expected), measures
    for measure, start in zip(measures, expected, strict=True):
        assert measure.startswith(start), (measure, start)
    for line in table[2:]:
        value = line.split("|")[2]
        assert re.search(r"\d", value), line
        assert "erreurs" not in value, line  # « 0 erreur » only
    assert re.search(r"^cibles tenues : \d+ sur 9$", out, re.MULTILINE)
    # The generated databases are there for the next run (reused, not regenerated).
    assert (tmp_path / "bench.sqlite3").exists() and (tmp_path / "bench_small.sqlite3").exists()
