"""AppTest: the page « Fonctionnement non conforme » (guide §3, SPEC §9): who reaches it,
the declaration form (required fields, no nominative data, impact), then the two lists of
reports, « déclarés par votre établissement » and « concernant votre établissement », with
their state icons and filters."""

from __future__ import annotations

from datetime import date, time

import pytest
from sqlalchemy import func, select

from registre import notifications, pii, reports
from registre.models import OutboxMail, Report, ReportState

from . import apptest_helpers
from .apptest_helpers import (
    DENIED,
    NON_CONFORME,
    SIGNALEMENT,
    assert_login_form_only,
    click,
    errors,
    logged_in,
    open_by_url,
    open_page,
    page_text,
    record_menu,
    run_directly,
    table_rows,
    widget,
)
from .factories import at

app_env = apptest_helpers.app_env  # the fixture
fresh_server_env = apptest_helpers.fresh_server_env  # the fixture

DECLARE = "Déclarer le fonctionnement non conforme"
IMPACT = "Ce dysfonctionnement a eu un impact sur la prise en charge du patient"
NOT_SAVED = "Le signalement n'a pas été enregistré : corrigez les champs signalés ci-dessous."
REQUESTER = "Centre hospitalier Sud Francilien (CHSF)"
MONDOR = "Hôpital Henri-Mondor (AP-HP)"
DECLARED = "Signalements déclarés par votre établissement"
CONCERNING = "Signalements concernant votre établissement"
NONE_DECLARED = "Aucun signalement déclaré par votre établissement."
NONE_CONCERNING = "Aucun signalement ne concerne votre établissement."
FORM_LABELS = {
    "date_input": ["Date et heure *"],
    "time_input": ["Heure *"],
    "selectbox": ["Spécialité PDSES *", "Etablissement concerné *", "Type de dysfonctionnement *"],
    "text_area": ["Description *", "Description de l'impact"],
    "checkbox": [IMPACT],
}


def _required(label: str) -> str:
    return f"« {label} » est obligatoire."


def _declared(app) -> list[list[str]]:
    return table_rows(app, "fnc-ouvrir-declare-")


def _concerning(app) -> list[list[str]]:
    return table_rows(app, "fnc-ouvrir-recu-")


def _report_count(world) -> int:
    with world.db.read() as session:
        return session.scalar(select(func.count()).select_from(Report)) or 0


def _only_report(world) -> Report:
    with world.db.read() as session:
        [report] = session.scalars(select(Report)).all()
        session.expunge(report)
        return report


def _form(app):
    [form] = [f for f in app.main.form]
    return form


def _fill(app, world, *, description: str = "Ligne d'astreinte injoignable pendant 40 minutes."):
    """Every field of the declaration form, as a night clinician would."""
    widget(app.time_input, "Heure *").set_value(time(2, 40))
    widget(app.selectbox, "Spécialité PDSES *").select(world.specialty["Neurochirurgie"])
    widget(app.selectbox, "Etablissement concerné *").select(world.est["ref"])
    widget(app.selectbox, "Type de dysfonctionnement *").select(
        world.report_type["Ligne injoignable"]
    )
    widget(app.text_area, "Description *").input(description)


def _after(form, kind: str, label: str) -> list[str]:
    """The error messages drawn right after the widget ``label`` of ``form`` (next to it)."""
    flat = []

    def walk(items):
        for node in items:
            flat.append(node)
            children = getattr(node, "children", None)
            if children:
                walk(children.values())

    walk(form.children.values())
    index = next(
        i
        for i, n in enumerate(flat)
        if getattr(n, "type", None) == kind and getattr(n, "label", None) == label
    )
    messages = []
    for node in flat[index + 1 :]:
        if getattr(node, "type", None) != "error":
            break
        messages.append(node.value)
    return messages


# --- who reaches the page -------------------------------------------------------------------

NON_CONFORME_ENTRY = ("Fonctionnement non conforme", "fonctionnement_non_conforme", "visible")
REGISTRE_ENTRY = ("Registre des refus PDSES", "registre", "visible")


