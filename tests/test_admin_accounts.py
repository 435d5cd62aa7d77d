"""Administration of accounts (issue 5, SPEC §3): the Administrateur only; create with a
temporary password that must be changed at the next login; every rule of an account
checked and each faulty field listed; a personal-looking e-mail warned about; edit, deactivate
(never delete), unlock, reset the password; search and pagination; every action audited.

Everything is read back from the database, and logins go through ``auth.authenticate``.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from registre import administration, auth, queries, referentials
from registre.accounts import PERSONAL_EMAIL_WARNING, AccountFields, email_looks_personal
from registre.errors import AuthenticationError, NotFound, PermissionDenied, ValidationError
from registre.models import Account, AuditEntry, Dossier, Role

from . import apptest_helpers
from .apptest_helpers import login_via_form
from .factories import NON_ADMINS, PASSWORD

app_env = apptest_helpers.app_env  # the fixture

DENIED = "Seul l'administrateur a accès à l'administration."
TEMPORARY = "provisoire-2026-abc"
NEW_PASSWORD = "definitif-2026-xyz!"


def admin(world):
    return world.actor("admin")


def new_fields(world, **overrides) -> AccountFields:
    """A valid Référent PDSES of Hôpital Foch with a generic address."""
    values = {
        "username": "pdses-foch",
        "display_name": "PDSES Foch",
        "email": "pdses@foch.example.org",
        "role": Role.REFERENT,
        "establishment_id": world.est["other"],
    }
    values.update(overrides)
    return AccountFields(**values)


def fields_of(world, name: str, **overrides) -> AccountFields:
    """The edit form of an existing account, as ``get_account`` fills it."""
    detail = administration.get_account(world.db, admin(world), world.actor(name).id)
    return dataclasses.replace(detail.fields, **overrides)


def account(world, username: str) -> Account:
    with world.db.read() as s:
        row = s.scalars(select(Account).where(Account.username == username)).one()
        list(row.specialties), list(row.departements)
        return row


def audit_entries(world, action: str, entity_id: int | None = None) -> list[AuditEntry]:
    with world.db.read() as s:
        query = select(AuditEntry).where(AuditEntry.action == action)
        if entity_id is not None:
            query = query.where(AuditEntry.entity_id == entity_id)
        return list(s.scalars(query.order_by(AuditEntry.id)))


def audit_count(world) -> int:
    with world.db.read() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry)) or 0


def account_count(world) -> int:
    with world.db.read() as s:
        return s.scalar(select(func.count()).select_from(Account)) or 0


def lock(world, username: str) -> None:
    for _ in range(auth.MAX_FAILURES):
        auth.authenticate(world.db, username, "mauvais-mot-de-passe")
    assert auth.authenticate(world.db, username, PASSWORD).locked


# --- only the Administrateur ----------------------------------------------------------------

CALLS = {
    "list_accounts": lambda w, a, target: administration.list_accounts(w.db, a),
    "get_account": lambda w, a, target: administration.get_account(w.db, a, target),
    "account_form_options": lambda w, a, target: administration.account_form_options(w.db, a),
    "create": lambda w, a, target: administration.create(w.db, a, new_fields(w), TEMPORARY),
    "update": lambda w, a, target: administration.update(
        w.db, a, target, new_fields(w, username="declarant-ref", role=Role.DIRECTEUR)
    ),
    "deactivate": lambda w, a, target: administration.set_active(w.db, a, target, False),
    "unlock": lambda w, a, target: administration.unlock(w.db, a, target),
    "reset_password": lambda w, a, target: administration.reset_password(
        w.db, a, target, TEMPORARY
    ),
}


def refusals(calls: dict, *args) -> dict[str, str]:
    """What each call answers: the refusal's message, or « allowed »."""
    answers = {}
    for key, call in calls.items():
        try:
            call(*args)
        except PermissionDenied as exc:
            answers[key] = exc.message
        else:
            answers[key] = "allowed"
    return answers


