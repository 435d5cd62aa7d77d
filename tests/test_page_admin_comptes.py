"""AppTest of « Administration — Comptes »: only the Administrateur reaches it; search,
create (temporary password, personal-address warning, errors next to the fields), edit,
change of profile, deactivate / reactivate, unlock, temporary password."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registre import auth
from registre.accounts import PERSONAL_EMAIL_WARNING
from registre.auth import LOGIN_FAILED_MESSAGE, MAX_FAILURES
from registre.models import Account, AuditEntry, Role

from . import apptest_helpers
from .apptest_helpers import (
    ADMIN_COMPTES,
    DENIED,
    errors,
    logged_in,
    open_page,
    page_text,
    run_directly,
    table_rows,
    widget,
)
from .factories import PASSWORD

app_env = apptest_helpers.app_env  # the fixture
fresh_server_env = apptest_helpers.fresh_server_env  # the fixture

OTHER_ROLES = ["declarant-req", "referent-ref", "coordinateur-req", "directeur-req", "ars"]
TEMPORARY = "provisoire-2026-abcdef"
NEW_USER = "jean.dupont"


def _account(world, username: str) -> Account | None:
    with world.db.read() as session:
        account = session.scalars(select(Account).where(Account.username == username)).first()
        if account is not None:
            session.expunge(account)
        return account


def _account_id(world, username: str) -> int:
    account = _account(world, username)
    assert account is not None, username
    return account.id


def _account_count(world) -> int:
    with world.db.read() as session:
        return session.scalar(select(func.count()).select_from(Account)) or 0


def _rows(at) -> list[list[str]]:
    """The rows of the accounts' list (not the columns of the form below, whose buttons
    are keyed ``compte-<id>-…`` too)."""
    return [row for row in table_rows(at, "compte-") if row[0].startswith("✏️ ")]


def _listed(at) -> list[str]:
    """The identifiers of the listed accounts (the ✏️ buttons)."""
    return [row[0].removeprefix("✏️ ") for row in _rows(at)]


def _search(at):
    """Submit the search form (its button shares its label with nothing else)."""
    return widget(at.button, "Rechercher").click().run()


def _successes(at) -> list[str]:
    return [s.value for s in at.success]


def _new_account_form(at):
    at.button(key="compte-nouveau").click()
    at = at.run()
    assert not at.exception, at.exception
    assert "Nouveau compte" in [h.value for h in at.header]
    return at


def _fill_new(at, world, *, username=NEW_USER, email="jean.dupont@chsf.fr", password=TEMPORARY):
    at.text_input(key="compte-0-identifiant").input(username)
    at.text_input(key="compte-0-nom").input("Jean Dupont")
    at.text_input(key="compte-0-email").input(email)
    at.selectbox(key="compte-0-profil").set_value(Role.DECLARANT)
    at.selectbox(key="compte-0-etablissement").set_value(world.est["req"])
    at = at.run()  # the service list follows the establishment
    at.selectbox(key=f"compte-0-service-{world.est['req']}").set_value(world.services["req"])
    at.text_input(key="compte-0-mot-de-passe").input(password)
    return at


def _edit(at, account_id: int):
    """Click the ✏️ button of the account's row."""
    at.button(key=f"compte-{account_id}").click()
    at = at.run()
    assert not at.exception, at.exception
    return at


# --- who reaches the page -----------------------------------------------------------------


@pytest.mark.parametrize("username", OTHER_ROLES)
def test_other_roles_are_refused_when_the_page_runs_alone(fresh_server_env, username):
    at = run_directly(ADMIN_COMPTES, username)
    assert not at.exception
    assert errors(at) == [DENIED]
    assert "Comptes" not in [t.value for t in at.title]
    assert not at.main.text_input and not at.main.selectbox and not at.main.button
    text = page_text(at)
    for secret in ("admin@example.org", "declarant-ref", "Nouveau compte"):
        assert secret not in text