@pytest.mark.parametrize(
    "username", ["declarant-req", "referent-ref", "coordinateur-req", "directeur-ref"]
)
def test_the_menu_offers_the_page_before_the_registry(app_env, monkeypatch, username):
    calls = record_menu(monkeypatch)
    app = logged_in(username).run()
    assert not app.exception
    [menu] = calls
    visible = [entry for entry in menu["PDSES"] if entry[2] == "visible"]
    assert visible == [NON_CONFORME_ENTRY, REGISTRE_ENTRY]
    assert ("Signalement", "signalement", "hidden") in menu["PDSES"]
    app.switch_page(NON_CONFORME).run()
    assert not app.exception
    assert [t.value for t in app.title] == ["Fonctionnement non conforme"]


@pytest.mark.parametrize("username", ["ars", "ars-75", "admin"])
def test_the_menu_of_the_ars_and_the_admin_does_not_offer_it(app_env, monkeypatch, username):
    calls = record_menu(monkeypatch)
    app = logged_in(username).run()
    assert not app.exception
    [menu] = calls
    titles = [entry[0] for entries in menu.values() for entry in entries]
    assert "Fonctionnement non conforme" not in titles
    assert ("Signalement" in titles) is username.startswith("ars")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page(NON_CONFORME)


def test_the_page_run_without_login_shows_only_the_login(fresh_server_env):
    number = fresh_server_env.report().number
    for app in (run_directly(NON_CONFORME), open_by_url(NON_CONFORME)):
        assert_login_form_only(app, number, REQUESTER, MONDOR)
        assert_login_form_only(app.run(), number, REQUESTER, MONDOR)


@pytest.mark.parametrize("username", ["ars", "admin"])
def test_the_ars_and_the_admin_are_refused(fresh_server_env, username):
    number = fresh_server_env.report().number
    for app in (run_directly(NON_CONFORME, username), open_by_url(NON_CONFORME, username)):
        assert not app.exception
        assert errors(app) == [DENIED]
        assert not app.main.selectbox and not app.main.text_area and not app.main.form
        assert number not in page_text(app)


# --- the declaration form ---------------------------------------------------------------------


def test_the_form_is_prefilled_and_has_every_field(app_env):
    app = open_page(NON_CONFORME, "declarant-req")
    assert not app.exception
    form = _form(app)
    for kind, labels in FORM_LABELS.items():
        assert [w.label for w in getattr(form, kind)] == labels, kind
    establishment = widget(form.text_input, "Etablissement déclarant")
    assert (establishment.value, establishment.disabled) == (REQUESTER, True)
    assert widget(form.date_input, "Date et heure *").value == date(2026, 11, 26)
    assert widget(form.time_input, "Heure *").value == time(3, 15)
    for label in FORM_LABELS["selectbox"]:
        assert widget(form.selectbox, label).value is None
    assert widget(form.text_area, "Description *").value == ""
    assert widget(form.checkbox, IMPACT).value is False
    assert [b.label for b in form.button] == [DECLARE]
    # the establishment never reports itself
    options = widget(form.selectbox, "Etablissement concerné *").options
    assert f"{MONDOR} (94)" in options
    assert not [o for o in options if o.startswith(REQUESTER)]
    assert [i.value for i in app.info] == [NONE_DECLARED, NONE_CONCERNING]


def test_a_declarant_declares_a_report(app_env):
    world = app_env
    app = open_page(NON_CONFORME, "declarant-req")
    _fill(app, world)
    app = click(app, DECLARE)
    assert not app.exception
    assert not errors(app)
    report = _only_report(world)
    assert report.number.startswith("F-2026-")
    assert (
        report.state,
        report.declaring_establishment_id,
        report.concerned_establishment_id,
        report.specialty_id,
        report.report_type_id,
        report.description,
        report.impact,
        report.is_line_holder,
    ) == (
        ReportState.AWAITING,
        world.est["req"],
        world.est["ref"],
        world.specialty["Neurochirurgie"],
        world.report_type["Ligne injoignable"],
        "Ligne d'astreinte injoignable pendant 40 minutes.",
        False,
        True,
    )
    assert [s.value for s in app.success] == [
        f"Fonctionnement non conforme {report.number} déclaré : l'établissement concerné est "
        "informé par mail."
    ]
    assert _declared(app) == [
        [
            f"🔔 {report.number}",
            "26/11/2026 02:40",
            "Neurochirurgie",
            "Ligne injoignable",
            MONDOR + "  \n⚠️ titulaire de la ligne PDSES",
        ]
    ]
    assert _concerning(app) == []
    # the next form is empty again
    form = _form(app)
    for label in FORM_LABELS["selectbox"]:
        assert widget(form.selectbox, label).value is None, label
    assert widget(form.text_area, "Description *").value == ""
    assert widget(form.time_input, "Heure *").value == time(3, 15)
    assert widget(form.checkbox, IMPACT).value is False
    # the concerned establishment's référent and coordinateur are told, not its déclarant
    with world.db.read() as session:
        recipients = sorted(
            m.recipient
            for m in session.scalars(
                select(OutboxMail).where(OutboxMail.kind == notifications.REPORT_SENT.key)
            )
        )
    assert recipients == ["coordinateur-ref@example.org", "referent-ref@example.org"]
    # the flash is shown once
    app.run()
    assert not app.success


