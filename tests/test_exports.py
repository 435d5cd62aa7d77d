"""Exports of the statistics page (issue 4): the CSV and Excel files hold the filtered
dossiers and refusals of the actor's scope, cut as SPEC §5 says for its perspective, with
every cell a spreadsheet would run as a formula neutralised.

Two dossiers (Paris times):
- e1, by ``req``: Tue 03/03/2026 21:15 (CET), neurosurgery, refused by ``ref`` (the line
  holder, motif « Autre ») which answers 2 h after the sending, and by ``other`` (no answer);
  its free texts start with ``= + - @`` and carry words the refusers must never read;
- e2, by ``ref``: Mon 30/03/2026 10:00 (CEST, outside PDSES hours), refused by ``other``
  and ``paris``.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import openpyxl
import pytest

from registre import exports, report_statistics, statistics
from registre.errors import PermissionDenied, ValidationError
from registre.exports import export_tables, neutralise, to_csv, to_xlsx
from registre.models import AGE_BAND_LABELS, SEX_LABELS, URGENCY_LABELS, AgeBand, Service, Sex
from registre.models import Urgency as UrgencyLevel
from registre.permissions import Perspective
from registre.statistics import StatsFilters

from .factories import at
from .test_statistics import LIT, NEURO, TRANSFERRED, VISC, answer_line, make_dossier

REQUESTER, REFUSER, REGIONAL = Perspective.REQUESTER, Perspective.REFUSER, Perspective.REGIONAL
PERIOD = StatsFilters(start=date(2026, 3, 1), end=date(2026, 3, 31))

REQ = "Centre hospitalier Sud Francilien (CHSF)"
REF = "Hôpital Henri-Mondor (AP-HP)"
OTHER = "Hôpital Foch"
PARIS = "Hôpital Pitié-Salpêtrière (AP-HP)"

IDENTITY = [
    "Numéro",
    "Date et heure de la demande",
    "Spécialité PDSES",
    "Etablissement demandeur",
    "Département du demandeur",
    "Service demandeur",
    "Hors horaires PDSES",
]
LINE_COMMON = [
    "Etablissement refuseur",
    "Département du refuseur",
    "Titulaire de la ligne",
]
LINE_REQUESTER = [
    "Motif du refus (demandeur)",
    "Autre motif (demandeur)",
    "Commentaires (demandeur)",
]
LINE_STATE = ["État de la réponse", "Date de transmission", "Date de la réponse"]
LINE_REFUSER = [
    "Motif compris de la demande",
    "Motif du refus (refuseur)",
    "Autre motif (refuseur)",
    "Commentaires (refuseur)",
]
DOSSIER_REQUESTER = [
    "État du dossier",
    "Tranche d'âge du patient",
    "Sexe",
    "Motif de la demande",
    "Autre motif de la demande",
    "Niveau d'urgence",
    "Destination finale du patient",
    "Établissement de destination",
    "Impact sur la prise en charge",
    "Description de l'impact",
    "Commentaires",
    "Date de finalisation",
    "Nombre de refus",
]
HEADERS = {
    REQUESTER: {
        "Dossiers": IDENTITY + DOSSIER_REQUESTER,
        "Refus": IDENTITY + LINE_COMMON + LINE_REQUESTER + LINE_STATE,
    },
    REFUSER: {"Refus": IDENTITY + LINE_COMMON + LINE_STATE + LINE_REFUSER},
    REGIONAL: {
        "Dossiers": IDENTITY + DOSSIER_REQUESTER,
        "Refus": IDENTITY + LINE_COMMON + LINE_REQUESTER + LINE_STATE + LINE_REFUSER,
    },
}
# Free texts of e1 and what the refusers must never read.
REQUESTER_TEXTS = {
    "comments": "=1+1 test",
    "request_other_motif": "-fracture ouverte",
    "impact_description": "+2 h d'attente",
    "line_other_motif": "@bloc indisponible",
    "line_comments": "-commentaire lynx",
    "other_line_comments": "secret-foch; note",
}
REFUSER_TEXTS = {"answer_other_motif": "=réponse castor", "answer_comments": "+loutre 2"}


@pytest.fixture
def registry(world, clock):
    e1 = make_dossier(
        world,
        clock,
        when=at(2026, 3, 3, 21, 15),
        lines=(
            (
                "ref",
                "Autre",
                {
                    "other_motif": REQUESTER_TEXTS["line_other_motif"],
                    "comments": REQUESTER_TEXTS["line_comments"],
                },
            ),
            ("other", LIT, {"comments": REQUESTER_TEXTS["other_line_comments"]}),
        ),
        destination=TRANSFERRED,
        destination_est="paris",
        impact=True,
        impact_description=REQUESTER_TEXTS["impact_description"],
        comments=REQUESTER_TEXTS["comments"],
        request_motif_id=world.request_motif["Autre"],
        request_other_motif=REQUESTER_TEXTS["request_other_motif"],
        sex=Sex.FEMALE,
    )
    answer_line(
        world,
        clock,
        e1,
        "ref",
        world.actor("referent_ref"),
        hours=2,
        motif="Autre",
        other_motif=REFUSER_TEXTS["answer_other_motif"],
        comments=REFUSER_TEXTS["answer_comments"],
    )
    e2 = make_dossier(
        world,
        clock,
        when=at(2026, 3, 30, 10, 0),
        by="coordinateur_ref",
        specialty=VISC,
        lines=(("other", LIT), ("paris", LIT)),
    )
    return {"e1": e1, "e2": e2}


def service_name(world, est: str) -> str:
    with world.db.read() as session:
        service = session.get(Service, world.services[est])
        assert service is not None
        return service.name


def tables_of(world, name: str, perspective: Perspective, filters: StatsFilters = PERIOD):
    return {t.name: t for t in export_tables(world.db, world.actor(name), perspective, filters)}


def text_of(tables) -> str:
    return repr([(t.headers, list(t.text_rows()), t.rows) for t in tables.values()])


# --- content, per perspective ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "perspective"),
    [
        ("coordinateur_req", REQUESTER),
        ("directeur_req", REQUESTER),
        ("coordinateur_ref", REFUSER),
        ("directeur_ref", REFUSER),
        ("ars", REGIONAL),
        ("ars_75", REGIONAL),
    ],
)
def test_each_perspective_gets_its_own_columns(world, registry, name, perspective):
    """The refuser has no « Dossiers » table nor requester column; the requester none of the
    refuser's answer; the ARS both."""
    tables = tables_of(world, name, perspective)
    assert list(tables) == list(HEADERS[perspective])
    for table_name, headers in HEADERS[perspective].items():
        assert tables[table_name].headers == headers
    refus = set(tables["Refus"].headers)
    if perspective is REFUSER:
        assert not refus & set(LINE_REQUESTER)
    if perspective is REQUESTER:
        assert not refus & set(LINE_REFUSER)