@pytest.mark.parametrize("name", NON_ADMINS)
def test_every_account_action_is_refused_to_every_other_role(world, name):
    target = world.actor("declarant_ref").id
    before = (audit_count(world), account_count(world), account(world, "declarant-ref"))
    assert refusals(CALLS, world, world.actor(name), target) == dict.fromkeys(CALLS, DENIED)
    after = (audit_count(world), account_count(world), account(world, "declarant-ref"))
    assert after[:2] == before[:2]
    for column in ("role", "active", "password_hash", "must_change_password", "locked_until"):
        assert getattr(after[2], column) == getattr(before[2], column)


def test_a_deactivated_administrator_acts_no_more(world):
    """The actor is reloaded at every call, not trusted from the session."""
    with world.db.transaction() as s:
        s.get(Account, world.actor("admin").id).active = False
    with pytest.raises(AuthenticationError):
        administration.list_accounts(world.db, admin(world))
    with pytest.raises(AuthenticationError):
        administration.unlock(world.db, admin(world), world.actor("declarant_req").id)


# --- creation with a temporary password --------------------------------------------------


def test_a_created_account_must_change_its_temporary_password_at_login(world):
    saved = administration.create(world.db, admin(world), new_fields(world), TEMPORARY)
    assert saved.username == "pdses-foch" and saved.warning is None
    row = account(world, "pdses-foch")
    assert row.id == saved.id
    assert (row.role, row.establishment_id, row.active) == (Role.REFERENT, world.est["other"], True)
    assert row.must_change_password is True
    assert TEMPORARY not in row.password_hash and auth.check_password(TEMPORARY, row.password_hash)
    [created] = audit_entries(world, "account_created", saved.id)
    assert created.actor_id == admin(world).id
    assert created.details == {"username": "pdses-foch", "role": "referent"}

    login = auth.authenticate(world.db, "pdses-foch", TEMPORARY)
    assert login.ok and login.actor is not None
    assert login.actor.must_change_password is True

    auth.change_password(world.db, login.actor, TEMPORARY, NEW_PASSWORD)
    assert account(world, "pdses-foch").must_change_password is False
    again = auth.authenticate(world.db, "pdses-foch", NEW_PASSWORD)
    assert again.ok and again.actor is not None and again.actor.must_change_password is False
    assert not auth.authenticate(world.db, "pdses-foch", TEMPORARY).ok


def test_the_login_page_asks_for_a_new_password_first(app_env):
    """The gate of every page: an account created by the administrator sees only the
    password change form after its first login."""
    world = app_env
    administration.create(world.db, admin(world), new_fields(world), TEMPORARY)
    at = login_via_form("pdses-foch", TEMPORARY)
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Changer mon mot de passe"]
    assert [ti.label for ti in at.text_input] == [
        "Mot de passe actuel",
        "Nouveau mot de passe",
        "Confirmation du nouveau mot de passe",
    ]
    assert "Hôpital Foch" not in " ".join(m.value for m in at.markdown)  # not Accueil


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"username": "ab"}, "username", "L'identifiant doit comporter de 3 à 80 caractères"),
        ({"username": "jean dupont"}, "username", "L'identifiant doit comporter"),
        ({"username": "élodie"}, "username", "L'identifiant doit comporter"),
        ({"username": "x" * 81}, "username", "L'identifiant doit comporter"),
        ({"username": " Declarant-REQ "}, "username", "Cet identifiant est déjà utilisé."),
        ({"display_name": "   "}, "display_name", "Le nom affiché est obligatoire."),
        ({"email": "pas-une-adresse"}, "email", "Adresse e-mail invalide"),
        ({"email": "a@b@hopital.fr"}, "email", "Adresse e-mail invalide"),
        ({"email": ""}, "email", "Adresse e-mail invalide"),
        (
            {"email": "pdses@hopital.fr, urgences@hopital.fr"},
            "email",
            "Adresse e-mail invalide",
        ),
        (
            {"establishment_id": None},
            "establishment",
            "Ce profil doit être rattaché à un établissement.",
        ),
        ({"establishment_id": 999_999}, "establishment", "Établissement inconnu."),
        ({"service_id": "req"}, "service", "Ce service n'appartient pas à l'établissement."),
        ({"service_id": 999_999}, "service", "Ce service n'appartient pas à l'établissement."),
        ({"specialty_ids": [999_999]}, "specialties", "Spécialité inconnue."),
        (
            {"role": Role.DECLARANT, "specialty_ids": ["ORL"]},
            "specialties",
            "Seul un Référent PDSES peut être limité à certaines spécialités.",
        ),
        (
            {"role": Role.COORDINATEUR, "departements": ["75"]},
            "departements",
            "Seul un Coordinateur régional peut être limité à des départements.",
        ),
        (
            {"role": Role.ARS, "establishment_id": None, "departements": ["75", "2B"]},
            "departements",
            "Département sans établissement : 2B",
        ),
    ],
)
def test_each_faulty_field_is_refused_with_its_message(world, overrides, field, message):
    if overrides.get("service_id") == "req":
        overrides["service_id"] = world.services["req"]  # a service of another establishment
    if overrides.get("specialty_ids") == ["ORL"]:
        overrides["specialty_ids"] = [world.specialty["ORL"]]
    before = (account_count(world), audit_count(world))
    with pytest.raises(ValidationError) as exc:
        administration.create(world.db, admin(world), new_fields(world, **overrides), TEMPORARY)
    assert field in exc.value.by_field()
    assert any(m.startswith(message) for m in exc.value.by_field()[field])
    assert (account_count(world), audit_count(world)) == before


