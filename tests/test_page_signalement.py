"""AppTest: a « fonctionnement non conforme » report as each viewer sees it (SPEC §9, the
refusals' blindness): the concerned establishment reads what happened and answers (analysis,
corrective measures) without ever learning the impact on care nor who declared; the declaring
establishment learns that it was answered, not how, and may withdraw its report; the ARS
sees both sides. The history is cut to each viewer the same way."""

from __future__ import annotations

import pytest

from registre import report_queries, reports
from registre.models import ReportState

from . import apptest_helpers
from .apptest_helpers import (
    SIGNALEMENT,
    assert_login_form_only,
    click,
    errors,
    markdown_text,
    open_by_url,
    open_page,
    page_text,
    run_directly,
    widget,
)
from .factories import at

app_env = apptest_helpers.app_env  # the fixture
fresh_server_env = apptest_helpers.fresh_server_env  # the fixture

REQUESTER = "Centre hospitalier Sud Francilien (CHSF)"
MONDOR = "Hôpital Henri-Mondor (AP-HP)"
ANSWER = "Enregistrer la réponse"
ANALYSIS = "Analyse de l'établissement *"
MEASURES = "Mesures correctives"
WITHDRAW = "Retirer le signalement"
REASON = "Motif du retrait *"
HISTORY = "Historique du signalement"
ANSWERED_NOTE = "L'établissement concerné a répondu à ce signalement."
DENIED = "Ce signalement n'existe pas ou vous n'y avez pas accès."
DESCRIPTION = "Ligne d'astreinte sonnant dans le vide pendant 40 minutes (ornithorynque)."
# What the declaring establishment said only to itself (and the ARS).
DECLARER_ONLY = {
    "impact": "transfert retardé, attente quokka vermillon",
    "author": "declarant_req",
}
# What the concerned establishment answered: never shown to the declaring one.
ANSWER_ONLY = {
    "analysis": "astreinte mal transmise, pangolin",
    "measures": "double appel capybara instauré",
}


def _title(app) -> list[str]:
    return [t.value for t in app.title]


def _history(app) -> str:
    [expander] = [e for e in app.expander if e.label == HISTORY]
    return "\n".join(m.value for m in expander.markdown).replace("\\", "")


def _state(world, report_id: int) -> ReportState:
    return report_queries.get_report(world.db, world.actor("ars"), report_id=report_id).state


@pytest.fixture
def declared(app_env):
    """A report of ``req`` (its Déclarant) about ``ref``, with an impact on care."""
    return app_env.report(
        occurred_at=at(2026, 11, 24, 22, 5),
        description=DESCRIPTION,
        impact=True,
        impact_description=DECLARER_ONLY["impact"],
    )


def _answer(world, report_id: int) -> None:
    reports.answer(
        world.db,
        world.actor("referent_ref"),
        report_id,
        reports.ReportAnswerInput(
            analysis=ANSWER_ONLY["analysis"], corrective_measures=ANSWER_ONLY["measures"]
        ),
    )


# --- the concerned establishment ------------------------------------------------------------


@pytest.mark.parametrize("answered", [False, True])
def test_the_concerned_side_never_sees_the_impact_nor_the_author(app_env, declared, answered):
    if answered:
        _answer(app_env, declared.id)
    app = open_page(SIGNALEMENT, "referent-ref", numero=declared.number)
    assert not app.exception
    icon = "✅" if answered else "🔔"
    assert _title(app) == [f"{icon} Fonctionnement non conforme {declared.number}"]
    state = "Répondu" if answered else "Réponse attendue"
    assert app.caption[0].value == (f"{state} — signalement concernant votre établissement")
    text = markdown_text(app)
    for fact in (
        "**Date et heure** : 24/11/2026 22:05",
        "**Horaires** : PDSES",
        "**Spécialité PDSES** : Neurochirurgie",
        f"**Etablissement déclarant** : {REQUESTER}",
        f"**Etablissement concerné** : {MONDOR} (titulaire de la ligne PDSES)",
        "**Type de dysfonctionnement** : Ligne injoignable",
        f"**Description** : {DESCRIPTION}",
    ):
        assert fact in text
    page = page_text(app)
    for what, value in DECLARER_ONLY.items():
        assert value not in page, what
    assert "Impact sur la prise en charge du patient**" not in text
    assert "Déclaré par" not in page
    history = _history(app)
    assert f"**Signalement transmis à votre établissement** — {REQUESTER}" in history
    assert "Fonctionnement non conforme déclaré" not in history
    assert bool(app.main.form) is not answered