def test_the_requester_export_holds_its_dossier_and_not_the_answers(world, registry):
    e1 = registry["e1"]
    tables = tables_of(world, "directeur_req", REQUESTER)
    service = service_name(world, "req")
    identity = [e1.number, "03/03/2026 21:15", NEURO, REQ, "91", service, "Non"]
    assert list(tables["Dossiers"].text_rows()) == [
        [
            *identity,
            "Finalisé",
            AGE_BAND_LABELS[AgeBand.ADULT],
            SEX_LABELS[Sex.FEMALE],
            "Autre",
            "'-fracture ouverte",
            URGENCY_LABELS[UrgencyLevel.URGENT],
            TRANSFERRED,
            PARIS,
            "Oui",
            "'+2 h d'attente",
            "'=1+1 test",
            "03/03/2026 21:45",
            "2",
        ]
    ]
    assert list(tables["Refus"].text_rows()) == [
        [
            *identity,
            REF,
            "94",
            "Oui",
            "Autre",
            "'@bloc indisponible",
            "'-commentaire lynx",
            "Répondu",
            "03/03/2026 21:45",
            "03/03/2026 23:45",
        ],
        [
            *identity,
            OTHER,
            "92",
            "Non",
            LIT,
            "",
            "secret-foch; note",
            "Réponse attendue",
            "03/03/2026 21:45",
            "",
        ],
    ]
    shown = text_of(tables)
    for hidden in ("castor", "loutre", "Avis spécialisé", registry["e2"].number, VISC):
        assert hidden not in shown, hidden