def test_a_display_name_longer_than_its_column_is_refused(world):
    """The column holds 200 characters: a field error, not a database error (PostgreSQL)
    nor a silent overflow (SQLite)."""
    with pytest.raises(ValidationError) as exc:
        administration.create(
            world.db, admin(world), new_fields(world, display_name="x" * 201), TEMPORARY
        )
    assert "display_name" in exc.value.by_field()
    assert account_count(world) == len(world.actors)


@pytest.mark.parametrize(
    "password",
    [
        "court",
        "onze-caract",  # 11 characters
        "é" * 37,  # 74 bytes: bcrypt would silently cut it
        " espace-au-debut-du-mot",
    ],
)
def test_a_weak_temporary_password_is_refused(world, password):
    with pytest.raises(ValidationError) as exc:
        administration.create(world.db, admin(world), new_fields(world), password)
    assert set(exc.value.by_field()) == {"password"}
    assert account_count(world) == len(world.actors)


def test_every_faulty_field_is_listed_at_once(world):
    data = new_fields(
        world,
        username="x",
        display_name="",
        email="pas-une-adresse",
        role=Role.DIRECTEUR,
        establishment_id=None,
        specialty_ids=[world.specialty["ORL"]],
        departements=["75"],
    )
    with pytest.raises(ValidationError) as exc:
        administration.create(world.db, admin(world), data, "court")
    assert set(exc.value.by_field()) == {
        "username",
        "display_name",
        "email",
        "establishment",
        "specialties",
        "departements",
        "password",
    }


def test_a_referent_may_be_limited_to_specialties_and_an_ars_to_departements(world):
    referent = administration.update(
        world.db,
        admin(world),
        world.actor("referent_req").id,
        fields_of(world, "referent_req", specialty_ids=[world.specialty["ORL"]]),
    )
    assert referent.warning is None
    assert [c.label for c in queries.specialty_choices(world.db, world.actor("referent_req"))] == [
        "ORL"
    ]
    administration.update(
        world.db,
        admin(world),
        world.actor("ars").id,
        fields_of(world, "ars", departements=[" 92", "75 "]),
    )
    detail = administration.get_account(world.db, admin(world), world.actor("ars").id)
    assert detail.fields.departements == ["75", "92"]
    assert detail.row.departements == ("75", "92")


# --- the e-mail address -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "personal"),
    [
        ("jean.dupont@hopital.fr", True),
        ("Jean.Dupont@hopital.fr", True),
        ("j.dupont@hopital.fr", True),
        ("jean-pierre.martin@chu-exemple.fr", True),
        ("marie_durand2@hopital.fr", True),
        ("pdses@hopital.fr", False),
        ("urgences.chsf@hopital.fr", False),
        ("secretariat.direction@hopital.fr", False),
        ("coordination-pdses@hopital.fr", False),
        ("garde@hopital.fr", False),
        ("dim@hopital.fr", False),
    ],
)
def test_a_personal_looking_address_is_recognised(email, personal):
    assert email_looks_personal(email) is personal


