"""AppTest of « Statistiques » per role: who reaches it, the figures each sees, the
perspective switch (requester / refuser) and its blindness, the filters, the tables
under the charts and the export buttons."""

from __future__ import annotations

from datetime import date

import pytest

from registre.permissions import Perspective

from . import apptest_helpers
from .apptest_helpers import (
    DENIED,
    STATISTIQUES,
    answer,
    button,
    open_by_url,
    open_page,
    page_text,
    run_directly,
    widget,
)

app_env = apptest_helpers.app_env  # the fixture
fresh_server_env = apptest_helpers.fresh_server_env  # the fixture

REQUESTER_SECRET = "Commentaire du demandeur sur la nuit"
ANSWER_SECRET = "Réponse détaillée du refuseur"
STATED = "Absence de lit disponible"  # the requester's motif (factories.line_input)
ANSWERED = "Absence de praticien disponible"  # the refuser's (apptest_helpers.answer)


@pytest.fixture
def data(app_env):
    """d1: requested by ``req``, refused by ``ref`` (answered) and ``other``; d2: requested
    by ``ref``, refused by ``paris`` (75)."""
    world = app_env
    d1 = world.finalised(lines=("ref", "other"), comments=REQUESTER_SECRET, impact=False)
    answer(world, d1.id, comments=ANSWER_SECRET)
    world.finalised(
        by="coordinateur_ref", lines=("paris",), requesting_service_id=world.services["ref"]
    )
    return world


def figures(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def show_all_tables(at):
    for toggle in list(at.toggle):
        if toggle.label == "Afficher les données":
            toggle.set_value(True)
    return at.run()


def tables_text(at) -> str:
    return "\n".join(frame.value.to_csv() for frame in at.dataframe)


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        (
            "coordinateur-req",
            {"Dossiers finalisés": "1", "Refus": "2", "Refus par dossier": "2,00"},
        ),
        ("directeur-req", {"Dossiers finalisés": "1", "Refus": "2"}),
        ("directeur-ref", {"Dossiers finalisés": "1", "Refus": "1"}),
        ("ars", {"Dossiers finalisés": "2", "Refus": "3", "Refus par dossier": "1,50"}),
        ("ars-75", {"Dossiers finalisés": "1", "Refus": "1"}),
    ],
)
def test_each_role_sees_the_figures_of_its_scope(data, username, expected):
    at = open_page(STATISTIQUES, username)
    assert not at.exception, at.exception
    assert at.title[0].value == "Statistiques"
    shown = figures(at)
    for label, value in expected.items():
        assert shown[label] == value, (label, shown)


def test_the_answer_rate_and_holder_share_of_the_requester(data):
    shown = figures(open_page(STATISTIQUES, "coordinateur-req"))
    # two refusals: ref (holds the neurosurgery line, answered) and other (no answer)
    assert shown["Taux de réponse des refuseurs"] == "50,0 %"
    assert shown["Part des refus par le titulaire de la ligne"] == "50,0 %"
    assert shown["Part avec impact sur la prise en charge"] == "0,0 %"


@pytest.mark.parametrize("username", ["declarant-req", "referent-ref", "admin"])
def test_other_roles_are_refused(fresh_server_env, username):
    at = run_directly(STATISTIQUES, username)
    assert not at.exception
    assert DENIED in [e.value for e in at.error]
    assert not at.metric


@pytest.mark.parametrize("username", ["declarant-req", "referent-ref", "admin"])
def test_other_roles_opening_the_url_land_on_accueil(data, username):
    at = open_by_url(STATISTIQUES, username)
    assert not at.exception
    assert not at.metric
    with pytest.raises(ValueError):  # not in their menu
        at.switch_page(STATISTIQUES)
    assert at.title[0].value == "Registre des refus PDSES"  # Accueil's title


def test_requester_view_shows_stated_motifs_never_the_answers(data):
    at = show_all_tables(open_page(STATISTIQUES, "coordinateur-req"))
    headings = [s.value for s in at.subheader]
    assert "Motifs de refus déclarés par les demandeurs" in headings
    assert "Destinations finales des patients" in headings
    assert not any("refuseurs" in h or "Concordance" in h for h in headings)
    text = tables_text(at) + page_text(at)
    assert STATED in text
    assert ANSWERED not in text
    assert ANSWER_SECRET not in text
    assert "Hôpital Foch" in text  # its other refuser, listed among those who refuse most