@pytest.mark.parametrize("username", OTHER_ROLES)
def test_the_menu_of_other_roles_lacks_the_page(app_env, username):
    at = logged_in(username).run()
    assert not at.exception
    with pytest.raises(ValueError):
        at.switch_page(ADMIN_COMPTES)


def test_the_administrateur_sees_every_account(app_env):
    at = open_page(ADMIN_COMPTES, "admin")
    assert not at.exception
    assert [t.value for t in at.title] == ["Comptes"]
    listed = _listed(at)
    assert len(listed) == _account_count(app_env) == 12
    assert listed == sorted(listed)
    assert "declarant-req" in listed and "admin" in listed
    row = next(r for r in _rows(at) if r[0] == "✏️ declarant-req")
    assert row[1:] == [
        "declarant_req",
        "Déclarant",
        "Centre hospitalier Sud Francilien (CHSF)",
        "declarant-req@example.org",
        "Actif",
    ]


# --- search -------------------------------------------------------------------------------


def test_search_by_text(app_env):
    at = open_page(ADMIN_COMPTES, "admin")
    widget(at.text_input, "Rechercher").input("MONDOR")  # the establishment's name
    at = _search(at)
    assert not at.exception
    assert _listed(at) == [
        "coordinateur-ref",
        "declarant-ref",
        "directeur-ref",
        "referent-ref",
        "referent-ref-orl",
    ]
    widget(at.text_input, "Rechercher").input("personne-inconnue")
    at = _search(at)
    assert _listed(at) == []
    assert "Aucun compte ne correspond à la recherche." in [i.value for i in at.info]


def test_search_by_profile(app_env):
    at = open_page(ADMIN_COMPTES, "admin")
    at.selectbox(key="comptes-profil").set_value(Role.ARS)
    at = _search(at)
    assert not at.exception
    assert _listed(at) == ["ars", "ars-75"]
    assert {r[2] for r in _rows(at)} == {"Coordinateur régional (ARS)"}


# --- creating an account ------------------------------------------------------------------


def test_create_an_account_with_a_temporary_password(app_env):
    world = app_env
    at = _fill_new(_new_account_form(open_page(ADMIN_COMPTES, "admin")), world)
    at.button(key="compte-0-creer").click()
    at = at.run()
    assert not at.exception, at.exception
    assert _successes(at) == [
        f"Compte « {NEW_USER} » créé. Le mot de passe provisoire devra être changé à la "
        "première connexion."
    ]
    # jean.dupont@… names a person: saved, and said
    assert [w.value for w in at.warning] == [PERSONAL_EMAIL_WARNING]
    account = _account(world, NEW_USER)
    assert account is not None
    assert account.display_name == "Jean Dupont"
    assert account.email == "jean.dupont@chsf.fr"
    assert account.role is Role.DECLARANT
    assert account.establishment_id == world.est["req"]
    assert account.service_id == world.services["req"]
    assert account.must_change_password
    assert auth.check_password(TEMPORARY, account.password_hash)
    # the page now shows the new account: in the list and in the form
    assert NEW_USER in _listed(at)
    assert f"Compte « {NEW_USER} »" in [h.value.replace("\\", "") for h in at.header]
    assert "État : Mot de passe provisoire" in [c.value for c in at.caption]
    with world.db.read() as session:
        assert session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "account_created", AuditEntry.entity_id == account.id)
        )


def test_a_generic_address_gets_no_warning(app_env):
    at = _fill_new(
        _new_account_form(open_page(ADMIN_COMPTES, "admin")),
        app_env,
        username="pdses-chsf",
        email="pdses@chsf.fr",
    )
    at.button(key="compte-0-creer").click()
    at = at.run()
    assert not at.exception
    assert len(at.success) == 1
    assert not at.warning
    assert _account(app_env, "pdses-chsf") is not None