@pytest.mark.parametrize(
    "email",
    ["dimitri.martin@hopital.fr", "nadim.haddad@hopital.fr", "vadim.petit@hopital.fr"],
)
def test_a_first_name_containing_a_generic_word_still_looks_personal(email):
    """« dim » (the DIM, a generic address) must not be matched inside a first name."""
    assert email_looks_personal(email) is True


def test_a_personal_address_is_saved_with_a_warning(world):
    saved = administration.create(
        world.db, admin(world), new_fields(world, email="jean.dupont@hopital.fr"), TEMPORARY
    )
    assert saved.warning == PERSONAL_EMAIL_WARNING
    assert account(world, "pdses-foch").email == "jean.dupont@hopital.fr"
    changed = administration.update(
        world.db,
        admin(world),
        world.actor("referent_req").id,
        fields_of(world, "referent_req", email="marie.durand@chsf.fr"),
    )
    assert changed.warning == PERSONAL_EMAIL_WARNING
    generic = administration.update(
        world.db,
        admin(world),
        world.actor("referent_req").id,
        fields_of(world, "referent_req", email="pdses@chsf.fr"),
    )
    assert generic.warning is None
    assert account(world, "referent-req").email == "pdses@chsf.fr"


@pytest.mark.parametrize("role", [Role.ARS, Role.ADMIN])
def test_regional_roles_get_no_establishment_even_if_given(world, role):
    saved = administration.create(
        world.db,
        admin(world),
        new_fields(
            world,
            username="regional",
            role=role,
            establishment_id=world.est["req"],
            service_id=world.services["req"],
        ),
        TEMPORARY,
    )
    row = account(world, "regional")
    assert row.id == saved.id
    assert (row.role, row.establishment_id, row.service_id) == (role, None, None)


# --- update ---------------------------------------------------------------------------------


def test_a_role_change_takes_effect_at_the_next_action(world):
    old = world.actor("declarant_req")  # the snapshot held by the session
    world.draft("declarant_req")
    administration.update(
        world.db, admin(world), old.id, fields_of(world, "declarant_req", role=Role.DIRECTEUR)
    )
    with world.db.read() as s:
        assert auth.fresh_actor(s, old).role is Role.DIRECTEUR
    with pytest.raises(PermissionDenied):
        world.draft("declarant_req")  # a Directeur reads, it does not create
    [entry] = audit_entries(world, "account_updated", old.id)
    assert entry.actor_id == admin(world).id
    assert entry.details["username"] == "declarant-req"
    assert entry.details["changes"]["role"] == ["declarant", "directeur"]
    assert set(entry.details["changes"]) == {"role"}


def test_a_directeur_turned_declarant_may_create_at_once(world):
    old = world.actor("directeur_req")
    with pytest.raises(PermissionDenied):
        world.draft("directeur_req")
    administration.update(
        world.db,
        admin(world),
        old.id,
        fields_of(world, "directeur_req", role=Role.DECLARANT, service_id=world.services["req"]),
    )
    ref = world.draft("directeur_req")
    with world.db.read() as s:
        assert s.get(Dossier, ref.id).created_by_id == old.id


def test_moving_an_account_to_another_establishment(world):
    actor = world.actor("coordinateur_req")
    administration.update(
        world.db,
        admin(world),
        actor.id,
        fields_of(world, "coordinateur_req", establishment_id=world.est["other"], service_id=None),
    )
    assert queries.form_options(world.db, actor).establishment.startswith("Hôpital Foch")
    [entry] = audit_entries(world, "account_updated", actor.id)
    assert entry.details["changes"]["establishment_id"] == [world.est["req"], world.est["other"]]


def test_an_update_without_change_writes_no_audit_entry(world):
    actor = world.actor("ars_75")
    saved = administration.update(world.db, admin(world), actor.id, fields_of(world, "ars_75"))
    assert saved.username == "ars-75"
    assert audit_entries(world, "account_updated") == []
    assert [d.departement for d in account(world, "ars-75").departements] == ["75"]