def test_refuser_view_is_cut_to_its_own_lines(data):
    at = open_page(STATISTIQUES, "coordinateur-ref")
    widget(at.radio, "Point de vue").set_value(Perspective.REFUSER)
    at = show_all_tables(at.run())
    shown = figures(at)
    assert shown["Refus reçus"] == "1"
    assert shown["Taux de réponse de mon établissement"] == "100,0 %"
    assert "Dossiers finalisés" not in shown
    assert "Part avec impact sur la prise en charge" not in shown
    headings = [s.value for s in at.subheader]
    assert "Motifs de refus déclarés par mon établissement (réponses)" in headings
    assert "Motifs de refus déclarés par les demandeurs" not in headings
    assert "Destinations finales des patients" not in headings
    # (the filters list every establishment: reference data, not the dossiers' data)
    text = tables_text(at) + str(shown) + str(headings)
    assert ANSWERED in text
    for hidden in (STATED, REQUESTER_SECRET, "Hôpital Foch", "Retour à domicile"):
        assert hidden not in text, hidden
    assert "Centre hospitalier Sud Francilien" in text  # who asked: part of the call


def test_the_ars_sees_both_sides_and_the_concordance(data):
    at = show_all_tables(open_page(STATISTIQUES, "ars"))
    headings = [s.value for s in at.subheader]
    for heading in (
        "Motifs de refus déclarés par les demandeurs",
        "Motifs de refus déclarés par les refuseurs",
        "Concordance des motifs (demandeur × refuseur, refus ayant reçu une réponse)",
    ):
        assert heading in headings
    concordance = next(
        f.value for f in at.dataframe if "Motif du refuseur" in f.value.columns
    ).to_dict("records")
    assert concordance == [
        {"Motif du demandeur": STATED, "Motif du refuseur": ANSWERED, "Refus": 1}
    ]
    labels = [s.label for s in at.selectbox]
    assert "Etablissement demandeur" in labels and "Etablissement refuseur" in labels
    assert not at.radio or "Point de vue" not in [r.label for r in at.radio]


def test_a_filter_without_data_says_so(data, app_env):
    at = open_page(STATISTIQUES, "coordinateur-req")
    widget(at.selectbox, "Spécialité PDSES").set_value(app_env.specialty["ORL"])
    at = button(at, "Appliquer les filtres").click().run()
    assert figures(at)["Refus"] == "0"
    assert "Aucun refus ne correspond à ces filtres sur cette période." in [
        i.value for i in at.info
    ]
    assert not at.get("download_button")


def test_a_period_ending_before_it_starts_is_refused(data):
    at = open_page(STATISTIQUES, "coordinateur-req")
    widget(at.date_input, "Du").set_value(date(2026, 11, 20))
    widget(at.date_input, "Au").set_value(date(2026, 11, 1))
    at = button(at, "Appliquer les filtres").click().run()
    assert not at.exception
    assert "La date de début de la période doit précéder sa date de fin." in [
        e.value for e in at.error
    ]
    assert not at.metric


def test_per_week_or_per_month(data):
    at = open_page(STATISTIQUES, "coordinateur-req")
    assert "Refus par mois et par spécialité" in [s.value for s in at.subheader]
    widget(at.radio, "Regrouper les refus par").set_value("semaine")
    at = at.run()
    assert "Refus par semaine et par spécialité" in [s.value for s in at.subheader]
    at = show_all_tables(at)
    weeks = next(f.value for f in at.dataframe if "Période" in f.value.columns)
    # the test clock: Thursday 26/11/2026 in Paris, a week starting Monday 23/11
    assert weeks.to_dict("records") == [
        {"Période": date(2026, 11, 23), "Spécialité": "Neurochirurgie", "Refus": 2}
    ]