def test_the_refuser_export_holds_only_its_own_line_and_no_requester_field(world, registry):
    e1 = registry["e1"]
    tables = tables_of(world, "directeur_ref", REFUSER)
    assert list(tables) == ["Refus"]
    assert list(tables["Refus"].text_rows()) == [
        [
            e1.number,
            "03/03/2026 21:15",
            NEURO,
            REQ,
            "91",
            service_name(world, "req"),
            "Non",
            REF,
            "94",
            "Oui",
            "Répondu",
            "03/03/2026 21:45",
            "03/03/2026 23:45",
            "Avis spécialisé",
            "Autre",
            "'=réponse castor",
            "'+loutre 2",
        ]
    ]
    shown = text_of(tables)
    for hidden in (
        "Foch",
        "Pitié",
        "fracture",
        "1+1",
        "attente",
        "bloc",
        "lynx",
        TRANSFERRED,
        "Impact",
        registry["e2"].number,  # ref is the requester of e2, not a refuser
    ):
        assert hidden not in shown, hidden


def test_the_ars_sees_both_sides_of_every_dossier(world, registry):
    e1, e2 = registry["e1"], registry["e2"]
    tables = tables_of(world, "ars", REGIONAL)
    refus = tables["Refus"]
    headers = refus.headers
    got = [(row[0], row[headers.index("Etablissement refuseur")]) for row in refus.text_rows()]
    assert got == [(e1.number, REF), (e1.number, OTHER), (e2.number, OTHER), (e2.number, PARIS)]
    first = dict(zip(headers, next(iter(refus.text_rows())), strict=True))
    assert first["Motif du refus (demandeur)"] == "Autre"
    assert first["Autre motif (demandeur)"] == "'@bloc indisponible"
    assert first["Motif du refus (refuseur)"] == "Autre"
    assert first["Autre motif (refuseur)"] == "'=réponse castor"
    assert first["Commentaires (refuseur)"] == "'+loutre 2"
    dossiers_rows = list(tables["Dossiers"].text_rows())
    assert [(r[0], r[1], r[6], r[-1]) for r in dossiers_rows] == [
        (e1.number, "03/03/2026 21:15", "Non", "2"),
        (e2.number, "30/03/2026 10:00", "Oui", "2"),  # summer time, outside PDSES hours
    ]


def test_scope_another_establishments_dossiers_are_absent(world, registry):
    """ref as requester exports e2 only; the ARS of Paris only e2 (Pitié refused it)."""
    e1, e2 = registry["e1"], registry["e2"]
    mine = tables_of(world, "directeur_ref", REQUESTER)
    assert [r[0] for r in mine["Dossiers"].rows] == [e2.number]
    assert [r[0] for r in mine["Refus"].rows] == [e2.number, e2.number]
    assert REQ not in text_of(mine)
    paris = tables_of(world, "ars_75", REGIONAL)
    assert [r[0] for r in paris["Dossiers"].rows] == [e2.number]
    assert e1.number not in text_of(paris)
    nothing = tables_of(world, "coordinateur_req", REFUSER)
    assert nothing["Refus"].rows == []


def test_the_export_follows_the_filters(world, registry):
    """Filtered on one refuser, « Nombre de refus » counts the refusals kept."""
    e1 = registry["e1"]
    only_ref = StatsFilters(
        start=PERIOD.start, end=PERIOD.end, refusing_establishment_id=world.est["ref"]
    )
    tables = tables_of(world, "ars", REGIONAL, only_ref)
    assert [r[0] for r in tables["Refus"].rows] == [e1.number]
    assert [(r[0], r[-1]) for r in tables["Dossiers"].text_rows()] == [(e1.number, "1")]
    march_3 = StatsFilters(start=date(2026, 3, 3), end=date(2026, 3, 3))
    assert len(tables_of(world, "ars", REGIONAL, march_3)["Refus"].rows) == 2
    assert exports.count_rows(world.db, world.actor("ars"), REGIONAL, PERIOD) == 4
    assert exports.count_rows(world.db, world.actor("directeur_ref"), REFUSER, PERIOD) == 1


