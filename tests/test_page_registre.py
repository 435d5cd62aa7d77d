"""AppTest: the page « Registre des refus PDSES » (guide §3): the new-refusal form at the
top right, the establishment's dossiers (icons, Paris time, filters, pagination) and the
refusals addressed to the establishment."""

from __future__ import annotations

from datetime import date

import pytest

from registre import dossiers, queries
from registre.models import DossierState, LineState

from . import apptest_helpers
from .apptest_helpers import (
    REGISTRE,
    answer,
    button,
    click,
    dossier_count,
    errors,
    open_page,
    table_rows,
    widget,
)
from .factories import at

app_env = apptest_helpers.app_env  # the fixture

SERVICE = "Service d'accueil des urgences"
NO_SPECIALTY = "Sélectionnez une spécialité PDS-ES pour saisir un nouveau refus."


def _mine(app) -> list[list[str]]:
    return table_rows(app, "ouvrir-")


def _incoming(app) -> list[list[str]]:
    return table_rows(app, "repondre-")


def _caption(app) -> list[str]:
    return [c.value for c in app.caption if c.value.startswith("Page ")]


# --- « Nouveau refus » --------------------------------------------------------------------


def test_new_refusal_without_specialty_shows_the_error_and_creates_nothing(app_env):
    app = click(open_page(REGISTRE, "declarant-req"), "Nouveau refus")
    assert not app.exception
    assert errors(app) == [NO_SPECIALTY]
    assert app.query_params == {}
    assert app.title[0].value == "Registre des refus PDSES"
    assert dossier_count(app_env) == 0


@pytest.mark.parametrize("username", ["declarant-req", "referent-ref", "coordinateur-req"])
def test_new_refusal_with_a_specialty_opens_the_refus_page(app_env, username):
    orl = app_env.specialty["ORL"]
    app = open_page(REGISTRE, username)
    widget(app.selectbox, "Spécialité PDS-ES").select(orl)
    app = click(app, "Nouveau refus")
    assert not app.exception
    assert app.query_params == {"specialite": str(orl)}
    assert [t.value for t in app.title] == ["Ajouter un nouveau refus"]
    assert widget(app.selectbox, "Spécialité PDSES *").value == orl
    assert dossier_count(app_env) == 0  # nothing is created before « Enregistrer »


def test_a_referent_limited_to_specialties_is_offered_only_those(app_env):
    app = open_page(REGISTRE, "referent-ref-orl")
    assert widget(app.selectbox, "Spécialité PDS-ES").options == ["ORL"]


def test_a_directeur_sees_the_list_but_no_new_refusal_form(app_env):
    number = app_env.finalised().number
    app = open_page(REGISTRE, "directeur-req")
    assert not app.exception
    assert not [s for s in app.selectbox if s.label == "Spécialité PDS-ES"]
    assert not [b for b in app.button if b.label == "Nouveau refus"]
    assert [row[0] for row in _mine(app)] == [f"✅ {number}"]


# --- the establishment's dossiers ---------------------------------------------------------


@pytest.fixture
def listed(app_env):
    """Dossiers of ``req`` at known Paris times, and some that must not be listed."""
    w = app_env
    orl = w.specialty["ORL"]
    july = w.finalised(requested_at=at(2026, 7, 14, 23, 30))  # summer time, PDSES night
    midnight = w.finalised(requested_at=at(2026, 7, 15, 0, 30), lines=("ref", "other"))
    day = w.draft(requested_at=at(2026, 11, 25, 10, 0), specialty_id=orl)  # a Wednesday
    abandoned = w.draft(requested_at=at(2026, 11, 25, 11, 0))
    dossiers.abandon(w.db, w.actor("declarant_req"), abandoned.id, "doublon")
    other = w.draft(  # another requester
        by="declarant_ref",
        requested_at=at(2026, 11, 25, 12),
        requesting_service_id=w.services["ref"],
    )
    return {"july": july, "midnight": midnight, "day": day, "abandoned": abandoned, "other": other}


HOLDER = "  \n⚠️ titulaire de la ligne PDSES"