@pytest.mark.parametrize(
    ("username", "perspective", "labels"),
    [
        (
            "coordinateur-req",
            Perspective.REQUESTER,
            ["⬇️ Dossiers (CSV)", "⬇️ Refus (CSV)", "⬇️ Dossiers et Refus (Excel)"],
        ),
        ("coordinateur-ref", Perspective.REFUSER, ["⬇️ Refus (CSV)", "⬇️ Refus (Excel)"]),
        ("ars", None, ["⬇️ Dossiers (CSV)", "⬇️ Refus (CSV)", "⬇️ Dossiers et Refus (Excel)"]),
    ],
)
def test_the_export_buttons_of_each_perspective(data, username, perspective, labels):
    at = open_page(STATISTIQUES, username)
    if perspective is not None:
        widget(at.radio, "Point de vue").set_value(perspective)
        at = at.run()
    assert [b.label for b in at.get("download_button")] == labels


# --- « Fonctionnements non conformes » (SPEC §9) -------------------------------------------------

REPORT_IMPACT_SECRET = "Impact décrit par le déclarant"
REPORT_ANALYSIS_SECRET = "Analyse détaillée du concerné"
REPORTS_CSV = "⬇️ Fonctionnements non conformes (CSV)"


@pytest.fixture
def report_data(data):
    """On top of ``data``: two reports by ``req`` about ``ref`` (one with an impact, answered;
    one withdrawn) and one by ``req`` about ``paris`` (75), in neurosurgery."""
    from registre import reports
    from registre.reports import ReportAnswerInput

    world = data
    first = world.report(impact=True, impact_description=REPORT_IMPACT_SECRET)
    reports.answer(
        world.db,
        world.actor("referent_ref"),
        first.id,
        ReportAnswerInput(analysis=REPORT_ANALYSIS_SECRET),
    )
    world.report(concerned="paris", report_type_id=world.report_type["Délai de rappel excessif"])
    withdrawn = world.report()
    reports.withdraw(world.db, world.actor("declarant_req"), withdrawn.id, "Erreur de saisie")
    return world


def report_section(at) -> list[str]:
    return [h.value for h in at.header]


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        (
            "coordinateur-req",
            {
                "Signalements déclarés": "2",
                "Taux de réponse aux signalements": "50,0 %",
                "Part concernant le titulaire de la ligne": "50,0 %",
                "Part des signalements avec impact": "50,0 %",
            },
        ),
        ("ars", {"Signalements": "2", "Part des signalements avec impact": "50,0 %"}),
        ("ars-75", {"Signalements": "1", "Part des signalements avec impact": "0,0 %"}),
    ],
)
def test_the_reports_section_shows_the_counts_of_the_scope(report_data, username, expected):
    at = open_page(STATISTIQUES, username)
    assert not at.exception, at.exception
    assert "Fonctionnements non conformes" in report_section(at)
    shown = figures(at)
    for label, value in expected.items():
        assert shown[label] == value, (label, shown)
    # The refusals' figures are still there, unchanged.
    assert shown["Refus"] == {"coordinateur-req": "2", "ars": "3", "ars-75": "1"}[username]
    at = show_all_tables(at)
    headings = [s.value for s in at.subheader]
    for heading in (
        "Fonctionnements non conformes par mois et par spécialité",
        "Fonctionnements non conformes par type de dysfonctionnement",
        "Fonctionnements non conformes par spécialité",
        "Établissements les plus signalés",
    ):
        assert heading in headings
    types = next(f.value for f in at.dataframe if "Type de dysfonctionnement" in f.value.columns)
    counts = dict(zip(types["Type de dysfonctionnement"], types["Signalements"], strict=True))
    assert counts == (
        {"Délai de rappel excessif": 1}
        if username == "ars-75"
        else {"Ligne injoignable": 1, "Délai de rappel excessif": 1}
    )
    assert ("Établissements qui signalent le plus" in headings) == username.startswith("ars")
    assert REPORT_ANALYSIS_SECRET not in page_text(at) + tables_text(at)