@pytest.mark.parametrize(
    ("name", "perspective"),
    [
        ("coordinateur_req", REQUESTER),
        ("coordinateur_ref", REFUSER),
        ("directeur_ref", REFUSER),
        ("ars", REGIONAL),
    ],
)
@pytest.mark.parametrize("refuser", [None, "ref", "paris"])
def test_the_export_holds_the_refusals_and_reports_the_statistics_count(
    world, registry, report_registry, name, perspective, refuser
):
    """The statistics page announces its exports' sizes from its figures (no second count):
    the same rows, for every perspective and filter."""
    filters = StatsFilters(
        start=PERIOD.start,
        end=PERIOD.end,
        refusing_establishment_id=world.est[refuser] if refuser else None,
    )
    actor = world.actor(name)
    stats = statistics.compute(world.db, actor, perspective, filters)
    reports = report_statistics.compute(world.db, actor, perspective, filters)
    assert (
        exports.count_rows(world.db, actor, perspective, filters) == stats.figure("refusals").value
    )
    assert exports.count_report_rows(world.db, actor, perspective, filters) == reports.total
    if name == "ars" and refuser is None:
        assert (stats.figure("refusals").value, reports.total) >= (4, 1)


@pytest.mark.parametrize(
    ("name", "perspective"),
    [
        ("declarant_req", REQUESTER),
        ("referent_ref", REFUSER),
        ("admin", REGIONAL),
        ("ars", REQUESTER),
        ("coordinateur_req", REGIONAL),
    ],
)
def test_who_may_not_export(world, name, perspective):
    with pytest.raises(PermissionDenied):
        export_tables(world.db, world.actor(name), perspective, PERIOD)


def test_a_backwards_period_is_refused(world):
    with pytest.raises(ValidationError):
        export_tables(
            world.db,
            world.actor("ars"),
            REGIONAL,
            StatsFilters(start=date(2026, 3, 31), end=date(2026, 3, 1)),
        )


# --- CSV ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "perspective"), [("ars", REGIONAL), ("directeur_ref", REFUSER)])
def test_csv_is_semicolon_crlf_utf8_with_bom_and_round_trips(world, registry, name, perspective):
    for table in tables_of(world, name, perspective).values():
        data = to_csv(table)
        assert data.startswith(b"\xef\xbb\xbf")
        text = data.decode("utf-8-sig")
        assert text.endswith("\r\n")
        assert "\n" not in text.replace("\r\n", "")
        assert text.count("\r\n") == len(table.rows) + 1
        assert text.split("\r\n", 1)[0] == ";".join(table.headers)
        parsed = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
        assert parsed == [table.headers, *table.text_rows()]


def test_csv_cells_are_neutralised_and_quoted(world, registry):
    tables = tables_of(world, "ars", REGIONAL)
    dossiers_csv = to_csv(tables["Dossiers"]).decode("utf-8-sig")
    refus_csv = to_csv(tables["Refus"]).decode("utf-8-sig")
    for value in ("'=1+1 test", "'-fracture ouverte", "'+2 h d'attente"):
        assert f";{value};" in dossiers_csv
    for value in ("'@bloc indisponible", "'-commentaire lynx", "'=réponse castor"):
        assert f";{value};" in refus_csv
    assert refus_csv.rstrip("\r\n").split("\r\n")[1].endswith(";'+loutre 2")
    assert '"secret-foch; note"' in refus_csv
    for raw in ("=1+1", "-fracture", "+2 h", "@bloc", "=réponse", "+loutre"):
        assert f";{raw}" not in dossiers_csv + refus_csv


# --- Excel ---------------------------------------------------------------------------------------


def _workbook(tables, **kwargs):
    return openpyxl.load_workbook(io.BytesIO(to_xlsx(list(tables.values()), **kwargs)))


def _sheet_rows(sheet) -> list[list]:
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


