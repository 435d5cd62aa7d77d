from __future__ import annotations

import pytest

from registre.config import load_settings
from registre.errors import ConfigurationError


def test_defaults_without_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRE_SECRETS_FILE", str(tmp_path / "absent.toml"))
    settings = load_settings({})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("data/registre.sqlite3")
    assert settings.smtp is None


def test_missing_cookie_key_is_a_clear_error_outside_demo(tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRE_SECRETS_FILE", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigurationError, match="REGISTRE_COOKIE_KEY"):
        load_settings({}).require_cookie_key()
    assert load_settings({"REGISTRE_DEMO": "1"}).require_cookie_key()
    assert load_settings({"REGISTRE_COOKIE_KEY": "k" * 40}).require_cookie_key() == "k" * 40


def test_secrets_file_supplies_the_same_keys_and_environment_wins(tmp_path, monkeypatch):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        'REGISTRE_SMTP_HOST = "smtp.example.org"\nREGISTRE_SMTP_PORT = 587\n'
        'REGISTRE_SMTP_STARTTLS = "1"\nREGISTRE_BASE_URL = "https://registre.example.org/"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("REGISTRE_SECRETS_FILE", str(secrets))
    settings = load_settings({"REGISTRE_SMTP_PORT": "2525"})
    assert settings.smtp is not None
    assert settings.smtp.host == "smtp.example.org"
    assert settings.smtp.port == 2525
    assert settings.smtp.starttls is True
    assert settings.base_url == "https://registre.example.org"


def test_password_is_not_in_the_repr(tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRE_SECRETS_FILE", str(tmp_path / "absent.toml"))
    settings = load_settings(
        {
            "REGISTRE_SMTP_HOST": "h",
            "REGISTRE_SMTP_PASSWORD": "tres-secret",
            "REGISTRE_COOKIE_KEY": "cle-secrete",
        }
    )
    assert "tres-secret" not in repr(settings)
    assert "cle-secrete" not in repr(settings)


def test_bad_number_is_a_french_error(tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRE_SECRETS_FILE", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigurationError, match="nombres"):
        load_settings({"REGISTRE_SMTP_HOST": "h", "REGISTRE_SMTP_PORT": "vingt-cinq"})


def test_statistics_cache_seconds_default_zero_and_bad_values(tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRE_SECRETS_FILE", str(tmp_path / "absent.toml"))
    assert load_settings({}).statistics_cache_seconds == 60
    assert load_settings({"REGISTRE_STATISTICS_CACHE_SECONDS": "0"}).statistics_cache_seconds == 0
    with pytest.raises(ConfigurationError, match="REGISTRE_STATISTICS_CACHE_SECONDS"):
        load_settings({"REGISTRE_STATISTICS_CACHE_SECONDS": "une minute"})
    with pytest.raises(ConfigurationError, match="négatif"):
        load_settings({"REGISTRE_STATISTICS_CACHE_SECONDS": "-1"})


def test_pool_size_of_postgresql_connections(tmp_path, monkeypatch):
    from registre.db import Database

    monkeypatch.setenv("REGISTRE_SECRETS_FILE", str(tmp_path / "absent.toml"))
    assert load_settings({}).db_pool_size == 10
    assert load_settings({"REGISTRE_DB_POOL_SIZE": "20"}).db_pool_size == 20
    with pytest.raises(ConfigurationError, match="REGISTRE_DB_POOL_SIZE"):
        load_settings({"REGISTRE_DB_POOL_SIZE": "dix"})
    with pytest.raises(ConfigurationError, match="au moins 1"):
        load_settings({"REGISTRE_DB_POOL_SIZE": "0"})
    db = Database("postgresql+psycopg://registre@127.0.0.1:5432/registre", 20)
    assert (db.engine.pool.size(), db.engine.pool._max_overflow) == (20, 10)  # type: ignore[attr-defined]
    db.dispose()


def test_session_idle_minutes_and_trusted_proxies(tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRE_SECRETS_FILE", str(tmp_path / "absent.toml"))
    defaults = load_settings({})
    assert defaults.session_idle_minutes == 30
    assert defaults.trusted_proxies == {"127.0.0.1", "::1"}
    assert load_settings({"REGISTRE_SESSION_IDLE_MINUTES": "10"}).session_idle_minutes == 10
    with pytest.raises(ConfigurationError, match="REGISTRE_SESSION_IDLE_MINUTES"):
        load_settings({"REGISTRE_SESSION_IDLE_MINUTES": "une demi-heure"})
    with pytest.raises(ConfigurationError, match="positif"):
        load_settings({"REGISTRE_SESSION_IDLE_MINUTES": "0"})
    proxies = load_settings({"REGISTRE_TRUSTED_PROXIES": " 10.0.0.5 , ::1 "}).trusted_proxies
    assert proxies == {"10.0.0.5", "::1"}


def test_bcrypt_cost_is_12_and_never_lower_outside_the_tests(tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRE_SECRETS_FILE", str(tmp_path / "absent.toml"))
    assert load_settings({}).bcrypt_rounds == 12
    assert load_settings({"REGISTRE_BCRYPT_ROUNDS": "13"}).bcrypt_rounds == 13
    with pytest.raises(ConfigurationError, match="inférieur à 12"):
        load_settings({"REGISTRE_BCRYPT_ROUNDS": "4"})
    assert (
        load_settings({"REGISTRE_BCRYPT_ROUNDS": "4", "REGISTRE_UNDER_TEST": "1"}).bcrypt_rounds
        == 4
    )
    with pytest.raises(ConfigurationError, match="entre 4 et 31"):
        load_settings({"REGISTRE_BCRYPT_ROUNDS": "3", "REGISTRE_UNDER_TEST": "1"})
    with pytest.raises(ConfigurationError, match="nombre entier"):
        load_settings({"REGISTRE_BCRYPT_ROUNDS": "douze"})
