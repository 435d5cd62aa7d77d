"""Hostile text in Chromium (issue « Hostile input », XSS part): every free-text field of
``tests/xss_inventory.py`` holds a payload that would leave a trace if it ran (an ``<img
onerror>``, a ``<script>``, a ``javascript:`` link) and markdown and HTML bold; stored through
``registre``'s own functions in the database of a real ``streamlit run`` server. Each role
that sees those fields then opens every page that shows them: nothing ran (no
``window.__xss``, no dialog), no element came out of the text (no ``<img src=x>``, no script,
no ``javascript:`` link, no bold, italics or link from markdown), and the text is there, as
typed (in the page's text, in its fields' values, or in the cells of its tables).

The tables (glide-data-grid) draw on a canvas; their cells are read in the table the grid
exposes to assistive technologies. The charts (Vega, SVG) cut long labels: the statistics are
read in the tables under the charts. The last test checks that every field was seen on every
page the inventory names. ``pytest -s`` prints how long each role took.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Dialog, Page, expect
from sqlalchemy import select

from registre import administration, auth, documents, dossiers, referentials, reports
from registre.actors import Actor
from registre.db import Database
from registre.demo import REFUSER_FINESS, REQUESTER_FINESS
from registre.models import (
    AgeBand,
    Establishment,
    LineKind,
    RefuserLine,
    Role,
    Urgency,
)
from registre.referentials import EstablishmentFields, ListKind

from ..xss_inventory import (
    ACCUEIL,
    ADMIN_COMPTES,
    ADMIN_DOCUMENTS,
    ADMIN_JOURNAL,
    ADMIN_REFERENTIELS,
    DOSSIER,
    FREE_TEXT_FIELDS,
    MON_COMPTE,
    NON_CONFORME,
    REFUS,
    REGISTRE,
    SHORT_FIELDS,
    SIGNALEMENT,
    STATISTIQUES,
    payload,
)
from .conftest import DEMO_PASSWORD, Server, screenshot
from .helpers import expect_login_form, live
from .steps import Person, settle

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
# What an upload keeps of the hostile file name (``documents._safe_filename``).
DOCUMENT_FILE = '<img src=x onerror="window.__xss=1"> __gras__ _x_.pdf'


@dataclass(frozen=True)
class Seeded:
    texts: dict[str, str]  # field key → what is stored
    dossier: str  # finalised, answered, reopened, finalised again
    draft_id: int  # a draft with its refuser line
    abandoned: str
    report: str  # declared and answered
    withdrawn: str


def _actor(db: Database, username: str) -> Actor:
    actor = auth.load_actor(db, username)
    assert actor is not None, username
    return actor


def seed(database_url: str) -> Seeded:
    """Every free-text field, hostile, through ``registre``'s functions (as the pages do)."""
    texts = {f.key: payload(f.key, short=f.key in SHORT_FIELDS) for f in FREE_TEXT_FIELDS}
    db = Database(database_url)
    try:
        admin = _actor(db, "demo-admin")
        with db.read() as session:
            ests = {
                e.finess: e.id
                for e in session.scalars(
                    select(Establishment).where(
                        Establishment.finess.in_([REQUESTER_FINESS, REFUSER_FINESS])
                    )
                )
            }
        chsf, mondor = ests[REQUESTER_FINESS], ests[REFUSER_FINESS]

        # Reference data: both demo establishments, the declarant's service, new list items.
        for est_id, suffix in ((chsf, ""), (mondor, " (refuseur)")):
            row = referentials.get_establishment(db, admin, est_id)
            fields = EstablishmentFields(
                row.finess,
                texts["etablissement"] + suffix,
                row.departement,
                texts["territoire-etablissement"],
                row.director_email or "",
            )
            referentials.save_establishment(db, admin, est_id, fields)
        declarant = _actor(db, "demo-declarant")
        assert declarant.service_id is not None
        referentials.save_service(db, admin, chsf, declarant.service_id, texts["service"])
        specialty = referentials.save_item(
            db, admin, ListKind.SPECIALTY, None, texts["specialite"], 0
        )
        refusal_motif = referentials.save_item(
            db, admin, ListKind.REFUSAL_MOTIF, None, texts["motif-refus"], 0, True
        )
        request_motif = referentials.save_item(
            db, admin, ListKind.REQUEST_MOTIF, None, texts["motif-demande"], 0, True
        )
        destination = referentials.save_item(
            db, admin, ListKind.DESTINATION, None, texts["destination"], 0
        )
        report_type = referentials.save_item(
            db, admin, ListKind.REPORT_TYPE, None, texts["type-dysfonctionnement"], 0
        )
        referentials.save_line(
            db, admin, None, mondor, specialty, LineKind.GARDE, texts["territoire-ligne"]
        )
        documents.upload(db, admin, texts["document-titre"], DOCUMENT_FILE, PDF, 5)
        texts["document-fichier"] = documents.list_documents(db, admin)[-1].filename

        # Accounts: the declarant and the refuser's référent by their hostile names, and a
        # Coordinateur PDSES of the requester, who may reopen a dossier.
        for username in ("demo-declarant", "demo-referent"):
            account = _actor(db, username)
            detail = administration.get_account(db, admin, account.id)
            fields_ = replace(detail.fields, display_name=texts["nom-affiche"])
            administration.update(db, admin, account.id, fields_)
        administration.create(
            db,
            admin,
            administration.AccountFields(
                username="xss-coordination",
                display_name=texts["nom-affiche"],
                email="coordination-xss@chsf.example.org",
                role=Role.COORDINATEUR,
                establishment_id=chsf,
            ),
            "mot-de-passe-provisoire-xss",
        )
        auth.change_password(
            db, _actor(db, "xss-coordination"), "mot-de-passe-provisoire-xss", DEMO_PASSWORD
        )
        declarant = _actor(db, "demo-declarant")
        referent = _actor(db, "demo-referent")
        coordination = _actor(db, "xss-coordination")

        # The dossiers.
        requested = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
        data = dossiers.DossierInput(
            requesting_service_id=declarant.service_id,
            specialty_id=specialty,
            requested_at=requested,
            age_band=AgeBand.ADULT,
            request_motif_id=request_motif,
            request_other_motif=texts["dossier-autre-motif-demande"],
            urgency=Urgency.URGENT,
            final_destination_id=destination,
            impact=True,
            impact_description=texts["dossier-impact"],
            comments=texts["dossier-commentaires"],
        )
        line = dossiers.LineInput(
            refusing_establishment_id=mondor,
            refusal_motif_id=refusal_motif,
            other_motif=texts["ligne-autre-motif"],
            comments=texts["ligne-commentaires"],
        )
        full = dossiers.create_draft(db, declarant, data)
        dossiers.add_line(db, declarant, full.id, line)
        dossiers.finalise(db, declarant, full.id)
        with db.read() as session:
            line_id = session.scalar(
                select(RefuserLine.id).where(RefuserLine.dossier_id == full.id)
            )
        assert line_id is not None
        answer = dossiers.AnswerInput(
            understood_motif_id=request_motif,
            refusal_motif_id=refusal_motif,
            other_motif=texts["reponse-autre-motif"],
            comments=texts["reponse-commentaires"],
        )
        dossiers.answer(db, referent, full.id, line_id, answer)
        dossiers.reopen(db, coordination, full.id, texts["motif-reouverture"])
        dossiers.finalise(db, declarant, full.id)

        draft = dossiers.create_draft(db, declarant, data)
        dossiers.add_line(db, declarant, draft.id, line)
        abandoned = dossiers.create_draft(db, declarant, data)
        dossiers.abandon(db, declarant, abandoned.id, texts["motif-abandon"])

        # The « fonctionnements non conformes ».
        report_data = reports.ReportInput(
            occurred_at=requested,
            specialty_id=specialty,
            concerned_establishment_id=mondor,
            report_type_id=report_type,
            description=texts["signalement-description"],
            impact=True,
            impact_description=texts["signalement-impact"],
        )
        answered = reports.declare(db, declarant, report_data)
        reports.answer(
            db,
            referent,
            answered.id,
            reports.ReportAnswerInput(
                analysis=texts["signalement-analyse"],
                corrective_measures=texts["signalement-mesures"],
            ),
        )
        withdrawn = reports.declare(db, declarant, report_data)
        reports.withdraw(db, declarant, withdrawn.id, texts["motif-retrait"])
    finally:
        db.dispose()
    return Seeded(texts, full.number, draft.id, abandoned.number, answered.number, withdrawn.number)