@pytest.mark.parametrize(
    ("name", "perspective", "sheets"),
    [
        ("coordinateur_req", REQUESTER, ["Dossiers", "Refus", "Colonnes"]),
        ("directeur_ref", REFUSER, ["Refus", "Colonnes"]),
        ("ars", REGIONAL, ["Dossiers", "Refus", "Colonnes"]),
    ],
)
def test_xlsx_sheets_and_column_descriptions(world, registry, name, perspective, sheets):
    tables = tables_of(world, name, perspective)
    book = _workbook(tables)
    assert book.sheetnames == sheets
    for table in tables.values():
        rows = _sheet_rows(book[table.name])
        assert rows[0] == table.headers
        assert len(rows) == len(table.rows) + 1
    described = _sheet_rows(book["Colonnes"])
    assert described[0] == ["Feuille", "Colonne", "Description"]
    expected = [
        [table.name, column.header, column.description]
        for table in tables.values()
        for column in table.columns
    ]
    assert described[1:] == expected
    assert all(description for _sheet, _column, description in described[1:])


def test_xlsx_dates_are_real_paris_datetimes_and_counts_numbers(world, registry):
    tables = tables_of(world, "ars", REGIONAL)
    book = _workbook(tables)
    refus = book["Refus"]
    headers = [c.value for c in refus[1]]
    first = {h: c for h, c in zip(headers, refus[2], strict=True)}
    assert first["Date et heure de la demande"].value == datetime(2026, 3, 3, 21, 15)
    assert first["Date et heure de la demande"].is_date
    assert first["Date de transmission"].value == datetime(2026, 3, 3, 21, 45)
    assert first["Date de la réponse"].value == datetime(2026, 3, 3, 23, 45)
    unanswered = {h: c for h, c in zip(headers, refus[3], strict=True)}
    assert unanswered["Date de la réponse"].value is None
    dossiers = book["Dossiers"]
    headers = [c.value for c in dossiers[1]]
    summer = {h: c.value for h, c in zip(headers, dossiers[3], strict=True)}
    assert summer["Date et heure de la demande"] == datetime(2026, 3, 30, 10, 0)
    assert summer["Nombre de refus"] == 2


def test_xlsx_has_no_formula_and_neutralises_text(world, registry):
    tables = tables_of(world, "ars", REGIONAL)
    book = _workbook(tables, title="=Statistiques du registre")
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(exports.FORMULA_STARTS), cell.value
    values = {c.value for row in book["Dossiers"].iter_rows() for c in row}
    values |= {c.value for row in book["Refus"].iter_rows() for c in row}
    for text in (*REQUESTER_TEXTS.values(), *REFUSER_TEXTS.values()):
        expected = neutralise(text)
        assert expected in values, expected
    assert "'=1+1 test" in values and "secret-foch; note" in values
    assert book["Colonnes"]["A2"].value == "'=Statistiques du registre"
    assert book["Colonnes"]["A4"].value == "Dossiers"


# --- neutralisation and size ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+33 bloc", "'+33 bloc"),
        ("-fracture", "'-fracture"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Absence de lit", "Absence de lit"),
        ("a=b+c", "a=b+c"),
        ("'=déjà", "'=déjà"),
        ("", ""),
    ],
)
def test_neutralise(value, expected):
    assert neutralise(value) == expected


def test_an_export_above_the_limit_is_refused(world, registry, monkeypatch):
    """Four refusals in scope: a limit of 4 lets them through, a limit of 3 does not."""
    monkeypatch.setattr(exports, "MAX_EXPORT_ROWS", 4)
    assert len(tables_of(world, "ars", REGIONAL)["Refus"].rows) == 4
    monkeypatch.setattr(exports, "MAX_EXPORT_ROWS", 3)
    with pytest.raises(ValidationError) as error:
        export_tables(world.db, world.actor("ars"), REGIONAL, PERIOD)
    assert [e.field for e in error.value.errors] == ["export"]
    assert error.value.message.startswith("L'export compterait 4 refus")
    assert "limite de 3" in error.value.message
    assert "réduisez la période ou ajoutez un filtre" in error.value.message
    # The refuser's own export is small enough.
    assert len(tables_of(world, "directeur_ref", REFUSER)["Refus"].rows) == 1


