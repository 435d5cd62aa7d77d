"""The ``registre`` command on a fresh database: init is idempotent, the demo has every
state, create-user, outbox, remind (nothing twice)."""

from __future__ import annotations

import io
import sys

import pytest
from sqlalchemy import func, select

from registre import cli, timeutil
from registre.db import get_database
from registre.models import Account, Dossier, DossierState, LineState, OutboxMail, RefuserLine

from .conftest import PG_URL, _drop_postgres_database, _fresh_postgres_database


@pytest.fixture
def fresh_url(tmp_path, monkeypatch):
    url = _fresh_postgres_database(PG_URL) if PG_URL else f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("REGISTRE_DATABASE_URL", url)
    monkeypatch.setenv("REGISTRE_DEMO_PASSWORD", "mot-de-passe-demo-cli")
    monkeypatch.setenv("REGISTRE_SECRETS_FILE", str(tmp_path / "none.toml"))
    for key in ("REGISTRE_SMTP_HOST", "REGISTRE_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    timeutil.set_clock(None)
    yield url
    get_database(url).dispose()
    if PG_URL:
        _drop_postgres_database(url)


def _count(url, model, *where):
    with get_database(url).read() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_init_demo_is_idempotent_and_prints_the_accounts(fresh_url, capsys):
    assert cli.main(["init", "--demo"]) == 0
    out = capsys.readouterr().out
    for username in (
        "demo-declarant",
        "demo-directeur",
        "demo-referent",
        "demo-coordinateur",
        "demo-ars",
        "demo-admin",
    ):
        assert username in out
    assert "mot-de-passe-demo-cli" in out
    counts = (_count(fresh_url, Account), _count(fresh_url, Dossier), _count(fresh_url, OutboxMail))
    assert cli.main(["init", "--demo"]) == 0
    assert (
        _count(fresh_url, Account),
        _count(fresh_url, Dossier),
        _count(fresh_url, OutboxMail),
    ) == counts
    for state in DossierState:
        assert _count(fresh_url, Dossier, Dossier.state == state) > 0, state
    for state in LineState:
        assert _count(fresh_url, RefuserLine, RefuserLine.state == state) > 0, state


def test_create_user_reads_the_password_on_stdin(fresh_url, capsys, monkeypatch):
    cli.main(["init", "--demo"])
    monkeypatch.setattr(sys, "stdin", io.StringIO("un-mot-de-passe-solide\n"))
    code = cli.main(
        [
            "create-user",
            "--username",
            "pdses-foch",
            "--name",
            "PDSES Foch",
            "--email",
            "jean.dupont@foch.example.org",
            "--role",
            "referent",
            "--establishment",
            "920000650",
            "--specialty",
            "ORL",
            "--password-stdin",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "Compte « pdses-foch » créé (Référent PDSES)." in out
    assert "semble personnelle" in out  # prenom.nom@ warning
    monkeypatch.setattr(sys, "stdin", io.StringIO("court\n"))
    code = cli.main(
        [
            "create-user",
            "--username",
            "pdses-foch",
            "--name",
            "X",
            "--email",
            "pas-une-adresse",
            "--role",
            "referent",
            "--password-stdin",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "Cet identifiant est déjà utilisé." in err
    assert "Adresse e-mail invalide" in err
    assert "au moins 12 caractères" in err
    assert "rattaché à un établissement" in err


def test_outbox_lists_and_shows_mails_without_smtp(fresh_url, capsys):
    cli.main(["init", "--demo"])
    capsys.readouterr()
    assert cli.main(["send-mail"]) == 0
    assert "Aucun serveur SMTP configuré" in capsys.readouterr().out
    assert cli.main(["outbox", "--limit", "5"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert len(listing) == 5 and all("a_envoyer" in line for line in listing)
    first_id = int(listing[0].split()[0].lstrip("#"))
    assert cli.main(["outbox", "--show", str(first_id)]) == 0
    shown = capsys.readouterr().out
    assert "Objet : [Registre des refus PDSES]" in shown
    # the latest mails: a refusal's or a « fonctionnement non conforme »'s, each with its link
    assert ("/dossier?numero=R-" in shown) != ("/signalement?numero=F-" in shown)


def test_remind_twice_queues_nothing_twice(fresh_url, capsys):
    cli.main(["init", "--demo"])
    before = _count(fresh_url, OutboxMail, OutboxMail.kind == "relance")
    assert before == 0
    cli.main(["remind", "--days", "7"])
    first = _count(fresh_url, OutboxMail, OutboxMail.kind == "relance")
    assert first > 0  # demo lines older than a week still await their answer
    cli.main(["remind", "--days", "7"])
    assert _count(fresh_url, OutboxMail, OutboxMail.kind == "relance") == first
    assert "0 relance(s)" in capsys.readouterr().out.splitlines()[-1]
