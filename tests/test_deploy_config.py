"""The deployment files of deploy/ (docs/deploiement.md): cheap checks that need neither
nginx nor systemd. When nginx (or systemd-analyze) is installed, the files are also run
through ``nginx -t`` (``systemd-analyze verify``); without them those two tests are skipped
with a message, except in CI (``REGISTRE_CI_STRICT``, ``.ci/run`` installs nginx), where they
fail. The full trial, two processes behind nginx, is deploy/try_two_processes.py."""

from __future__ import annotations

import ast
import base64
import hashlib
import os
import re
import shutil
import subprocess
import tomllib
import urllib.parse
from pathlib import Path

import pytest

from registre.config import load_settings
from registre.errors import ConfigurationError

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SITE = DEPLOY / "nginx" / "registre.conf"
UNIT_APP = DEPLOY / "systemd" / "registre@.service"
UNIT_INIT = DEPLOY / "systemd" / "registre-init.service"
UNIT_TASKS = DEPLOY / "systemd" / "registre-taches.service"
TIMER_TASKS = DEPLOY / "systemd" / "registre-taches.timer"
ENV_EXAMPLE = DEPLOY / "registre.env.example"
DOC = ROOT / "docs" / "deploiement.md"
PROD_PREFIX = "/opt/registre"


# --- helpers ----------------------------------------------------------------------------


def nginx_conf() -> str:
    """The site without its comments."""
    lines = (line.split("#", 1)[0] for line in SITE.read_text(encoding="utf-8").splitlines())
    return "\n".join(line for line in lines if line.strip())


def blocks(text: str, head: str) -> list[str]:
    """The bodies of every ``head … { … }`` block (braces balanced)."""
    found = []
    for match in re.finditer(rf"(?m)^\s*{head}\b[^{{;]*\{{", text):
        depth, start = 1, match.end()
        for i in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                found.append(text[start:i])
                break
    return found


def directives(body: str, name: str) -> list[str]:
    """Values of ``name …;`` at any depth of ``body``."""
    pattern = rf'(?m)^\s*{name}\s+((?:"[^"]*"|[^;"])*);'
    return [m.group(1).strip() for m in re.finditer(pattern, body)]


def https_servers() -> list[str]:
    return [b for b in blocks(nginx_conf(), "server") if re.search(r"listen\s+443\s+ssl", b)]


def app_server() -> str:
    (server,) = [b for b in https_servers() if "proxy_pass" in b]
    return server


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def env_example_lines() -> list[tuple[bool, str, str]]:
    """(active, name, value) for every ``NAME=value`` line, commented out or not."""
    found = []
    for raw in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$", raw.strip())
        if match:
            found.append((match.group(1) is None, match.group(2), match.group(3).strip()))
    return found


def config_variables() -> set[str]:
    """Every REGISTRE_* name that registre/config.py reads (its string constants)."""
    tree = ast.parse((ROOT / "registre" / "config.py").read_text(encoding="utf-8"))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"REGISTRE_[A-Z0-9_]+", node.value)
    }


def inline_script_hashes(html: Path) -> set[str]:
    text = html.read_text(encoding="utf-8")
    return {
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in re.findall(r"<script>(.*?)</script>", text, re.S)
    }


# --- nginx ------------------------------------------------------------------------------


def test_sticky_sessions_by_cookie_and_consistent_hash():
    conf = nginx_conf()
    assert re.search(
        r'map \$cookie_registre_route \$registre_route \{\s*""\s+\$request_id;\s*'
        r"default\s+\$cookie_registre_route;",
        conf,
    )
    (upstream,) = blocks(conf, "upstream registre_app")
    assert directives(upstream, "hash") == ["$registre_route consistent"]
    assert directives(upstream, "zone"), "failure state shared by nginx's workers"
    servers = [v.split()[0] for v in directives(upstream, "server")]
    assert servers == ["127.0.0.1:8611", "127.0.0.1:8612"]
    # The cookie is set only when absent: the map gives an empty value when present.
    (cookie_map,) = blocks(conf, r"map \$cookie_registre_route \$registre_route_cookie")
    assert re.search(r'default\s+"";', cookie_map)
    value = re.search(r'""\s+"([^"]+)";', cookie_map)
    assert value is not None
    assert value.group(1).startswith("registre_route=$request_id;")
    for attribute in ("Path=/", "Secure", "HttpOnly", "SameSite=Lax"):
        assert attribute in value.group(1)
    assert "Set-Cookie $registre_route_cookie always" in directives(app_server(), "add_header")
    assert directives(app_server(), "proxy_pass") == ["http://registre_app"]


