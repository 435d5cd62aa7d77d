"""AppTest of « Mon compte » (every role: the profile, « Changer mon mot de passe » and its
errors) and of the temporary password set by the Administrateur, which must be changed at
login before any page runs."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registre import administration, auth
from registre.models import Account

from . import apptest_helpers
from .apptest_helpers import (
    ADMIN_COMPTES,
    MON_COMPTE,
    button,
    errors,
    login_via_form,
    markdown_text,
    open_page,
    page_text,
    record_menu,
    widget,
)
from .factories import PASSWORD

app_env = apptest_helpers.app_env  # the fixture

NEW_PASSWORD = "une-phrase-de-passe-nouvelle"
TEMPORARY = "provisoire-2026-abcdef"
CHANGE = "Changer mon mot de passe"
ALL_ROLES = [
    "declarant-req",
    "referent-ref",
    "coordinateur-req",
    "directeur-ref",
    "ars",
    "ars-75",
    "admin",
]


def _change(at, current: str, new: str, again: str | None = None):
    widget(at.text_input, "Mot de passe actuel").input(current)
    widget(at.text_input, "Nouveau mot de passe").input(new)
    widget(at.text_input, "Confirmation du nouveau mot de passe").input(
        new if again is None else again
    )
    return button(at, CHANGE).click().run()


def _hash(world, username: str) -> str:
    with world.db.read() as session:
        return session.scalars(
            select(Account.password_hash).where(Account.username == username)
        ).one()


def _must_change(world, username: str) -> bool:
    with world.db.read() as session:
        return session.scalars(
            select(Account.must_change_password).where(Account.username == username)
        ).one()


# --- Mon compte -----------------------------------------------------------------------------


@pytest.mark.parametrize("username", ALL_ROLES)
def test_every_role_reaches_mon_compte_and_sees_its_profile(app_env, username):
    at = open_page(MON_COMPTE, username)
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Mon compte"]
    assert not errors(at)
    actor = app_env.actor(username.replace("-", "_"))
    text = markdown_text(at)
    assert f"Bonjour {actor.display_name}" in [s.value.replace("\\", "") for s in at.subheader]
    assert f"**Identifiant** : {username}" in text
    assert f"**Profil** : {actor.role_label}" in text
    assert f"**Adresse e-mail** : {actor.email}" in text
    assert CHANGE in [s.value for s in at.subheader]
    assert [b.label for b in at.main.button] == [CHANGE]


def test_the_profile_shows_the_establishment_and_the_service(app_env):
    text = markdown_text(open_page(MON_COMPTE, "declarant-req"))
    assert "**Établissement** : Centre hospitalier Sud Francilien (CHSF)" in text
    assert "**Service** : Service d'accueil des urgences" in text
    text = markdown_text(open_page(MON_COMPTE, "ars"))
    assert "Établissement" not in text and "Service" not in text


def test_a_wrong_current_password_is_refused(app_env):
    before = _hash(app_env, "coordinateur-req")
    at = _change(open_page(MON_COMPTE, "coordinateur-req"), "pas-le-bon-mot-de-passe", NEW_PASSWORD)
    assert not at.exception
    assert errors(at) == ["Le mot de passe actuel est incorrect."]
    assert not at.success
    assert _hash(app_env, "coordinateur-req") == before


def test_two_different_new_passwords_are_refused(app_env):
    before = _hash(app_env, "coordinateur-req")
    at = _change(
        open_page(MON_COMPTE, "coordinateur-req"), PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x"
    )
    assert not at.exception
    assert errors(at) == ["Les deux saisies du nouveau mot de passe diffèrent."]
    assert _hash(app_env, "coordinateur-req") == before


def test_a_short_new_password_breaks_the_policy(app_env):
    before = _hash(app_env, "coordinateur-req")
    at = _change(open_page(MON_COMPTE, "coordinateur-req"), PASSWORD, "court")
    assert not at.exception
    assert errors(at) == ["Le mot de passe doit comporter au moins 12 caractères."]
    assert _hash(app_env, "coordinateur-req") == before


def test_the_same_password_again_is_refused(app_env):
    at = _change(open_page(MON_COMPTE, "coordinateur-req"), PASSWORD, PASSWORD)
    assert not at.exception
    assert errors(at) == ["Le nouveau mot de passe doit être différent de l'actuel."]


def test_change_my_password(app_env):
    at = _change(open_page(MON_COMPTE, "referent-ref"), PASSWORD, NEW_PASSWORD)
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["Mot de passe changé."]
    assert not errors(at)
    assert [t.value for t in at.title] == ["Mon compte"]  # still on the page
    # the form was emptied: the passwords are not left in the widgets
    assert all(not t.value for t in at.main.text_input)
    assert not auth.authenticate(app_env.db, "referent-ref", PASSWORD).ok
    assert auth.authenticate(app_env.db, "referent-ref", NEW_PASSWORD).ok


# --- a temporary password is changed at login -----------------------------------------------


def _forced_change_then_accueil(
    world, monkeypatch, username: str, temporary: str, establishment: str
) -> None:
    menus = record_menu(monkeypatch)
    at = login_via_form(username, temporary)
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == [CHANGE]
    assert (
        "Votre mot de passe est provisoire : choisissez-en un nouveau pour continuer "
        "(au moins 12 caractères)." in [i.value for i in at.info]
    )
    assert menus == []  # st.navigation never ran: no page of the menu
    text = page_text(at)
    assert "Bonjour" not in text  # neither Accueil nor Mon compte
    assert establishment not in text
    assert "Documents" not in text
    # any other run (a click elsewhere, a reload) still shows only the form
    at = at.run()
    assert [t.value for t in at.title] == [CHANGE] and menus == []

    # a mismatch keeps the form
    at = _change(at, temporary, NEW_PASSWORD, NEW_PASSWORD + "x")
    assert errors(at) == ["Les deux saisies du nouveau mot de passe diffèrent."]
    assert [t.value for t in at.title] == [CHANGE] and menus == []
    assert _must_change(world, username)

    at = _change(at, temporary, NEW_PASSWORD)
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["Mot de passe changé."]
    assert at.title[0].value == "Registre des refus PDSES"  # Accueil
    assert establishment in markdown_text(at)  # its profile
    assert menus, "the menu is built once the password is changed"
    assert not _must_change(world, username)
    assert not auth.authenticate(world.db, username, temporary).ok
    assert auth.authenticate(world.db, username, NEW_PASSWORD).ok


def test_an_account_created_by_the_administrateur_changes_its_password_at_login(
    app_env, monkeypatch
):
    world = app_env
    # the Administrateur creates the account through the page
    at = open_page(ADMIN_COMPTES, "admin")
    at.button(key="compte-nouveau").click()
    at = at.run()
    at.text_input(key="compte-0-identifiant").input("pdses-foch")
    at.text_input(key="compte-0-nom").input("PDSES Foch")
    at.text_input(key="compte-0-email").input("pdses@foch.fr")
    at.selectbox(key="compte-0-etablissement").set_value(world.est["other"])
    at.text_input(key="compte-0-mot-de-passe").input(TEMPORARY)
    at.button(key="compte-0-creer").click()
    at = at.run()
    assert not at.exception, at.exception
    assert len(at.success) == 1
    assert _must_change(world, "pdses-foch")

    _forced_change_then_accueil(world, monkeypatch, "pdses-foch", TEMPORARY, "Hôpital Foch")


def test_a_password_reset_by_the_administrateur_is_changed_at_login(app_env, monkeypatch):
    world = app_env
    target = world.actor("coordinateur_ref").id
    at = open_page(ADMIN_COMPTES, "admin")
    at.button(key=f"compte-{target}").click()
    at = at.run()
    at.text_input(key=f"compte-{target}-provisoire").input(TEMPORARY)
    at.button(key=f"compte-{target}-definir").click()
    at = at.run()
    assert not at.exception, at.exception
    assert len(at.success) == 1
    assert _must_change(world, "coordinateur-ref")
    assert not auth.authenticate(world.db, "coordinateur-ref", PASSWORD).ok

    _forced_change_then_accueil(
        world, monkeypatch, "coordinateur-ref", TEMPORARY, "Hôpital Henri-Mondor"
    )


def test_an_open_session_is_stopped_by_a_temporary_password(app_env):
    """The account's session was open before the reset: its next run asks for the change
    and runs no page."""
    world = app_env
    at = open_page(MON_COMPTE, "declarant-req")
    assert [t.value for t in at.title] == ["Mon compte"]
    administration.reset_password(
        world.db, world.actor("admin"), world.actor("declarant_req").id, TEMPORARY
    )
    at = at.run()
    assert not at.exception
    assert [t.value for t in at.title] == [CHANGE]
    assert "Centre hospitalier Sud Francilien" not in page_text(at)