def test_a_report_with_an_impact_tells_the_director(app_env):
    world = app_env
    app = open_page(NON_CONFORME, "referent-req")
    _fill(app, world)
    widget(app.checkbox, IMPACT).check()
    widget(app.text_area, "Description de l'impact").input("transfert retardé de deux heures")
    app = click(app, DECLARE)
    assert not errors(app)
    report = _only_report(world)
    assert (report.impact, report.impact_description) == (
        True,
        "transfert retardé de deux heures",
    )
    with world.db.read() as session:
        mails = session.scalars(
            select(OutboxMail).where(OutboxMail.kind == notifications.REPORT_IMPACT.key)
        ).all()
        assert [m.recipient for m in mails] == ["directeur-req@example.org"]


def test_an_empty_form_shows_every_message_and_stores_nothing(app_env):
    app = open_page(NON_CONFORME, "declarant-req")
    app = click(app, DECLARE)
    assert not app.exception
    assert errors(app) == [
        NOT_SAVED,
        _required("Spécialité PDSES"),
        _required("Etablissement concerné"),
        _required("Type de dysfonctionnement"),
        _required("Description"),
    ]
    form = _form(app)
    assert _after(form, "selectbox", "Spécialité PDSES *") == [_required("Spécialité PDSES")]
    assert _after(form, "selectbox", "Etablissement concerné *") == [
        _required("Etablissement concerné")
    ]
    assert _after(form, "selectbox", "Type de dysfonctionnement *") == [
        _required("Type de dysfonctionnement")
    ]
    assert _after(form, "text_area", "Description *") == [_required("Description")]
    assert _report_count(app_env) == 0
    assert not app.success


def test_a_moment_in_the_future_is_refused(app_env):
    app = open_page(NON_CONFORME, "declarant-req")
    _fill(app, app_env)
    widget(app.time_input, "Heure *").set_value(time(23, 0))  # it is 03:15
    app = click(app, DECLARE)
    assert not app.exception
    assert len(errors(app)) == 2 and errors(app)[0] == NOT_SAVED
    assert "futur" in errors(app)[1]
    assert _report_count(app_env) == 0
    assert widget(app.time_input, "Heure *").value == time(23, 0)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Appel pour M. Dupont resté sans réponse", "civility"),
        ("rappeler le 06 12 34 56 78", "phone"),
    ],
)
def test_nominative_text_is_refused_next_to_the_field_and_the_input_kept(app_env, text, reason):
    world = app_env
    message = f"« Description » : {getattr(pii, f'REASON_{reason.upper()}')}"
    app = open_page(NON_CONFORME, "declarant-req")
    _fill(app, world, description=text)
    app = click(app, DECLARE)
    assert not app.exception
    assert errors(app) == [NOT_SAVED, message]
    assert _after(_form(app), "text_area", "Description *") == [message]
    assert _report_count(world) == 0
    # nothing typed is lost
    assert widget(app.text_area, "Description *").value == text
    assert widget(app.time_input, "Heure *").value == time(2, 40)
    assert widget(app.selectbox, "Spécialité PDSES *").value == world.specialty["Neurochirurgie"]
    assert widget(app.selectbox, "Etablissement concerné *").value == world.est["ref"]
    assert (
        widget(app.selectbox, "Type de dysfonctionnement *").value
        == world.report_type["Ligne injoignable"]
    )
    # corrected, it is stored and the errors are gone
    widget(app.text_area, "Description *").input("ligne injoignable, rappel à 02h15")
    app = click(app, DECLARE)
    assert not errors(app)
    assert _report_count(world) == 1