def test_the_size_message_is_french_with_grouped_thousands():
    """« 200 001 » with a narrow no-break space, and the sentence keeps its comma."""
    assert exports.too_large_message(exports.MAX_EXPORT_ROWS) is None
    assert exports.too_large_message(200_001) == (
        "L'export compterait 200\u202f001 refus, au-delà de la limite de 200\u202f000 : "
        "réduisez la période ou ajoutez un filtre."
    )


def test_file_stem_names_the_perspective_and_period():
    assert exports.file_stem(REGIONAL, PERIOD) == "registre-refus-pdses-regional-20260301-20260331"
    assert exports.file_stem(REFUSER, PERIOD) == "registre-refus-pdses-refuseur-20260301-20260331"


# --- « Fonctionnements non conformes » (SPEC §9) -------------------------------------------------
# f1, by ``req`` about ``ref`` (the neurosurgery line holder): Tue 03/03/2026 21:15 (CET),
# declared at 21:45, with an impact, answered at 23:45; its free texts start with ``= + - @``.
# f2, by ``ref`` about ``other``: Mon 30/03/2026 10:00 (CEST, outside PDSES hours), no impact,
# no answer. f3, by ``req`` about ``paris`` (75): withdrawn, never exported.

REPORT_IDENTITY = [
    "Numéro",
    "Date et heure",
    "Horaires PDSES",
    "Spécialité PDSES",
    "Type de dysfonctionnement",
    "Etablissement déclarant",
    "Département du déclarant",
    "Etablissement concerné",
    "Département de l'établissement concerné",
    "Titulaire de la ligne",
    "Description",
]
REPORT_IMPACT = ["Impact", "Description de l'impact"]
REPORT_STATE = ["État", "Réponse le"]
REPORT_ANSWER = ["Analyse de l'établissement", "Mesures correctives"]
REPORT_HEADERS = {
    REQUESTER: REPORT_IDENTITY + REPORT_IMPACT + REPORT_STATE,
    REFUSER: REPORT_IDENTITY + REPORT_STATE + REPORT_ANSWER,
    REGIONAL: REPORT_IDENTITY + REPORT_IMPACT + REPORT_STATE + REPORT_ANSWER,
}
INJ = "Ligne injoignable"
PLATEAU = "Plateau technique indisponible"
F1_DESCRIPTION = "=ligne sonnant dans le vide"
F1_IMPACT = "+40 minutes d'attente hérisson"
F1_ANALYSIS = "-analyse castor"
F1_MEASURES = "@mesure loutre"


@pytest.fixture
def report_registry(world, clock):
    from datetime import timedelta

    from registre import reports
    from registre.reports import ReportAnswerInput
    from registre.timeutil import as_utc

    def declare(by: str, concerned: str, when: datetime, **values):
        clock.set(as_utc(when) + timedelta(minutes=30))
        return reports.declare(
            world.db, world.actor(by), world.report_input(concerned, occurred_at=when, **values)
        )

    f1 = declare(
        "declarant_req",
        "ref",
        at(2026, 3, 3, 21, 15),
        description=F1_DESCRIPTION,
        impact=True,
        impact_description=F1_IMPACT,
    )
    clock.advance(hours=2)
    reports.answer(
        world.db,
        world.actor("referent_ref"),
        f1.id,
        ReportAnswerInput(analysis=F1_ANALYSIS, corrective_measures=F1_MEASURES),
    )
    f2 = declare(
        "coordinateur_ref",
        "other",
        at(2026, 3, 30, 10, 0),
        specialty_id=world.specialty[VISC],
        report_type_id=world.report_type[PLATEAU],
        description="Plateau de radiologie interventionnelle fermé",
    )
    f3 = declare("declarant_req", "paris", at(2026, 3, 12, 22, 0))
    reports.withdraw(world.db, world.actor("declarant_req"), f3.id, "Mauvais établissement")
    return {"f1": f1, "f2": f2, "f3": f3}


def report_table_of(world, name: str, perspective: Perspective, filters: StatsFilters = PERIOD):
    return exports.report_table(world.db, world.actor(name), perspective, filters)


F1_IDENTITY = [
    "03/03/2026 21:15",
    "Oui",
    NEURO,
    INJ,
    REQ,
    "91",
    REF,
    "94",
    "Oui",
    "'=ligne sonnant dans le vide",
]