def test_the_answer_form(app_env, declared):
    app = open_page(SIGNALEMENT, "referent-ref", numero=declared.number)
    [form] = list(app.main.form)
    assert [t.label for t in form.text_area] == [ANALYSIS, MEASURES]
    assert [b.label for b in form.button] == [ANSWER]
    assert "Répondre à ce signalement" in [s.value for s in app.subheader]


def test_the_concerned_referent_answers(app_env, declared):
    world = app_env
    app = open_page(SIGNALEMENT, "referent-ref", numero=declared.number)
    widget(app.text_area, ANALYSIS).input(ANSWER_ONLY["analysis"])
    widget(app.text_area, MEASURES).input(ANSWER_ONLY["measures"])
    app = click(app, ANSWER)
    assert not app.exception
    assert not errors(app)
    assert [s.value for s in app.success] == [
        f"Réponse enregistrée pour le signalement {declared.number}."
    ]
    assert _title(app) == [f"✅ Fonctionnement non conforme {declared.number}"]
    assert "Réponse de votre établissement" in [s.value for s in app.subheader]
    text = markdown_text(app)
    assert f"**Analyse de l'établissement** : {ANSWER_ONLY['analysis']}" in text
    assert f"**Mesures correctives** : {ANSWER_ONLY['measures']}" in text
    assert "**Réponse enregistrée le** : 26/11/2026 03:15" in text
    assert not app.main.form
    assert not [b for b in app.button if b.label == ANSWER]
    view = report_queries.get_report(world.db, world.actor("ars"), report_id=declared.id)
    assert isinstance(view, report_queries.RegionalReportView) and view.answer is not None
    assert (view.state, view.answer.analysis, view.answer.corrective_measures) == (
        ReportState.ANSWERED,
        ANSWER_ONLY["analysis"],
        ANSWER_ONLY["measures"],
    )
    history = _history(app)
    assert "**Réponse de l'établissement concerné enregistrée** — referent_ref" in history
    assert "Analyse de l'établissement renseigné ou modifié" in history


def test_an_answer_without_measures_says_so(app_env, declared):
    app = open_page(SIGNALEMENT, "coordinateur-ref", numero=declared.number)
    widget(app.text_area, ANALYSIS).input("ligne rétablie à 23h10")
    app = click(app, ANSWER)
    assert not errors(app)
    assert "**Mesures correctives** : non renseignées" in markdown_text(app)


@pytest.mark.parametrize(
    ("analysis", "measures", "messages"),
    [
        ("", "rappel des consignes", ["« Analyse de l'établissement » est obligatoire."]),
        ("   ", "", ["« Analyse de l'établissement » est obligatoire."]),
        (
            "appel de Mme Martin",
            "",
            ["« Analyse de l'établissement » : " + "{civility}"],
        ),
    ],
    ids=["no analysis", "blank analysis", "nominative analysis"],
)
def test_a_wrong_answer_shows_its_errors_and_keeps_the_input(
    app_env, declared, analysis, measures, messages
):
    from registre import pii

    messages = [m.format(civility=pii.REASON_CIVILITY) for m in messages]
    app = open_page(SIGNALEMENT, "referent-ref", numero=declared.number)
    widget(app.text_area, ANALYSIS).input(analysis)
    widget(app.text_area, MEASURES).input(measures)
    app = click(app, ANSWER)
    assert not app.exception
    assert errors(app) == messages
    assert _state(app_env, declared.id) is ReportState.AWAITING
    assert widget(app.text_area, MEASURES).value == measures
    assert _title(app) == [f"🔔 Fonctionnement non conforme {declared.number}"]
    assert not app.success