def test_an_update_keeps_its_own_identifier_and_refuses_another_ones(world):
    actor = world.actor("referent_ref")
    administration.update(
        world.db, admin(world), actor.id, fields_of(world, "referent_ref", display_name="Référent")
    )
    assert account(world, "referent-ref").display_name == "Référent"
    with pytest.raises(ValidationError) as exc:
        administration.update(
            world.db, admin(world), actor.id, fields_of(world, "referent_ref", username="ars")
        )
    assert exc.value.by_field()["username"] == ["Cet identifiant est déjà utilisé."]


def test_the_administrator_cannot_remove_its_own_admin_role(world):
    me = admin(world)
    with pytest.raises(ValidationError) as exc:
        administration.update(world.db, me, me.id, fields_of(world, "admin", role=Role.ARS))
    assert exc.value.by_field()["role"] == [
        "Vous ne pouvez pas retirer votre propre profil Administrateur."
    ]
    assert account(world, "admin").role is Role.ADMIN
    assert audit_entries(world, "account_updated") == []
    # another administrator's role may be changed
    other = administration.create(
        world.db, me, new_fields(world, username="admin-2", role=Role.ADMIN), TEMPORARY
    )
    administration.update(
        world.db, me, other.id, new_fields(world, username="admin-2", role=Role.ARS)
    )
    assert account(world, "admin-2").role is Role.ARS


def test_an_unknown_account_is_not_found(world):
    with pytest.raises(NotFound):
        administration.get_account(world.db, admin(world), 999_999)
    with pytest.raises(NotFound):
        administration.update(world.db, admin(world), 999_999, new_fields(world))
    with pytest.raises(NotFound):
        administration.set_active(world.db, admin(world), 999_999, False)


# --- deactivation, never deletion -----------------------------------------------------------


def test_a_deactivated_account_can_no_longer_log_in_nor_act(world, clock):
    actor = world.actor("declarant_req")
    issued = clock.current
    finalised = world.finalised("declarant_req")
    clock.advance(minutes=5)
    administration.set_active(world.db, admin(world), actor.id, False)

    assert auth.authenticate(world.db, "declarant-req", PASSWORD).message == (
        auth.LOGIN_FAILED_MESSAGE
    )
    assert auth.load_actor_for_cookie(world.db, "declarant-req", issued) is None
    with pytest.raises(AuthenticationError):
        world.draft("declarant_req")
    # never deleted: the row stays, and so does the author of its dossiers
    row = account(world, "declarant-req")
    assert row.active is False and row.sessions_revoked_at == clock.current
    view = queries.get_dossier(world.db, world.actor("referent_req"), dossier_id=finalised.id)
    assert view.created_by == "declarant_req"
    with world.db.read() as s:
        assert s.get(Dossier, finalised.id).created_by_id == actor.id
    status = administration.list_accounts(world.db, admin(world), search="declarant-req")
    assert [(r.active, r.status) for r in status.items] == [(False, "Désactivé")]
    assert [e.actor_id for e in audit_entries(world, "account_deactivated", actor.id)] == [
        admin(world).id
    ]


def test_a_reactivated_account_logs_in_again_but_old_cookies_stay_refused(world, clock):
    actor = world.actor("referent_ref")
    issued = clock.current
    clock.advance(minutes=1)
    administration.set_active(world.db, admin(world), actor.id, False)
    clock.advance(minutes=1)
    administration.set_active(world.db, admin(world), actor.id, True)
    assert auth.authenticate(world.db, "referent-ref", PASSWORD).ok
    assert auth.load_actor_for_cookie(world.db, "referent-ref", issued) is None
    later = clock.current + timedelta(seconds=1)
    assert auth.load_actor_for_cookie(world.db, "referent-ref", later) is not None
    assert len(audit_entries(world, "account_reactivated", actor.id)) == 1
    # the same state twice: nothing written
    administration.set_active(world.db, admin(world), actor.id, True)
    assert len(audit_entries(world, "account_reactivated", actor.id)) == 1


