"""Configuration from the environment, with ``.streamlit/secrets.toml`` as a fallback.

Every key is read from ``os.environ`` first; the same key at the top level of the secrets
file is used when the variable is not set. Nothing here imports Streamlit.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registre.errors import ConfigurationError

DEFAULT_POOL_SIZE = 10  # database connections kept per process (REGISTRE_DB_POOL_SIZE)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "data" / "registre.sqlite3"
DEFAULT_DEMO_PASSWORD = "demo-pdses-2026"  # noqa: S105 - printed demo default, never for production
# bcrypt's cost: 2**12 rounds (about 0.3 s a hash here). Only the test suite may go lower
# (REGISTRE_UNDER_TEST=1), where thousands of accounts are hashed and checked.
PRODUCTION_BCRYPT_ROUNDS = 12
MIN_BCRYPT_ROUNDS = 4
MAX_BCRYPT_ROUNDS = 31


def _secrets_file() -> Path:
    return Path(
        os.environ.get("REGISTRE_SECRETS_FILE", PROJECT_ROOT / ".streamlit" / "secrets.toml")
    )


def _load_secrets() -> dict[str, Any]:
    path = _secrets_file()
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        return tomllib.load(fh)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "oui", "on"}


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str | None
    password: str | None = field(repr=False)
    starttls: bool
    ssl: bool
    timeout: float


@dataclass(frozen=True)
class Settings:
    database_url: str = field(repr=False)  # may carry a password
    smtp: SmtpSettings | None
    mail_from: str
    base_url: str
    cookie_key: str | None = field(repr=False)
    demo_password: str = field(repr=False, default=DEFAULT_DEMO_PASSWORD)
    demo_mode: bool = False
    reminder_days: int = 7
    cookie_expiry_days: float = 0.5
    background_duties: bool = True
    statistics_cache_seconds: float = 60.0
    db_pool_size: int = DEFAULT_POOL_SIZE
    # A session (and the login cookie) ends after this long without any action.
    session_idle_minutes: float = 30.0
    # The reverse proxies whose X-Forwarded-For is believed (the login limit per address).
    trusted_proxies: frozenset[str] = frozenset({"127.0.0.1", "::1"})
    bcrypt_rounds: int = PRODUCTION_BCRYPT_ROUNDS

    def require_cookie_key(self) -> str:
        """The cookie key signs the login cookie: a default one would let anyone forge it."""
        if self.cookie_key:
            return self.cookie_key
        if self.demo_mode:
            return "registre-demo-cookie-key-not-for-production"
        raise ConfigurationError(
            "REGISTRE_COOKIE_KEY n'est pas défini : définissez une clé secrète longue et "
            "aléatoire (par exemple `python -c 'import secrets; print(secrets.token_urlsafe(48))'`) "
            "ou lancez l'application en mode démonstration (REGISTRE_DEMO=1)."
        )


def _bcrypt_rounds(value: str | None, *, under_test: bool) -> int:
    """The bcrypt cost: 12 by default, higher if asked, lower only under the test suite."""
    if value is None:
        return PRODUCTION_BCRYPT_ROUNDS
    try:
        rounds = int(value)
    except ValueError as exc:
        raise ConfigurationError("REGISTRE_BCRYPT_ROUNDS doit être un nombre entier.") from exc
    if not MIN_BCRYPT_ROUNDS <= rounds <= MAX_BCRYPT_ROUNDS:
        raise ConfigurationError(
            f"REGISTRE_BCRYPT_ROUNDS doit être compris entre {MIN_BCRYPT_ROUNDS} et "
            f"{MAX_BCRYPT_ROUNDS}."
        )
    if rounds < PRODUCTION_BCRYPT_ROUNDS and not under_test:
        raise ConfigurationError(
            f"REGISTRE_BCRYPT_ROUNDS ne peut pas être inférieur à {PRODUCTION_BCRYPT_ROUNDS} : "
            "un coût plus faible ne sert qu'à la suite de tests (REGISTRE_UNDER_TEST=1)."
        )
    return rounds


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    secrets = _load_secrets()

    def get(key: str, default: str | None = None) -> str | None:
        value = env.get(key)
        if value is None and key in secrets:
            value = str(secrets[key])
        return default if value in (None, "") else value

    database_url = get("REGISTRE_DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE_PATH}"
    smtp: SmtpSettings | None = None
    host = get("REGISTRE_SMTP_HOST")
    if host:
        ssl = _truthy(get("REGISTRE_SMTP_SSL"))
        try:
            port = int(get("REGISTRE_SMTP_PORT") or (465 if ssl else 25))
            timeout = float(get("REGISTRE_SMTP_TIMEOUT") or 20)
        except ValueError as exc:
            raise ConfigurationError(
                "REGISTRE_SMTP_PORT et REGISTRE_SMTP_TIMEOUT doivent être des nombres."
            ) from exc
        smtp = SmtpSettings(
            host=host,
            port=port,
            user=get("REGISTRE_SMTP_USER"),
            password=get("REGISTRE_SMTP_PASSWORD"),
            starttls=_truthy(get("REGISTRE_SMTP_STARTTLS")),
            ssl=ssl,
            timeout=timeout,
        )
    try:
        reminder_days = int(get("REGISTRE_REMINDER_DAYS") or 7)
        cookie_expiry_days = float(get("REGISTRE_COOKIE_EXPIRY_DAYS") or 0.5)
        statistics_cache_seconds = float(get("REGISTRE_STATISTICS_CACHE_SECONDS") or 60)
        db_pool_size = int(get("REGISTRE_DB_POOL_SIZE") or DEFAULT_POOL_SIZE)
        session_idle_minutes = float(get("REGISTRE_SESSION_IDLE_MINUTES") or 30)
    except ValueError as exc:
        raise ConfigurationError(
            "REGISTRE_REMINDER_DAYS, REGISTRE_COOKIE_EXPIRY_DAYS, "
            "REGISTRE_STATISTICS_CACHE_SECONDS, REGISTRE_DB_POOL_SIZE et "
            "REGISTRE_SESSION_IDLE_MINUTES doivent être des nombres."
        ) from exc
    if session_idle_minutes <= 0:
        raise ConfigurationError("REGISTRE_SESSION_IDLE_MINUTES doit être positif.")
    proxies = get("REGISTRE_TRUSTED_PROXIES", "127.0.0.1,::1") or ""
    trusted_proxies = frozenset(p.strip() for p in proxies.split(",") if p.strip())
    if db_pool_size < 1:
        raise ConfigurationError("REGISTRE_DB_POOL_SIZE doit valoir au moins 1.")
    if statistics_cache_seconds < 0:
        raise ConfigurationError("REGISTRE_STATISTICS_CACHE_SECONDS ne peut pas être négatif.")
    bcrypt_rounds = _bcrypt_rounds(
        get("REGISTRE_BCRYPT_ROUNDS"), under_test=_truthy(env.get("REGISTRE_UNDER_TEST"))
    )
    return Settings(
        database_url=database_url,
        smtp=smtp,
        mail_from=get("REGISTRE_MAIL_FROM") or "registre-pdses@localhost",
        base_url=(get("REGISTRE_BASE_URL") or "http://127.0.0.1:8501").rstrip("/"),
        cookie_key=get("REGISTRE_COOKIE_KEY"),
        demo_password=get("REGISTRE_DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD,
        demo_mode=_truthy(get("REGISTRE_DEMO")),
        reminder_days=reminder_days,
        cookie_expiry_days=cookie_expiry_days,
        background_duties=_truthy(get("REGISTRE_BACKGROUND") or "1"),
        statistics_cache_seconds=statistics_cache_seconds,
        db_pool_size=db_pool_size,
        session_idle_minutes=session_idle_minutes,
        trusted_proxies=trusted_proxies,
        bcrypt_rounds=bcrypt_rounds,
    )