def test_the_directeur_of_the_concerned_establishment_reads_without_answering(app_env, declared):
    app = open_page(SIGNALEMENT, "directeur-ref", numero=declared.number)
    assert _title(app) == [f"🔔 Fonctionnement non conforme {declared.number}"]
    assert not app.main.form
    page = page_text(app)
    for value in DECLARER_ONLY.values():
        assert value not in page


# --- the declaring establishment --------------------------------------------------------------


def test_the_declarer_sees_its_report_and_its_impact(app_env, declared):
    app = open_page(SIGNALEMENT, "declarant-req", numero=declared.number)
    assert not app.exception
    assert _title(app) == [f"🔔 Fonctionnement non conforme {declared.number}"]
    assert app.caption[0].value == "Réponse attendue"
    text = markdown_text(app)
    for fact in (
        f"**Description** : {DESCRIPTION}",
        "**Impact sur la prise en charge du patient** : oui",
        f"**Description de l'impact** : {DECLARER_ONLY['impact']}",
        f"**Déclaré par** : {DECLARER_ONLY['author']}",
    ):
        assert fact in text
    assert ANSWERED_NOTE not in page_text(app)
    assert [e.label for e in app.expander] == [WITHDRAW, HISTORY]
    assert "**Fonctionnement non conforme déclaré** — declarant_req" in _history(app)


def test_the_declarer_learns_that_it_was_answered_not_how(app_env, declared):
    _answer(app_env, declared.id)
    app = open_page(SIGNALEMENT, "declarant-req", numero=declared.number)
    assert not app.exception
    assert _title(app) == [f"✅ Fonctionnement non conforme {declared.number}"]
    assert [s.value for s in app.success] == [ANSWERED_NOTE]
    page = page_text(app)
    for what, value in ANSWER_ONLY.items():
        assert value not in page, what
    assert "Analyse de l'établissement" not in page and "Mesures correctives" not in page
    history = _history(app)
    assert f"**Réponse de l'établissement concerné enregistrée** — {MONDOR}" in history
    assert "referent_ref" not in history
    # answered: nothing left to withdraw
    assert [e.label for e in app.expander] == [HISTORY]


def test_the_declarer_withdraws_with_a_reason(app_env, declared):
    world = app_env
    app = open_page(SIGNALEMENT, "declarant-req", numero=declared.number)
    widget(app.text_area, REASON).input("erreur d'établissement concerné")
    app = click(app, WITHDRAW)
    assert not app.exception
    assert not errors(app)
    assert _state(world, declared.id) is ReportState.WITHDRAWN
    assert [s.value for s in app.success] == [
        f"Signalement {declared.number} retiré (il reste conservé et tracé)."
    ]
    assert _title(app) == [f"🗄️ Fonctionnement non conforme {declared.number}"]
    assert app.caption[0].value == "Retiré"
    assert [e.label for e in app.expander] == [HISTORY]
    assert (
        "**Signalement retiré par l'établissement déclarant** — declarant_req  \n"
        "  Motif : erreur d'établissement concerné"
    ) in _history(app)
    # the concerned establishment sees it withdrawn, by the establishment, without the reason
    app = open_page(SIGNALEMENT, "referent-ref", numero=declared.number)
    assert _title(app) == [f"🗄️ Fonctionnement non conforme {declared.number}"]
    assert not app.main.form
    history = _history(app)
    assert f"**Signalement retiré par l'établissement déclarant** — {REQUESTER}" in history
    assert "erreur d'établissement concerné" not in page_text(app)


def test_a_withdrawal_needs_a_reason(app_env, declared):
    app = click(open_page(SIGNALEMENT, "declarant-req", numero=declared.number), WITHDRAW)
    assert not app.exception
    assert errors(app) == ["« Motif du retrait » est obligatoire."]
    assert _state(app_env, declared.id) is ReportState.AWAITING
    assert _title(app) == [f"🔔 Fonctionnement non conforme {declared.number}"]


@pytest.mark.parametrize("username", ["declarant-ref", "directeur-req"])
def test_only_a_writer_of_the_declaring_side_may_withdraw(app_env, declared, username):
    """The concerned side never; the Directeur reads only; another Déclarant of ``req``
    (none in the world) would not either: it is the author's report."""
    app = open_page(SIGNALEMENT, username, numero=declared.number)
    assert not app.exception
    assert WITHDRAW not in [e.label for e in app.expander]
    assert not [b for b in app.button if b.label == WITHDRAW]