@pytest.fixture(scope="module")
def seeded(server: Server) -> Seeded:
    return seed(server.database_url)


# --- what the browser shows -----------------------------------------------------------------

# What would betray text turned into markup: the payload ran (``window.__xss``), or an
# element came out of it (an image, a script, a link, markdown or HTML emphasis).
_EXECUTED_JS = """
() => ({
  trace: typeof window.__xss,
  images: document.querySelectorAll('img[src="x"]').length,
  scripts: [...document.scripts].filter(s => s.textContent.includes('__xss')).length,
  links: [...document.querySelectorAll('a[href]')]
    .filter(a => /^\\s*javascript:/i.test(a.getAttribute('href'))).length,
  markup: [...document.querySelectorAll('b, strong, em, i, a, del, code')]
    .filter(e => ['gras', 'b', 'x'].includes(e.textContent.trim())).map(e => e.outerHTML),
})
"""
# The values of the fields, and the cells that the data grid exposes (it draws on a canvas).
_VALUES_JS = """
() => [...document.querySelectorAll('input, textarea')].map(e => e.value)
  .concat([...document.querySelectorAll('[role=gridcell]')].map(e => e.textContent))
"""

_SCROLL_RIGHT_JS = """
() => document.querySelectorAll('[data-testid=stDataFrame] .dvn-scroller')
  .forEach(e => { e.scrollLeft = e.scrollWidth; })
"""
SHOWN_WITHIN = 15.0  # seconds
CHECKED: dict[str, set[str]] = {}  # field key → the pages where it was seen as typed
ROLES_RUN: set[str] = set()