@pytest.mark.parametrize(
    ("name", "perspective"),
    [
        ("coordinateur_req", REQUESTER),
        ("directeur_req", REQUESTER),
        ("coordinateur_ref", REFUSER),
        ("directeur_ref", REFUSER),
        ("ars", REGIONAL),
        ("ars_75", REGIONAL),
    ],
)
def test_report_columns_are_decided_per_perspective(world, report_registry, name, perspective):
    """No impact for the concerned establishment, no analysis for the declaring one."""
    table = report_table_of(world, name, perspective)
    assert table.name == "Fonctionnements non conformes"
    assert table.headers == REPORT_HEADERS[perspective]
    headers = set(table.headers)
    if perspective is REFUSER:
        assert not headers & set(REPORT_IMPACT)
    if perspective is REQUESTER:
        assert not headers & set(REPORT_ANSWER)


def test_the_declarer_export_has_the_impact_never_the_answer(world, report_registry):
    f1 = report_registry["f1"]
    table = report_table_of(world, "directeur_req", REQUESTER)
    assert list(table.text_rows()) == [
        [
            f1.number,
            *F1_IDENTITY,
            "Oui",
            "'+40 minutes d'attente hérisson",
            "Répondu",
            "03/03/2026 23:45",
        ]
    ]
    shown = repr((list(table.text_rows()), table.rows))
    for hidden in ("castor", "loutre", report_registry["f2"].number, report_registry["f3"].number):
        assert hidden not in shown, hidden


def test_the_concerned_export_has_its_answer_never_the_impact(world, report_registry):
    f1 = report_registry["f1"]
    table = report_table_of(world, "directeur_ref", REFUSER)
    assert list(table.text_rows()) == [
        [
            f1.number,
            *F1_IDENTITY,
            "Répondu",
            "03/03/2026 23:45",
            "'-analyse castor",
            "'@mesure loutre",
        ]
    ]
    shown = repr((table.headers, list(table.text_rows()), table.rows))
    for hidden in ("hérisson", "Impact", report_registry["f2"].number):  # ref declared f2
        assert hidden not in shown, hidden


def test_the_ars_export_has_both_sides_within_its_departements(world, report_registry):
    f1, f2 = report_registry["f1"], report_registry["f2"]
    table = report_table_of(world, "ars", REGIONAL)
    rows_by_number = {r[0]: dict(zip(table.headers, r, strict=True)) for r in table.text_rows()}
    assert list(rows_by_number) == [f1.number, f2.number]  # f3 withdrawn
    first, second = rows_by_number[f1.number], rows_by_number[f2.number]
    assert first["Description de l'impact"] == "'+40 minutes d'attente hérisson"
    assert first["Analyse de l'établissement"] == "'-analyse castor"
    assert first["Mesures correctives"] == "'@mesure loutre"
    assert (second["Date et heure"], second["Horaires PDSES"]) == ("30/03/2026 10:00", "Non")
    assert (second["Impact"], second["État"], second["Réponse le"]) == (
        "Non",
        "Réponse attendue",
        "",
    )
    assert (
        second["Etablissement concerné"],
        second["Département de l'établissement concerné"],
    ) == (
        OTHER,
        "92",
    )
    # The ARS of Paris: f3 (about Pitié) was withdrawn, nothing else touches the 75.
    assert report_table_of(world, "ars_75", REGIONAL).rows == []


