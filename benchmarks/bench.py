"""``make bench``: the performance targets of issue 7, measured on a generated registry, in
one table.

    .venv/bin/python -m benchmarks.bench                     # PostgreSQL, 1,000,000 dossiers
    .venv/bin/python -m benchmarks.bench --fresh             # regenerate the databases
    .venv/bin/python -m benchmarks.bench --database-url sqlite:////tmp/bench/registre.sqlite3

What it does, in order (progress on stderr, the table on stdout):

1. Two databases (``benchmarks.statistics``'s generator, bulk ``INSERT``s): the large one
   (``--dossiers``, 1,000,000 by default; on PostgreSQL ``registre_bench``) and a small one
   (``--small``, 10,000: ``registre_bench_small``) to show that a page's cost does not grow with
   the registry. A database that already holds its dossiers is reused (generated data is
   never committed; ``--fresh`` regenerates, ``--drop`` removes both at the end).
2. Servers started here, ``streamlit run`` with the project's settings, background duties off
   (``REGISTRE_BACKGROUND=0``: the reminders of a generated registry would be mailed during
   the timings); the floor page ``benchmarks/floor/streamlit_app.py`` (``st.write("ok")``).
3. The measures of ``benchmarks.load`` (websocket users; the accounts are the generator's:
   a Référent PDSES of Henri-Mondor for the registry, the whole-region ARS for the
   statistics, the Coordinateur PDSES of Henri-Mondor in the mixed journey), each after a
   warm-up round:

   - the floor's rerun, one user;
   - the registry page's rerun, one user, on the large then the small database;
   - the ARS's statistics page over the default 12 months, one user, uncached
     (``REGISTRE_STATISTICS_CACHE_SECONDS=0``: every run computes as a first one), then cached;
   - the resident memory with 0, 50 and 200 idle users, and after 1,000 more opened and closed;
   - ``--sessions`` users (100) with a ``--think`` time (5 s): the registry journey (the
     registry page, then a dossier);
   - through nginx (Debian's package, the upstream of ``deploy/nginx/registre.conf``: sticky
     by the ``registre_route`` cookie, ``hash … consistent``; plain HTTP on loopback), the
     mixed journey's throughput with one app process, then with two, and the ``--sessions``
     users again with two.

Everything started is stopped at the end. On this 2-CPU machine the driver, PostgreSQL, nginx
and the app processes share the CPUs: the driver's own parsing is part of every number.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a file: its folder must not shadow the standard library
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import asyncio
import contextlib
import math
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from benchmarks import load
from benchmarks import statistics as gen
from registre.db import Database, normalise_url
from registre.migrate import upgrade
from registre.models import Role
from registre.seed_data import ESTABLISHMENTS

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432"
SMALL_SUFFIX = "_small"
REFERENT = f"bench-referent-{gen.COORDINATOR_FINESS}"  # Hôpital Henri-Mondor
USERNAMES = {
    "referent": REFERENT,
    "registre": REFERENT,
    "coordinateur": "bench-coordinateur",
    "ars": "bench-ars",
}
# The many users log in with accounts of their own (one account for all would make their
# logins wait for each other: a login writes the account's row).
CROWD = {
    "referent": "bench-referent-{n}",
    "registre": "bench-referent-{n}",
    "coordinateur": "bench-coordinateur-{n}",
    "ars": "bench-ars-{n}",
}
CROWD_ACCOUNTS = 100


def crowd_accounts(url: str, count: int) -> None:
    """``count`` accounts per profile of ``CROWD``, like the generator's own (Henri-Mondor's
    Référent PDSES and Coordinateur PDSES, the whole region's ARS); kept between runs."""
    first_service = next(
        e["services"][0] for e in ESTABLISHMENTS if e["finess"] == gen.COORDINATOR_FINESS
    )
    specs = [
        gen.BenchAccount(template.replace("{n}", str(n)), role, finess, service)
        for n in range(1, count + 1)
        for template, role, finess, service in (
            (CROWD["referent"], Role.REFERENT, gen.COORDINATOR_FINESS, first_service),
            (CROWD["coordinateur"], Role.COORDINATEUR, gen.COORDINATOR_FINESS, None),
            (CROWD["ars"], Role.ARS, None, None),
        )
    ]
    db = Database(url)
    try:
        with db.transaction() as session:
            gen.create_accounts(session, specs)
    finally:
        db.dispose()


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the table --------------------------------------------------------------------------------


