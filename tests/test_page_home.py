"""AppTest for Home.py: the login gate, our French messages, the lockout, the profile."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from registre.auth import LOCKOUT_NOTICE, LOGIN_FAILED_MESSAGE, MAX_FAILURES

from .factories import PASSWORD

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def app_env(monkeypatch, database_url, world):
    monkeypatch.setenv("REGISTRE_DATABASE_URL", database_url)
    monkeypatch.setenv("REGISTRE_COOKIE_KEY", "test-cookie-key-" + "x" * 32)
    return world


def _login(at: AppTest, username: str, password: str) -> AppTest:
    inputs = {ti.label: ti for ti in at.text_input}
    inputs["Identifiant"].input(username)
    inputs["Mot de passe"].input(password)
    at.button[0].click()  # the form's only button: « Se connecter »
    return at.run()


def _home() -> AppTest:
    return AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30).run()


def test_login_form_is_french_and_shows_no_data(app_env):
    at = _home()
    labels = [ti.label for ti in at.text_input]
    assert labels == ["Identifiant", "Mot de passe"]
    assert [b.label for b in at.button] == ["Se connecter"]
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "Sud Francilien" not in text


def test_wrong_password_shows_our_message(app_env):
    at = _login(_home(), "declarant-req", "mauvais-mot-de-passe")
    assert [e.value for e in at.error] == [LOGIN_FAILED_MESSAGE]
    assert not at.exception


def test_unknown_account_gets_the_same_message(app_env):
    at = _login(_home(), "personne", "mauvais-mot-de-passe")
    assert [e.value for e in at.error] == [LOGIN_FAILED_MESSAGE]


def test_success_shows_name_role_and_establishment(app_env):
    at = _login(_home(), "declarant-req", PASSWORD)
    assert not at.error
    # The login's own run offers no « Se déconnecter » (its widget identity would change);
    # the cookie component's rerun, here at.run(), brings it.
    assert not any(b.label == "Se déconnecter" for b in at.sidebar.button)
    at = at.run()
    page = " ".join(m.value for m in at.markdown)
    assert "Déclarant" in page
    assert "Centre hospitalier Sud Francilien" in page
    assert any(b.label == "Se déconnecter" for b in at.sidebar.button)


def test_lockout_after_five_failures_even_with_the_right_password(app_env):
    at = _home()
    for _ in range(MAX_FAILURES):
        at = _login(at, "declarant-req", "mauvais-mot-de-passe")
    assert [e.value for e in at.error] == [LOGIN_FAILED_MESSAGE]
    at = _login(at, "declarant-req", PASSWORD)  # locked: refused, with the same message
    assert [e.value for e in at.error] == [LOGIN_FAILED_MESSAGE]
    assert LOCKOUT_NOTICE in [c.value for c in at.caption]
    assert not any(b.label == "Se déconnecter" for b in at.sidebar.button)


def test_logout_returns_to_the_login_form(app_env):
    # In the browser the cookie component reruns the script right after the login; the
    # button of that run is the one a user clicks.
    at = _login(_home(), "coordinateur-ref", PASSWORD).run()
    logout = next(b for b in at.sidebar.button if b.label == "Se déconnecter")
    at = logout.click().run()
    assert [ti.label for ti in at.text_input] == ["Identifiant", "Mot de passe"]
    assert "Vous êtes déconnecté." in [i.value for i in at.info]
    # the next rerun (the browser's, once the cookie is deleted) is still logged out
    at = at.run()
    assert [ti.label for ti in at.text_input] == ["Identifiant", "Mot de passe"]
    assert not any(b.label == "Se déconnecter" for b in at.sidebar.button)
    assert "Sud Francilien" not in " ".join(m.value for m in at.markdown)


def test_missing_cookie_key_outside_demo_is_a_clear_french_error(app_env, monkeypatch, tmp_path):
    monkeypatch.delenv("REGISTRE_COOKIE_KEY")
    monkeypatch.delenv("REGISTRE_DEMO", raising=False)
    monkeypatch.setenv("REGISTRE_SECRETS_FILE", str(tmp_path / "absent.toml"))
    at = _home()
    assert not at.exception
    assert len(at.error) == 1
    assert "REGISTRE_COOKIE_KEY n'est pas défini" in at.error[0].value
    assert not at.text_input  # no login form without a key to sign its cookie


def test_a_temporary_password_must_be_changed_first(app_env):
    from sqlalchemy import select

    from registre.models import Account

    with app_env.db.transaction() as s:
        s.scalars(
            select(Account).where(Account.username == "referent-req")
        ).one().must_change_password = True
    at = _login(_home(), "referent-req", PASSWORD).run()
    assert [t.value for t in at.title] == ["Changer mon mot de passe"]
    assert "Sud Francilien" not in " ".join(m.value for m in at.markdown)
    fields = {ti.label: ti for ti in at.text_input}
    fields["Mot de passe actuel"].input(PASSWORD)
    fields["Nouveau mot de passe"].input("un-nouveau-mot-de-passe")
    fields["Confirmation du nouveau mot de passe"].input("un-autre-mot-de-passe")
    at = next(b for b in at.button if b.label == "Changer mon mot de passe").click().run()
    assert "Les deux saisies du nouveau mot de passe diffèrent." in [e.value for e in at.error]
    fields = {ti.label: ti for ti in at.text_input}
    fields["Nouveau mot de passe"].input("un-nouveau-mot-de-passe")
    fields["Confirmation du nouveau mot de passe"].input("un-nouveau-mot-de-passe")
    at = next(b for b in at.button if b.label == "Changer mon mot de passe").click().run()
    assert "Mot de passe changé." in [s.value for s in at.success]
    assert "Centre hospitalier Sud Francilien" in " ".join(m.value for m in at.markdown)
