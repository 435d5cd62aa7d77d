"""No secret in the repository: detect-secrets scans every tracked file; each finding must be
in ``.secrets.baseline`` and marked there as checked and not a secret (test passwords, the
demo password, placeholders in examples, the CSP's script hashes). A new finding fails here:
check it, then ``make secrets-baseline`` and ``detect-secrets audit .secrets.baseline``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / ".secrets.baseline"
HOOK = Path(sys.executable).parent / "detect-secrets-hook"


def _tracked_files() -> list[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        message = f"git ls-files impossible ({exc}) : le dépôt n'a pas pu être parcouru."
        if os.environ.get("REGISTRE_CI_STRICT"):
            pytest.fail(message)
        pytest.skip(message)
    return [name for name in out.decode().split("\0") if name]


def test_no_unreviewed_secret_in_tracked_files():
    files = _tracked_files()
    assert ".secrets.baseline" in files
    result = subprocess.run(
        [str(HOOK), "--baseline", str(BASELINE), *[f for f in files if f != ".secrets.baseline"]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_baseline_finding_was_checked_and_is_not_a_secret():
    findings = json.loads(BASELINE.read_text())["results"]
    assert findings, "the baseline lists the known false positives"
    unchecked = [
        (path, item["line_number"], item["type"])
        for path, items in findings.items()
        for item in items
        if item.get("is_secret") is not False
    ]
    assert unchecked == []


def test_secret_files_are_ignored_and_not_tracked():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".streamlit/secrets.toml" in ignored and ".env" in ignored
    files = _tracked_files()
    assert not [f for f in files if f.endswith(("secrets.toml", ".env", ".pem", ".key"))]


# detect-secrets misses our own variables (``REGISTRE_COOKIE_KEY=Zx8v…`` passes its keyword
# rule): an assignment of a real value to one of them fails here.
_OUR_SECRETS = re.compile(
    r"^\s*(?:export\s+)?(REGISTRE_COOKIE_KEY|REGISTRE_SMTP_PASSWORD|REGISTRE_DEMO_PASSWORD)"
    r"\s*=\s*[\"']?([^\"'\s#]+)"
)
_URL_PASSWORD = re.compile(r"postgres(?:ql)?(?:\+\w+)?://[^:/@\s]+:([^@\s]+)@")
_PLACEHOLDERS = {"MOT_DE_PASSE", "mdp", "...", "…", "secret", "motdepasse"}


def test_no_value_given_to_our_secret_variables():
    found = []
    for name in _tracked_files():
        path = ROOT / name
        if path.suffix in {".png", ".xlsx", ".ico"} or not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if "pragma: allowlist secret" in line:
                continue  # detect-secrets' own marker for a checked false positive
            match = _OUR_SECRETS.match(line)
            if match and not match.group(2).startswith(("<", "$", "{")):
                found.append((name, number, match.group(1)))
            for password in _URL_PASSWORD.findall(line):
                if password not in _PLACEHOLDERS and not password.startswith(("<", "$", "{")):
                    found.append((name, number, "URL password"))
    assert found == []