def test_an_impact_needs_its_description(app_env):
    app = open_page(NON_CONFORME, "declarant-req")
    _fill(app, app_env)
    widget(app.checkbox, IMPACT).check()
    app = click(app, DECLARE)
    assert not app.exception
    assert errors(app) == [NOT_SAVED, _required("Description de l'impact")]
    assert _after(_form(app), "text_area", "Description de l'impact") == [
        _required("Description de l'impact")
    ]
    assert _report_count(app_env) == 0
    assert widget(app.checkbox, IMPACT).value is True


def test_a_referent_limited_to_specialties_is_offered_only_those(app_env):
    app = open_page(NON_CONFORME, "referent-ref-orl")
    assert widget(app.selectbox, "Spécialité PDSES *").options == ["ORL"]


# --- the lists ----------------------------------------------------------------------------------


def test_the_directeur_sees_the_lists_but_no_form(app_env):
    number = app_env.report().number
    app = open_page(NON_CONFORME, "directeur-req")
    assert not app.exception
    assert not app.main.form and not app.main.text_area
    assert not [b for b in app.button if b.label == DECLARE]
    assert [s.value for s in app.subheader] == [DECLARED, CONCERNING]
    assert [row[0] for row in _declared(app)] == [f"🔔 {number}"]
    assert [row[0] for row in _concerning(open_page(NON_CONFORME, "directeur-ref"))] == [
        f"🔔 {number}"
    ]


def test_the_concerned_referent_sees_the_report_and_opens_it(app_env):
    world = app_env
    number = world.report(occurred_at=at(2026, 11, 24, 22, 5)).number
    app = open_page(NON_CONFORME, "referent-ref")
    assert not app.exception
    assert _declared(app) == []
    assert NONE_DECLARED in [i.value for i in app.info]
    assert [f"{w.icon} {w.value}" for w in app.warning if w.icon == "🔔"] == [
        "🔔 1 signalement(s) concernant votre établissement attend(ent) sa réponse : voir « "
        "Signalements concernant votre établissement » ci-dessous."
    ]
    assert not [w for w in open_page(NON_CONFORME, "referent-req").warning if w.icon == "🔔"]
    assert _concerning(app) == [
        [
            f"🔔 {number}",
            "24/11/2026 22:05",
            "Neurochirurgie",
            "Ligne injoignable",
            REQUESTER + "  \n⚠️ votre établissement est titulaire de la ligne",
        ]
    ]
    app = click(app, f"🔔 {number}")
    assert not app.exception
    assert app.query_params == {"numero": number}
    assert [t.value for t in app.title] == [f"🔔 Fonctionnement non conforme {number}"]
    assert [b for b in app.button if b.label == "Enregistrer la réponse"]


def test_a_declared_row_opens_the_declarer_view(app_env):
    number = app_env.report().number
    app = click(open_page(NON_CONFORME, "coordinateur-req"), f"🔔 {number}")
    assert not app.exception
    assert app.query_params == {"numero": number}
    assert [t.value for t in app.title] == [f"🔔 Fonctionnement non conforme {number}"]
    assert [e.label for e in app.expander] == [
        "Retirer le signalement",
        "Historique du signalement",
    ]


def test_a_referent_limited_to_another_specialty_does_not_see_the_report(app_env):
    app_env.report()
    app = open_page(NON_CONFORME, "referent-ref-orl")
    assert _concerning(app) == []
    assert NONE_CONCERNING in [i.value for i in app.info]


@pytest.fixture
def three(app_env):
    """Three reports of ``req`` about ``ref``: awaiting, answered, withdrawn; and one of
    ``ref`` about ``other`` that ``req`` must never list."""
    w = app_env
    awaiting = w.report(occurred_at=at(2026, 11, 20, 22, 0))
    answered = w.report(occurred_at=at(2026, 11, 22, 22, 0))
    reports.answer(
        w.db,
        w.actor("referent_ref"),
        answered.id,
        reports.ReportAnswerInput(analysis="astreinte mal transmise"),
    )
    withdrawn = w.report(occurred_at=at(2026, 11, 24, 22, 0))
    reports.withdraw(w.db, w.actor("declarant_req"), withdrawn.id, "erreur d'établissement")
    elsewhere = w.report(by="declarant_ref", concerned="other")
    return {
        "awaiting": awaiting.number,
        "answered": answered.number,
        "withdrawn": withdrawn.number,
        "elsewhere": elsewhere.number,
    }