def test_a_coordinateur_of_the_declaring_side_may_withdraw(app_env, declared):
    app = open_page(SIGNALEMENT, "coordinateur-req", numero=declared.number)
    widget(app.text_area, REASON).input("doublon")
    app = click(app, WITHDRAW)
    assert not errors(app)
    assert _state(app_env, declared.id) is ReportState.WITHDRAWN


# --- the ARS -------------------------------------------------------------------------------------


def test_the_ars_sees_both_sides(app_env, declared):
    _answer(app_env, declared.id)
    app = open_page(SIGNALEMENT, "ars", numero=declared.number)
    assert not app.exception
    assert _title(app) == [f"✅ Fonctionnement non conforme {declared.number}"]
    text = markdown_text(app)
    for value in (DESCRIPTION, *DECLARER_ONLY.values(), *ANSWER_ONLY.values()):
        assert value in text
    assert "Réponse de l'établissement concerné" in [s.value for s in app.subheader]
    assert not app.main.form
    assert [e.label for e in app.expander] == [HISTORY]
    assert not app.page_link  # no establishment: no list to go back to
    history = _history(app)
    assert f"**Fonctionnement non conforme déclaré** — declarant_req ({REQUESTER})" in history
    assert (
        f"**Réponse de l'établissement concerné enregistrée** — referent_ref ({MONDOR})" in history
    )


def test_the_ars_sees_when_there_is_no_answer_yet(app_env, declared):
    app = open_page(SIGNALEMENT, "ars", numero=declared.number)
    assert "L'établissement concerné n'a pas encore répondu." in [c.value for c in app.caption]


# --- out of reach --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "report"),
    [
        ("ars-75", "req about ref"),  # 91 → 94: outside Paris
        ("declarant-req", "ref about other"),  # neither declaring nor concerned
        ("directeur-req", "ref about other"),
        ("referent-ref-orl", "req about ref"),  # neurosurgery, limited to ORL
    ],
)
def test_a_viewer_outside_the_report_is_refused(app_env, username, report):
    w = app_env
    by, concerned = {
        "req about ref": ("declarant_req", "ref"),
        "ref about other": ("declarant_ref", "other"),
    }[report]
    number = w.report(by=by, concerned=concerned, description=DESCRIPTION).number
    app = open_page(SIGNALEMENT, username, numero=number)
    assert not app.exception
    assert errors(app) == [DENIED]
    assert not app.title and not app.expander and not app.main.form
    page = page_text(app)
    assert number not in page and DESCRIPTION not in page


def test_the_ars_of_a_departement_sees_the_reports_of_its_establishments(app_env):
    number = app_env.report(concerned="paris").number  # 91 → 75
    app = open_page(SIGNALEMENT, "ars-75", numero=number)
    assert not app.exception
    assert _title(app) == [f"🔔 Fonctionnement non conforme {number}"]


def test_the_page_run_alone_shows_the_login_then_the_report(fresh_server_env):
    """A report's mail link opened right after a server start: the page file runs without
    ``Home.py``; nobody logged in gets only the login, the concerned référent the report."""
    number = fresh_server_env.report(description=DESCRIPTION).number
    for app in (run_directly(SIGNALEMENT, numero=number), open_by_url(SIGNALEMENT, numero=number)):
        assert_login_form_only(app, number, DESCRIPTION, REQUESTER)
    app = open_by_url(SIGNALEMENT, "referent-ref", numero=number)
    assert not app.exception
    assert _title(app) == [f"🔔 Fonctionnement non conforme {number}"]
    assert [b.label for b in app.main.button] == [ANSWER]
    for username in ("admin", "directeur-req"):
        app = open_by_url(SIGNALEMENT, username, numero=number)
        assert not app.exception
        expected = [apptest_helpers.DENIED] if username == "admin" else []
        assert errors(app) == expected, username


