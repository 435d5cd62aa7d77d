"""Issue 14 § 3: a hospital workstation is shared. What one account typed or was shown must
not survive into the next account's session on the same tab: a logout, an idle expiry and a
login as another account empty the session (widget values, kept texts, error messages,
flashes, pagers, the page to return to) before anything of the new account is drawn.

``Home.py`` in AppTest, one session for both people: A (Coordinateur PDSES of the refusing
establishment ``ref``) types a unique marker into every form of its role — « Répondre à ce
refus », « Répondre à ce signalement », « Fonctionnement non conforme » (sent with an error,
so that its text and messages are kept) and « Créer un refus » — then leaves; the server
side of the session is searched for the markers (the keys a page sets, and Streamlit's own
widget state), then B (the Référent PDSES of ``ref``) logs in and opens the same pages. The
same journey in Chromium (``tests/e2e/test_shared_workstation.py``) reads B's DOM.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from registre import reports, timeutil

from . import apptest_helpers
from .apptest_helpers import (
    DOSSIER,
    NON_CONFORME,
    REFUS,
    SIGNALEMENT,
    button,
    home,
    page_text,
    widget,
)
from .factories import PASSWORD

app_env = apptest_helpers.app_env  # the fixture

A, B = "coordinateur-ref", "referent-ref"
MARKERS = {
    "reponse-autre": "marqueur-reponse-autre-tamanoir",
    "reponse-commentaires": "marqueur-reponse-commentaires-okapi",
    "analyse": "marqueur-analyse-axolotl",
    "mesures": "marqueur-mesures-narval",
    "fnc-description": "marqueur-fnc-description-pangolin",
    "fnc-impact": "marqueur-fnc-impact-tatou",
    "refus-commentaires": "marqueur-refus-commentaires-lemurien",
}
# What the session may still hold between the two people: the cookie component's state
# and the flags of the cookie's removal (``registre.web.auth._SURVIVES_A_CHANGE_OF_PERSON``).
ALLOWED_AFTER_LOGOUT = {
    "init",
    "set",
    "delete",
    "get_all",
    "logout",
    "authentication_status",
    "username",
    "name",
    "email",
    "roles",
    "registre_actor",
    "registre_actor_id",
    "registre_delete_cookie",
    "registre_cookie_writer",
    "registre_logged_out",
    "registre_session_expired",
    "registre_had_account",
    "FormSubmitter:connexion-Se connecter",  # the login form drawn in that very run
}


def _held(app) -> str:
    """Everything the server keeps for the session: the keys pages set, the keyed widgets,
    and Streamlit's internal widget state (where unkeyed widgets keep their values)."""
    state = app.session_state._state._state
    return " ".join(
        repr(part)
        for part in (
            app.session_state.to_dict(),
            state._old_state,
            state._new_session_state,
            dict(state._new_widget_state.states),
        )
    )


def _log_in(app, username: str):
    widget(app.text_input, "Identifiant").input(username)
    widget(app.text_input, "Mot de passe").input(PASSWORD)
    button(app, "Se connecter").click()
    return app.run().run()  # the login's run, then the cookie component's rerun


def _open(app, page: str, **params: str):
    app.switch_page(page)
    app.query_params.clear()
    app.query_params.update(params)
    return app.run()


def _send(app, button_label: str, *markers: str):
    """Send a form; it is refused (a field missing, a name typed), its text is kept."""
    app = button(app, button_label).click().run()
    assert app.error, f"« {button_label} » is refused"
    held = _held(app)
    assert all(marker in held for marker in markers), button_label
    return app


def _type_everything(app, world):
    """A, on every form of its role, types and sends; each form is refused, its text kept
    (a form's fields reach the server only when it is sent)."""
    dossier = world.finalised("coordinateur_req", ("ref",))
    report = world.report("coordinateur_req")
    app = _open(app, DOSSIER, numero=dossier.number)
    widget(app.text_input, "Autre motif").input(MARKERS["reponse-autre"])
    widget(app.text_area, "Commentaires").input(MARKERS["reponse-commentaires"])
    app = _send(app, "Enregistrer la réponse", MARKERS["reponse-commentaires"])
    app = _open(app, SIGNALEMENT, numero=report.number)
    widget(app.text_area, "Analyse de l'établissement *").input(
        f"{MARKERS['analyse']} appel de Mme Dupont"  # refused: a name
    )
    widget(app.text_area, "Mesures correctives").input(MARKERS["mesures"])
    app = _send(app, "Enregistrer la réponse", MARKERS["analyse"], MARKERS["mesures"])
    app = _open(app, NON_CONFORME)
    widget(app.text_area, "Description *").input(MARKERS["fnc-description"])
    widget(app.text_area, "Description de l'impact").input(MARKERS["fnc-impact"])
    app = _send(app, "Déclarer le fonctionnement non conforme", MARKERS["fnc-description"])
    app = _open(app, REFUS)
    widget(app.text_area, "Commentaires").input(MARKERS["refus-commentaires"])
    app = _send(app, "Enregistrer", MARKERS["refus-commentaires"])
    return app, dossier, report