def test_the_administrator_cannot_deactivate_itself(world):
    me = admin(world)
    with pytest.raises(ValidationError) as exc:
        administration.set_active(world.db, me, me.id, False)
    assert exc.value.by_field()["active"] == ["Vous ne pouvez pas désactiver votre propre compte."]
    assert account(world, "admin").active is True
    assert administration.list_accounts(world.db, me).total == len(world.actors)


# --- unlock and reset ---------------------------------------------------------------------


def test_unlock_after_five_failed_logins(world):
    actor = world.actor("coordinateur_ref")
    lock(world, "coordinateur-ref")
    [row] = administration.list_accounts(world.db, admin(world), search="coordinateur-ref").items
    assert row.locked and row.status == "Verrouillé"
    administration.unlock(world.db, admin(world), actor.id)
    stored = account(world, "coordinateur-ref")
    assert (stored.locked_until, stored.failed_attempts) == (None, 0)
    assert auth.authenticate(world.db, "coordinateur-ref", PASSWORD).ok
    [entry] = audit_entries(world, "account_unlocked", actor.id)
    assert entry.actor_id == admin(world).id


def test_a_password_reset_forces_a_change_and_ends_the_open_sessions(world, clock):
    actor = world.actor("declarant_ref")
    issued = clock.current
    assert auth.load_actor_for_cookie(world.db, "declarant-ref", issued) is not None
    clock.advance(minutes=10)
    administration.reset_password(world.db, admin(world), actor.id, TEMPORARY)
    row = account(world, "declarant-ref")
    assert row.must_change_password is True
    assert row.sessions_revoked_at == clock.current
    assert auth.load_actor_for_cookie(world.db, "declarant-ref", issued) is None
    assert not auth.authenticate(world.db, "declarant-ref", PASSWORD).ok
    login = auth.authenticate(world.db, "declarant-ref", TEMPORARY)
    assert login.ok and login.actor is not None and login.actor.must_change_password
    [entry] = audit_entries(world, "password_reset", actor.id)
    assert entry.actor_id == admin(world).id
    assert TEMPORARY not in repr(entry.details)


def test_a_password_reset_lifts_a_lock(world):
    actor = world.actor("directeur_ref")
    lock(world, "directeur-ref")
    administration.reset_password(world.db, admin(world), actor.id, TEMPORARY)
    assert account(world, "directeur-ref").locked_until is None
    assert auth.authenticate(world.db, "directeur-ref", TEMPORARY).ok


def test_a_weak_reset_password_changes_nothing(world):
    actor = world.actor("directeur_req")
    before = account(world, "directeur-req").password_hash
    with pytest.raises(ValidationError) as exc:
        administration.reset_password(world.db, admin(world), actor.id, "court")
    assert set(exc.value.by_field()) == {"password"}
    row = account(world, "directeur-req")
    assert (row.password_hash, row.must_change_password) == (before, False)
    assert audit_entries(world, "password_reset") == []


# --- list and search ----------------------------------------------------------------------


def _usernames(page) -> list[str]:
    return [r.username for r in page.items]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("DECLARANT", ["declarant-ref", "declarant-req"]),  # identifier, any case
        ("ars-75@example", ["ars-75"]),  # e-mail address
        (
            "mondor",  # establishment name
            [
                "coordinateur-ref",
                "declarant-ref",
                "directeur-ref",
                "referent-ref",
                "referent-ref-orl",
            ],
        ),
        ("personne", []),
    ],
)
def test_search_by_identifier_name_email_and_establishment(world, search, expected):
    page = administration.list_accounts(world.db, admin(world), search=search)
    assert _usernames(page) == expected
    assert page.total == len(expected)


def test_search_by_display_name(world):
    administration.update(
        world.db,
        admin(world),
        world.actor("coordinateur_ref").id,
        fields_of(world, "coordinateur_ref", display_name="Cellule PDSES Henri-Mondor"),
    )
    page = administration.list_accounts(world.db, admin(world), search="  cellule PDSES ")
    assert _usernames(page) == ["coordinateur-ref"]
    assert page.items[0].display_name == "Cellule PDSES Henri-Mondor"