@pytest.mark.parametrize("params", [{"numero": "F-2026-999999"}, {"numero": "R-2026-000001"}, {}])
def test_an_unknown_number_is_not_found(app_env, params):
    app_env.report()
    app = open_page(SIGNALEMENT, "declarant-req", **params)
    assert not app.exception
    assert errors(app) == ["Ce signalement n'existe pas ou vous n'y avez pas accès."]
    assert not app.title
    assert [p.label for p in app.page_link] == ["Retour aux fonctionnements non conformes"]


def test_the_number_may_be_typed_in_lower_case(app_env, declared):
    app = open_page(SIGNALEMENT, "referent-ref", numero=f" {declared.number.lower()} ")
    assert _title(app) == [f"🔔 Fonctionnement non conforme {declared.number}"]


# --- the other side acted meanwhile: nothing typed is lost silently ----------------------------


def test_an_answer_typed_while_the_report_was_withdrawn_is_kept_in_sight(app_env, declared):
    world = app_env
    app = open_page(SIGNALEMENT, "referent-ref", numero=declared.number)
    widget(app.text_area, ANALYSIS).input(ANSWER_ONLY["analysis"])
    widget(app.text_area, MEASURES).input(ANSWER_ONLY["measures"])
    reports.withdraw(world.db, world.actor("declarant_req"), declared.id, "doublon")
    app = click(app, ANSWER)
    assert not app.exception
    assert _title(app) == [f"🗄️ Fonctionnement non conforme {declared.number}"]
    assert [w.value for w in app.warning] == [
        "Le signalement a changé pendant votre saisie (il est maintenant « Retiré ») : votre "
        "réponse n'a pas été enregistrée. Votre texte :"
    ]
    [kept] = app.code
    assert ANSWER_ONLY["analysis"] in kept.value and ANSWER_ONLY["measures"] in kept.value
    assert _state(world, declared.id) is ReportState.WITHDRAWN
    # once said, it is not repeated on the next run
    assert not app.run().warning


def test_a_reason_typed_while_the_report_was_answered_is_kept_in_sight(app_env, declared):
    world = app_env
    app = open_page(SIGNALEMENT, "declarant-req", numero=declared.number)
    widget(app.text_area, REASON).input("erreur de spécialité")
    _answer(world, declared.id)
    app = click(app, WITHDRAW)
    assert not app.exception
    assert _state(world, declared.id) is ReportState.ANSWERED
    assert "le retrait n'a pas été enregistré" in app.warning[0].value
    assert [c.value for c in app.code] == ["erreur de spécialité"]


def test_a_successful_answer_or_withdrawal_warns_of_nothing(app_env, declared):
    app = open_page(SIGNALEMENT, "referent-ref", numero=declared.number)
    widget(app.text_area, ANALYSIS).input("ligne rétablie")
    app = click(app, ANSWER)
    assert not app.warning and not app.code
    other = app_env.report()
    app = open_page(SIGNALEMENT, "declarant-req", numero=other.number)
    widget(app.text_area, REASON).input("doublon")
    app = click(app, WITHDRAW)
    assert not app.warning and not app.code


def test_the_errors_of_an_answer_left_behind_do_not_show_on_the_next_visit(app_env, declared):
    app = open_page(SIGNALEMENT, "referent-ref", numero=declared.number)
    app = click(app, ANSWER)
    assert errors(app) == ["« Analyse de l'établissement » est obligatoire."]
    app.switch_page(apptest_helpers.ACCUEIL).run()
    app.switch_page(SIGNALEMENT)
    app.query_params["numero"] = declared.number
    app.run()
    assert not app.exception
    assert _title(app) == [f"🔔 Fonctionnement non conforme {declared.number}"]
    assert errors(app) == []


def test_the_declarer_sees_when_it_was_answered(app_env, declared, clock):
    clock.advance(hours=30)
    _answer(app_env, declared.id)
    app = open_page(SIGNALEMENT, "declarant-req", numero=declared.number)
    assert (
        "Réponse enregistrée le 27/11/2026 09:15 ; son contenu n'est communiqué qu'à "
        "l'établissement concerné et à l'ARS."
    ) in [c.value for c in app.caption]