@dataclass
class Row:
    measure: str
    value: str
    target: str = ""
    holds: bool | None = None  # None: no target, or not measured

    def cells(self) -> tuple[str, str, str, str]:
        verdict = {True: "oui", False: "NON", None: ""}[self.holds]
        return self.measure, self.value, self.target, verdict


def format_rows(title: str, rows: Sequence[Row]) -> str:
    header = ("mesure", "valeur", "cible", "tenue")
    cells = [header, *(row.cells() for row in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]

    def line(c: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([title, "", line(header), rule, *(line(c) for c in cells[1:])])


def ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.1f} ms".replace(",", " ")


def p(recorder: load.Recorder, step: str, q: float) -> float:
    return load.percentile(recorder.samples.get(step, []), q)


def errors(recorder: load.Recorder) -> str:
    total = recorder.total_errors()
    if not total:
        return "0 erreur"
    kinds = ", ".join(
        f"{step}/{kind} ×{count}"
        for step, counter in recorder.errors.items()
        for kind, count in counter.items()
    )
    return f"{total} erreurs ({kinds})"


# --- databases --------------------------------------------------------------------------------


@dataclass
class Prepared:
    url: str
    description: str
    dossiers: int
    filled: gen.Filled
    drop: Callable[[], None]


def database_urls(url: str) -> tuple[str, str]:
    """The large and the small database of ``url``: on PostgreSQL ``registre_bench`` and
    ``registre_bench_small`` (or the name given, and that name + ``_small``); on SQLite the
    file given and the same name + ``_small`` beside it."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        if not parsed.database or parsed.database == ":memory:":
            raise SystemExit("SQLite: give a file, e.g. sqlite:////tmp/bench/registre.sqlite3")
        small = path.with_name(f"{path.stem}{SMALL_SUFFIX}{path.suffix}")
        return str(parsed.set(database=str(path))), str(parsed.set(database=str(small)))
    name = parsed.database if parsed.database not in (None, "", "postgres") else None
    name = name or gen.PG_DEFAULT_DATABASE
    return (
        parsed.set(database=name).render_as_string(hide_password=False),
        parsed.set(database=name + SMALL_SUFFIX).render_as_string(hide_password=False),
    )


def prepare(url: str, dossiers: int, *, fresh: bool, seed: int) -> Prepared:
    """The database at ``url`` holding ``dossiers`` generated dossiers (reused when it holds
    them already, unless ``fresh``), analysed."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        path.parent.mkdir(parents=True, exist_ok=True)
        if fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    target = gen.prepare_database(url, reuse=not fresh)
    upgrade(target.url)
    db = Database(target.url)
    try:
        ref = gen.load_reference(db)
        present = gen.dossier_count(db)
        if present and present != dossiers:
            raise SystemExit(
                f"{target.description} holds {present:_} dossiers, not {dossiers:_}: "
                "pass --fresh to regenerate it."
            )
        filled = gen.populate(
            db,
            ref,
            dossiers,
            max(1, int(dossiers * gen.REPORTS_PER_DOSSIER)),
            seed=seed,
            batch_size=gen.DEFAULT_BATCH,
            reuse=True,
        )
        gen.analyse(db, sqlite_too=True)
    finally:
        db.dispose()
    return Prepared(target.url, target.description, dossiers, filled, target.cleanup)


def database_version(url: str) -> str:
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            if db.engine.dialect.name == "postgresql":
                return "PostgreSQL " + str(conn.scalar(text("SHOW server_version"))).split(" ")[0]
            return "SQLite " + str(conn.scalar(text("SELECT sqlite_version()")))
    finally:
        db.dispose()


# --- servers ----------------------------------------------------------------------------------


class Servers:
    """The processes started here, stopped in reverse order at the end."""

    def __init__(self, workdir: Path, options: Sequence[str]) -> None:
        self.workdir = workdir
        self.options = list(options)
        self.stack = contextlib.ExitStack()

    def app(self, database_url: str, **extra_env: str) -> load.Server:
        env = load.app_environment(database_url, self.workdir, gen.PASSWORD)
        env.update({"REGISTRE_BACKGROUND": "0", **extra_env})
        server = load.start_streamlit(
            load.APP_SCRIPT, env=env, options=self.options, workdir=self.workdir
        )
        self.stack.callback(load.stop_server, server)
        return server

    def floor(self) -> load.Server:
        server = load.start_streamlit(
            load.FLOOR_SCRIPT, env=dict(os.environ), options=self.options, workdir=self.workdir
        )
        self.stack.callback(load.stop_server, server)
        return server

    def close(self) -> None:
        self.stack.close()


@contextlib.contextmanager
def started(make: Callable[[], load.Server]) -> Iterator[load.Server]:
    """A server for one measure only (the CPUs are few: no idle server beside it)."""
    server = make()
    try:
        yield server
    finally:
        load.stop_server(server)


NGINX_CONF = """\
{user}worker_processes 2;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    # As deploy/nginx/registre.conf: sticky by the registre_route cookie (a new one per
    # request without it: the driver's users keep no cookie, each websocket lands anywhere).
    map $cookie_registre_route $registre_route {{
        ""      $request_id;
        default $cookie_registre_route;
    }}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ""      close;
    }}
    upstream registre_app {{
        hash $registre_route consistent;
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://registre_app;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 1h;
        }}
    }}
}}
"""


def start_nginx(
    workdir: Path, upstreams: Sequence[str], name: str
) -> tuple[str, Callable[[], None]]:
    """nginx in front of ``upstreams`` (``http://127.0.0.1:PORT``); returns its URL and how
    to stop it."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    folder = workdir / name
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        (folder / "tmp" / sub).chmod(0o777)  # nginx's workers run as nobody under root
    for path in (workdir, folder, folder / "tmp"):
        path.chmod(0o755)
    port = load.free_port()
    servers = "\n".join(
        f"        server {u.removeprefix('http://')} max_fails=1 fail_timeout=10s;"
        for u in upstreams
    )
    user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
    conf = folder / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user=user, dir=folder, servers=servers, port=port))
    command = [nginx, "-p", str(folder), "-e", str(folder / "nginx-error.log")]
    process = subprocess.Popen(
        [*command, "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=(folder / "nginx-stderr.log").open("wb"),
    )
    server = load.Server(f"http://127.0.0.1:{port}", process, folder / "nginx-stderr.log")
    try:
        load.wait_healthy(server, timeout=30)
    except BaseException:
        load.stop_server(server)
        raise
    return server.url, lambda: load.stop_server(server)


# --- measures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """How much of each measure (``--quick`` makes a smoke run of the same code)."""

    reruns: int = 100
    statistics_runs: int = 20
    sessions: int = 100
    think: float = 5.0
    duration: float = 90.0
    levels: tuple[int, ...] = (50, 200)
    churn: int = 1000
    settle: float = 5.0
    scale_sessions: int = 40
    scale_think: float = 1.0
    scale_duration: float = 60.0


QUICK = Plan(
    reruns=5,
    statistics_runs=3,
    sessions=3,
    think=0.2,
    duration=4.0,
    levels=(2, 4),
    churn=6,
    settle=0.5,
    scale_sessions=3,
    scale_think=0.2,
    scale_duration=3.0,
)


def drive(url: str, journey: str, *, think: float, crowd: bool = False, **kw: Any) -> load.Recorder:
    """``crowd``: each user logs in with an account of its own (``CROWD``)."""
    cfg = load.LoadConfig(
        url=url,
        journey=journey,
        think=think,
        password=gen.PASSWORD,
        usernames=CROWD if crowd else USERNAMES,
        accounts=CROWD_ACCOUNTS if crowd else 0,
        timeout=120.0,
        **kw,
    )
    asyncio.run(load.warm_up(cfg))
    recorder = asyncio.run(load.run_load(cfg))
    progress(load.format_table(recorder))
    return recorder


ONE_USER_PAUSE = 0.2
"""Seconds between one user's reruns. Back to back (under about 40 ms after the previous run
finished), every rerun of any page, the floor's too, takes 40 ms more on this machine: a
stall of the connection, not a cost of the page (the client's socket has ``TCP_NODELAY``;
not found on the server's side). No user clicks that fast."""


def one_user(url: str, journey: str, runs: int, *, floor: bool = False) -> load.Recorder:
    return drive(
        url, journey, think=ONE_USER_PAUSE, sessions=1, iterations=runs, ramp=0.0, floor=floor
    )


def ratio(value: float, base: float) -> float:
    return value / base if base and not math.isnan(base) else math.nan


def times(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f} ×"


def run(args: argparse.Namespace) -> tuple[list[Row], str]:
    """The rows of the table and the database's version."""
    plan = QUICK if args.quick else Plan(sessions=args.sessions, think=args.think)
    rows: list[Row] = []
    large_url, small_url = database_urls(args.database_url)
    with contextlib.redirect_stdout(sys.stderr):  # the generator's progress: not the table
        progress(f"Large database ({args.dossiers:_} dossiers)…")
        large = prepare(large_url, args.dossiers, fresh=args.fresh, seed=args.seed)
        progress(f"Small database ({args.small:_} dossiers)…")
        small = prepare(small_url, args.small, fresh=args.fresh, seed=args.seed)
    version = database_version(large.url)
    crowd_accounts(large.url, CROWD_ACCOUNTS)
    if large.filled.seconds:
        rows.append(
            Row(
                f"génération : {large.filled.dossiers:_} dossiers + {large.filled.lines:_} "
                "lignes de refus".replace("_", " "),
                f"{large.filled.seconds:.0f} s, "
                + f"{large.filled.rows_per_second:_.0f} lignes/s".replace("_", " "),
            )
        )
    else:
        rows.append(Row("génération", f"base réutilisée : {large.description}"))

    workdir = Path(tempfile.mkdtemp(prefix="registre-bench-"))
    servers = Servers(workdir, load.server_options(args.server_option))
    try:
        # 1. The floor and the registry page, one user.
        with started(servers.floor) as floor_server:
            progress("Floor: one user, reruns…")
            floor = one_user(floor_server.url, "mixed", plan.reruns, floor=True)
        floor_p50 = p(floor, "rerun", 50)
        rows.append(Row("plancher : st.write('ok'), relance, 1 session, p50", ms(floor_p50)))

        with started(lambda: servers.app(small.url)) as app:
            progress(f"Registry page on {small.dossiers:_} dossiers, one user…")
            small_run = one_user(app.url, "registry-page", plan.reruns)
        with started(lambda: servers.app(large.url)) as app:
            progress(f"Registry page on {large.dossiers:_} dossiers, one user…")
            large_run = one_user(app.url, "registry-page", plan.reruns)
        large_p50, small_p50 = p(large_run, "registre", 50), p(small_run, "registre", 50)
        rows.append(
            Row(
                f"page Registre, relance, 1 session, p50 ({large.dossiers:_} dossiers)".replace(
                    "_", " "
                ),
                f"{ms(large_p50)} = {times(ratio(large_p50, floor_p50))} le plancher",
                "≤ 1.5 × le plancher",
                ratio(large_p50, floor_p50) <= 1.5,
            )
        )
        rows.append(
            Row(
                f"page Registre, p50 à {large.dossiers:_} / p50 à {small.dossiers:_} "
                "dossiers".replace("_", " "),
                f"{ms(large_p50)} / {ms(small_p50)} = {times(ratio(large_p50, small_p50))}",
                "≤ 1.2 ×",
                ratio(large_p50, small_p50) <= 1.2,
            )
        )

        # 2. Statistics, ARS, 12 months: uncached, then cached.
        with started(lambda: servers.app(large.url, REGISTRE_STATISTICS_CACHE_SECONDS="0")) as app:
            progress("Statistics, ARS, uncached…")
            cold = one_user(app.url, "statistics", plan.statistics_runs)
        rows.append(
            Row(
                "page Statistiques, ARS région, 12 mois, sans cache, p95 "
                f"({len(cold.samples.get('statistiques', []))} calculs)",
                f"{ms(p(cold, 'statistiques', 95))} (p50 {ms(p(cold, 'statistiques', 50))})",
                "≤ 1 500 ms",
                p(cold, "statistiques", 95) <= 1500,
            )
        )

        with started(lambda: servers.app(large.url)) as app:
            progress("Statistics, ARS, cached…")
            warm = one_user(app.url, "statistics", plan.reruns)
            warm_p50 = p(warm, "statistiques", 50)
            rows.append(
                Row(
                    "page Statistiques, ARS, relance en cache, p50",
                    f"{ms(warm_p50)} = {times(ratio(warm_p50, floor_p50))} le plancher",
                    "≤ 1.5 × le plancher",
                    ratio(warm_p50, floor_p50) <= 1.5,
                )
            )

        # 3. Memory, on a fresh server.
        with started(lambda: servers.app(large.url)) as app:
            progress("Memory…")
            cfg = load.LoadConfig(
                url=app.url,
                journey="registry",
                password=gen.PASSWORD,
                usernames=USERNAMES,
                timeout=120.0,
            )
            memory = asyncio.run(
                load.measure_memory(
                    cfg,
                    app.process.pid,
                    levels=plan.levels,
                    churn=plan.churn,
                    settle=plan.settle,
                    report=lambda row: progress(f"  {row.label}: {row.rss:.1f} MB"),
                )
            )
        rows.extend(memory_rows(memory, plan))

        # 4. Many users with a think time.
        with started(lambda: servers.app(large.url)) as app:
            progress(f"{plan.sessions} users, think {plan.think:g} s, registry journey…")
            crowd = drive(
                app.url,
                "registry",
                crowd=True,
                think=plan.think,
                sessions=plan.sessions,
                duration=plan.duration,
            )
        rows.append(crowd_row(crowd, plan, ", 1 processus"))
        rows.append(
            Row(
                f"{plan.sessions} sessions : ouverture d'un dossier, p95",
                f"{ms(p(crowd, 'dossier', 95))} (p50 {ms(p(crowd, 'dossier', 50))})",
            )
        )

        # 5. One process against two, behind nginx.
        rows.extend(scale_out(servers, workdir, large.url, plan))
    finally:
        servers.close()
        shutil.rmtree(workdir, ignore_errors=True)
        if args.drop:
            large.drop()
            small.drop()
    return rows, version


def memory_rows(memory: load.MemoryReport, plan: Plan) -> list[Row]:
    by_label = {row.label.split(" (")[0]: row for row in memory.rows}
    base = by_label["0 idle"].rss  # « 0 idle (after one user) »
    rows = [Row("mémoire du serveur, 0 session (après un premier utilisateur)", f"{base:.1f} MB")]
    for level in plan.levels:
        rss = by_label[f"{level} idle"].rss
        each = (rss - base) / level
        rows.append(
            Row(
                f"mémoire, {level} sessions inactives",
                f"{rss:.1f} MB, {each:.2f} MB par session",
                "≤ 5 MB par session",
                each <= 5,
            )
        )
    after = by_label[f"after {plan.churn} opened and closed"].rss
    failed = sum(memory.failures.values())
    rows.append(
        Row(
            f"mémoire après {plan.churn} sessions ouvertes et fermées",
            f"{after:.1f} MB, {after - base:+.1f} MB"
            + (f" ({failed} connexions échouées)" if failed else ""),
            "≤ +50 MB",
            after - base <= 50 and not failed,
        )
    )
    return rows


def crowd_row(crowd: load.Recorder, plan: Plan, where: str) -> Row:
    return Row(
        f"{plan.sessions} sessions, réflexion {plan.think:g} s, page Registre, p95{where}",
        f"{ms(p(crowd, 'registre', 95))} (p50 {ms(p(crowd, 'registre', 50))}), {errors(crowd)}",
        "≤ 2 000 ms, aucune erreur",
        p(crowd, "registre", 95) <= 2000 and crowd.total_errors() == 0,
    )


def scale_out(servers: Servers, workdir: Path, url: str, plan: Plan) -> list[Row]:
    """The mixed journey's throughput through nginx, one app process then two; with two,
    the many users of ``plan.sessions`` too (the deployment of docs/deploiement.md)."""
    label = f"débit via nginx, {plan.scale_sessions} sessions, réflexion {plan.scale_think:g} s"
    if not shutil.which("nginx") and not Path("/usr/sbin/nginx").exists():
        return [Row(label, "non mesuré : nginx absent (apt-get install nginx)")]
    results: list[tuple[int, load.Recorder]] = []
    crowd: load.Recorder | None = None
    for count in (1, 2):
        apps = [servers.app(url) for _ in range(count)]
        proxy, stop = start_nginx(workdir, [a.url for a in apps], f"nginx-{count}")
        try:
            progress(f"Through nginx, {count} app process(es)…")
            results.append(
                (
                    count,
                    drive(
                        proxy,
                        "mixed",
                        crowd=True,
                        think=plan.scale_think,
                        sessions=plan.scale_sessions,
                        duration=plan.scale_duration,
                    ),
                )
            )
            if count == 2:
                progress(f"Through nginx, 2 processes, {plan.sessions} users, registry journey…")
                crowd = drive(
                    proxy,
                    "registry",
                    crowd=True,
                    think=plan.think,
                    sessions=plan.sessions,
                    duration=plan.duration,
                )
        finally:
            stop()
            for app in apps:
                load.stop_server(app)
    rows = []
    for count, recorder in results:
        rate = recorder.total_ok() / recorder.elapsed if recorder.elapsed else math.nan
        worst = max(
            (p(recorder, step, 95) for step in ("registre", "dossier", "statistiques")),
            default=math.nan,
        )
        rows.append(
            Row(
                f"{label}, {count} processus",
                f"{rate:.1f} étapes/s, p95 le plus lent {ms(worst)}, {errors(recorder)}",
            )
        )
    (_, one), (_, two) = results
    gain = ratio(two.total_ok() / two.elapsed, one.total_ok() / one.elapsed)
    rows.append(Row("débit 2 processus / 1 processus", times(gain)))
    if crowd is not None:
        rows.append(crowd_row(crowd, plan, ", 2 processus derrière nginx"))
    return rows


# --- command line -----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench",
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL,
        help=f"PostgreSQL server or SQLite file (default {DEFAULT_URL}: registre_bench and "
        "registre_bench_small)",
    )
    parser.add_argument("--dossiers", type=int, default=gen.DEFAULT_DOSSIERS)
    parser.add_argument("--small", type=int, default=10_000, help="the small database's size")
    parser.add_argument("--fresh", action="store_true", help="regenerate the databases")
    parser.add_argument("--drop", action="store_true", help="remove the databases at the end")
    parser.add_argument("--sessions", type=int, default=100, help="concurrent users (100)")
    parser.add_argument("--think", type=float, default=5.0, help="their think time (5 s)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--server-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a streamlit option for every server started here",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a few seconds of each measure (a smoke run)"
    )
    args = parser.parse_args(argv)
    if args.dossiers < 1 or args.small < 1:
        parser.error("--dossiers and --small must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    rows, version = run(args)
    title = (
        f"Registre des refus PDSES — make bench : {args.dossiers:_} dossiers".replace("_", " ")
        + f", {version}, {os.cpu_count()} CPU, {(time.monotonic() - began) / 60:.0f} min"
    )
    print(format_rows(title, rows), flush=True)
    held = [row.holds for row in rows if row.holds is not None]
    print(f"\ncibles tenues : {sum(held)} sur {len(held)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
