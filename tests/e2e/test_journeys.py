"""The journeys of the user guide in Chromium, against a real ``streamlit run`` server whose
mails go to a real SMTP server (``SmtpRecorder``).

1. The requester records a refusal (guide §2–§4), the director gets the impact mail, the
   refusing establishment its mails without the requester's statements; the refuser answers
   (guide §5) without ever seeing them; a logout survives a reload.
2. The night clinician's shortest journey, counted and timed (``pytest -s`` prints it).
3. A logout made while the page is still loading its cookie component (the cookie is then
   never deleted by the browser) survives a reload: the server refuses cookies issued before
   a logout. Found on the way by this suite.

Screenshots of every main page are taken on the way (``test-artifacts/``).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, Route, expect

from ..smtp_server import ReceivedMail, SmtpRecorder, free_port
from .conftest import DEMO_PASSWORD, Server, screenshot, start_server, stop_server
from .helpers import expect_login_form
from .steps import QUIET_MS, Person, expect_logged_out, form, full_screenshot, main, settle

pytestmark = pytest.mark.e2e

MAIL_FROM = "registre-pdses@ght-e2e.example.org"
DIRECTOR = "direction@chsf.example.org"
MONDOR_REFERENT = "pdses@mondor.example.org"
MONDOR_COORDINATOR = "coordination-pdses@mondor.example.org"

REQUESTER = "Centre hospitalier Sud Francilien (CHSF)"
MONDOR = "Hôpital Henri-Mondor (AP-HP) (94)"
BICETRE = "Hôpital Bicêtre (AP-HP) (94)"
NUMBER = re.compile(r"R-\d{4}-\d{6}")
NIGHT_BUDGET = 15
# « Destination finale du patient », marked * or not depending on where the form shows it
DESTINATION_LABEL = re.compile(r"^Destination finale du patient( \*)?$")
MAIL_DELAY = 10.0  # seconds: « within a few seconds »


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpRecorder]:
    with SmtpRecorder() as recorder:
        yield recorder


@pytest.fixture(scope="module")
def mail_server(
    browser: object, smtp: SmtpRecorder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """``start_server`` with the SMTP settings; its port is chosen first, so that the links
    in the mails (``REGISTRE_BASE_URL``) point at this very server."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "REGISTRE_SMTP_HOST": smtp.host,
        "REGISTRE_SMTP_PORT": str(smtp.port),
        "REGISTRE_SMTP_TIMEOUT": "5",
        "REGISTRE_MAIL_FROM": MAIL_FROM,
        "REGISTRE_BASE_URL": url,
    }
    server = start_server(tmp_path_factory.mktemp("journeys"), env, port=port)
    assert server.url == url
    yield server
    stop_server(server)


def wait_for_mail(
    smtp: SmtpRecorder, recipient: str, matches: Callable[[ReceivedMail], bool], since: float
) -> tuple[ReceivedMail, float]:
    """The first mail to ``recipient`` that ``matches``, and how long after ``since`` it was
    seen; fails after ``MAIL_DELAY`` seconds."""
    deadline = since + MAIL_DELAY
    while True:
        found = [m for m in smtp.messages_to(recipient) if matches(m)]
        if found:
            return found[0], time.monotonic() - since
        if time.monotonic() > deadline:
            subjects = [m.subject for m in smtp.messages_to(recipient)][-5:]
            raise AssertionError(
                f"aucun mail attendu pour {recipient} en {MAIL_DELAY} s (derniers : {subjects})"
            )
        time.sleep(0.05)


def expect_absent(page: Page, secrets: list[str], where: str) -> None:
    """None of ``secrets`` in the HTML nor in the visible text of the page."""
    html = page.content()
    text = page.locator("body").inner_text()
    for secret in secrets:
        assert secret not in html, f"{where} : « {secret} » est dans le HTML de la page"
        assert secret not in text, f"{where} : « {secret} » est affiché"


def addressed_to_us(page: Page, label: str) -> Locator:
    """A dossier's button in the registry's « Refus adressés à votre établissement »."""
    return page.locator(
        "xpath=//*[self::h2 or self::h3][contains(., 'Refus adressés à votre établissement')]"
        f"/following::button[normalize-space(.)='{label}']"
    ).filter(visible=True)  # a button with a tooltip has a hidden twin


def go_to_registry(person: Person) -> None:
    person.open_menu("PDSES", "Registre des refus PDSES")
    expect(person.page.get_by_role("heading", name="Registre des refus PDSES")).to_be_visible()
    expect(person.page.get_by_role("combobox", name="Spécialité PDS-ES")).to_be_visible()
    settle(person.page)


def open_home(page: Page, server: Server) -> Person:
    page.goto(server.url)
    expect_login_form(page)
    settle(page)
    return Person(page)