def test_the_table_lists_the_establishment_dossiers_latest_first(app_env, listed):
    app = open_page(REGISTRE, "declarant-req")
    assert not app.exception
    assert _mine(app) == [
        [
            f"📝 {listed['day'].number}",
            "25/11/2026 10:00",
            "ORL",
            SERVICE,
            "0",
            "hors horaires PDSES",
        ],
        [
            f"✅ {listed['midnight'].number}",
            "15/07/2026 00:30",
            "Neurochirurgie",
            SERVICE,
            "2 (répondu : 0)" + HOLDER,  # ref holds the neurosurgery line
            "PDSES",
        ],
        [
            f"✅ {listed['july'].number}",
            "14/07/2026 23:30",
            "Neurochirurgie",
            SERVICE,
            "1 (répondu : 0)" + HOLDER,
            "PDSES",
        ],
    ]
    assert _caption(app) == ["Page 1 sur 1 — 3 élément(s)"]
    # each establishment lists its own dossiers only
    assert [row[0] for row in _mine(open_page(REGISTRE, "declarant-ref"))] == [
        f"📝 {listed['other'].number}"
    ]


@pytest.mark.parametrize(
    ("state", "specialty", "expected"),
    [
        (DossierState.DRAFT, None, ["day"]),
        (DossierState.FINALISED, None, ["midnight", "july"]),
        (DossierState.ABANDONED, None, ["abandoned"]),
        (None, "ORL", ["day"]),
        (None, "Neurochirurgie", ["midnight", "july"]),
        (DossierState.DRAFT, "Neurochirurgie", []),
    ],
)
def test_the_filters_change_the_list(app_env, listed, state, specialty, expected):
    app = open_page(REGISTRE, "coordinateur-req")
    if state is not None:
        widget(app.selectbox, "État").select(state)
    if specialty:
        widget(app.selectbox, "Spécialité").select(app_env.specialty[specialty])
    app.run()
    assert not app.exception
    assert [row[0].split(" ")[1] for row in _mine(app)] == [listed[k].number for k in expected]
    if not expected:
        assert "Aucun refus ne correspond à ces critères." in [i.value for i in app.info]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # Paris days: 15/07 00:30 in Paris is 14/07 22:30 UTC
        (date(2026, 7, 15), date(2026, 7, 15), ["midnight"]),
        (date(2026, 7, 14), date(2026, 7, 14), ["july"]),
        (date(2026, 7, 14), None, ["day", "midnight", "july"]),
        (None, date(2026, 7, 31), ["midnight", "july"]),
    ],
)
def test_the_date_filters_use_paris_days(app_env, listed, start, end, expected):
    app = open_page(REGISTRE, "declarant-req")
    widget(app.date_input, "Du").set_value(start)
    widget(app.date_input, "Au").set_value(end)
    app.run()
    assert not app.exception
    assert [row[0].split(" ")[1] for row in _mine(app)] == [listed[k].number for k in expected]


def test_the_list_is_paginated_by_twenty(app_env):
    numbers = [
        app_env.draft(requested_at=at(2026, 11, 20, 3, minute)).number for minute in range(25)
    ]
    latest_first = list(reversed(numbers))
    app = open_page(REGISTRE, "declarant-req")
    assert [row[0] for row in _mine(app)] == [f"📝 {n}" for n in latest_first[:20]]
    assert _caption(app) == ["Page 1 sur 2 — 25 élément(s)"]
    assert button(app, "◀ Précédents").disabled
    app = click(app, "Suivants ▶")
    assert not app.exception
    assert [row[0] for row in _mine(app)] == [f"📝 {n}" for n in latest_first[20:]]
    assert _caption(app) == ["Page 2 sur 2 — 25 élément(s)"]
    assert button(app, "Suivants ▶").disabled
    app = click(app, "◀ Précédents")
    assert len(_mine(app)) == 20
    # a change of filter goes back to the first page
    app = click(app, "Suivants ▶")
    widget(app.selectbox, "État").select(DossierState.DRAFT)
    app.run()
    assert _caption(app) == ["Page 1 sur 2 — 25 élément(s)"]
    assert len(_mine(app)) == 20