def test_report_export_scope_and_filters(world, report_registry):
    f1, f2 = report_registry["f1"], report_registry["f2"]
    assert [r[0] for r in report_table_of(world, "coordinateur_ref", REQUESTER).rows] == [f2.number]
    assert report_table_of(world, "coordinateur_req", REFUSER).rows == []
    about_other = StatsFilters(
        start=PERIOD.start, end=PERIOD.end, refusing_establishment_id=world.est["other"]
    )
    assert [r[0] for r in report_table_of(world, "ars", REGIONAL, about_other).rows] == [f2.number]
    by_req = StatsFilters(
        start=PERIOD.start, end=PERIOD.end, requesting_establishment_id=world.est["req"]
    )
    assert [r[0] for r in report_table_of(world, "ars", REGIONAL, by_req).rows] == [f1.number]
    in_92 = StatsFilters(start=PERIOD.start, end=PERIOD.end, departement="92")  # concerned
    assert [r[0] for r in report_table_of(world, "ars", REGIONAL, in_92).rows] == [f2.number]
    last_day = StatsFilters(start=date(2026, 3, 30), end=date(2026, 3, 30))
    assert [r[0] for r in report_table_of(world, "ars", REGIONAL, last_day).rows] == [f2.number]
    count = exports.count_report_rows
    assert count(world.db, world.actor("ars"), REGIONAL, PERIOD) == 2
    assert count(world.db, world.actor("directeur_ref"), REFUSER, PERIOD) == 1


@pytest.mark.parametrize(
    ("name", "perspective"),
    [("declarant_req", REQUESTER), ("referent_ref", REFUSER), ("admin", REGIONAL)],
)
def test_who_may_not_export_the_reports(world, name, perspective):
    with pytest.raises(PermissionDenied):
        report_table_of(world, name, perspective)
    with pytest.raises(PermissionDenied):
        exports.count_report_rows(world.db, world.actor(name), perspective, PERIOD)


def test_report_csv_is_neutralised_and_round_trips(world, report_registry):
    table = report_table_of(world, "ars", REGIONAL)
    text = to_csv(table).decode("utf-8-sig")
    parsed = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert parsed == [table.headers, *table.text_rows()]
    for value in (F1_DESCRIPTION, F1_IMPACT, F1_ANALYSIS):
        assert f";{neutralise(value)};" in text
    assert f";{neutralise(F1_MEASURES)}\r\n" in text
    for value in (F1_DESCRIPTION, F1_IMPACT, F1_ANALYSIS, F1_MEASURES):
        assert f";{value}" not in text


def test_the_reports_sheet_is_in_the_workbook_and_described(world, registry, report_registry):
    for name, perspective, sheets in (
        ("ars", REGIONAL, ["Dossiers", "Refus", "Fonctionnements non conformes", "Colonnes"]),
        ("directeur_ref", REFUSER, ["Refus", "Fonctionnements non conformes", "Colonnes"]),
    ):
        tables = list(tables_of(world, name, perspective).values())
        tables.append(report_table_of(world, name, perspective))
        book = openpyxl.load_workbook(io.BytesIO(to_xlsx(tables)))
        assert book.sheetnames == sheets
        written = _sheet_rows(book["Fonctionnements non conformes"])
        assert written[0] == REPORT_HEADERS[perspective]
        assert len(written) == len(tables[-1].rows) + 1
        described = _sheet_rows(book["Colonnes"])
        assert [r[1:] for r in described if r[0] == "Fonctionnements non conformes"] == [
            [column.header, column.description] for column in tables[-1].columns
        ]
        for row in book["Fonctionnements non conformes"].iter_rows():
            for cell in row:
                assert cell.data_type != "f"
    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx(tables)))["Fonctionnements non conformes"]
    headers = [c.value for c in sheet[1]]
    first = {h: c for h, c in zip(headers, sheet[2], strict=True)}
    assert first["Date et heure"].value == datetime(2026, 3, 3, 21, 15)
    assert first["Réponse le"].value == datetime(2026, 3, 3, 23, 45)
    assert first["Analyse de l'établissement"].value == "'-analyse castor"


def test_a_report_export_above_the_limit_is_refused(world, report_registry, monkeypatch):
    monkeypatch.setattr(exports, "MAX_EXPORT_ROWS", 2)
    assert len(report_table_of(world, "ars", REGIONAL).rows) == 2
    monkeypatch.setattr(exports, "MAX_EXPORT_ROWS", 1)
    with pytest.raises(ValidationError) as error:
        report_table_of(world, "ars", REGIONAL)
    assert [e.field for e in error.value.errors] == ["export"]
    assert error.value.message.startswith(
        "L'export compterait 2 fonctionnements non conformes, au-delà de la limite de 1"
    )
    assert len(report_table_of(world, "directeur_ref", REFUSER).rows) == 1