def test_an_invalid_account_shows_each_error_next_to_its_field_and_creates_nothing(app_env):
    world = app_env
    before = _account_count(world)
    at = _new_account_form(open_page(ADMIN_COMPTES, "admin"))
    at.text_input(key="compte-0-identifiant").input("")
    at.text_input(key="compte-0-nom").input("Quelqu'un")
    at.text_input(key="compte-0-email").input("pas-une-adresse")
    at.selectbox(key="compte-0-profil").set_value(Role.DECLARANT)  # without establishment
    at.text_input(key="compte-0-mot-de-passe").input("court")
    at.button(key="compte-0-creer").click()
    at = at.run()
    assert not at.exception, at.exception
    shown = errors(at)
    assert (
        "L'identifiant doit comporter de 3 à 80 caractères : lettres minuscules, chiffres, "
        "point, tiret." in shown
    )
    assert any(e.startswith("Adresse e-mail invalide : ") for e in shown), shown
    assert "Ce profil doit être rattaché à un établissement." in shown
    assert "Le mot de passe doit comporter au moins 12 caractères." in shown
    assert not at.success
    assert _account_count(world) == before
    # the typed values stay in their fields, the form is still « Nouveau compte »
    assert at.text_input(key="compte-0-nom").value == "Quelqu'un"
    assert "Nouveau compte" in [h.value for h in at.header]


def test_an_identifier_already_used_is_refused(app_env):
    before = _account_count(app_env)
    at = _fill_new(
        _new_account_form(open_page(ADMIN_COMPTES, "admin")), app_env, username="Declarant-Req"
    )
    at.button(key="compte-0-creer").click()
    at = at.run()
    assert not at.exception
    assert "Cet identifiant est déjà utilisé." in errors(at)
    assert _account_count(app_env) == before


def test_cancel_closes_the_new_account_form(app_env):
    at = _new_account_form(open_page(ADMIN_COMPTES, "admin"))
    at.button(key="compte-0-annuler").click()
    at = at.run()
    assert not at.exception
    assert not at.header
    assert not [t for t in at.text_input if t.key and t.key.startswith("compte-0-")]


def test_a_cancelled_attempt_leaves_no_error_on_the_next_new_account_form(app_env):
    """« Annuler » drops the attempt: the next « Nouveau compte » starts clean, without the
    error messages of the abandoned one."""
    at = _new_account_form(open_page(ADMIN_COMPTES, "admin"))
    at.text_input(key="compte-0-identifiant").input("x")
    at.button(key="compte-0-creer").click()
    at = at.run()
    assert errors(at)  # the attempt's errors, next to its fields
    at.button(key="compte-0-annuler").click()
    at = at.run()
    assert not at.exception
    assert not errors(at)
    at = _new_account_form(at)
    assert errors(at) == []


# --- editing an account -------------------------------------------------------------------


def test_edit_an_account(app_env):
    world = app_env
    target = _account_id(world, "declarant-ref")
    at = _edit(open_page(ADMIN_COMPTES, "admin"), target)
    assert "Compte « declarant-ref »" in [h.value.replace("\\", "") for h in at.header]
    assert at.text_input(key=f"compte-{target}-nom").value == "declarant_ref"
    assert at.selectbox(key=f"compte-{target}-profil").value is Role.DECLARANT
    assert at.selectbox(key=f"compte-{target}-etablissement").value == world.est["ref"]
    at.text_input(key=f"compte-{target}-nom").input("Secrétariat des urgences")
    at.button(key=f"compte-{target}-enregistrer").click()
    at = at.run()
    assert not at.exception, at.exception
    assert _successes(at) == ["Compte « declarant-ref » enregistré."]
    account = _account(world, "declarant-ref")
    assert account is not None and account.display_name == "Secrétariat des urgences"
    assert account.establishment_id == world.est["ref"]
    row = next(r for r in _rows(at) if r[0] == "✏️ declarant-ref")
    assert row[1] == "Secrétariat des urgences"


