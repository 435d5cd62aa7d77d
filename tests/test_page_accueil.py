"""AppTest: who reaches which page (login gate of every page file, roles, the menu built by
``Home.py``) and the Accueil page (profile, refusals awaiting an answer, search by number)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from registre import queries, reports
from registre.models import Account

from . import apptest_helpers
from .apptest_helpers import (
    ACCUEIL,
    DENIED,
    DOSSIER,
    NON_CONFORME,
    PAGE_FILES,
    REFUS,
    REGISTRE,
    SIGNALEMENT,
    answer,
    assert_login_form_only,
    button,
    click,
    establishment_names,
    home,
    logged_in,
    login_via_form,
    markdown_text,
    open_by_url,
    open_page,
    page_text,
    record_menu,
    run_directly,
    widget,
)

app_env = apptest_helpers.app_env  # the fixture
fresh_server_env = apptest_helpers.fresh_server_env  # the fixture

# --- the gate of every page file --------------------------------------------------------


def _data_params(world, page: str) -> tuple[dict[str, str], list[str]]:
    """Query parameters that would show data if the gate let them through, and that data."""
    final = world.finalised()
    draft = world.draft(lines=("other",))
    report = world.report()
    params = {
        DOSSIER: {"numero": final.number},
        REFUS: {"id": str(draft.id)},
        SIGNALEMENT: {"numero": report.number},
    }.get(page, {})
    return params, [final.number, draft.number, report.number, *establishment_names(world)]


@pytest.mark.parametrize("route", ["page file", "first URL after a server start"])
@pytest.mark.parametrize("page", PAGE_FILES)
def test_a_page_run_without_home_shows_only_the_login_form(fresh_server_env, page, route):
    params, secrets = _data_params(fresh_server_env, page)
    at = run_directly(page, **params) if route == "page file" else open_by_url(page, **params)
    assert_login_form_only(at, *secrets)
    # and the next rerun (any click) still shows nothing
    assert_login_form_only(at.run(), *secrets)


@pytest.mark.parametrize("page", PAGE_FILES)
def test_home_shows_only_the_login_form_for_any_page_url(app_env, page):
    params, secrets = _data_params(app_env, page)
    assert_login_form_only(open_by_url(page, **params), *secrets)


WRONG_ROLES = [
    (REGISTRE, "admin"),
    (REFUS, "admin"),
    (DOSSIER, "admin"),
    (REGISTRE, "ars"),
    (REFUS, "ars"),
    (REFUS, "directeur-req"),
    (NON_CONFORME, "admin"),
    (NON_CONFORME, "ars"),
    (SIGNALEMENT, "admin"),
]


@pytest.mark.parametrize(("page", "username"), WRONG_ROLES)
def test_a_page_run_alone_refuses_a_wrong_role(fresh_server_env, page, username):
    params, secrets = _data_params(fresh_server_env, page)
    for at in (run_directly(page, username, **params), open_by_url(page, username, **params)):
        assert not at.exception
        assert [e.value for e in at.error] == [DENIED]
        assert not at.main.selectbox and not at.main.text_input and not at.main.button
        text = page_text(at)
        for value in secrets:
            assert value not in text


@pytest.mark.parametrize(("page", "username"), WRONG_ROLES)
def test_home_does_not_offer_a_page_to_a_wrong_role(app_env, page, username):
    params, secrets = _data_params(app_env, page)
    at = logged_in(username).run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(page)
    # typed in the address bar: st.navigation does not know the page, Accueil is shown
    at = open_by_url(page, username, **params)
    assert not at.exception
    assert at.subheader[0].value.startswith("Bonjour")
    assert not at.main.selectbox and not at.main.text_area
    text = page_text(at)
    for number in secrets[:2]:  # the dossiers (the profile names its own establishment)
        assert number not in text


def test_the_gate_reloads_the_account_at_every_run(app_env):
    number = app_env.finalised().number
    app = open_page(REGISTRE, "declarant-req")
    assert f"✅ {number}" in [b.label for b in app.button]
    with app_env.db.transaction() as session:
        session.execute(
            update(Account).where(Account.username == "declarant-req").values(active=False)
        )
    assert_login_form_only(app.run(), number)


# --- the menu ---------------------------------------------------------------------------

MON_COMPTE_ENTRY = ("Mon compte", "mon_compte", "visible")
ACCESSIBILITE_ENTRY = ("Accessibilité", "accessibilite", "visible")
ACCUEIL_ENTRY = [("Accueil", "", "visible"), MON_COMPTE_ENTRY, ACCESSIBILITE_ENTRY]
STATS_ENTRY = [
    ("Accueil", "", "visible"),
    ("Statistiques", "statistiques", "visible"),
    MON_COMPTE_ENTRY,
    ACCESSIBILITE_ENTRY,
]
ADMIN_MENU = [
    ("Comptes", "admin_comptes", "visible"),
    ("Référentiels", "admin_referentiels", "visible"),
    ("Documents", "admin_documents", "visible"),
    ("Journal d'audit", "admin_journal", "visible"),
]
NON_CONFORME_ENTRY = ("Fonctionnement non conforme", "fonctionnement_non_conforme", "visible")
REGISTRE_ENTRY = ("Registre des refus PDSES", "registre", "visible")
REFUS_ENTRY = ("Refus", "refus", "hidden")
DOSSIER_ENTRY = ("Dossier", "dossier", "hidden")
SIGNALEMENT_ENTRY = ("Signalement", "signalement", "hidden")
# The guide's PDSES menu: « Fonctionnement non conforme » then « Registre des refus PDSES ».
WRITER_MENU = {
    "": ACCUEIL_ENTRY,
    "PDSES": [NON_CONFORME_ENTRY, REGISTRE_ENTRY, REFUS_ENTRY, DOSSIER_ENTRY, SIGNALEMENT_ENTRY],
}


@pytest.mark.parametrize(
    ("username", "menu"),
    [
        ("declarant-req", WRITER_MENU),
        ("referent-ref", WRITER_MENU),
        ("referent-ref-orl", WRITER_MENU),
        ("coordinateur-req", {**WRITER_MENU, "": STATS_ENTRY}),
        (
            "directeur-req",
            {
                "": STATS_ENTRY,
                "PDSES": [NON_CONFORME_ENTRY, REGISTRE_ENTRY, DOSSIER_ENTRY, SIGNALEMENT_ENTRY],
            },
        ),
        ("ars", {"": STATS_ENTRY, "PDSES": [DOSSIER_ENTRY, SIGNALEMENT_ENTRY]}),
        ("ars-75", {"": STATS_ENTRY, "PDSES": [DOSSIER_ENTRY, SIGNALEMENT_ENTRY]}),
        ("admin", {"": ACCUEIL_ENTRY, "Administration": ADMIN_MENU}),
    ],
)
def test_the_menu_offers_the_pages_of_the_role(app_env, monkeypatch, username, menu):
    calls = record_menu(monkeypatch)
    at = logged_in(username).run()
    assert not at.exception
    assert calls == [menu]
    offered = {entry[1] or "accueil" for entries in menu.values() for entry in entries}
    for page in PAGE_FILES:
        name = page.removeprefix("pages/").removesuffix(".py")
        if name in offered:  # every page offered runs for the role
            at.switch_page(page).run()
            assert not at.exception, page
            assert DENIED not in [e.value for e in at.error], page
        else:
            with pytest.raises(ValueError):
                at.switch_page(page)


@pytest.mark.parametrize(("env", "through_home"), [("app_env", True), ("fresh_server_env", False)])
def test_how_apptest_opens_a_page(request, monkeypatch, env, through_home):
    """Documents the AppTest behaviour that apptest_helpers relies on: with ``app_env``
    every run executes Home.py (gate, menu, page); without it, as on a server that has not
    run Home.py yet, switch_page runs the page file alone."""
    request.getfixturevalue(env)
    calls = record_menu(monkeypatch)
    at = logged_in("declarant-req").run()
    assert len(calls) == 1  # Home.py, then Accueil
    at.switch_page(REGISTRE).run()
    assert not at.exception
    assert at.subheader[0].value == "Derniers refus enregistrés par votre établissement"
    assert len(calls) == (2 if through_home else 1)


def test_nobody_logged_in_gets_no_menu(app_env, monkeypatch):
    calls = record_menu(monkeypatch)
    assert_login_form_only(home().run())
    assert calls == []


# --- Accueil ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "lines"),
    [
        (
            "declarant-req",
            [
                "Identifiant** : declarant-req",
                "Profil** : Déclarant",
                "Établissement** : Centre hospitalier Sud Francilien (CHSF)",
                "Service** : Service d'accueil des urgences",
            ],
        ),
        (
            "coordinateur-ref",
            ["Profil** : Coordinateur PDSES", "Établissement** : Hôpital Henri-Mondor (AP-HP)"],
        ),
        ("ars", ["Profil** : Coordinateur régional (ARS)"]),
        ("admin", ["Profil** : Administrateur"]),
    ],
)
def test_accueil_shows_the_profile(app_env, username, lines):
    at = open_page(ACCUEIL, username)
    assert not at.exception
    display_name = app_env.actor(username.replace("-", "_")).display_name
    assert at.subheader[0].value.replace("\\", "") == f"Bonjour {display_name}"
    text = markdown_text(at)
    for line in lines:
        assert line in text
    if username in ("ars", "admin"):
        assert "Établissement**" not in text
    registry_link = [p.label for p in at.page_link]
    assert registry_link == (
        ["Fonctionnement non conforme", "Ouvrir le Registre des refus PDSES"]
        if username.endswith(("-req", "-ref"))
        else []
    )
    assert bool(at.text_input) is (username != "admin")  # the search by number


def _awaiting(at) -> list[str]:
    return [f"{w.icon} {w.value}" for w in at.warning]


def test_accueil_counts_the_refusals_awaiting_the_establishment(app_env):
    world = app_env
    assert _awaiting(open_page(ACCUEIL, "declarant-ref")) == []
    first = world.finalised()
    world.finalised(lines=("ref", "other"))
    message = "🔔 {} refus adressé(s) à votre établissement attend(ent) sa réponse."
    assert _awaiting(open_page(ACCUEIL, "declarant-ref")) == [message.format(2)]
    assert _awaiting(open_page(ACCUEIL, "directeur-ref")) == [message.format(2)]
    # the requester and a Référent limited to another specialty have nothing to answer
    assert _awaiting(open_page(ACCUEIL, "declarant-req")) == []
    assert _awaiting(open_page(ACCUEIL, "referent-ref-orl")) == []
    answer(world, first.id)
    assert _awaiting(open_page(ACCUEIL, "declarant-ref")) == [message.format(1)]


def test_accueil_says_plus_de_past_the_count_limit(app_env, monkeypatch):
    """The count stops at ``queries.COUNT_LIMIT``: « plus de … » (a large hospital's years of
    unanswered refusals are not counted at every Accueil)."""
    monkeypatch.setattr(queries, "COUNT_LIMIT", 1)
    app_env.finalised()
    app_env.finalised()
    assert _awaiting(open_page(ACCUEIL, "declarant-ref")) == [
        "🔔 plus de 1 refus adressé(s) à votre établissement attend(ent) sa réponse."
    ]


def test_accueil_counts_the_reports_awaiting_the_establishment(app_env):
    world = app_env
    message = (
        "🔔 {} fonctionnement(s) non conforme(s) concernant votre établissement attend(ent) sa "
        "réponse."
    )
    assert _awaiting(open_page(ACCUEIL, "referent-ref")) == []
    first = world.report()
    world.report(by="referent_req")
    world.report(concerned="other")
    assert _awaiting(open_page(ACCUEIL, "referent-ref")) == [message.format(2)]
    assert _awaiting(open_page(ACCUEIL, "declarant-req")) == []  # the declarer waits, not answers
    assert _awaiting(open_page(ACCUEIL, "referent-ref-orl")) == []  # neurosurgery reports
    reports.answer(
        world.db,
        world.actor("referent_ref"),
        first.id,
        reports.ReportAnswerInput(analysis="Renvoi d'appel mal configuré."),
    )
    assert _awaiting(open_page(ACCUEIL, "coordinateur-ref")) == [message.format(1)]


@pytest.mark.parametrize("username", ["referent-ref", "declarant-req", "ars"])
def test_accueil_search_by_a_report_number_opens_the_report(app_env, username):
    number = app_env.report().number
    at = open_page(ACCUEIL, username)
    widget(at.text_input, "Numéro de dossier").input(f" {number.lower()} ")
    at = click(at, "Ouvrir le dossier")
    assert not at.exception
    assert [t.value for t in at.title] == [f"🔔 Fonctionnement non conforme {number}"]


@pytest.mark.parametrize(
    ("username", "typed", "title"),
    [
        ("declarant-ref", "{number}", "🔔 Refus {number}"),
        ("declarant-req", "  {lower}  ", "✅ Refus {number}"),
        ("ars", "{number}", "✅ Refus {number}"),
    ],
)
def test_accueil_search_by_number_opens_the_dossier(app_env, username, typed, title):
    number = app_env.finalised().number
    at = open_page(ACCUEIL, username)
    widget(at.text_input, "Numéro de dossier").input(
        typed.format(number=number, lower=number.lower())
    )
    at = click(at, "Ouvrir le dossier")
    assert not at.exception
    assert [t.value for t in at.title] == [title.format(number=number)]
    assert at.query_params == {"numero": typed.format(number=number, lower=number.lower()).strip()}


def test_accueil_search_of_an_unknown_number(app_env):
    app_env.finalised()
    at = open_page(ACCUEIL, "declarant-ref")
    widget(at.text_input, "Numéro de dossier").input("R-2026-999999")
    at = click(at, "Ouvrir le dossier")
    assert [e.value for e in at.error] == ["Ce dossier n'existe pas ou vous n'y avez pas accès."]
    assert not at.title


def test_accueil_search_of_nothing_stays_on_accueil(app_env):
    at = click(open_page(ACCUEIL, "declarant-ref"), "Ouvrir le dossier")
    assert at.query_params == {}
    assert button(at, "Ouvrir le dossier")


def test_login_through_the_form_then_navigate(app_env):
    """Way (a): the login form of Home.py, the cookie rerun, then the pages."""
    number = app_env.finalised().number
    at = login_via_form("declarant-ref")
    assert _awaiting(at) == ["🔔 1 refus adressé(s) à votre établissement attend(ent) sa réponse."]
    at.switch_page(REGISTRE).run()
    assert not at.exception
    at = click(at, f"🔔 {number}")
    assert [t.value for t in at.title] == [f"🔔 Refus {number}"]
    assert at.query_params == {"numero": number}