ICONS = {"awaiting": "🔔", "answered": "✅", "withdrawn": "🗄️"}


def _labels(three, *keys: str) -> list[str]:
    return [f"{ICONS[k]} {three[k]}" for k in keys]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (None, ["answered", "awaiting"]),  # latest first, withdrawn ones on demand
        (ReportState.AWAITING, ["awaiting"]),
        (ReportState.ANSWERED, ["answered"]),
        (ReportState.WITHDRAWN, ["withdrawn"]),
    ],
)
def test_the_state_filter_of_the_declared_list(app_env, three, state, expected):
    app = open_page(NON_CONFORME, "declarant-req")
    assert widget(app.selectbox, "État").options == [
        "Tous (sauf retirés)",
        "🔔 Réponse attendue",
        "✅ Répondu",
        "🗄️ Retiré",
    ]
    if state is not None:
        widget(app.selectbox, "État").select(state)
        app.run()
    assert not app.exception
    assert [row[0] for row in _declared(app)] == _labels(three, *expected)
    assert _concerning(app) == []


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (None, ["awaiting", "answered"]),  # awaiting an answer first
        (ReportState.AWAITING, ["awaiting"]),
        (ReportState.ANSWERED, ["answered"]),
        (ReportState.WITHDRAWN, ["withdrawn"]),
    ],
)
def test_the_answer_filter_of_the_concerning_list(app_env, three, state, expected):
    app = open_page(NON_CONFORME, "coordinateur-ref")
    assert [row[0] for row in _declared(app)] == [f"🔔 {three['elsewhere']}"]
    if state is not None:
        widget(app.selectbox, "Réponse").select(state)
        app.run()
    assert not app.exception
    assert [row[0] for row in _concerning(app)] == _labels(three, *expected)
    # the other list keeps its own filter
    assert [row[0] for row in _declared(app)] == [f"🔔 {three['elsewhere']}"]


def test_a_filter_without_match_says_so(app_env):
    app_env.report()
    app = open_page(NON_CONFORME, "declarant-req")
    widget(app.selectbox, "État").select(ReportState.ANSWERED)
    app.run()
    assert _declared(app) == []
    assert NONE_DECLARED in [i.value for i in app.info]


def test_the_declared_list_is_paginated_by_twenty(app_env):
    numbers = [app_env.report(occurred_at=at(2026, 11, 20, 3, m)).number for m in range(22)]
    app = open_page(NON_CONFORME, "declarant-req")
    assert [row[0] for row in _declared(app)] == [f"🔔 {n}" for n in reversed(numbers[2:])]
    assert "Page 1 sur 2 — 22 élément(s)" in [c.value for c in app.caption]
    app = click(app, "Suivants ▶")
    assert not app.exception
    assert [row[0] for row in _declared(app)] == [f"🔔 {n}" for n in reversed(numbers[:2])]


def test_the_page_is_reached_from_the_signalement_back_link(app_env):
    number = app_env.report().number
    app = open_page(SIGNALEMENT, "declarant-req", numero=number)
    assert [p.label for p in app.page_link] == ["Retour aux fonctionnements non conformes"]


def test_errors_of_an_abandoned_form_do_not_show_on_the_next_visit(app_env):
    app = click(open_page(NON_CONFORME, "declarant-req"), DECLARE)
    assert NOT_SAVED in errors(app)
    app.switch_page(apptest_helpers.REGISTRE)
    app.query_params.clear()
    app.run()
    assert [t.value for t in app.title] == ["Registre des refus PDSES"]
    app.switch_page(NON_CONFORME)
    app.run()
    assert not app.exception
    assert widget(app.text_area, "Description *").value == ""
    assert errors(app) == []


def test_the_page_opened_first_after_a_server_start_works(fresh_server_env):
    """The first URL a fresh server serves runs the page file without ``Home.py``: a
    logged-in user still gets the lists, and a row still opens the report."""
    number = fresh_server_env.report().number
    app = open_by_url(NON_CONFORME, "referent-ref")
    assert not app.exception
    assert [row[0] for row in _concerning(app)] == [f"🔔 {number}"]
    app = click(app, f"🔔 {number}")
    assert not app.exception
    assert [t.value for t in app.title] == [f"🔔 Fonctionnement non conforme {number}"]