def test_change_the_profile_to_coordinateur_regional(app_env):
    world = app_env
    target = _account_id(world, "coordinateur-req")
    at = _edit(open_page(ADMIN_COMPTES, "admin"), target)
    assert at.selectbox(key=f"compte-{target}-etablissement")
    at.selectbox(key=f"compte-{target}-profil").set_value(Role.ARS)
    at = at.run()
    assert not at.exception
    keys = [s.key for s in at.selectbox]
    assert f"compte-{target}-etablissement" not in keys
    assert not [k for k in keys if k and k.startswith(f"compte-{target}-service")]
    departements = at.multiselect(key=f"compte-{target}-departements")
    assert departements.label == "Départements (facultatif : toute la région si vide)"
    assert set(departements.options) == {"75", "91", "92", "94"}
    departements.set_value(["91"])
    at.button(key=f"compte-{target}-enregistrer").click()
    at = at.run()
    assert not at.exception, at.exception
    assert _successes(at) == ["Compte « coordinateur-req » enregistré."]
    account = _account(world, "coordinateur-req")
    assert account is not None
    assert account.role is Role.ARS
    assert account.establishment_id is None and account.service_id is None
    loaded = auth.load_actor(world.db, "coordinateur-req")
    assert loaded is not None and loaded.departements == {"91"}


def test_a_referent_may_be_limited_to_specialties(app_env):
    world = app_env
    target = _account_id(world, "declarant-req")
    at = _edit(open_page(ADMIN_COMPTES, "admin"), target)
    assert not [m for m in at.multiselect if m.key == f"compte-{target}-specialites"]
    at.selectbox(key=f"compte-{target}-profil").set_value(Role.REFERENT)
    at = at.run()
    specialties = at.multiselect(key=f"compte-{target}-specialites")
    assert specialties.label == "Spécialités (facultatif : toutes si vide)"
    specialties.set_value([world.specialty["ORL"]])
    at = at.button(key=f"compte-{target}-enregistrer").click().run()
    assert not at.exception, at.exception
    assert _successes(at) == ["Compte « declarant-req » enregistré."]
    loaded = auth.load_actor(world.db, "declarant-req")
    assert loaded is not None and loaded.role is Role.REFERENT
    assert loaded.specialty_ids == {world.specialty["ORL"]}
    assert loaded.establishment_id == world.est["req"]
    row = next(r for r in _rows(at) if r[0] == "✏️ declarant-req")
    assert row[2] == "Référent PDSES"


def test_the_administrateur_cannot_remove_its_own_profile(app_env):
    world = app_env
    me = _account_id(world, "admin")
    at = _edit(open_page(ADMIN_COMPTES, "admin"), me)
    at.selectbox(key=f"compte-{me}-profil").set_value(Role.DIRECTEUR)
    at = at.run()
    at.selectbox(key=f"compte-{me}-etablissement").set_value(world.est["req"])
    at.button(key=f"compte-{me}-enregistrer").click()
    at = at.run()
    assert not at.exception
    assert "Vous ne pouvez pas retirer votre propre profil Administrateur." in errors(at)
    account = _account(world, "admin")
    assert account is not None and account.role is Role.ADMIN


def test_the_administrateur_cannot_rename_its_own_identifier(app_env):
    """The open session and its cookie name the account by its identifier: renaming oneself
    would end the session at the next run. Refused next to the field; another
    administrator can do it."""
    world = app_env
    me = _account_id(world, "admin")
    at = _edit(open_page(ADMIN_COMPTES, "admin"), me)
    at.text_input(key=f"compte-{me}-identifiant").input("admin-region")
    at = at.button(key=f"compte-{me}-enregistrer").click().run()
    assert not at.exception
    assert _account(world, "admin-region") is None
    assert [t.value for t in at.title] == ["Comptes"]  # still logged in
    assert (
        "Vous ne pouvez pas changer votre propre identifiant : demandez-le à un autre "
        "administrateur." in [e.value for e in at.error]
    )


# --- access: deactivate, reactivate, unlock, temporary password ---------------------------