def test_websocket_is_proxied():
    conf = nginx_conf()
    assert re.search(r"map \$http_upgrade \$connection_upgrade \{\s*default\s+upgrade;", conf)
    (location,) = blocks(app_server(), "location")
    assert directives(location, "proxy_http_version") == ["1.1"]
    headers = directives(location, "proxy_set_header")
    assert "Upgrade $http_upgrade" in headers
    assert "Connection $connection_upgrade" in headers
    # Streamlit compares the websocket's Origin with this Host (nginx's own $host, not the
    # client's raw $http_host, see /etc/nginx/proxy_params).
    assert "Host $host" in headers
    assert "X-Forwarded-Proto $scheme" in headers
    (timeout,) = directives(location, "proxy_read_timeout")
    seconds = int(timeout[:-1]) * {"s": 1, "m": 60, "h": 3600}[timeout[-1]]
    assert seconds >= 300, "a websocket stays open for a whole shift"


def test_security_headers_on_every_https_response():
    server = app_server()
    headers = {h.split(None, 1)[0]: h.split(None, 1)[1] for h in directives(server, "add_header")}
    for name in (
        "Strict-Transport-Security",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "X-Frame-Options",
        "Content-Security-Policy",
        "Permissions-Policy",
    ):
        assert name in headers, name
        assert headers[name].endswith("always"), f"{name}: also on error pages"
    assert re.search(r"max-age=(\d+)", headers["Strict-Transport-Security"])
    assert int(re.search(r"max-age=(\d+)", headers["Strict-Transport-Security"]).group(1)) >= (
        31536000
    )
    assert '"nosniff"' in headers["X-Content-Type-Options"]
    assert '"SAMEORIGIN"' in headers["X-Frame-Options"]
    csp = headers["Content-Security-Policy"]
    for part in ("default-src 'self'", "frame-ancestors 'self'", "object-src 'none'"):
        assert part in csp
    assert "'unsafe-eval'" not in csp
    assert not re.search(r"script-src[^;]*'unsafe-inline'", csp)
    # An add_header inside a location would silently drop all of the server's ones.
    for location in blocks(server, "location"):
        assert not directives(location, "add_header")
    # The trial's backend header stays commented out.
    assert "X-Registre-Backend" not in nginx_conf()
    assert "# add_header X-Registre-Backend" in SITE.read_text(encoding="utf-8")


def test_csp_allows_the_inline_scripts_of_the_installed_packages():
    """Streamlit's index.html and the CookieManager component (the login cookie) each carry
    one inline script, allowed by its hash: a new version changes them."""
    import extra_streamlit_components
    import streamlit

    csp = next(
        h for h in directives(app_server(), "add_header") if h.startswith("Content-Security")
    )
    pages = [
        Path(streamlit.__file__).parent / "static" / "index.html",
        Path(extra_streamlit_components.__file__).parent
        / "CookieManager"
        / "frontend"
        / "build"
        / "index.html",
    ]
    for page in pages:
        for digest in inline_script_hashes(page):
            assert digest in csp, (
                f"{page}: inline script {digest} missing from the CSP of {SITE.name} "
                "(re-run deploy/try_two_processes.py, docs/deploiement.md « CSP »)"
            )