class Visitor:
    """One browser page whose dialogs are recorded, checking every page it opens."""

    def __init__(self, page: Page, server: Server, seeded: Seeded) -> None:
        self.page = page
        self.server = server
        self.seeded = seeded
        self.texts = seeded.texts
        self.dialogs: list[str] = []
        self.role = ""
        self.started = time.perf_counter()
        page.on("dialog", self._dialog)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def log_in(self, username: str) -> None:
        self.role = username
        page = self.page
        page.goto(self.server.url)
        expect_login_form(page)
        settle(page)
        live(page).get_by_label("Identifiant").fill(username)
        live(page).get_by_label("Mot de passe").fill(DEMO_PASSWORD)
        live(page).get_by_role("button", name="Se connecter").click()
        expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
        settle(page)

    def open(self, path: str, heading: str) -> None:
        """A page by its address (the session is found again through its cookie)."""
        self.page.goto(f"{self.server.url}/{path}")
        expect(self.page.get_by_role("heading", name=heading).first).to_be_visible()
        settle(self.page)

    def click_text(self, text: str) -> None:
        """An expander, a tab, a radio option or a toggle, by its text."""
        self.page.get_by_text(text, exact=True).first.click()
        settle(self.page)

    def shown(self) -> str:
        values: list[str] = self.page.evaluate(_VALUES_JS)
        return "\n".join([self.page.locator("body").inner_text(), *values])

    def check(
        self,
        where: str,
        keys: list[str],
        *,
        absent: tuple[str, ...] = (),
        encode: Callable[[str], str] = str,
    ) -> None:
        """Nothing ran, nothing came out of the text, every field of ``keys`` is there as
        typed (``encode``: as the page writes it, JSON on « Journal d'audit ») and none of
        ``absent`` is (what this role must not see)."""
        deadline = time.monotonic() + SHOWN_WITHIN
        while True:  # the charts draw after the script has run
            shown = self.shown()
            missing = [k for k in keys if encode(self.texts[k]) not in shown]
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        found = self.page.evaluate(_EXECUTED_JS)
        leaked = [k for k in absent if self.texts[k] in shown]
        failures = {
            "le texte hostile s'est exécuté": found["trace"] != "undefined",
            f"dialogue ouvert {self.dialogs}": bool(self.dialogs),
            "<img src=x> créé à partir du texte": found["images"] > 0,
            "<script> créé à partir du texte": found["scripts"] > 0,
            "lien javascript: créé à partir du texte": found["links"] > 0,
            f"mise en forme interprétée {found['markup']}": bool(found["markup"]),
            f"pas affiché tel que saisi : {missing}": bool(missing),
            f"affiché à qui ne doit pas le voir : {leaked}": bool(leaked),
        }
        problems = [message for message, failed in failures.items() if failed]
        if problems:
            screenshot(self.page, f"echec-xss-{self.role}-{where}")
        assert not problems, f"{self.role} / {where} : " + " ; ".join(problems)
        for key in keys:
            CHECKED.setdefault(key, set()).add(where)

    def done(self) -> None:
        ROLES_RUN.add(self.role)
        print(f"{self.role} : {time.perf_counter() - self.started:.1f} s")


