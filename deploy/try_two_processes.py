#!/usr/bin/env python3
"""Essai, sur cette machine, du déploiement décrit dans docs/deploiement.md.

Deux processus Streamlit (ports 8611 et 8612) derrière nginx (paquet Debian) en sessions
collantes, sur une seule base PostgreSQL, puis :

- les fichiers de deploy/ tels quels : la commande ExecStart des unités systemd (le préfixe
  /opt/registre remplacé par ce dépôt, %i par le port), l'EnvironmentFile lu comme systemd
  le lit, le site nginx (ports, nom, certificat de l'essai) ; ``systemd-analyze verify`` ;
- TLS (certificat autosigné de l'essai), redirection HTTP → HTTPS, en-têtes de sécurité ;
- sessions collantes : requêtes par processus sans cookie et avec cookie (curl) ;
- Chromium (Playwright) au travers de nginx : la page s'affiche sous la CSP (aucune
  violation), websocket, téléchargement (/media/…), verrouillage d'un compte par des
  essais répartis sur les deux processus, cookie de connexion d'un processus accepté par
  l'autre, déconnexion refusant les cookies sur les deux, arrêt d'un processus ;
- la file d'envoi : plusieurs ``registre send-mail`` en même temps contre un serveur SMTP de
  test (aiosmtpd) : chaque mail reçu une fois et une seule ;
- sauvegarde ``pg_dump -Fc`` et restauration ``pg_restore`` dans une base neuve : mêmes
  nombres de lignes, documents identiques.

Usage (root pour lancer nginx avec l'utilisateur www-data ; nginx et PostgreSQL requis) :

    .venv/bin/python deploy/try_two_processes.py [--as-user registre] [--keep]

Tout ce qui est lancé est arrêté à la fin et les bases et le rôle de l'essai sont supprimés
(sauf --keep, pour regarder à la main : https://registre.test:8643, nom à résoudre vers
127.0.0.1). Le résumé est écrit dans <workdir>/resultats.json.
"""

# ruff: noqa: S603

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import email
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SITE_CONF = ROOT / "deploy" / "nginx" / "registre.conf"
UNIT_APP = ROOT / "deploy" / "systemd" / "registre@.service"
UNIT_INIT = ROOT / "deploy" / "systemd" / "registre-init.service"
UNIT_TASKS = ROOT / "deploy" / "systemd" / "registre-taches.service"
TIMER_TASKS = ROOT / "deploy" / "systemd" / "registre-taches.timer"
ENV_EXAMPLE = ROOT / "deploy" / "registre.env.example"

PROD_PREFIX = "/opt/registre"
PROD_STATE = "/var/lib/registre"
PUBLIC_NAME = "registre.example.fr"

HOST = "registre.test"
APP_PORTS = (8611, 8612)
HTTP_PORT = 8600
HTTPS_PORT = 8643
SMTP_PORT = 8625
DB_NAME = "registre_deploy"
DB_ROLE = "registre_deploy"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ROLE_SETTINGS = (
    "idle_in_transaction_session_timeout = '5min'",
    "statement_timeout = '5min'",
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


# --- small helpers ---------------------------------------------------------------------


def say(message: str) -> None:
    print(message, flush=True)


@dataclass
class Results:
    checks: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append({"check": name, "ok": bool(ok), "detail": detail})
        say(f"  [{'OK' if ok else 'ÉCHEC'}] {name}" + (f" — {detail}" if detail else ""))
        return bool(ok)

    def fact(self, key: str, value: Any) -> None:
        self.facts[key] = value
        say(f"  · {key} : {value}")

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [c for c in self.checks if not c["ok"]]


def parse_env_file(text: str) -> dict[str, str]:
    """KEY=value lines as systemd's EnvironmentFile= reads them (comments, blank lines and
    surrounding quotes removed; no shell expansion)."""
    env: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"ligne sans '=' : {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def unit_directives(path: Path, section: str = "Service") -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    current = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            continue
        if current == section and "=" in line:
            key, _, value = line.partition("=")
            directives.setdefault(key.strip(), []).append(value.strip())
    return directives


def unit_commands(path: Path, *, instance: str, prefix: str) -> list[list[str]]:
    return [
        shlex.split(command.replace("%i", instance).replace(PROD_PREFIX, prefix))
        for command in unit_directives(path)["ExecStart"]
    ]


def unit_command(path: Path, *, instance: str, prefix: str) -> list[str]:
    (command,) = unit_commands(path, instance=instance, prefix=prefix)
    return command


def unit_environment(path: Path, *, instance: str, state_dir: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in unit_directives(path).get("Environment", []):
        for item in shlex.split(value):
            key, _, val = item.partition("=")
            env[key] = val.replace("%i", instance).replace(PROD_STATE, state_dir)
    return env


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.3) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return
        time.sleep(step)
    raise TimeoutError(f"délai dépassé : {what}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def run(cmd: list[str], *, env: dict[str, str] | None = None, check: bool = True, **kw: Any):
    return subprocess.run(cmd, env=env, check=check, capture_output=True, text=True, **kw)


# --- the machine: processes, database -----------------------------------------------------


class Processes:
    """Everything started here, stopped in reverse order (by pid, never by name)."""

    def __init__(self) -> None:
        self.items: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, cmd: list[str], *, log: Path, **kw: Any) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, **kw)
        self.items[name] = proc
        return proc

    def stop(self, name: str) -> None:
        proc = self.items.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def stop_all(self) -> None:
        for name in reversed(list(self.items)):
            self.stop(name)