def test_http_redirects_to_https_and_tls_is_modern():
    conf = nginx_conf()
    http_app = [
        b for b in blocks(conf, "server") if re.search(r"listen\s+80;", b) and "server_name" in b
    ]
    assert len(http_app) == 1
    assert "return 301 https://$host$request_uri;" in http_app[0]
    servers = https_servers()
    assert len(servers) == 2  # the application and the catch-all that rejects other names
    for server in servers:
        # The TLS version is negotiated with the default server's settings (tried here).
        assert directives(server, "ssl_protocols") == ["TLSv1.2 TLSv1.3"]
    assert any("ssl_reject_handshake on" in s for s in servers)
    server = app_server()
    assert directives(server, "ssl_certificate") and directives(server, "ssl_certificate_key")
    assert directives(server, "server_tokens") == ["off"]


def test_upload_limit_matches_streamlit():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    (limit,) = directives(app_server(), "client_max_body_size")
    assert limit == f"{config['server']['maxUploadSize']}m"


def _self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=registre.example.fr",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_nginx_accepts_the_site(tmp_path):
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None or shutil.which("openssl") is None:
        if os.environ.get("REGISTRE_CI_STRICT"):  # .ci/run installs nginx: nothing skips there
            pytest.fail("nginx (ou openssl) absent alors que la CI doit lancer « nginx -t ».")
        pytest.skip(
            "nginx (ou openssl) absent : « nginx -t » du site non lancé ; les autres tests "
            "lisent le fichier (apt-get install -y nginx pour le lancer)."
        )
    cert, key = _self_signed(tmp_path)
    site = SITE.read_text(encoding="utf-8")
    site = site.replace("/etc/ssl/registre/fullchain.pem", str(cert))
    site = site.replace("/etc/ssl/registre/privkey.pem", str(key))
    (tmp_path / "registre.conf").write_text(site, encoding="utf-8")
    temps = "".join(
        f"    {kind}_temp_path {tmp_path}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n{temps}    access_log {tmp_path}/access.log;\n"
        f"    include {tmp_path}/registre.conf;\n}}\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [
            nginx,
            "-t",
            "-e",
            str(tmp_path / "error.log"),
            "-p",
            str(tmp_path),
            "-c",
            str(tmp_path / "nginx.conf"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "test is successful" in proc.stderr


# --- systemd ----------------------------------------------------------------------------

HARDENING = {
    "User": "registre",
    "Group": "registre",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ReadWritePaths": "/var/lib/registre",
    "EnvironmentFile": "/etc/registre/registre.env",
    "WorkingDirectory": "/opt/registre",
    "CapabilityBoundingSet": "",
    "RestrictSUIDSGID": "yes",
    "UMask": "0077",
}


@pytest.mark.parametrize("path", [UNIT_APP, UNIT_INIT, UNIT_TASKS], ids=lambda p: p.name)
def test_units_are_hardened(path):
    service = unit(path)["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == [value], f"{path.name}: {key}={value}"
    assert "HOME=/var/lib/registre" in " ".join(service["Environment"])
    # Production: no demo mode, no demo data, anywhere.
    text = path.read_text(encoding="utf-8")
    assert "REGISTRE_DEMO" not in text
    assert "--demo" not in " ".join(service["ExecStart"])


def test_app_unit_is_a_template_over_the_port():
    sections = unit(UNIT_APP)
    (command,) = sections["Service"]["ExecStart"]
    assert command == (
        "/opt/registre/.venv/bin/streamlit run Home.py --server.port %i "
        "--server.address 127.0.0.1 --server.headless true"
    )
    assert sections["Unit"]["Requires"] == ["registre-init.service"]
    assert "registre-init.service" in sections["Unit"]["After"][0]
    assert sections["Service"]["Restart"] == ["on-failure"]
    assert sections["Install"]["WantedBy"] == ["multi-user.target"]


def test_init_unit_runs_the_migrations_once():
    service = unit(UNIT_INIT)["Service"]
    assert service["Type"] == ["oneshot"]
    assert service["RemainAfterExit"] == ["yes"]
    assert service["ExecStart"] == ["/opt/registre/.venv/bin/registre init"]


def test_tasks_timer_runs_the_safety_net():
    service = unit(UNIT_TASKS)["Service"]
    assert service["Type"] == ["oneshot"]
    assert service["ExecStart"] == [
        "/opt/registre/.venv/bin/registre remind",
        "/opt/registre/.venv/bin/registre send-mail",
    ]
    timer = unit(TIMER_TASKS)
    assert timer["Timer"]["OnCalendar"] and timer["Install"]["WantedBy"] == ["timers.target"]


def test_systemd_accepts_the_units(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("REGISTRE_CI_STRICT"):
            pytest.fail("systemd-analyze absent alors que la CI doit vérifier les unités.")
        pytest.skip("systemd-analyze absent : « systemd-analyze verify » des unités non lancé.")
    for path in (UNIT_APP, UNIT_INIT, UNIT_TASKS, TIMER_TASKS):
        text = path.read_text(encoding="utf-8").replace(PROD_PREFIX, str(ROOT))
        (tmp_path / path.name).write_text(text, encoding="utf-8")
    shutil.copy(tmp_path / UNIT_APP.name, tmp_path / "registre@8611.service")
    proc = subprocess.run(
        [
            analyze,
            "verify",
            "registre-init.service",
            "registre@8611.service",
            "registre-taches.service",
            "registre-taches.timer",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "registre" not in proc.stderr, proc.stderr


# --- the environment file ----------------------------------------------------------------


def test_env_example_lists_exactly_the_variables_of_the_configuration():
    wanted = config_variables()
    assert {"REGISTRE_DATABASE_URL", "REGISTRE_COOKIE_KEY", "REGISTRE_SECRETS_FILE"} <= wanted
    listed = [name for _active, name, _value in env_example_lines()]
    registre = {name for name in listed if name.startswith("REGISTRE_")}
    assert registre == wanted
    active = [name for is_active, name, _value in env_example_lines() if is_active]
    assert len(active) == len(set(active)), "a variable set twice"


def test_env_example_holds_no_secret():
    for _active, name, value in env_example_lines():
        if name in {"REGISTRE_COOKIE_KEY", "REGISTRE_SMTP_PASSWORD", "REGISTRE_DEMO_PASSWORD"}:
            assert value == "", f"{name} must stay empty in the example"
        if name == "REGISTRE_DATABASE_URL":
            password = urllib.parse.urlsplit(value).password
            assert password in (None, "MOT_DE_PASSE"), "a placeholder, never a password"
        if name == "REGISTRE_DEMO":
            assert value in ("", "0")
        # Nothing that looks like a generated key.
        assert not re.search(r"[A-Za-z0-9_\-]{32,}", value), f"{name}={value}"


def test_env_example_is_a_valid_environment_file(monkeypatch):
    """systemd's format (no ``export``, one KEY=value a line), and the settings load from it;
    the cookie key, left empty, is then the one clear error."""
    env: dict[str, str] = {}
    for raw in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("export "), line
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", key), line
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        else:
            assert " " not in value, f"quote a value with spaces: {line}"
        env[key] = value
    monkeypatch.setenv("REGISTRE_SECRETS_FILE", env["REGISTRE_SECRETS_FILE"])
    settings = load_settings(env)
    assert settings.database_url.startswith("postgresql://")
    assert settings.base_url.startswith("https://")
    assert settings.smtp is not None and settings.smtp.starttls
    assert not settings.demo_mode and settings.background_duties
    with pytest.raises(ConfigurationError, match="REGISTRE_COOKIE_KEY"):
        settings.require_cookie_key()


def test_the_deployment_guide_describes_every_variable():
    text = DOC.read_text(encoding="utf-8")
    for name in sorted(config_variables()):
        assert f"`{name}`" in text, name
    for path in (
        SITE,
        UNIT_APP,
        UNIT_INIT,
        UNIT_TASKS,
        TIMER_TASKS,
        ENV_EXAMPLE,
        DEPLOY / "postgresql" / "registre.conf",
        DEPLOY / "try_two_processes.py",
        DEPLOY / "try-postgresql-settings.sh",
    ):
        assert str(path.relative_to(ROOT)) in text, path
