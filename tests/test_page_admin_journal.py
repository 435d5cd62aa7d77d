"""AppTest of « Administration — Journal d'audit »: only the Administrateur reaches it; the
entries listed latest first, the filters (action, user, period; a period ending before it
starts refused), the pages and the CSV export button."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from registre import administration, audit, auth
from registre.accounts import AccountFields
from registre.models import AuditEntry, Role

from . import apptest_helpers
from .apptest_helpers import (
    ADMIN_JOURNAL,
    DENIED,
    button,
    errors,
    logged_in,
    open_page,
    page_text,
    run_directly,
    widget,
)
from .factories import PASSWORD

app_env = apptest_helpers.app_env  # the fixture
fresh_server_env = apptest_helpers.fresh_server_env  # the fixture

OTHER_ROLES = ["declarant-req", "referent-ref", "coordinateur-req", "directeur-req", "ars"]
COLUMNS = ["Date et heure", "Utilisateur", "Action", "Objet", "Dossier ou signalement", "Détails"]
NO_ENTRY = "Aucune entrée ne correspond à ces filtres."


@pytest.fixture
def logged(app_env, clock):
    """A login of ``declarant-req``, a failed one of ``directeur-ref`` and an account
    created by the Administrateur, a minute later."""
    world = app_env
    assert auth.authenticate(world.db, "declarant-req", PASSWORD).ok
    assert not auth.authenticate(world.db, "directeur-ref", "mauvais-mot-de-passe").ok
    clock.advance(minutes=1)
    administration.create(
        world.db,
        world.actor("admin"),
        AccountFields("ars-91", "ARS Essonne", "ars91@ars.sante.fr", Role.ARS, departements=["91"]),
        "provisoire-2026-abcdef",
    )
    return world


def _table(at) -> list[dict[str, str]]:
    [frame] = at.dataframe
    assert list(frame.value.columns) == COLUMNS
    return frame.value.to_dict("records")


def _filter(at, *, username: str | None = None, action: str | None = None, period=None):
    if username is not None:
        widget(at.text_input, "Utilisateur (identifiant)").input(username)
    if action is not None:
        at.selectbox(key="journal-action").set_value(action)
    if period is not None:
        at.date_input(key="journal-du").set_value(period[0])
        at.date_input(key="journal-au").set_value(period[1])
    return button(at, "Filtrer").click().run()


def _entries(world, **where) -> int:
    with world.db.read() as session:
        query = select(func.count()).select_from(AuditEntry)
        for column, value in where.items():
            query = query.where(getattr(AuditEntry, column) == value)
        return session.scalar(query) or 0


# --- who reaches the page -------------------------------------------------------------------


@pytest.mark.parametrize("username", OTHER_ROLES)
def test_other_roles_are_refused_when_the_page_runs_alone(fresh_server_env, username):
    at = run_directly(ADMIN_JOURNAL, username)
    assert not at.exception
    assert errors(at) == [DENIED]
    assert "Journal d'audit" not in [t.value for t in at.title]
    assert not at.dataframe and not at.get("download_button")
    assert not at.main.text_input and not at.main.selectbox
    text = page_text(at)
    for secret in ("Compte créé", "Exporter en CSV", "admin@example.org"):
        assert secret not in text


@pytest.mark.parametrize("username", OTHER_ROLES)
def test_the_menu_of_other_roles_lacks_the_page(app_env, username):
    at = logged_in(username).run()
    assert not at.exception
    with pytest.raises(ValueError):
        at.switch_page(ADMIN_JOURNAL)


# --- the entries ----------------------------------------------------------------------------


def test_entries_are_listed_latest_first(logged):
    at = open_page(ADMIN_JOURNAL, "admin")
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Journal d'audit"]
    rows = _table(at)
    assert len(rows) == _entries(logged)
    latest = rows[0]
    assert latest["Date et heure"] == "26/11/2026 03:16"  # Paris time, a minute later
    assert latest["Utilisateur"] == "admin"
    assert latest["Action"] == "Compte créé"
    assert '"username": "ars-91"' in latest["Détails"]
    actions = [(r["Utilisateur"], r["Action"]) for r in rows]
    assert ("declarant-req", "Connexion") in actions
    assert ("directeur-ref", "Échec de connexion") in actions
    assert [b.label for b in at.get("download_button")] == ["⬇️ Exporter en CSV"]


def test_filter_by_action(logged):
    at = _filter(open_page(ADMIN_JOURNAL, "admin"), action="login_succeeded")
    assert not at.exception, at.exception
    rows = _table(at)
    assert [(r["Utilisateur"], r["Action"]) for r in rows] == [("declarant-req", "Connexion")]
    assert [b.label for b in at.get("download_button")] == ["⬇️ Exporter en CSV"]

    at = _filter(at, action="account_created")
    rows = _table(at)
    assert len(rows) == _entries(logged, action="account_created") == 13
    assert {r["Action"] for r in rows} == {"Compte créé"}


def test_the_action_list_is_in_french(logged):
    at = open_page(ADMIN_JOURNAL, "admin")
    options = at.selectbox(key="journal-action").options
    assert options[0] == "Toutes"
    assert "Connexion" in options and "Compte créé" in options
    assert "login_succeeded" not in options


def test_filter_by_user(logged):
    at = _filter(open_page(ADMIN_JOURNAL, "admin"), username="ADMIN")  # whatever the case
    assert not at.exception
    rows = _table(at)
    assert [(r["Utilisateur"], r["Action"]) for r in rows] == [("admin", "Compte créé")]

    at = _filter(at, username="personne")
    assert not at.dataframe
    assert NO_ENTRY in [i.value for i in at.info]
    assert not at.get("download_button")


def test_filter_by_dossier(logged):
    number = logged.finalised().number
    at = open_page(ADMIN_JOURNAL, "admin")
    widget(at.text_input, "Dossier ou signalement (numéro)").input(number.lower())
    at = button(at, "Filtrer").click().run()
    assert not at.exception
    rows = _table(at)
    assert rows and {r["Dossier ou signalement"] for r in rows} == {number}
    assert {r["Utilisateur"] for r in rows} == {"declarant-req"}


def test_filter_by_period(logged):
    at = _filter(open_page(ADMIN_JOURNAL, "admin"), period=(date(2026, 11, 27), date(2026, 12, 31)))
    assert not at.exception
    assert NO_ENTRY in [i.value for i in at.info]
    at = _filter(at, period=(date(2026, 11, 26), date(2026, 11, 26)))
    assert len(_table(at)) == _entries(logged)


def test_a_period_ending_before_it_starts_is_refused(logged):
    at = _filter(open_page(ADMIN_JOURNAL, "admin"), period=(date(2026, 11, 26), date(2026, 11, 1)))
    assert not at.exception
    assert errors(at) == ["La date de début de la période doit précéder sa date de fin."]
    assert not at.dataframe
    assert not at.get("download_button")


def test_the_entries_come_in_pages_of_fifty(app_env):
    world = app_env
    with world.db.transaction() as session:
        for _ in range(60):
            audit.record(session, actor_id=world.actor("ars").id, action="logout", entity="account")
    total = _entries(world)
    assert 50 < total <= 100
    at = _filter(open_page(ADMIN_JOURNAL, "admin"))
    assert len(_table(at)) == 50
    assert f"Page 1 sur 2 — {total} élément(s)" in [c.value for c in at.caption]
    at = at.button(key="journal-next").click().run()
    assert not at.exception
    assert len(_table(at)) == total - 50
    assert f"Page 2 sur 2 — {total} élément(s)" in [c.value for c in at.caption]