def admin_sql(sql: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(
        ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


def drop_databases() -> None:
    for name in (DB_NAME, f"{DB_NAME}_restore"):
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_sql(f'DROP ROLE IF EXISTS "{DB_ROLE}"')


def app_url(database: str = DB_NAME) -> str:
    return f"postgresql://{DB_ROLE}@127.0.0.1:5432/{database}"


def row_counts(url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        tables = conn.scalars(
            text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1"
            )
        ).all()
        # Table names come from the catalogue, not from a user.
        counts = {t: int(conn.scalar(text(f'SELECT count(*) FROM "{t}"')) or 0) for t in tables}  # noqa: S608
    engine.dispose()
    return counts


# --- SMTP sink (aiosmtpd) --------------------------------------------------------------------


class SmtpSink:
    """A real SMTP server that keeps the Message-ID of every mail it accepts, answering
    DATA after a short delay so that concurrent senders overlap."""

    def __init__(self, port: int, delay: float = 0.01) -> None:
        self.port = port
        self.delay = delay
        self.message_ids: list[str] = []
        self.lock = threading.Lock()
        self.controller: Any = None

    def start(self) -> SmtpSink:
        from aiosmtpd.controller import Controller

        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                await asyncio.sleep(sink.delay)
                message = email.message_from_bytes(envelope.content)
                with sink.lock:
                    sink.message_ids.append(str(message["Message-ID"]))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def outbox_ids(self) -> Counter[int]:
        with self.lock:
            ids = list(self.message_ids)
        found = (re.match(r"<outbox-(\d+)-", mid) for mid in ids)
        return Counter(int(m.group(1)) for m in found if m)


# --- HTTP through nginx (curl) ----------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, list[str]]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[-1] if values else None

    @property
    def backend(self) -> str | None:
        return self.header("x-registre-backend")


class Curl:
    def __init__(self, cert: Path) -> None:
        self.cert = cert

    def get(
        self,
        url: str,
        *,
        jar: Path | None = None,
        cookie: str | None = None,
        host_header: str | None = None,
    ) -> Reply:
        cmd = [
            "curl",
            "-sS",
            "--max-time",
            "15",
            "--resolve",
            f"{HOST}:{HTTPS_PORT}:127.0.0.1",
            "--resolve",
            f"{HOST}:{HTTP_PORT}:127.0.0.1",
            "--cacert",
            str(self.cert),
            "-D",
            "-",
            "-o",
            "-",
        ]
        if jar is not None:
            cmd += ["-b", str(jar), "-c", str(jar)]
        if cookie is not None:
            cmd += ["-H", f"Cookie: {cookie}"]
        if host_header is not None:
            cmd += ["-H", f"Host: {host_header}"]
        proc = subprocess.run([*cmd, url], capture_output=True, check=False)
        if proc.returncode != 0:
            return Reply(status=-proc.returncode, headers={}, body=proc.stderr)
        head, _, body = proc.stdout.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers: dict[str, list[str]] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        return Reply(status, headers, body)


def ws_handshake(port: int, host_header: str, origin: str) -> int:
    """Status of a websocket handshake sent straight to one app process."""
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    request = (
        f"GET /_stcore/stream HTTP/1.1\r\nHost: {host_header}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: {origin}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request.encode())
        first = sock.recv(1024).split(b"\r\n", 1)[0].decode("latin-1")
    return int(first.split()[1])


# --- the trial ------------------------------------------------------------------------------


class Trial:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.results = Results()
        self.procs = Processes()
        self.work = Path(args.workdir or tempfile.mkdtemp(prefix="registre-deploy-"))
        self.work.mkdir(parents=True, exist_ok=True)
        self.work.chmod(0o711)  # the app user crosses it to reach its state directory
        self.state = self.work / "state"
        self.cert = self.work / "tls" / "fullchain.pem"
        self.key = self.work / "tls" / "privkey.pem"
        self.curl = Curl(self.cert)
        self.smtp = SmtpSink(SMTP_PORT)
        self.env_file = self.work / "registre.env"
        self.env: dict[str, str] = {}
        self.demo_password = secrets.token_urlsafe(12)
        self.pin: dict[int, str] = {}  # backend port -> a registre_route value landing there
        self.user = pwd.getpwnam(args.as_user) if args.as_user else None
        self.prefix = ROOT  # /opt/registre of the units

    # -- setup --------------------------------------------------------------------------

    def preflight(self) -> None:
        say("== Prérequis")
        nginx = shutil.which("nginx")
        if nginx is None:
            raise SystemExit("nginx absent : apt-get install -y nginx")
        self.results.fact("nginx", run([nginx, "-v"]).stderr.strip())
        busy = [p for p in (*APP_PORTS, HTTP_PORT, HTTPS_PORT, SMTP_PORT) if port_open(p)]
        if busy:
            raise SystemExit(f"ports déjà utilisés : {busy}")
        self.results.fact("répertoire de l'essai", str(self.work))

    def check_units(self) -> None:
        say("== Unités systemd")
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.results.fact("systemd-analyze", "absent : vérification non faite")
            return
        folder = self.work / "units"
        folder.mkdir(exist_ok=True)
        for unit in (UNIT_INIT, UNIT_APP, UNIT_TASKS, TIMER_TASKS):
            text = unit.read_text(encoding="utf-8").replace(PROD_PREFIX, str(ROOT))
            (folder / unit.name).write_text(text, encoding="utf-8")
        shutil.copy(folder / UNIT_APP.name, folder / "registre@8611.service")
        proc = run(
            [
                analyze,
                "verify",
                "registre-init.service",
                "registre@8611.service",
                "registre-taches.service",
                "registre-taches.timer",
            ],
            cwd=folder,
            check=False,
        )
        self.results.check(
            "systemd-analyze verify (préfixe /opt/registre → ce dépôt)",
            proc.returncode == 0 and not proc.stderr.strip(),
            proc.stderr.strip() or "aucune remarque",
        )
        for name in ("registre@8611.service", "registre-init.service", "registre-taches.service"):
            proc = run([analyze, "security", "--offline=yes", name], cwd=folder, check=False)
            level = re.search(r"Overall exposure level for \S+: (.*)", proc.stdout)
            self.results.fact(f"systemd-analyze security {name}", level.group(1) if level else "?")

    def database(self) -> None:
        say("== PostgreSQL : rôle et base de l'essai")
        drop_databases()
        admin_sql(f'CREATE ROLE "{DB_ROLE}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE')
        admin_sql(f'CREATE DATABASE "{DB_NAME}" OWNER "{DB_ROLE}"')
        # The role settings recommended in docs/deploiement.md, in force for the whole trial.
        for setting in ROLE_SETTINGS:
            admin_sql(f'ALTER ROLE "{DB_ROLE}" SET {setting}')
        self.results.fact("réglages du rôle", "; ".join(ROLE_SETTINGS))
        self.results.fact("base", f"{DB_NAME} (propriétaire {DB_ROLE}, ni superutilisateur)")

    def write_env(self) -> None:
        say("== EnvironmentFile à partir de deploy/registre.env.example")
        example = parse_env_file(ENV_EXAMPLE.read_text(encoding="utf-8"))
        values = dict(example)
        values.update(
            {
                "REGISTRE_DATABASE_URL": app_url(),
                "REGISTRE_COOKIE_KEY": secrets.token_urlsafe(48),
                "REGISTRE_BASE_URL": f"https://{HOST}:{HTTPS_PORT}",
                "REGISTRE_SMTP_HOST": "127.0.0.1",
                "REGISTRE_SMTP_PORT": str(SMTP_PORT),
                "REGISTRE_SMTP_STARTTLS": "0",
                "REGISTRE_MAIL_FROM": '"Registre des refus PDSES <registre-pdses@registre.test>"',
                "STREAMLIT_SERVER_ALLOWED_HOSTS": HOST,
            }
        )
        text = "".join(f"{k}={v}\n" for k, v in values.items())
        self.env_file.write_text(text, encoding="utf-8")
        self.env_file.chmod(0o600)
        self.env = parse_env_file(text)
        self.results.fact("variables", ", ".join(sorted(self.env)))

    def process_env(self, unit: Path, instance: str = "") -> dict[str, str]:
        """What systemd gives the unit: Environment=, then the EnvironmentFile= over it."""
        base = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
        unit_env = unit_environment(unit, instance=instance, state_dir=str(self.state))
        return {**base, **unit_env, **self.env}

    def install(self) -> None:
        """With --as-user: the installation of docs/deploiement.md in <workdir>/opt-registre
        (a copy of this tree, root's files, a venv of Debian's python3), so that the app user
        reads nothing of root's (this machine's .venv links to an interpreter under /root)."""
        if self.user is None:
            return
        say("== Installation comme en production (copie, venv de /usr/bin/python3, pip install)")
        target = self.work / "opt-registre"
        if not target.exists():
            ignore = shutil.ignore_patterns(
                ".venv", ".git", "data", "test-artifacts", ".*_cache", "*.egg-info", "__pycache__"
            )
            shutil.copytree(ROOT, target, ignore=ignore)
            started = time.monotonic()
            run(["/usr/bin/python3", "-m", "venv", str(target / ".venv")])
            run([str(target / ".venv" / "bin" / "pip"), "install", "--quiet", str(target)])
            self.results.fact("pip install", f"{time.monotonic() - started:.0f} s")
        self.prefix = target
        self.results.fact("préfixe (/opt/registre des unités)", str(target))

    def as_user(self, cmd: list[str]) -> list[str]:
        """``User=`` and ``NoNewPrivileges=``/``CapabilityBoundingSet=`` as setpriv can do them;
        the command is exec'd by a shell already without privileges, as systemd does (setpriv
        would look the program up with root's capabilities still in force)."""
        if self.user is None:
            return cmd
        return [
            "setpriv",
            f"--reuid={self.user.pw_uid}",
            f"--regid={self.user.pw_gid}",
            "--init-groups",
            "--no-new-privs",
            "--bounding-set=-all",
            "--inh-caps=-all",
            "--",
            "/bin/sh",
            "-c",
            'exec "$0" "$@"',
            *cmd,
        ]

    def prepare_state(self) -> None:
        self.state.mkdir(mode=0o700, exist_ok=True)
        if self.user is not None:
            os.chown(self.state, self.user.pw_uid, self.user.pw_gid)

    def init_database(self) -> None:
        say("== registre init (commande ExecStart de registre-init.service)")
        self.prepare_state()
        cmd = unit_command(UNIT_INIT, instance="", prefix=str(self.prefix))
        env = self.process_env(UNIT_INIT)
        proc = run(self.as_user(cmd), env=env, cwd=self.prefix, check=False, umask=0o077)
        self.results.check(
            "registre init", proc.returncode == 0, (proc.stdout + proc.stderr).strip()[-300:]
        )
        # Test data only: demo establishments, accounts (random password) and dossiers. The
        # app processes themselves run without REGISTRE_DEMO, as in production.
        demo_env = {**env, "REGISTRE_DEMO_PASSWORD": self.demo_password}
        proc = run(
            self.as_user([*cmd, "--demo"]), env=demo_env, cwd=self.prefix, check=False, umask=0o077
        )
        self.results.check(
            "registre init --demo (données d'essai seulement)",
            proc.returncode == 0,
            proc.stdout.strip().splitlines()[1] if proc.returncode == 0 else proc.stderr[-300:],
        )
        proc = run(self.as_user(cmd), env=env, cwd=self.prefix, check=False, umask=0o077)
        self.results.check(
            "registre init relancé (idempotent)", proc.returncode == 0, proc.stdout.strip()
        )
        registre = str(self.prefix / ".venv" / "bin" / "registre")
        proc = run(
            self.as_user(
                [
                    registre,
                    "create-user",
                    "--username",
                    "admin-registre",
                    "--name",
                    "Administrateur du registre",
                    "--email",
                    "registre-admin@ght-essai.fr",
                    "--role",
                    "admin",
                    "--must-change",
                    "--password-stdin",
                ]
            ),
            env=env,
            cwd=self.prefix,
            input=secrets.token_urlsafe(18) + "\n",
            check=False,
        )
        self.results.check(
            "registre create-user --password-stdin (premier administrateur)",
            proc.returncode == 0,
            (proc.stdout + proc.stderr).strip()[-200:],
        )
        socket_url = f"postgresql://{DB_ROLE}@/{DB_NAME}?host=/var/run/postgresql"
        proc = run(
            self.as_user([registre, "outbox", "--limit", "1"]),
            env={**env, "REGISTRE_DATABASE_URL": socket_url},
            cwd=self.prefix,
            check=False,
        )
        self.results.check(
            "URL par le socket Unix (…@/base?host=/var/run/postgresql)",
            proc.returncode == 0,
            "registre outbox répond" if proc.returncode == 0 else proc.stderr[-300:],
        )

    def start_app(self, port: int) -> None:
        cmd = unit_command(UNIT_APP, instance=str(port), prefix=str(self.prefix))
        self.procs.start(
            f"app-{port}",
            self.as_user(cmd),
            log=self.work / f"app-{port}.log",
            env=self.process_env(UNIT_APP, str(port)),
            cwd=self.prefix,
            umask=0o077,
        )

        def healthy() -> bool:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/_stcore/health", timeout=2
            ) as resp:
                return bool(resp.status == 200)

        wait_until(healthy, 90, f"processus {port}")

    def start_apps(self) -> None:
        say("== Deux processus Streamlit (commande ExecStart de registre@.service)")
        self.prepare_state()
        say("  " + shlex.join(unit_command(UNIT_APP, instance="8611", prefix=str(self.prefix))))
        for port in APP_PORTS:
            self.start_app(port)
        who = self.user.pw_name if self.user else pwd.getpwuid(os.getuid()).pw_name
        self.results.check("deux processus en service", True, f"{APP_PORTS}, utilisateur {who}")

    def make_certificate(self) -> None:
        self.cert.parent.mkdir(exist_ok=True)
        run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                f"/CN={HOST}",
                "-addext",
                f"subjectAltName=DNS:{HOST}",
                "-keyout",
                str(self.key),
                "-out",
                str(self.cert),
            ]
        )
        self.key.chmod(0o600)

    def site_conf(self) -> str:
        text = SITE_CONF.read_text(encoding="utf-8")
        replacements = [
            ("listen 80 default_server;", f"listen 127.0.0.1:{HTTP_PORT} default_server;"),
            ("listen 80;", f"listen 127.0.0.1:{HTTP_PORT};"),
            (
                "listen 443 ssl default_server;",
                f"listen 127.0.0.1:{HTTPS_PORT} ssl default_server;",
            ),
            ("listen 443 ssl http2;", f"listen 127.0.0.1:{HTTPS_PORT} ssl http2;"),
            (PUBLIC_NAME, HOST),
            ("/etc/ssl/registre/fullchain.pem", str(self.cert)),
            ("/etc/ssl/registre/privkey.pem", str(self.key)),
            ("root /var/www/letsencrypt;", f"root {self.work / 'acme'};"),
            (
                "return 301 https://$host$request_uri;",
                f"return 301 https://$host:{HTTPS_PORT}$request_uri;",
            ),
            ("proxy_set_header Host $host;", f"proxy_set_header Host $host:{HTTPS_PORT};"),
            ("# add_header X-Registre-Backend", "add_header X-Registre-Backend"),
        ]
        for old, new in replacements:
            if old not in text:
                raise SystemExit(f"{SITE_CONF} : « {old} » introuvable, essai à mettre à jour")
            text = text.replace(old, new)
        text, removed = re.subn(r"(?m)^\s*listen \[::\]:.*\n", "", text)
        if removed != 4:
            raise SystemExit(f"{SITE_CONF} : 4 « listen [::] » attendus, {removed} trouvés")
        return text

    def main_conf(self, temp: Path) -> str:
        """Debian's /etc/nginx/nginx.conf, with this trial's files instead of the machine's
        (pid, logs, temporary files, sites): the site runs under Debian's http settings."""
        log = (
            'log_format registre \'$remote_addr "$request" $status '
            "upstream=$upstream_addr route=$cookie_registre_route';\n"
            f"\taccess_log {self.work}/nginx-access.log registre;"
        )
        temps = "".join(
            f"\t{kind}_temp_path {temp}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        replacements = [
            ("pid /run/nginx.pid;", f"pid {self.work}/nginx.pid;"),
            ("error_log /var/log/nginx/error.log;", f"error_log {self.work}/nginx-error.log;"),
            ("access_log /var/log/nginx/access.log;", log),
            ("include /etc/nginx/conf.d/*.conf;", "# conf.d de la machine : non inclus"),
            ("include /etc/nginx/sites-enabled/*;", f"include {self.work}/registre.conf;"),
            ("http {\n", "http {\n" + temps),
        ]
        text = Path("/etc/nginx/nginx.conf").read_text(encoding="utf-8")
        for old, new in replacements:
            if old not in text:
                raise SystemExit(f"/etc/nginx/nginx.conf : « {old} » introuvable")
            text = text.replace(old, new, 1)
        if os.geteuid() != 0:
            text = text.replace("user www-data;", "")
        return text

    def start_nginx(self) -> None:
        say("== nginx (paquet Debian) : site deploy/nginx/registre.conf")
        self.make_certificate()
        temp = self.work / "nginx-temp"
        temp.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(temp, "www-data", "www-data")
        (self.work / "registre.conf").write_text(self.site_conf(), encoding="utf-8")
        main = self.main_conf(temp)
        conf = self.work / "nginx.conf"
        conf.write_text(main, encoding="utf-8")
        error_log = str(self.work / "nginx-error.log")
        proc = run(
            ["nginx", "-t", "-e", error_log, "-p", str(self.work), "-c", str(conf)], check=False
        )
        self.results.check("nginx -t", proc.returncode == 0, proc.stderr.strip().splitlines()[-1])
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        self.procs.start(
            "nginx",
            ["nginx", "-e", error_log, "-p", str(self.work), "-c", str(conf), "-g", "daemon off;"],
            log=self.work / "nginx-stdout.log",
        )
        wait_until(lambda: port_open(HTTPS_PORT) and port_open(HTTP_PORT), 20, "nginx")

    # -- HTTP checks --------------------------------------------------------------------

    def http_checks(self) -> None:
        say("== HTTP → HTTPS, TLS, en-têtes")
        base = f"https://{HOST}:{HTTPS_PORT}"
        r = self.curl.get(f"http://{HOST}:{HTTP_PORT}/dossier?numero=R-2026-000001")
        self.results.check(
            "HTTP redirigé vers HTTPS",
            r.status == 301 and r.header("location") == f"{base}/dossier?numero=R-2026-000001",
            f"{r.status} → {r.header('location')}",
        )
        r = self.curl.get(f"http://{HOST}:{HTTP_PORT}/", host_header="autre.example")
        self.results.check(
            "autre nom en HTTP : connexion fermée (444)", r.status < 0, r.body.decode()[:80]
        )
        r = self.curl.get(f"{base}/")
        expected = {
            "strict-transport-security": "max-age=63072000",
            "x-content-type-options": "nosniff",
            "referrer-policy": "same-origin",
            "x-frame-options": "SAMEORIGIN",
        }
        for name, value in expected.items():
            self.results.check(f"en-tête {name}", r.header(name) == value, str(r.header(name)))
        csp = r.header("content-security-policy") or ""
        self.results.check(
            "en-tête Content-Security-Policy (une seule)",
            csp.startswith("default-src 'self'")
            and len(r.headers.get("content-security-policy", [])) == 1,
            csp[:60] + "…",
        )
        cookie = r.header("set-cookie") or ""
        self.results.check(
            "cookie registre_route posé (Secure, HttpOnly, SameSite=Lax)",
            cookie.startswith("registre_route=")
            and all(a in cookie for a in ("Secure", "HttpOnly", "SameSite=Lax")),
            cookie,
        )
        route = cookie.split(";", 1)[0]
        r2 = self.curl.get(f"{base}/", cookie=route)
        self.results.check(
            "cookie présent : pas de nouveau Set-Cookie", r2.header("set-cookie") is None
        )
        self.results.check("en-tête Server sans version", r.header("server") == "nginx")
        for args, label in (
            (["-servername", HOST], "SNI registre.test"),
            (["-servername", "autre.example"], "autre SNI"),
        ):
            proc = run(
                [
                    "openssl",
                    "s_client",
                    "-connect",
                    f"127.0.0.1:{HTTPS_PORT}",
                    *args,
                    "-brief",
                ],
                input="",
                check=False,
            )
            out = (proc.stdout + proc.stderr).strip()
            version = re.search(r"Protocol version: (\S+)", out)
            self.results.fact(
                f"TLS ({label})", version.group(1) if version else "poignée de main refusée"
            )
        proc = run(
            [
                "openssl",
                "s_client",
                "-connect",
                f"127.0.0.1:{HTTPS_PORT}",
                "-servername",
                HOST,
                "-tls1_1",
                "-cipher",
                "DEFAULT@SECLEVEL=0",
                "-brief",
            ],
            input="",
            check=False,
        )
        self.results.check("TLS 1.1 refusé", proc.returncode != 0)

    def stickiness(self) -> None:
        say("== Sessions collantes")
        base = f"https://{HOST}:{HTTPS_PORT}"
        fresh = Counter(self.curl.get(f"{base}/_stcore/health").backend for _ in range(40))
        self.results.fact("40 requêtes sans cookie, par processus", dict(fresh))
        self.results.check(
            "sans cookie : les deux processus servent", len(fresh) == 2 and None not in fresh
        )
        paths = ["/", "/_stcore/health", "/_stcore/host-config", "/accueil", "/favicon.png"]
        per_browser = []
        for n in range(10):
            jar = self.work / f"jar-{n}.txt"
            seen = Counter(
                self.curl.get(f"{base}{paths[i % len(paths)]}", jar=jar).backend for i in range(20)
            )
            per_browser.append(dict(seen))
            value = next(
                line.split("\t")[-1]
                for line in jar.read_text().splitlines()
                if "\tregistre_route\t" in line
            )
            if len(seen) == 1 and None not in seen:
                (backend,) = seen
                self.pin.setdefault(int(str(backend).rsplit(":", 1)[1]), value)
        self.results.fact("10 « navigateurs » (curl + cookie) × 20 requêtes", per_browser)
        self.results.check(
            "avec cookie : chaque navigateur reste sur un seul processus",
            all(len(b) == 1 for b in per_browser),
        )
        self.results.check(
            "cookies d'essai trouvés pour chaque processus", set(self.pin) == set(APP_PORTS)
        )
        log = (self.work / "nginx-access.log").read_text(encoding="utf-8")
        upstreams = Counter(re.findall(r"upstream=(\S+)", log))
        self.results.fact("journal d'accès nginx, requêtes par amont", dict(upstreams))

    def websocket_hosts(self) -> None:
        say("== Websocket et server.allowedHosts (directement sur un processus)")
        good = ws_handshake(8611, f"{HOST}:{HTTPS_PORT}", f"https://{HOST}:{HTTPS_PORT}")
        evil = ws_handshake(8611, "evil.example", "http://evil.example")
        self.results.check("Host et Origin du site : websocket accepté", good == 101, str(good))
        self.results.check("autre Host : websocket refusé", evil != 101, str(evil))
        bare = ws_handshake(8611, HOST, f"https://{HOST}:{HTTPS_PORT}")
        self.results.fact(
            "Host sans le port (proxy_set_header Host $host sur un port ≠ 443)",
            f"{bare} (l'Origin porte le port : refusé)",
        )

    # -- browser ------------------------------------------------------------------------

    def browser_checks(self) -> None:
        if CHROMIUM is None:
            self.results.fact("Chromium", "absent : vérifications dans le navigateur non faites")
            return
        from playwright.sync_api import sync_playwright

        say("== Chromium au travers de nginx")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    f"--host-resolver-rules=MAP {HOST} 127.0.0.1",
                ],
            )
            try:
                BrowserChecks(self, browser).run()
            finally:
                browser.close()

    # -- outbox -------------------------------------------------------------------------

    def outbox(self) -> None:
        say("== File d'envoi : plusieurs expéditeurs en même temps")
        from sqlalchemy import func, select

        from registre.db import Database
        from registre.models import OutboxMail, OutboxStatus

        db = Database(app_url())
        count = self.args.mails
        at = datetime.now(UTC)
        with db.transaction() as session:
            before = session.scalar(select(func.count()).select_from(OutboxMail)) or 0
            for n in range(count):
                session.add(
                    OutboxMail(
                        kind="essai_deploiement",
                        recipient=f"essai-{n}@registre.test",
                        subject=f"Essai de déploiement n° {n}",
                        body="Mail d'essai du déploiement à deux processus.",
                        dedup_key=f"essai-deploiement:{at.isoformat()}:{n}",
                        status=OutboxStatus.PENDING,
                        attempts=0,
                        created_at=at,
                        next_attempt_at=at - timedelta(seconds=1),
                    )
                )
        registre = str(self.prefix / ".venv" / "bin" / "registre")
        env = self.process_env(UNIT_APP, "send-mail")
        senders = [
            subprocess.Popen(
                self.as_user([registre, "send-mail", "--limit", "500"]),
                env=env,
                cwd=self.prefix,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(self.args.senders)
        ]
        reports = [p.communicate(timeout=300)[0].strip() for p in senders]
        sent_by = [
            int(m.group(1)) if (m := re.search(r"Envoyés : (\d+)", r)) else -1 for r in reports
        ]
        self.results.fact(
            f"{self.args.senders} × « registre send-mail » lancés ensemble, envoyés par chacun",
            sent_by,
        )

        def settled() -> bool:
            with db.read() as session:
                return not session.scalar(
                    select(func.count())
                    .select_from(OutboxMail)
                    .where(OutboxMail.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]))
                )

        wait_until(settled, 180, "file d'envoi vide")
        with db.read() as session:
            rows = session.execute(select(OutboxMail.id, OutboxMail.status, OutboxMail.kind)).all()
        received = self.smtp.outbox_ids()
        sent_ids = {r.id for r in rows if r.status is OutboxStatus.SENT}
        trial_ids = {r.id for r in rows if r.kind == "essai_deploiement"}
        duplicates = {i: n for i, n in received.items() if n > 1}
        self.results.fact("mails dans la file (démo + essai)", f"{before} + {count}")
        self.results.fact("états", dict(Counter(r.status.value for r in rows)))
        self.results.fact("mails reçus par le serveur SMTP", sum(received.values()))
        self.results.check(
            "chaque mail d'essai reçu exactement une fois",
            all(received[i] == 1 for i in trial_ids),
            f"{sum(1 for i in trial_ids if received[i] == 1)}/{len(trial_ids)}",
        )
        self.results.check(
            "aucun mail reçu deux fois (toute la file)", not duplicates, str(duplicates or "")
        )
        self.results.check(
            "chaque mail « envoyé » a été reçu, et rien d'autre",
            set(received) == sent_ids,
            f"{len(sent_ids)} envoyés, {len(received)} reçus",
        )
        with db.read() as session:
            body = session.scalar(
                select(OutboxMail.body).where(OutboxMail.kind != "essai_deploiement").limit(1)
            )
        link = re.search(r"^https://\S+$", body or "", re.M)
        reply = self.curl.get(link.group(0)) if link else None
        self.results.check(
            "lien d'un mail (REGISTRE_BASE_URL) servi au travers de nginx",
            link is not None and reply is not None and reply.status == 200,
            f"{link.group(0) if link else body!r} → {reply.status if reply else '-'}",
        )
        self.results.fact(
            "envoyés par les tâches de fond des deux processus (le reste)",
            len(sent_ids) - sum(n for n in sent_by if n > 0),
        )
        db.dispose()
        for cmd in unit_commands(UNIT_TASKS, instance="", prefix=str(self.prefix)):
            proc = run(
                self.as_user(cmd),
                env=self.process_env(UNIT_TASKS),
                cwd=self.prefix,
                check=False,
                umask=0o077,
            )
            self.results.check(
                f"registre-taches.service : {cmd[-1]}",
                proc.returncode == 0,
                " ".join((proc.stdout + proc.stderr).split())[:200],
            )

    def memory(self) -> None:
        sizes = {}
        for name, proc in self.procs.items.items():
            if name.startswith("app-"):
                status = Path(f"/proc/{proc.pid}/status").read_text()
                rss = re.search(r"VmRSS:\s+(\d+) kB", status)
                sizes[name] = f"{int(rss.group(1)) // 1024} Mio" if rss else "?"
        self.results.fact("mémoire résidente des processus Streamlit", sizes)

    def connections(self, label: str) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT application_name, count(*) FROM pg_stat_activity "
                    "WHERE datname = :db GROUP BY 1 ORDER BY 1"
                ),
                {"db": DB_NAME},
            ).all()
        engine.dispose()
        self.results.fact(label, {name or "(script d'essai)": n for name, n in rows})

    # -- backup and restore -------------------------------------------------------------

    def backup_restore(self) -> None:
        say("== Sauvegarde pg_dump -Fc, restauration pg_restore dans une base neuve")
        from registre import auth, documents
        from registre.db import Database

        db = Database(app_url())
        if not documents.list_documents(db, auth.load_actor(db, "demo-admin"))[1:]:
            # Without Chromium, no document was uploaded through the page: add one here.
            admin = auth.load_actor(db, "demo-admin")
            assert admin is not None
            pdf = b"%PDF-1.4\n% essai\n" + secrets.token_bytes(50_000) + b"\n%%EOF\n"
            documents.upload(db, admin, "Procédure d'essai", "essai.pdf", pdf)
        db.dispose()
        dump = self.work / "registre.dump"
        started = time.monotonic()
        # As the backups run in production: the postgres superuser, custom format.
        superuser = ADMIN_URL.rsplit("/", 1)[0]
        run(
            [
                "pg_dump",
                "--format=custom",
                "--file",
                str(dump),
                "--dbname",
                f"{superuser}/{DB_NAME}",
            ]
        )
        dump_s = time.monotonic() - started
        admin_sql(f'CREATE DATABASE "{DB_NAME}_restore" OWNER "{DB_ROLE}"')
        started = time.monotonic()
        proc = run(
            [
                "pg_restore",
                "--no-owner",
                f"--role={DB_ROLE}",
                "--exit-on-error",
                "--dbname",
                f"{superuser}/{DB_NAME}_restore",
                str(dump),
            ],
            check=False,
        )
        restore_s = time.monotonic() - started
        self.results.check("pg_restore", proc.returncode == 0, proc.stderr.strip()[-300:])
        source, copy = row_counts(app_url()), row_counts(app_url(f"{DB_NAME}_restore"))
        self.results.fact(
            "sauvegarde",
            f"{dump.stat().st_size // 1024} Kio en {dump_s:.1f} s, restaurée en {restore_s:.1f} s",
        )
        self.results.fact("lignes par table (source)", source)
        self.results.check("mêmes nombres de lignes, table par table", source == copy)
        from sqlalchemy import create_engine, text

        engine = create_engine(app_url(f"{DB_NAME}_restore").replace("://", "+psycopg://", 1))
        with engine.connect() as conn:
            owners = set(
                conn.scalars(text("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'"))
            )
        engine.dispose()
        self.results.check(
            "tables restaurées appartenant au rôle de l'application",
            owners == {DB_ROLE},
            str(owners),
        )
        from sqlalchemy import create_engine, text

        digests = []
        for url in (app_url(), app_url(f"{DB_NAME}_restore")):
            engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
            with engine.connect() as conn:
                digests.append(
                    conn.execute(
                        text(
                            "SELECT filename, sha256, encode(sha256(content), 'hex') "
                            "FROM documents ORDER BY id"
                        )
                    ).all()
                )
            engine.dispose()
        self.results.check(
            "documents restaurés à l'identique (sha256 du contenu)",
            digests[0] == digests[1] and all(row[1] == row[2] for row in digests[1]),
            f"{len(digests[1])} document(s) : {[row[0] for row in digests[1]]}",
        )
        env = {
            **self.process_env(UNIT_INIT),
            "REGISTRE_DATABASE_URL": app_url(f"{DB_NAME}_restore"),
        }
        cmd = unit_command(UNIT_INIT, instance="", prefix=str(self.prefix))
        proc = run(self.as_user(cmd), env=env, cwd=self.prefix, check=False)
        self.results.check(
            "registre init sur la base restaurée", proc.returncode == 0, proc.stdout.strip()
        )

    # -- orchestration --------------------------------------------------------------------

    def teardown(self) -> None:
        say("== Arrêt de tout ce qui a été lancé")
        self.procs.stop_all()
        self.smtp.stop()
        if not self.args.keep:
            drop_databases()
            say("  bases et rôle de l'essai supprimés")

    def run(self) -> int:
        self.preflight()
        try:
            self.check_units()
            self.install()
            self.database()
            self.write_env()
            self.init_database()
            self.smtp.start()
            self.start_apps()
            self.start_nginx()
            self.http_checks()
            self.stickiness()
            self.websocket_hosts()
            self.browser_checks()
            self.connections("connexions PostgreSQL après les essais dans Chromium")
            self.memory()
            self.outbox()
            self.connections("connexions PostgreSQL après l'envoi")
            self.backup_restore()
            if self.args.keep:
                say(f"--keep : tout reste lancé ({self.work}) ; Ctrl-C pour arrêter.")
                with contextlib.suppress(KeyboardInterrupt):
                    while True:
                        time.sleep(3600)
        finally:
            self.teardown()
            out = self.work / "resultats.json"
            out.write_text(
                json.dumps(
                    {"checks": self.results.checks, "facts": self.results.facts},
                    ensure_ascii=False,
                    indent=2,
                    default=str,
                ),
                encoding="utf-8",
            )
        failures = self.results.failures
        say(
            f"== {len(self.results.checks) - len(failures)}/{len(self.results.checks)} vérifications réussies ({out})"
        )
        for failure in failures:
            say(f"  ÉCHEC : {failure['check']} — {failure['detail']}")
        return 1 if failures else 0


