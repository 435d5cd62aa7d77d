"""« Statistiques » in Chromium on the demo data: a Coordinateur PDSES reads its figures,
switches to the refusals its establishment opposed and downloads them (CSV and Excel, cut
to what a refuser may see); the ARS downloads both sides."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Page, expect

from .conftest import DEMO_PASSWORD, screenshot
from .helpers import login
from .steps import main, settle

pytestmark = pytest.mark.e2e

REQUESTER_ONLY = ("Motif du refus (demandeur)", "Commentaires (demandeur)")
REFUSER_ONLY = ("Motif du refus (refuseur)", "Commentaires (refuseur)")


def open_statistics(page: Page, url: str, username: str) -> None:
    page.goto(url)
    login(page, username, DEMO_PASSWORD)
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    page.get_by_role("link", name="Statistiques").click()
    expect(page.get_by_role("heading", name="Statistiques", exact=True)).to_be_visible()
    settle(page)


def download(page: Page, label: str, folder: Path) -> Path:
    with page.expect_download(timeout=30_000) as info:
        page.get_by_role("button", name=label).click()
    target = folder / info.value.suggested_filename
    info.value.save_as(target)
    return target


def test_a_coordinator_reads_and_exports_its_refusals(server, page, tmp_path):
    open_statistics(page, server.url, "demo-coordinateur")
    body = main(page)
    expect(body.get_by_text("Dossiers finalisés", exact=True)).to_be_visible()
    expect(body.get_by_role("heading", name="Établissements qui refusent le plus")).to_be_visible()
    screenshot(page, "statistiques-demandeur")

    body.get_by_text("Refus opposés par mon établissement (refuseur)").click()
    expect(body.get_by_text("Refus reçus", exact=True)).to_be_visible()
    expect(body.get_by_text("Dossiers finalisés", exact=True)).to_have_count(0)
    settle(page)
    screenshot(page, "statistiques-refuseur")

    exported = download(page, "⬇️ Refus (CSV)", tmp_path)
    raw = exported.read_bytes()
    assert exported.name.endswith("-refus.csv")
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: French Excel reads the accents
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    header, lines = rows[0], rows[1:]
    assert header[:2] == ["Numéro", "Date et heure de la demande"]
    assert lines, "the demo's refuser has refusals to export"
    for hidden in REQUESTER_ONLY:
        assert hidden not in header
    refuser = header.index("Etablissement refuseur")
    assert {line[refuser] for line in lines} == {"Hôpital Henri-Mondor (AP-HP)"}

    # the demo's « fonctionnements non conformes » about Henri-Mondor: never their impact
    reports = download(page, "⬇️ Fonctionnements non conformes (CSV)", tmp_path)
    report_rows = list(
        csv.reader(io.StringIO(reports.read_bytes().decode("utf-8-sig")), delimiter=";")
    )
    assert report_rows[0][0] == "Numéro" and len(report_rows) > 1
    assert "Impact" not in report_rows[0] and "Description de l'impact" not in report_rows[0]
    assert "Analyse de l'établissement" in report_rows[0]

    workbook = openpyxl.load_workbook(
        download(page, "⬇️ Refus et Fonctionnements non conformes (Excel)", tmp_path)
    )
    assert workbook.sheetnames == ["Refus", "Fonctionnements non conformes", "Colonnes"]
    assert workbook["Refus"].max_row == len(lines) + 1
    assert workbook["Fonctionnements non conformes"].max_row == len(report_rows)


def test_the_ars_exports_both_sides(server, page, tmp_path):
    open_statistics(page, server.url, "demo-ars")
    expect(
        main(page).get_by_role(
            "heading",
            name="Concordance des motifs (demandeur × refuseur, refus ayant reçu une réponse)",
        )
    ).to_be_visible()
    workbook = openpyxl.load_workbook(
        download(page, "⬇️ Dossiers, Refus et Fonctionnements non conformes (Excel)", tmp_path),
        read_only=True,
    )
    assert workbook.sheetnames == ["Dossiers", "Refus", "Fonctionnements non conformes", "Colonnes"]
    reports_header = [
        cell.value for cell in next(workbook["Fonctionnements non conformes"].iter_rows(max_row=1))
    ]
    for column in ("Impact", "Analyse de l'établissement", "Mesures correctives"):
        assert column in reports_header
    header = [cell.value for cell in next(workbook["Refus"].iter_rows(max_row=1))]
    for column in (*REQUESTER_ONLY, *REFUSER_ONLY):
        assert column in header