@pytest.fixture
def visitor(page: Page, server: Server, seeded: Seeded) -> Visitor:
    return Visitor(page, server, seeded)


REQUESTER_SECRETS = (  # never shown to the refusing establishment (SPEC §5, §9)
    "dossier-autre-motif-demande",
    "dossier-impact",
    "dossier-commentaires",
    "ligne-autre-motif",
    "ligne-commentaires",
    "destination",
    "motif-reouverture",
    "signalement-impact",
)
ANSWERS = ("reponse-autre-motif", "reponse-commentaires", "signalement-analyse")
DOSSIER_FIELDS = [
    "etablissement",
    "service",
    "specialite",
    "motif-demande",
    "dossier-autre-motif-demande",
    "destination",
    "dossier-impact",
    "dossier-commentaires",
    "motif-refus",
    "ligne-autre-motif",
    "ligne-commentaires",
    "nom-affiche",
]
REPORT_FIELDS = ["etablissement", "specialite", "type-dysfonctionnement", "signalement-description"]


# --- each role, on each page that shows the fields ------------------------------------------


def test_the_declarant_sees_its_dossiers_and_reports_as_typed(visitor: Visitor) -> None:
    v, s = visitor, visitor.seeded
    v.log_in("demo-declarant")
    v.check(ACCUEIL, ["nom-affiche", "etablissement", "service", "document-titre"])
    v.open("mon_compte", "Mon compte")
    v.check(MON_COMPTE, ["nom-affiche", "etablissement", "service"])
    v.open("registre", "Registre des refus PDSES")
    v.check(REGISTRE, ["specialite", "service"])
    v.open(f"refus?id={s.draft_id}", "à compléter")  # the form and its refuser line
    v.check(REFUS, [k for k in DOSSIER_FIELDS if k != "nom-affiche"], absent=ANSWERS)
    v.open(f"dossier?numero={s.dossier}", s.dossier)
    v.click_text("Historique du dossier")
    v.check(DOSSIER, [*DOSSIER_FIELDS, "motif-reouverture"], absent=ANSWERS)
    v.open(f"dossier?numero={s.abandoned}", s.abandoned)
    v.click_text("Historique du dossier")
    v.check(DOSSIER, ["motif-abandon"])
    v.open("fonctionnement_non_conforme", "Fonctionnement non conforme")
    v.check(NON_CONFORME, ["etablissement", "specialite", "type-dysfonctionnement"])
    v.open(f"signalement?numero={s.report}", s.report)
    v.check(SIGNALEMENT, [*REPORT_FIELDS, "signalement-impact", "nom-affiche"], absent=ANSWERS)
    v.open(f"signalement?numero={s.withdrawn}", s.withdrawn)
    v.click_text("Historique du signalement")
    v.check(SIGNALEMENT, ["motif-retrait"])
    v.done()


def test_the_refuser_sees_what_it_may_as_typed(visitor: Visitor) -> None:
    v, s = visitor, visitor.seeded
    v.log_in("demo-referent")
    v.check(ACCUEIL, ["nom-affiche", "etablissement"])
    v.open("registre", "Registre des refus PDSES")
    # « Refus adressés à votre établissement », answered ones (the awaiting ones come first)
    Person(v.page).choose("Réponse", "✅ Répondu")
    settle(v.page)
    v.check(REGISTRE, ["etablissement", "service", "specialite"])
    v.open(f"dossier?numero={s.dossier}", s.dossier)
    v.click_text("Historique du dossier")
    answer = ["motif-demande", "motif-refus", "reponse-autre-motif", "reponse-commentaires"]
    fields = ["etablissement", "service", "specialite", "nom-affiche", *answer]
    v.check(DOSSIER, fields, absent=REQUESTER_SECRETS)
    v.open("fonctionnement_non_conforme", "Fonctionnement non conforme")
    v.check(NON_CONFORME, ["etablissement", "specialite", "type-dysfonctionnement"])
    v.open(f"signalement?numero={s.report}", s.report)
    v.click_text("Historique du signalement")
    fields = [*REPORT_FIELDS, "signalement-analyse", "signalement-mesures"]
    v.check(SIGNALEMENT, fields, absent=REQUESTER_SECRETS)
    v.done()