def _assert_nothing_of_a(app, where: str) -> None:
    held, shown = _held(app), page_text(app)
    for name, marker in MARKERS.items():
        assert marker not in held, (where, name, "session")
        assert marker not in shown, (where, name, "page")


def _b_opens_the_same_pages(app, dossier, report):
    # B lands on « Accueil », not on « Ajouter un nouveau refus » where A left
    assert [t.value for t in app.title] == ["Registre des refus PDSES"]
    _assert_nothing_of_a(app, "accueil")
    for page, params in (
        (DOSSIER, {"numero": dossier.number}),
        (SIGNALEMENT, {"numero": report.number}),
        (NON_CONFORME, {}),
        (REFUS, {}),
    ):
        app = _open(app, page, **params)
        assert not app.exception, app.exception
        _assert_nothing_of_a(app, page)
        for box in [*app.text_area, *app.text_input]:
            if not box.disabled:
                assert not box.value, (page, box.label, box.value)
    return app


def test_a_logout_leaves_nothing_for_the_next_account(app_env):
    app = _log_in(home().run(), A)
    app, dossier, report = _type_everything(app, app_env)
    logout = next(b for b in app.sidebar.button if b.label == "Se déconnecter")
    app = logout.click().run()
    assert "Vous êtes déconnecté." in [i.value for i in app.info]
    assert set(app.session_state.keys()) <= ALLOWED_AFTER_LOGOUT, set(app.session_state.keys())
    _assert_nothing_of_a(app, "login form")
    app = _log_in(app.run(), B)
    assert not app.exception, app.exception
    assert app.session_state["registre_actor"] == B
    _b_opens_the_same_pages(app, dossier, report)


def test_an_idle_expiry_leaves_nothing_for_the_next_account(app_env, monkeypatch):
    app = _log_in(home().run(), A)
    app, dossier, report = _type_everything(app, app_env)
    later = timeutil.now() + timedelta(hours=9)
    monkeypatch.setattr(timeutil, "now", lambda: later)  # the clock: an edge of the system
    app = app.run()
    assert any("Votre session a expiré" in i.value for i in app.info)
    assert set(app.session_state.keys()) <= ALLOWED_AFTER_LOGOUT, set(app.session_state.keys())
    _assert_nothing_of_a(app, "login form after expiry")
    app = _log_in(app.run(), B)
    _b_opens_the_same_pages(app, dossier, report)


@pytest.mark.parametrize("state", ["awaiting", "answered"])
def test_the_kept_text_of_a_report_answer_never_reaches_the_next_account(app_env, state):
    """The « Votre texte » block (a form sent, then no longer offered): shown to its author
    only, never to the next account of the establishment."""
    world = app_env
    report = world.report("coordinateur_req")
    app = _log_in(home().run(), A)
    app = _open(app, SIGNALEMENT, numero=report.number)
    widget(app.text_area, "Analyse de l'établissement *").input(
        f"{MARKERS['analyse']} appel de Mme Dupont"
    )
    app = _send(app, "Enregistrer la réponse", MARKERS["analyse"])
    if state == "answered":  # a colleague answers meanwhile: the form is no longer offered
        reports.answer(
            world.db,
            world.actor("declarant_ref"),
            report.id,
            reports.ReportAnswerInput("Analyse d'un collègue"),
        )
    logout = next(b for b in app.sidebar.button if b.label == "Se déconnecter")
    app = _log_in(logout.click().run().run(), B)
    app = _open(app, SIGNALEMENT, numero=report.number)
    _assert_nothing_of_a(app, "signalement")
    assert not any("Votre texte" in w.value for w in app.warning)


def test_the_same_account_logging_in_again_starts_clean_too(app_env):
    """After a logout the address and the page to return to were the previous session's:
    the next login opens « Accueil », whoever it is."""
    app = _log_in(home().run(), A)
    app, _, _ = _type_everything(app, app_env)
    logout = next(b for b in app.sidebar.button if b.label == "Se déconnecter")
    app = _log_in(logout.click().run().run(), A)
    _assert_nothing_of_a(app, "accueil")