# --- 1. the guide's journey, both sides ------------------------------------------------------


def test_requester_records_a_refusal_and_the_refuser_answers_blind(
    mail_server: Server, smtp: SmtpRecorder, page: Page
) -> None:
    comment = "observation quokka vermillon zanzibar"
    impact = "attente prolongee ornithorynque aux urgences"
    line_comment = "appel rappel capybara sans suite"
    request_motif = "Transfert en soins critiques"
    mondor_motif = "Plateau technique indisponible"
    destination = "Retour à domicile"
    # What the requester said and the refuser must never see (pages and mails).
    requester_secrets = [comment, impact, line_comment, request_motif, mondor_motif, destination]
    requester_secrets += ["Hôpital Bicêtre", "Absence de lit disponible"]
    answer_comment = "lit libere trop tard pangolin"

    # §1 Connexion: a wrong pair, then the declarant.
    person = open_home(page, mail_server)
    person.log_in("demo-declarant", "pas-le-bon-mot-de-passe")
    expect(page.get_by_text("Identifiant ou mot de passe incorrect.")).to_be_visible()
    expect(page.get_by_role("button", name="Se déconnecter")).to_have_count(0)
    person.log_in("demo-declarant", DEMO_PASSWORD)
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    expect(main(page).get_by_text("Urgences CHSF (démo)").first).to_be_visible()
    full_screenshot(page, "accueil")

    # §2 Menu PDSES → « Registre des refus PDSES ».
    go_to_registry(person)
    full_screenshot(page, "registre")

    # §4 « Nouveau refus » without a specialty: the error; then with « Neurochirurgie ».
    person.click_button("Nouveau refus")
    expect(
        page.get_by_text("Sélectionnez une spécialité PDS-ES pour saisir un nouveau refus.")
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Ajouter un nouveau refus")).to_have_count(0)
    person.choose("Spécialité PDS-ES", "Neurochirurgie")
    person.click_button("Nouveau refus")
    expect(page.get_by_role("heading", name="Ajouter un nouveau refus")).to_be_visible()
    settle(page)
    dossier = form(page, "Enregistrer")
    # pre-filled from the profile and the chosen specialty
    expect(dossier.get_by_label("Etablissement demandeur *")).to_have_value(REQUESTER)
    expect(dossier.get_by_role("combobox", name="Service demandeur *")).to_have_value(
        "Service d'accueil des urgences"
    )
    expect(dossier.get_by_role("combobox", name="Spécialité PDSES *")).to_have_value(
        "Neurochirurgie"
    )
    person.radio("Tranche d'âge du patient *", "65 à 79 ans", scope=dossier)
    person.choose("Motif de la demande *", request_motif, scope=dossier)
    person.radio("Niveau d'urgence *", "Urgence vitale", scope=dossier)
    person.tick("Ce refus a eu un impact sur la prise en charge du patient", scope=dossier)
    person.type("Description de l'impact", impact, scope=dossier)
    person.type("Commentaires", comment, scope=dossier)
    full_screenshot(page, "nouveau-refus")
    saved_at = time.monotonic()
    person.click_button("Enregistrer", scope=dossier)
    title = page.get_by_role("heading", name=re.compile(r"Refus R-\d{4}-\d{6} — à compléter"))
    expect(title).to_be_visible()
    match = NUMBER.search(title.inner_text())
    assert match is not None
    number = match.group(0)
    expect(main(page).get_by_text(f"Refus {number} enregistré.", exact=False)).to_be_visible()
    # The impact mail reaches the director within a few seconds.
    impact_mail, impact_delay = wait_for_mail(
        smtp, DIRECTOR, lambda m: number in m.subject and "impact" in m.subject, saved_at
    )
    assert impact in impact_mail.text
    assert f"{mail_server.url}/dossier?numero={number}" in impact_mail.text

    # Two refusing establishments, one at a time.
    person.choose("Etablissement refuseur *", MONDOR, scope=form(page, "Ajouter le refuseur"))
    person.choose("Motif du refus *", mondor_motif, scope=form(page, "Ajouter le refuseur"))
    person.type("Commentaires", line_comment, scope=form(page, "Ajouter le refuseur"))
    person.click_button("Ajouter le refuseur")
    expect(main(page).get_by_text("Établissement refuseur enregistré.")).to_be_visible()
    person.choose("Etablissement refuseur *", BICETRE, scope=form(page, "Ajouter le refuseur"))
    person.choose(
        "Motif du refus *", "Absence de lit disponible", scope=form(page, "Ajouter le refuseur")
    )
    person.click_button("Ajouter le refuseur")
    expect(main(page).get_by_role("button", name="Retirer", exact=True)).to_have_count(2)
    expect(main(page)).to_contain_text("Hôpital Henri-Mondor (AP-HP) — titulaire de la ligne PDSES")
    expect(main(page)).to_contain_text("Hôpital Bicêtre (AP-HP)")
    full_screenshot(page, "refuseurs")

    # « Finaliser le dossier » without a destination: the error, in sight, still a draft.
    person.click_button("Finaliser le dossier")
    missing = page.get_by_text(
        "« Destination finale du patient » est obligatoire pour finaliser le dossier."
    )
    expect(missing).to_be_visible()
    expect(missing).to_be_in_viewport()
    expect(title).to_be_visible()
    # Then a destination, « Enregistrer », « Finaliser le dossier ».
    person.choose(DESTINATION_LABEL, destination)
    person.click_button("Enregistrer", scope=form(page, "Enregistrer"))
    expect(main(page).get_by_text("Modifications enregistrées.")).to_be_visible()
    expect(page.get_by_role("combobox", name=DESTINATION_LABEL)).to_have_value(destination)
    finalised_at = time.monotonic()
    person.click_button("Finaliser le dossier")
    expect(main(page).get_by_text(f"Dossier {number} finalisé", exact=False)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/registre"))
    row = page.get_by_role("button", name=f"✅ {number}", exact=True)
    expect(row).to_be_visible()

    # Henri-Mondor's référent and coordinator are told, nobody at Bicêtre (no account
    # there); none of the requester's statements reaches the refuser.
    refuser_delays = []
    for address in (MONDOR_REFERENT, MONDOR_COORDINATOR):
        mail, delay = wait_for_mail(smtp, address, lambda m: number in m.subject, finalised_at)
        refuser_delays.append(delay)
        assert mail.sender.endswith(f"<{MAIL_FROM}>") or MAIL_FROM in mail.sender
        assert f"{mail_server.url}/dossier?numero={number}" in mail.text
        assert "Neurochirurgie" in mail.text
        for secret in requester_secrets:
            assert secret not in mail.text, f"le mail à {address} contient « {secret} »"
            assert secret not in mail.html, f"le mail à {address} contient « {secret} »"
    to_dossier = [m for m in smtp.messages if number in m.subject]
    assert len(to_dossier) == 3, [(m.rcpt_tos, m.subject) for m in to_dossier]
    print(
        f"mails : impact au plus {impact_delay:.1f} s après le clic « Enregistrer », refuseurs "
        f"au plus {max(refuser_delays):.1f} s après le clic « Finaliser le dossier »"
    )

    # The requester's view of the finalised dossier.
    row.click()
    settle(page)
    expect(page.get_by_role("heading", name=f"✅ Refus {number}")).to_be_visible()
    expect(main(page).get_by_text(comment)).to_be_visible()
    full_screenshot(page, "dossier-demandeur")

    person.log_out()
    expect_logged_out(page)

    # §5 The refuser: the registry shows 🔔 in « Refus adressés à votre établissement ».
    person.log_in("demo-referent", DEMO_PASSWORD)
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    go_to_registry(person)
    incoming = page.get_by_test_id("stHeading").filter(
        has_text="Refus adressés à votre établissement"
    )
    expect(incoming).to_be_visible()
    bell = addressed_to_us(page, f"🔔 {number}")
    expect(bell).to_be_visible()
    clicks_before = person.clicks
    person.click_button(f"🔔 {number}")
    assert person.clicks - clicks_before == 1
    expect(page.get_by_role("heading", name=f"🔔 Refus {number}")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/dossier\?numero={number}"))
    expect(main(page)).to_contain_text("Spécialité PDSES : Neurochirurgie")
    expect(main(page)).to_contain_text(f"Etablissement demandeur : {REQUESTER}")
    expect(main(page)).to_contain_text("Service demandeur : Service d'accueil des urgences")
    expect_absent(page, requester_secrets, "dossier côté refuseur")
    page.get_by_text("Historique du dossier").click()
    settle(page)
    expect_absent(page, requester_secrets, "historique côté refuseur")
    full_screenshot(page, "dossier-refuseur")

    answer = form(page, "Enregistrer la réponse")
    person.choose("Motif compris de la demande *", "Avis spécialisé", scope=answer)
    person.choose("Motif du refus *", "Absence de praticien disponible", scope=answer)
    person.type("Commentaires", answer_comment, scope=answer)
    person.click_button("Enregistrer la réponse")
    expect(main(page).get_by_text(f"Réponse enregistrée pour le refus {number}.")).to_be_visible()
    expect(page.get_by_role("heading", name=f"✅ Refus {number}")).to_be_visible()
    expect(main(page).get_by_text(answer_comment)).to_be_visible()
    expect_absent(page, requester_secrets, "dossier répondu côté refuseur")
    full_screenshot(page, "dossier-repondu")
    go_to_registry(person)
    expect(bell).to_have_count(0)  # awaiting answers come first: it would be on top
    person.choose("Réponse", "✅ Répondu")
    expect(addressed_to_us(page, f"✅ {number}")).to_be_visible()

    # The requester sees that Henri-Mondor answered, not what.
    person.log_out()
    expect_logged_out(page)
    person.log_in("demo-declarant", DEMO_PASSWORD)
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    go_to_registry(person)
    person.click_button(f"✅ {number}")
    expect(page.get_by_role("heading", name=f"✅ Refus {number}")).to_be_visible()
    page.get_by_text("Historique du dossier").click()
    settle(page)
    expect_absent(page, [answer_comment, "Absence de praticien disponible"], "côté demandeur")

    # Log out; a reload keeps the user out: the login form and no data.
    person.log_out()
    expect_logged_out(page)
    page.wait_for_function("() => !document.cookie.includes('registre_pdses_session')")
    page.reload()
    settle(page)
    expect_logged_out(page)
    body = main(page).inner_text()
    for secret in (number, "Henri-Mondor", "Sud Francilien", "Se déconnecter"):
        assert secret not in body, f"après déconnexion et rechargement : « {secret} »"


# --- 2. the night clinician ------------------------------------------------------------------


def test_night_clinician_records_and_finalises_a_refusal_in_few_interactions(
    mail_server: Server, page: Page
) -> None:
    person = open_home(page, mail_server)
    person.log_in("demo-declarant", DEMO_PASSWORD)
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    go_to_registry(person)

    clinician = Person(page)  # counting starts on the registry page, logged in
    started = time.perf_counter()
    clinician.choose("Spécialité PDS-ES", "Chirurgie de la main")
    clinician.click_button("Nouveau refus")
    expect(page.get_by_role("heading", name="Ajouter un nouveau refus")).to_be_visible()
    dossier = form(page, "Enregistrer")
    clinician.radio("Tranche d'âge du patient *", "18 à 64 ans", scope=dossier)
    clinician.choose("Motif de la demande *", "Avis spécialisé", scope=dossier)
    clinician.radio("Niveau d'urgence *", "Urgence", scope=dossier)
    clinician.click_button("Enregistrer", scope=dossier)
    title = page.get_by_role("heading", name=re.compile(r"Refus R-\d{4}-\d{6} — à compléter"))
    expect(title).to_be_visible()
    match = NUMBER.search(title.inner_text())
    assert match is not None
    number = match.group(0)
    line = form(page, "Ajouter le refuseur")
    clinician.choose("Etablissement refuseur *", MONDOR, scope=line)
    clinician.choose("Motif du refus *", "Absence de praticien disponible", scope=line)
    clinician.click_button("Ajouter le refuseur")
    expect(main(page).get_by_text("Établissement refuseur enregistré.")).to_be_visible()
    clinician.choose(DESTINATION_LABEL, "Pris en charge dans l'établissement demandeur")
    clinician.click_button("Finaliser le dossier")
    expect(page.get_by_role("button", name=f"✅ {number}", exact=True)).to_be_visible()
    elapsed = time.perf_counter() - started

    print(f"interactions: {clinician.interactions}")
    print(f"clics (ouverture des listes comprise) : {clinician.clicks}")
    quiet = clinician.settles * QUIET_MS / 1000
    print(
        f"durée dans le navigateur : {elapsed:.1f} s, dont {quiet:.1f} s d'attente de "
        f"stabilité ajoutée par le test ({clinician.settles} × {QUIET_MS} ms)"
    )
    for i, step in enumerate(clinician.steps, start=1):
        print(f"  {i:2d}. {step}")
    assert clinician.interactions <= NIGHT_BUDGET, clinician.steps


# --- found on the way -----------------------------------------------------------------------------


def test_logout_right_after_opening_the_app_survives_a_reload(
    mail_server: Server, page: Page
) -> None:
    person = open_home(page, mail_server)
    person.log_in("demo-referent", DEMO_PASSWORD)
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    page.wait_for_function("() => document.cookie.includes('registre_pdses_session')")
    settle(page)

    # A slow network: every file of a Streamlit component takes half a second.
    def slowly(route: Route) -> None:
        time.sleep(0.5)
        route.continue_()

    page.route("**/component/**", slowly)
    page.reload()  # the cookie logs the user in again, as it should
    logout = page.get_by_role("button", name="Se déconnecter")
    expect(logout).to_be_visible()
    logout.click()  # at once, as someone leaving a shared workstation
    expect_login_form(page)
    # Give the page all the time it needs to delete the cookie, then reload.
    with contextlib.suppress(PlaywrightError):
        page.wait_for_function(
            "() => !document.cookie.includes('registre_pdses_session')", timeout=8_000
        )
    page.unroute("**/component/**")
    page.reload()
    settle(page)
    screenshot(page, "deconnexion-pendant-chargement")
    expect_logged_out(page)