def test_filters_by_role_establishment_and_state(world):
    me = admin(world)
    assert _usernames(administration.list_accounts(world.db, me, role=Role.ARS)) == [
        "ars",
        "ars-75",
    ]
    in_req = administration.list_accounts(world.db, me, establishment_id=world.est["req"])
    assert _usernames(in_req) == [
        "coordinateur-req",
        "declarant-req",
        "directeur-req",
        "referent-req",
    ]
    administration.set_active(world.db, me, world.actor("ars_75").id, False)
    assert _usernames(administration.list_accounts(world.db, me, active=False)) == ["ars-75"]
    assert administration.list_accounts(world.db, me, active=True).total == len(world.actors) - 1
    [row] = administration.list_accounts(world.db, me, role=Role.REFERENT, search="orl").items
    assert row.role_label == "Référent PDSES"
    assert row.establishment == "Hôpital Henri-Mondor (AP-HP)"
    assert row.specialties == ("ORL",)


def test_pagination_is_ordered_and_clamped(world):
    me = admin(world)
    everyone = _usernames(administration.list_accounts(world.db, me))
    assert everyone == sorted(everyone) and len(everyone) == len(world.actors)
    pages = [administration.list_accounts(world.db, me, page=n, page_size=5) for n in (1, 2, 3)]
    assert [len(p.items) for p in pages] == [5, 5, len(everyone) - 10]
    assert [u for p in pages for u in _usernames(p)] == everyone
    assert pages[0].pages == 3
    past = administration.list_accounts(world.db, me, page=99, page_size=5)
    assert past.page == 3 and _usernames(past) == _usernames(pages[2])


def test_the_form_lists_mark_what_is_deactivated(world):
    me = admin(world)
    referentials.set_establishment_active(world.db, me, world.est["other"], False)
    options = administration.account_form_options(world.db, me)
    labels = {c.id: c.label for c in options.establishments}
    assert labels[world.est["other"]].endswith("(désactivé)")
    assert not labels[world.est["req"]].endswith("(désactivé)")
    assert world.services["req"] in {c.id for c in options.services[world.est["req"]]}
    assert set(options.departements) == {"75", "91", "92", "94"}
    assert "ORL" in {c.label for c in options.specialties}


# --- identifiers and login cookies ----------------------------------------------------------


def test_a_cookie_of_a_renamed_account_does_not_open_the_account_that_takes_its_name(world, clock):
    """A login cookie names its account by identifier: after a rename, an older cookie of
    « declarant-req » must not log into the new account created under that identifier."""
    old = world.actor("declarant_req")
    issued = clock.current
    clock.advance(minutes=5)
    administration.update(
        world.db, admin(world), old.id, fields_of(world, "declarant_req", username="ancien-nom")
    )
    clock.advance(minutes=5)
    administration.create(
        world.db, admin(world), new_fields(world, username="declarant-req"), TEMPORARY
    )
    assert auth.load_actor_for_cookie(world.db, "declarant-req", issued) is None
    assert auth.load_actor_for_cookie(world.db, "ancien-nom", issued) is None


def test_the_rules_refuse_an_account_whose_password_is_temporary(world):
    """The pages show only the change form; ``registre`` refuses the account's actions too,
    until the password is changed."""
    actor = world.actor("declarant_req")
    administration.reset_password(world.db, admin(world), actor.id, TEMPORARY)
    with pytest.raises(AuthenticationError, match="provisoire"):
        queries.specialty_choices(world.db, actor)
    auth.change_password(world.db, actor, TEMPORARY, "un-mot-de-passe-choisi")
    assert queries.specialty_choices(world.db, actor)


@pytest.mark.parametrize("typed", ["%", "_"])
def test_a_typed_wildcard_is_a_character_in_the_search(world, typed):
    """« % » and « _ » are searched as characters, not as LIKE wildcards."""
    found = administration.list_accounts(world.db, admin(world), search=typed, page_size=200)
    with world.db.read() as session:
        expected = {
            a.username
            for a in session.scalars(select(Account))
            if typed in a.username or typed in a.display_name or typed in a.email
        }
    assert {row.username for row in found.items} == expected
    assert found.total < account_count(world)  # not everyone, as a wildcard would give