class BrowserChecks:
    """Chromium through nginx, each browser pinned to one process by its registre_route
    cookie (a value found by the stickiness step), so that the test knows which process
    holds which session."""

    LOGGED_IN = "Se déconnecter"
    WRONG = "Identifiant ou mot de passe incorrect."

    def __init__(self, trial: Trial, browser: Any) -> None:
        self.trial = trial
        self.results = trial.results
        self.browser = browser
        self.base = f"https://{HOST}:{HTTPS_PORT}"
        self.console: list[str] = []
        self.contexts: list[Any] = []

    # -- helpers ----------------------------------------------------------------------

    def new_page(self, port: int | None) -> Any:
        context = self.browser.new_context(
            ignore_https_errors=True, locale="fr-FR", viewport={"width": 1400, "height": 1000}
        )
        context.set_default_timeout(30_000)
        context.add_init_script(
            "window.__csp = [];"
            "document.addEventListener('securitypolicyviolation', e =>"
            " window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        if port is not None:
            self.pin(context, port)
        page = context.new_page()
        page.backends = []
        page.sockets = []

        def on_response(response: Any) -> None:
            if response.request.resource_type == "document" and response.url.startswith(self.base):
                page.backends.append(response.headers.get("x-registre-backend"))

        page.on("response", on_response)
        page.on("websocket", lambda ws: page.sockets.append(ws.url))
        page.on(
            "console",
            lambda msg: (
                self.console.append(msg.text)
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )
        self.contexts.append(context)
        return page

    def pin(self, context: Any, port: int) -> None:
        context.add_cookies(
            [
                {
                    "name": "registre_route",
                    "value": self.trial.pin[port],
                    "domain": HOST,
                    "path": "/",
                    "secure": True,
                    "httpOnly": True,
                    "sameSite": "Lax",
                }
            ]
        )

    def live(self, page: Any) -> Any:
        return page.locator("[data-testid='stElementContainer']:not([data-stale='true'])")

    def settle(self, page: Any, quiet_ms: int = 500) -> None:
        """Streamlit idle (script run over, connected, nothing stale) for ``quiet_ms``: a
        component's value (the cookie manager's) may start one more run just after."""
        page.wait_for_selector("[data-testid='stApp']")
        page.evaluate("() => { window.__quietSince = null; }")
        page.wait_for_function(
            """(quietMs) => {
              const app = document.querySelector('[data-testid="stApp"]');
              const ok = app && app.getAttribute('data-test-script-state') === 'notRunning'
                && app.getAttribute('data-test-connection-state') === 'CONNECTED'
                && document.querySelectorAll('[data-stale="true"]').length === 0;
              if (!ok) { window.__quietSince = null; return false; }
              if (window.__quietSince == null) { window.__quietSince = performance.now(); }
              return performance.now() - window.__quietSince >= quietMs;
            }""",
            arg=quiet_ms,
            timeout=60_000,
            polling=50,
        )

    def open_form(self, page: Any) -> None:
        from playwright.sync_api import expect

        page.goto(self.base + "/")
        expect(self.live(page).get_by_label("Identifiant")).to_have_count(1, timeout=30_000)

    def submit(self, page: Any, username: str, password: str) -> None:
        live = self.live(page)
        live.get_by_label("Identifiant").fill(username)
        live.get_by_label("Mot de passe").fill(password)
        live.get_by_role("button", name="Se connecter").click()

    def login(self, page: Any, username: str) -> None:
        from playwright.sync_api import expect

        self.open_form(page)
        self.submit(page, username, self.trial.demo_password)
        expect(page.get_by_role("button", name=self.LOGGED_IN)).to_be_visible(timeout=30_000)
        page.wait_for_function("() => document.cookie.includes('registre_pdses_session')")
        self.settle(page)

    def logged_in(self, page: Any) -> bool:
        """After a load: the sidebar's « Se déconnecter », or the login form."""
        page.wait_for_function(
            """() => [...document.querySelectorAll('button')].some(b =>
                   ['Se déconnecter', 'Se connecter'].includes(b.innerText.trim()))""",
            timeout=30_000,
        )
        self.settle(page)
        return bool(page.get_by_role("button", name=self.LOGGED_IN).count())

    def backend(self, page: Any) -> str:
        return str(page.backends[-1]) if page.backends else "?"

    def audit(self, username: str) -> Counter[str]:
        from sqlalchemy import select

        from registre.db import get_database
        from registre.models import Account, AuditEntry

        db = get_database(app_url())
        with db.read() as session:
            account_id = session.scalar(select(Account.id).where(Account.username == username))
            actions = session.scalars(
                select(AuditEntry.action).where(
                    AuditEntry.entity_id == account_id, AuditEntry.entity == "account"
                )
            ).all()
        return Counter(actions)

    def account(self, username: str) -> Any:
        from sqlalchemy import select

        from registre.db import get_database
        from registre.models import Account

        db = get_database(app_url())
        with db.read() as session:
            return session.scalars(select(Account).where(Account.username == username)).one()

    # -- the checks -------------------------------------------------------------------

    def run(self) -> None:
        try:
            self.renders()
            self.lockout()
            self.sessions()
            self.upload()
            self.statistics()
            self.failover()
        finally:
            for context in self.contexts:
                with contextlib.suppress(Exception):
                    context.close()
            violations = sorted(set(self.console))
            self.results.check(
                "aucune violation de la CSP (console de Chromium, tous les cadres)",
                not violations,
                "; ".join(violations)[:600],
            )

    def renders(self) -> None:
        page = self.new_page(None)
        statics: list[int] = []
        page.on(
            "response",
            lambda r: statics.append(r.status) if "/static/" in r.url else None,
        )
        self.open_form(page)
        self.settle(page)
        self.results.check(
            "la page s'affiche au travers de nginx (formulaire de connexion)",
            page.get_by_role("button", name="Se connecter").count() == 1,
            f"servie par {self.backend(page)}",
        )
        self.results.check(
            "JS et CSS chargés",
            bool(statics) and all(s == 200 for s in statics),
            f"{len(statics)} fichiers",
        )
        self.results.check(
            "websocket ouvert (wss://…/_stcore/stream)",
            any(u.startswith(f"wss://{HOST}:{HTTPS_PORT}/_stcore/stream") for u in page.sockets),
            ", ".join(page.sockets),
        )
        page.screenshot(path=str(self.trial.work / "connexion.png"))

    def lockout(self) -> None:
        say("  -- verrouillage : 5 mauvais mots de passe répartis sur les deux processus")
        from playwright.sync_api import expect

        user = "demo-declarant"
        pages = {port: self.new_page(port) for port in APP_PORTS}
        for page in pages.values():
            self.open_form(page)
        order = [8611, 8612, 8611, 8612, 8611]
        for n, port in enumerate(order, start=1):
            page = pages[port]
            self.submit(page, user, f"mauvais-mot-de-passe-{n}")
            wait_until(lambda n=n: self.audit(user)["login_failed"] >= n, 30, f"échec n° {n}")
            expect(page.get_by_text(self.WRONG).first).to_be_visible()
            self.settle(page)
        served = {port: self.backend(page) for port, page in pages.items()}
        account = self.account(user)
        locked = account.locked_until is not None and account.locked_until > datetime.now(UTC)
        self.results.check(
            "5 échecs (3 sur 8611, 2 sur 8612) : compte verrouillé dans la base",
            locked,
            f"locked_until={account.locked_until:%H:%M:%S} UTC, pages servies par {served}",
        )
        for port in (8612, 8611):
            page = pages[port]
            self.submit(page, user, self.trial.demo_password)
            wait_until(
                lambda p=port: self.audit(user)["login_refused_locked"] >= (1 if p == 8612 else 2),
                30,
                "refus",
            )
            self.settle(page)
            self.results.check(
                f"bon mot de passe sur {port} : refusé (même message)",
                page.get_by_role("button", name=self.LOGGED_IN).count() == 0
                and page.get_by_text(self.WRONG).count() >= 1,
            )
        self.results.fact("journal d'audit du compte", dict(self.audit(user)))

    def sessions(self) -> None:
        say("  -- sessions : cookie de connexion d'un processus accepté par l'autre")
        user = "demo-referent"
        page = self.new_page(8611)
        self.login(page, user)
        first = self.backend(page)
        saved = [c for c in page.context.cookies() if c["name"] == "registre_pdses_session"]
        self.pin(page.context, 8612)
        page.reload()
        ok = self.logged_in(page)
        self.results.check(
            "cookie de connexion émis par 8611 accepté par 8612 (sans formulaire)",
            ok and first.endswith("8611") and self.backend(page).endswith("8612"),
            f"{first} puis {self.backend(page)}",
        )
        self.download(page)
        other = self.new_page(8611)
        self.login(other, user)
        self.results.fact("seconde connexion du même compte sur", self.backend(other))
        time.sleep(1.1)  # cookie times have a one-second resolution
        page.get_by_role("button", name=self.LOGGED_IN).click()
        from playwright.sync_api import expect

        expect(self.live(page).get_by_label("Identifiant")).to_have_count(1, timeout=30_000)
        revoked = self.account(user).sessions_revoked_at
        self.results.check(
            "déconnexion sur 8612 : sessions_revoked_at posé", revoked is not None, str(revoked)
        )
        # The second browser, still open on 8611, moves to another page without reloading:
        # its Streamlit session lives in 8611's memory.
        other.get_by_role("link", name="Mon compte").first.click()
        self.settle(other)
        still = other.get_by_role("button", name=self.LOGGED_IN).count() == 1
        self.results.fact(
            "page déjà ouverte sur 8611, navigation sans recharger",
            "toujours connectée (session en mémoire, non revue à chaque action)"
            if still
            else "déconnectée",
        )
        other.reload()
        self.results.check(
            "rechargée : cookie émis avant la déconnexion refusé par 8611",
            not self.logged_in(other),
            self.backend(other),
        )
        copy = self.new_page(8611)
        copy.context.add_cookies(saved)
        copy.goto(self.base + "/")
        self.results.check(
            "copie du premier cookie rejouée sur 8611 après la déconnexion : refusée",
            not self.logged_in(copy),
        )

    def media_log(self, path: str) -> list[str]:
        """« status upstream » of every request for ``path`` in nginx's access log (a
        successful download is no page response for Playwright)."""
        log = (self.trial.work / "nginx-access.log").read_text(encoding="utf-8")
        return [
            f"{m.group(1)} {m.group(2)}"
            for m in re.finditer(rf'"GET {re.escape(path)} [^"]*" (\d+) upstream=(\S+)', log)
        ]

    def try_download(self, page: Any) -> tuple[Any, str]:
        """Click the first download button; once more if no download starts (seen once:
        Streamlit's « Deferred file … not found » when a rerun replaced the button's file
        just as it was clicked)."""
        for attempt in (1, 2):
            self.settle(page)
            button = page.get_by_role("button", name=re.compile("^⬇️")).first
            try:
                with page.expect_download(timeout=20_000) as info:
                    button.click()
            except Exception:
                if attempt == 2:
                    raise
                self.results.fact("téléchargement : second clic nécessaire", page.url)
                continue
            download = info.value
            return download, urllib.parse.urlsplit(download.url).path
        raise AssertionError("unreachable")

    def download(self, page: Any) -> None:
        download, path = self.try_download(page)
        target = self.trial.work / "telechargement.bin"
        failure = download.failure()
        if failure is None:
            download.save_as(target)
        size = target.stat().st_size if failure is None else 0
        time.sleep(0.5)  # nginx writes its access log line after the response
        served = self.media_log(path)
        self.results.check(
            "téléchargement (st.download_button, /media/…) au travers de nginx",
            failure is None
            and size > 0
            and bool(served)
            and all(line == "200 127.0.0.1:8612" for line in served),
            f"{path} : {size} octets ; journal nginx : {served}",
        )
        tries = {
            port: self.trial.curl.get(
                f"{self.base}{path}", cookie=f"registre_route={self.trial.pin[port]}"
            ).status
            for port in APP_PORTS
        }
        self.results.check(
            "le même /media/… demandé à l'autre processus : 404 (fichier en mémoire de 8612)",
            tries[8612] == 200 and tries[8611] == 404,
            str(tries),
        )

    def upload(self) -> None:
        say("  -- envoi d'un fichier (st.file_uploader, jeton XSRF) au travers de nginx")
        from playwright.sync_api import expect
        from sqlalchemy import func, select

        from registre.db import get_database
        from registre.models import StoredDocument

        page = self.new_page(8611)
        self.login(page, "demo-admin")
        page.goto(self.base + "/admin_documents")
        self.logged_in(page)
        live = self.live(page)
        live.get_by_label("Titre").last.fill("Procédure d'essai (envoyée au travers de nginx)")
        pdf = b"%PDF-1.4\n% essai de deploiement\n" + secrets.token_bytes(200_000) + b"\n%%EOF\n"
        page.locator("input[type='file']").last.set_input_files(
            files=[{"name": "essai.pdf", "mimeType": "application/pdf", "buffer": pdf}]
        )
        expect(page.get_by_text("essai.pdf").first).to_be_visible()
        self.settle(page)
        page.get_by_role("button", name="Ajouter le document").click()
        db = get_database(app_url())

        def stored() -> bool:
            with db.read() as session:
                return bool(session.scalar(select(func.count()).select_from(StoredDocument)))

        wait_until(stored, 30, "document enregistré")
        expect(page.get_by_text("ajouté").first).to_be_visible()
        time.sleep(0.5)
        log = (self.trial.work / "nginx-access.log").read_text(encoding="utf-8")
        uploads = re.findall(r'"(\w+) /_stcore/upload_file/\S+ [^"]*" (\d+) upstream=(\S+)', log)
        self.results.check(
            "envoi d'un PDF de 200 Ko (XSRF activé) : document enregistré",
            bool(uploads) and all(u[1].startswith("2") and u[2].endswith("8611") for u in uploads),
            f"journal nginx : {uploads}",
        )

    def statistics(self) -> None:
        say("  -- « Statistiques » (graphiques) sous la CSP")
        from playwright.sync_api import expect

        page = self.new_page(8611)
        self.login(page, "demo-ars")
        page.get_by_role("link", name="Statistiques").click()
        expect(page.get_by_role("heading", name="Statistiques", exact=True)).to_be_visible()
        self.settle(page)
        page.wait_for_timeout(1500)
        charts = page.locator(
            "[data-testid='stVegaLiteChart'], [data-testid='stArrowVegaLiteChart']"
        )
        drawn = page.locator("canvas, svg.marks").count()
        self.results.check(
            "« Statistiques » s'affiche avec ses graphiques",
            charts.count() > 0 and drawn > 0,
            f"{charts.count()} graphique(s), {drawn} canvas/svg",
        )
        page.screenshot(path=str(self.trial.work / "statistiques.png"), full_page=True)

    def failover(self) -> None:
        say("  -- arrêt d'un processus : ses navigateurs passent sur l'autre")
        page = self.new_page(8612)
        self.login(page, "demo-directeur")
        before = self.backend(page)
        page.evaluate(
            """() => {
              window.__conn = [];
              const app = document.querySelector('[data-testid="stApp"]');
              new MutationObserver(() => window.__conn.push(
                  [Date.now(), app.getAttribute('data-test-connection-state')]))
                .observe(app, {attributes: true, attributeFilter: ['data-test-connection-state']});
            }"""
        )
        access_log = self.trial.work / "nginx-access.log"
        mark = access_log.stat().st_size
        self.trial.procs.stop("app-8612")
        gap = "?"
        try:
            page.wait_for_function(
                """() => {
                  const c = window.__conn || [];
                  const i = c.findIndex(e => e[1] !== 'CONNECTED');
                  return i >= 0 && c.slice(i).some(e => e[1] === 'CONNECTED');
                }""",
                timeout=90_000,
            )
            states = page.evaluate("() => window.__conn")
            down = next(i for i, (_t, state) in enumerate(states) if state != "CONNECTED")
            up = next(t for t, state in states[down:] if state == "CONNECTED")
            gap = f"{(up - states[down][0]) / 1000:.1f} s"
        except Exception as exc:  # the observer may miss a re-created element
            gap = f"non mesuré ({type(exc).__name__})"
        ok = self.logged_in(page)
        with access_log.open(encoding="utf-8") as fh:
            fh.seek(mark)
            after = fh.read()
        route = self.trial.pin[8612]
        upstreams = Counter(
            m.group(1) for m in re.finditer(rf"upstream=(\S+) route={route}", after)
        )
        self.results.check(
            "8612 arrêté : la page se reconnecte à 8611, toujours connectée (cookie)",
            ok and any("8611" in u for u in upstreams),
            f"avant {before} ; coupure de {gap} vue par la page ; requêtes suivantes de ce "
            f"navigateur dans le journal nginx : {dict(upstreams)}",
        )
        self.trial.start_app(8612)
        time.sleep(11)  # nginx's fail_timeout: 8612 is tried again
        download, path = self.try_download(page)
        failure = download.failure()
        time.sleep(0.5)
        self.results.fact(
            "8612 relancé, même page (session sur 8611) sans recharger : téléchargement",
            f"{'réussi' if failure is None else 'échoué (' + failure + ')'} ; journal nginx : "
            f"{self.media_log(path)[-2:]} (les requêtes HTTP retournent vers 8612, la "
            "session et son fichier sont sur 8611)",
        )
        page.reload()
        ok = self.logged_in(page)
        self.results.check(
            "après rechargement : de retour sur 8612, connecté",
            ok and self.backend(page).endswith("8612"),
            self.backend(page),
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", help="répertoire de l'essai (par défaut : temporaire)")
    parser.add_argument("--as-user", help="lancer l'application sous cet utilisateur (root requis)")
    parser.add_argument("--mails", type=int, default=300, help="mails d'essai mis en file")
    parser.add_argument("--senders", type=int, default=4, help="« registre send-mail » simultanés")
    parser.add_argument("--keep", action="store_true", help="laisser tourner à la fin")
    args = parser.parse_args(argv)
    return Trial(args).run()


if __name__ == "__main__":
    sys.exit(main())