def test_deactivate_then_reactivate(app_env):
    world = app_env
    target = _account_id(world, "referent-ref")
    at = _edit(open_page(ADMIN_COMPTES, "admin"), target)
    at.button(key=f"compte-{target}-desactiver").click()
    at = at.run()
    assert not at.exception, at.exception
    assert _successes(at) == ["Compte « referent-ref » désactivé : il ne peut plus se connecter."]
    row = next(r for r in _rows(at) if r[0] == "✏️ referent-ref")
    assert row[-1] == "Désactivé"
    result = auth.authenticate(world.db, "referent-ref", PASSWORD)
    assert not result.ok and result.message == LOGIN_FAILED_MESSAGE
    # the « État » filter finds it among the deactivated ones
    at.selectbox(key="comptes-etat").set_value(False)
    at = _search(at)
    assert _listed(at) == ["referent-ref"]

    reactivate = [b for b in at.button if b.key == f"compte-{target}-reactiver"]
    assert [b.label for b in reactivate] == ["Réactiver le compte"]
    reactivate[0].click()
    at = at.run()
    assert not at.exception
    assert _successes(at) == ["Compte « referent-ref » réactivé."]
    assert auth.authenticate(world.db, "referent-ref", PASSWORD).ok


def test_the_administrateur_cannot_deactivate_its_own_account(app_env):
    me = _account_id(app_env, "admin")
    at = _edit(open_page(ADMIN_COMPTES, "admin"), me)
    at.button(key=f"compte-{me}-desactiver").click()
    at = at.run()
    assert not at.exception
    assert "Vous ne pouvez pas désactiver votre propre compte." in errors(at)
    account = _account(app_env, "admin")
    assert account is not None and account.active


def test_unlock_an_account_locked_after_failed_logins(app_env):
    world = app_env
    for _ in range(MAX_FAILURES):
        auth.authenticate(world.db, "directeur-ref", "mauvais-mot-de-passe")
    assert auth.authenticate(world.db, "directeur-ref", PASSWORD).locked
    target = _account_id(world, "directeur-ref")
    at = _edit(open_page(ADMIN_COMPTES, "admin"), target)
    row = next(r for r in _rows(at) if r[0] == "✏️ directeur-ref")
    assert row[-1] == "Verrouillé"
    # locked at 03:15 (Paris), for 15 minutes
    assert [w.value for w in at.warning] == [
        "Compte verrouillé jusqu'au 26/11/2026 03:30 après des échecs de connexion."
    ]
    at.button(key=f"compte-{target}-deverrouiller").click()
    at = at.run()
    assert not at.exception, at.exception
    assert _successes(at) == ["Compte « directeur-ref » déverrouillé."]
    assert not at.warning
    assert not [b for b in at.button if b.key == f"compte-{target}-deverrouiller"]
    account = _account(world, "directeur-ref")
    assert account is not None and account.locked_until is None
    assert auth.authenticate(world.db, "directeur-ref", PASSWORD).ok


def test_set_a_temporary_password(app_env):
    world = app_env
    target = _account_id(world, "declarant-req")
    at = _edit(open_page(ADMIN_COMPTES, "admin"), target)
    at.text_input(key=f"compte-{target}-provisoire").input("trop-court")
    at.button(key=f"compte-{target}-definir").click()
    at = at.run()
    assert not at.exception
    assert "Le mot de passe doit comporter au moins 12 caractères." in errors(at)
    account = _account(world, "declarant-req")
    assert account is not None and not account.must_change_password

    at.text_input(key=f"compte-{target}-provisoire").input(TEMPORARY)
    at.button(key=f"compte-{target}-definir").click()
    at = at.run()
    assert not at.exception, at.exception
    assert _successes(at) == [
        "Mot de passe provisoire défini pour « declarant-req » : à changer à la prochaine "
        "connexion."
    ]
    assert not errors(at)
    account = _account(world, "declarant-req")
    assert account is not None and account.must_change_password
    assert auth.check_password(TEMPORARY, account.password_hash)
    assert not auth.authenticate(world.db, "declarant-req", PASSWORD).ok