def test_the_region_sees_both_sides_and_the_statistics_as_typed(visitor: Visitor) -> None:
    v, s = visitor, visitor.seeded
    v.log_in("demo-ars")
    v.open(f"dossier?numero={s.dossier}", s.dossier)
    v.click_text("Historique du dossier")
    answers = ["reponse-autre-motif", "reponse-commentaires"]
    v.check(DOSSIER, [*DOSSIER_FIELDS, *answers, "motif-reouverture"])
    v.open(f"signalement?numero={s.report}", s.report)
    v.check(SIGNALEMENT, [*REPORT_FIELDS, "signalement-analyse", "signalement-mesures"])
    v.open("statistiques", "Statistiques")
    # The charts draw their labels in SVG, cut to a length: the full text is read in the
    # tables under them (the grid's cells).
    tables = {
        "etablissements": "etablissement",
        "motifs-refuseurs": "motif-refus",
        "destinations": "destination",
        "signalements-types": "type-dysfonctionnement",
        "signalements-specialites": "specialite",
    }
    for table in tables:
        v.page.locator(f".st-key-donnees-{table}").get_by_text("Afficher les données").click()
        settle(v.page)
    v.check(STATISTIQUES, list(tables.values()))
    v.done()


def test_the_administrator_sees_the_reference_data_and_the_audit_as_typed(
    visitor: Visitor,
) -> None:
    v, s = visitor, visitor.seeded
    page = v.page
    v.log_in("demo-admin")
    v.check(ACCUEIL, ["document-titre"])
    v.open("admin_comptes", "Comptes")
    v.check(ADMIN_COMPTES, ["nom-affiche", "etablissement"])
    v.open("admin_documents", "Documents")
    v.check(ADMIN_DOCUMENTS, ["document-titre", "document-fichier"])

    v.open("admin_referentiels", "Référentiels")
    page.get_by_label("Rechercher un établissement").fill("etablissement")
    page.keyboard.press("Enter")
    settle(page)
    page.get_by_role("button", name=REQUESTER_FINESS, exact=True).first.click()
    settle(page)
    v.check(ADMIN_REFERENTIELS, ["etablissement", "territoire-etablissement"])
    v.click_text("Services")
    box = page.get_by_role("combobox", name="Établissement", exact=True)
    box.click()
    box.fill("etablissement")
    option = page.get_by_role("option").filter(has_text="etablissement <img").first
    expect(option).to_be_visible()
    v.check(ADMIN_REFERENTIELS, ["etablissement"])  # the open list of establishments
    option.click()
    settle(page)
    v.check(ADMIN_REFERENTIELS, ["service"])
    v.click_text("Listes")
    lists = {
        "Spécialités PDSES": "specialite",
        "Motifs de refus": "motif-refus",
        "Motifs de demande": "motif-demande",
        "Destinations finales": "destination",
        "Types de dysfonctionnement": "type-dysfonctionnement",
    }
    for title, key in lists.items():
        page.get_by_role("radiogroup", name="Liste").get_by_text(title, exact=True).click()
        settle(page)
        v.check(ADMIN_REFERENTIELS, [key])
    v.click_text("Lignes PDSES")
    v.check(ADMIN_REFERENTIELS, ["specialite", "etablissement", "territoire-ligne"])

    v.open("admin_journal", "Journal d'audit")
    for number, key in (
        (s.dossier, "motif-reouverture"),
        (s.abandoned, "motif-abandon"),
        (s.withdrawn, "motif-retrait"),
    ):
        page.get_by_label("Dossier ou signalement (numéro)").fill(number)
        page.get_by_role("button", name="Filtrer").click()
        settle(page)
        page.evaluate(_SCROLL_RIGHT_JS)  # the grid draws the columns in view only: « Détails »
        # the reason is the requester's (declarer's) text: its length only, never the text
        # (tests/test_audit_log.py checks the masking itself)
        v.check(ADMIN_JOURNAL, [], absent=(key,))
    v.done()


def test_every_field_was_seen_as_typed_on_every_page_that_shows_it() -> None:
    """Run last: the inventory against what the tests above saw."""
    roles = {"demo-declarant", "demo-referent", "demo-ars", "demo-admin"}
    if not roles <= ROLES_RUN:
        pytest.skip("seulement après les parcours de tous les profils")
    unseen = [
        f"{field.key} sur {page}"
        for field in FREE_TEXT_FIELDS
        for page in field.pages
        if page not in CHECKED.get(field.key, set())
    ]
    assert not unseen, f"champs non vérifiés : {unseen}"