def test_a_list_longer_than_the_count_limit_says_plus_de(app_env, monkeypatch):
    """Past ``queries.COUNT_LIMIT`` rows the count stops: « plus de … », ▶ still open."""
    monkeypatch.setattr(queries, "COUNT_LIMIT", 21)
    for minute in range(45):
        app_env.draft(requested_at=at(2026, 11, 20, 3, minute))
    app = open_page(REGISTRE, "declarant-req")
    assert _caption(app) == ["Page 1 — plus de 21 élément(s) : affinez avec les filtres"]
    app = click(app, "Suivants ▶")
    assert _caption(app) == ["Page 2 — plus de 40 élément(s) : affinez avec les filtres"]
    assert not button(app, "Suivants ▶").disabled
    app = click(app, "Suivants ▶")
    assert _caption(app) == ["Page 3 sur 3 — 45 élément(s)"]
    assert len(_mine(app)) == 5
    assert button(app, "Suivants ▶").disabled


# --- opening a dossier from the list ----------------------------------------------------------


def test_a_finalised_row_opens_the_dossier_page(app_env, listed):
    number = listed["july"].number
    app = click(open_page(REGISTRE, "declarant-req"), f"✅ {number}")
    assert not app.exception
    assert app.query_params == {"numero": number}
    assert [t.value for t in app.title] == [f"✅ Refus {number}"]


def test_a_draft_row_opens_the_refus_page(app_env, listed):
    draft = listed["day"]
    app = click(open_page(REGISTRE, "declarant-req"), f"📝 {draft.number}")
    assert not app.exception
    assert app.query_params == {"id": str(draft.id)}
    assert [t.value for t in app.title] == [f"📝 Refus {draft.number} — à compléter"]


def test_a_directeur_opens_a_draft_row_read_only(app_env, listed):
    draft = listed["day"]
    app = click(open_page(REGISTRE, "directeur-req"), f"📝 {draft.number}")
    assert not app.exception
    assert app.query_params == {"numero": draft.number}
    assert [t.value for t in app.title] == [f"📝 Refus {draft.number}"]
    assert not [b for b in app.main.button if b.label == "Compléter le refus"]


# --- refusals addressed to the establishment ------------------------------------------------


def test_refusals_addressed_to_the_establishment_await_then_are_answered(app_env):
    w = app_env
    sent = w.finalised(requested_at=at(2026, 11, 24, 22, 5))
    w.draft(lines=("ref",))  # not sent yet: the refuser does not see it
    identity = [
        "24/11/2026 22:05",
        "Neurochirurgie",
        "Centre hospitalier Sud Francilien (CHSF)",
        SERVICE + "  \n⚠️ votre établissement est titulaire de la ligne",
    ]
    app = open_page(REGISTRE, "declarant-ref")
    assert _incoming(app) == [[f"🔔 {sent.number}", *identity]]
    answer(w, sent.id)
    app = open_page(REGISTRE, "declarant-ref")
    assert _incoming(app) == [[f"✅ {sent.number}", *identity]]
    widget(app.selectbox, "Réponse").select(LineState.AWAITING)
    app.run()
    assert _incoming(app) == []
    assert "Aucun refus adressé à votre établissement." in [i.value for i in app.info]
    widget(app.selectbox, "Réponse").select(LineState.ANSWERED)
    app.run()
    assert [row[0] for row in _incoming(app)] == [f"✅ {sent.number}"]
    # the requester has nothing addressed to it
    assert _incoming(open_page(REGISTRE, "declarant-req")) == []


def test_refusals_awaiting_an_answer_come_first(app_env):
    w = app_env
    older = w.finalised(requested_at=at(2026, 11, 20, 22, 0))
    newer = w.finalised(requested_at=at(2026, 11, 24, 22, 0))
    answer(w, newer.id)
    app = open_page(REGISTRE, "coordinateur-ref")
    assert [row[0] for row in _incoming(app)] == [f"🔔 {older.number}", f"✅ {newer.number}"]


def test_an_incoming_row_opens_the_refuser_view(app_env):
    number = app_env.finalised().number
    app = click(open_page(REGISTRE, "referent-ref"), f"🔔 {number}")
    assert not app.exception
    assert app.query_params == {"numero": number}
    assert [t.value for t in app.title] == [f"🔔 Refus {number}"]
    assert [b.label for b in app.button if b.label == "Enregistrer la réponse"]