def test_the_concerned_establishment_never_sees_the_impact(report_data):
    at = open_page(STATISTIQUES, "coordinateur-ref")
    widget(at.radio, "Point de vue").set_value(Perspective.REFUSER)
    at = show_all_tables(at.run())
    shown = figures(at)
    assert shown["Signalements reçus"] == "1"
    assert shown["Taux de réponse de mon établissement aux signalements"] == "100,0 %"
    assert not [label for label in shown if "impact" in label.lower()]
    headings = [s.value for s in at.subheader]
    assert "Établissements qui ont signalé mon établissement" in headings
    assert "Établissements les plus signalés" not in headings
    text = page_text(at) + tables_text(at)
    assert REPORT_IMPACT_SECRET not in text
    assert "Pitié" not in tables_text(at)  # the report about paris is not ref's
    assert REPORTS_CSV in [b.label for b in at.get("download_button")]


@pytest.mark.parametrize(
    ("username", "perspective", "labels"),
    [
        (
            "coordinateur-req",
            Perspective.REQUESTER,
            [
                "⬇️ Dossiers (CSV)",
                "⬇️ Refus (CSV)",
                REPORTS_CSV,
                "⬇️ Dossiers, Refus et Fonctionnements non conformes (Excel)",
            ],
        ),
        (
            "coordinateur-ref",
            Perspective.REFUSER,
            ["⬇️ Refus (CSV)", REPORTS_CSV, "⬇️ Refus et Fonctionnements non conformes (Excel)"],
        ),
        (
            "ars",
            None,
            [
                "⬇️ Dossiers (CSV)",
                "⬇️ Refus (CSV)",
                REPORTS_CSV,
                "⬇️ Dossiers, Refus et Fonctionnements non conformes (Excel)",
            ],
        ),
    ],
)
def test_the_reports_csv_button_and_excel_sheet(report_data, username, perspective, labels):
    at = open_page(STATISTIQUES, username)
    if perspective is not None:
        widget(at.radio, "Point de vue").set_value(perspective)
        at = at.run()
    assert [b.label for b in at.get("download_button")] == labels


def test_reports_without_refusals_still_show_and_export(app_env):
    world = app_env
    world.report()
    at = open_page(STATISTIQUES, "coordinateur-req")
    assert not at.exception, at.exception
    infos = [i.value for i in at.info]
    assert "Aucun refus ne correspond à ces filtres sur cette période." in infos
    assert figures(at)["Signalements déclarés"] == "1"
    assert [b.label for b in at.get("download_button")] == [
        REPORTS_CSV,
        "⬇️ Fonctionnements non conformes (Excel)",
    ]


def test_no_report_in_the_period_says_so(data):
    at = open_page(STATISTIQUES, "ars")
    assert figures(at)["Signalements"] == "0"
    assert "Aucun fonctionnement non conforme ne correspond à ces filtres sur cette période." in [
        i.value for i in at.info
    ]
    assert REPORTS_CSV not in [b.label for b in at.get("download_button")]


def test_a_chart_spec_is_built_once_per_content_and_variant():
    """The Vega-Lite specs are kept by content: the same cells give the same spec (built
    once), other cells or another variant another one, with their own data inline."""
    import pandas as pd

    from registre.web import stats_view

    builds: list[int] = []

    def build(data):
        builds.append(len(data))
        return stats_view.bar_chart(data, "Motif", "Refus")

    first = pd.DataFrame({"Motif": ["Absence de lit", "Autre"], "Refus": [3, 1]})
    spec = stats_view.vega_lite_spec(build, first, "essai")
    again = stats_view.vega_lite_spec(build, first.copy(), "essai")
    assert again is spec and builds == [2]
    other = pd.DataFrame({"Motif": ["Absence de lit", "Autre"], "Refus": [3, 2]})
    changed = stats_view.vega_lite_spec(build, other, "essai")
    assert changed is not spec and builds == [2, 2]
    assert stats_view.vega_lite_spec(build, first, "autre") is not spec
    (values,) = spec["datasets"].values()
    assert values == [{"Motif": "Absence de lit", "Refus": 3}, {"Motif": "Autre", "Refus": 1}]
    assert spec["autosize"] == {"type": "fit-x", "contains": "padding"}
    assert "config" not in spec  # no Altair theme: Streamlit's applies
