"""« Fonctionnement non conforme » in Chromium (guide §3, SPEC §9), with the demo accounts,
against a real ``streamlit run`` server whose mails go to a real SMTP server:

the CHSF's Déclarant declares that Henri-Mondor's neurosurgery line did not answer (with an
impact on care) and sees the report 🔔 in its list; Henri-Mondor's référent and coordinator
get the mail, without the impact, and the CHSF's director the impact mail; Henri-Mondor's
référent opens the report from « Signalements concernant votre établissement », never sees
the impact nor the author, and answers it (✅); the Déclarant sees ✅ and that it was
answered, never the answer.

``pytest -s`` prints how long each part took.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Locator, Page, expect

from ..smtp_server import ReceivedMail, SmtpRecorder, free_port
from .conftest import DEMO_PASSWORD, Server, start_server, stop_server
from .helpers import expect_login_form, live
from .steps import Person, expect_logged_out, form, full_screenshot, main, settle

pytestmark = pytest.mark.e2e

MAIL_FROM = "registre-pdses@ght-e2e.example.org"
DIRECTOR = "direction@chsf.example.org"
MONDOR_REFERENT = "pdses@mondor.example.org"
MONDOR_COORDINATOR = "coordination-pdses@mondor.example.org"
MONDOR_OPTION = "Hôpital Henri-Mondor (AP-HP) (94)"
DECLARER_NAME = "Urgences CHSF (démo)"  # demo-declarant's display name
NUMBER = re.compile(r"F-\d{4}-\d{6}")
MAIL_DELAY = 15.0  # seconds

DECLARE = "Déclarer le fonctionnement non conforme"
PAGE = "Fonctionnement non conforme"
DECLARED = "Signalements déclarés par votre établissement"
CONCERNING = "Signalements concernant votre établissement"
ANSWERED = "L'établissement concerné a répondu à ce signalement."


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpRecorder]:
    with SmtpRecorder() as recorder:
        yield recorder


@pytest.fixture(scope="module")
def mail_server(
    browser: object, smtp: SmtpRecorder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server with the demo data whose mails go to ``smtp``; its port is chosen first so
    that the links in the mails (``REGISTRE_BASE_URL``) point at it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "REGISTRE_SMTP_HOST": smtp.host,
        "REGISTRE_SMTP_PORT": str(smtp.port),
        "REGISTRE_SMTP_TIMEOUT": "5",
        "REGISTRE_MAIL_FROM": MAIL_FROM,
        "REGISTRE_BASE_URL": url,
    }
    server = start_server(tmp_path_factory.mktemp("non-conforme"), env, port=port)
    yield server
    stop_server(server)


def wait_for_mail(
    smtp: SmtpRecorder, recipient: str, matches: Callable[[ReceivedMail], bool], since: float
) -> tuple[ReceivedMail, float]:
    """The first mail to ``recipient`` that ``matches`` and how long after ``since`` it came."""
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


def row_button(page: Page, section: str, label: str) -> Locator:
    """A report's button in the list under the heading ``section`` (a button with a tooltip
    has a hidden twin: only the visible one)."""
    return (
        live(page)
        .locator(
            f'xpath=//*[self::h2 or self::h3][contains(., "{section}")]'
            f"/following::button[normalize-space(.)='{label}']"
        )
        .filter(visible=True)
    )


def go_to_reports(person: Person) -> None:
    person.open_menu("PDSES", PAGE)
    page = person.page
    expect(page.get_by_role("heading", name=PAGE, exact=True)).to_be_visible()
    expect(live(page).get_by_role("heading", name=DECLARED)).to_be_visible()
    expect(live(page).get_by_role("heading", name=CONCERNING)).to_be_visible()
    settle(page)


def log_in(person: Person, username: str) -> None:
    person.log_in(username, DEMO_PASSWORD)
    expect(person.page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    settle(person.page)


def log_out(person: Person) -> None:
    person.log_out()
    expect_logged_out(person.page)
    settle(person.page)


def open_history(page: Page) -> None:
    page.get_by_text("Historique du signalement", exact=True).click()
    settle(page)


def test_a_report_is_declared_then_answered_blind(
    mail_server: Server, smtp: SmtpRecorder, page: Page
) -> None:
    description = "ligne d'astreinte sonnant dans le vide, okapi turquoise"
    impact = "transfert retarde de deux heures, axolotl safran"
    analysis = "renvoi d'appel mal parametre, tamarin indigo"
    measures = "verification du renvoi a chaque garde, narval corail"
    timings: dict[str, float] = {}
    started = time.perf_counter()

    # The Déclarant of the CHSF opens « Fonctionnement non conforme » from the menu.
    page.goto(mail_server.url)
    expect_login_form(page)
    settle(page)
    person = Person(page)
    log_in(person, "demo-declarant")
    go_to_reports(person)
    declaration = form(page, DECLARE)
    expect(declaration.get_by_label("Etablissement déclarant")).to_have_value(
        "Centre hospitalier Sud Francilien (CHSF)"
    )

    # Sent empty: the messages next to the fields, nothing declared.
    person.click_button(DECLARE, scope=live(page))
    expect(live(page).get_by_text("« Description » est obligatoire.")).to_be_visible()
    expect(live(page).get_by_text("« Etablissement concerné » est obligatoire.")).to_be_visible()

    # Every field, then « Déclarer le fonctionnement non conforme ».
    declaration = form(page, DECLARE)
    person.choose("Spécialité PDSES *", "Neurochirurgie", scope=declaration)
    person.choose("Etablissement concerné *", MONDOR_OPTION, scope=declaration)
    person.choose("Type de dysfonctionnement *", "Ligne injoignable", scope=declaration)
    person.type("Description *", description, scope=declaration)
    person.tick(
        "Ce dysfonctionnement a eu un impact sur la prise en charge du patient",
        scope=form(page, DECLARE),
    )
    person.type("Description de l'impact", impact, scope=form(page, DECLARE))
    full_screenshot(page, "non-conforme-formulaire")
    declared_at = time.monotonic()
    person.click_button(DECLARE, scope=live(page))
    flash = main(page).get_by_test_id("stAlert").filter(has_text="déclaré").first
    expect(flash).to_be_visible()
    found = NUMBER.search(flash.inner_text())
    assert found is not None, flash.inner_text()
    number = found.group(0)
    expect(flash).to_contain_text(
        f"Fonctionnement non conforme {number} déclaré : l'établissement concerné est informé "
        "par mail."
    )
    # listed with 🔔 and the next form is empty, without the previous messages
    expect(row_button(page, DECLARED, f"🔔 {number}")).to_be_visible()
    expect(form(page, DECLARE).get_by_label("Description *", exact=True)).to_have_value("")
    expect(live(page).get_by_text("« Description » est obligatoire.")).to_have_count(0)
    full_screenshot(page, "non-conforme-liste")
    timings["déclaration"] = time.perf_counter() - started

    # The mails: Henri-Mondor's référent and coordinator, without the impact nor the author;
    # the CHSF's director, with the impact.
    delays = []
    for address in (MONDOR_REFERENT, MONDOR_COORDINATOR):
        mail, delay = wait_for_mail(smtp, address, lambda m: number in m.subject, declared_at)
        delays.append(delay)
        assert "réponse attendue" in mail.subject
        assert f"{mail_server.url}/signalement?numero={number}" in mail.text
        assert "Neurochirurgie" in mail.text and "Ligne injoignable" in mail.text
        for secret in (impact, DECLARER_NAME):
            assert secret not in mail.text and secret not in mail.html, (address, secret)
    director, delay = wait_for_mail(
        smtp, DIRECTOR, lambda m: number in m.subject and "impact" in m.subject, declared_at
    )
    delays.append(delay)
    assert impact in director.text
    recipients = sorted(r for m in smtp.messages if number in m.subject for r in m.rcpt_tos)
    assert recipients == sorted([DIRECTOR, MONDOR_COORDINATOR, MONDOR_REFERENT]), recipients

    # Henri-Mondor's référent opens it from « Signalements concernant votre établissement ».
    mark = time.perf_counter()
    log_out(person)
    log_in(person, "demo-referent")
    go_to_reports(person)
    bell = row_button(page, CONCERNING, f"🔔 {number}")
    expect(bell).to_be_visible()
    person.click_button(f"🔔 {number}", scope=live(page))
    expect(
        page.get_by_role("heading", name=f"🔔 Fonctionnement non conforme {number}")
    ).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/signalement\?numero={number}"))
    expect(main(page)).to_contain_text(f"Description : {description}")
    expect(main(page)).to_contain_text(
        "Etablissement déclarant : Centre hospitalier Sud Francilien"
    )
    open_history(page)
    expect_absent(page, [impact, DECLARER_NAME], "signalement côté établissement concerné")
    full_screenshot(page, "non-conforme-concerne")

    answer = form(page, "Enregistrer la réponse")
    person.type("Analyse de l'établissement *", analysis, scope=answer)
    person.type("Mesures correctives", measures, scope=answer)
    person.click_button("Enregistrer la réponse", scope=live(page))
    expect(
        main(page).get_by_text(f"Réponse enregistrée pour le signalement {number}.")
    ).to_be_visible()
    expect(
        page.get_by_role("heading", name=f"✅ Fonctionnement non conforme {number}")
    ).to_be_visible()
    expect(main(page)).to_contain_text(f"Analyse de l'établissement : {analysis}")
    expect(main(page)).to_contain_text(f"Mesures correctives : {measures}")
    expect(form(page, "Enregistrer la réponse")).to_have_count(0)
    expect_absent(page, [impact, DECLARER_NAME], "signalement répondu côté concerné")
    full_screenshot(page, "non-conforme-repondu")
    go_to_reports(person)
    expect(row_button(page, CONCERNING, f"✅ {number}")).to_be_visible()
    expect(row_button(page, CONCERNING, f"🔔 {number}")).to_have_count(0)
    timings["réponse"] = time.perf_counter() - mark

    # The Déclarant sees ✅, that Henri-Mondor answered, never what.
    mark = time.perf_counter()
    log_out(person)
    log_in(person, "demo-declarant")
    go_to_reports(person)
    done = row_button(page, DECLARED, f"✅ {number}")
    expect(done).to_be_visible()
    person.click_button(f"✅ {number}", scope=live(page))
    expect(
        page.get_by_role("heading", name=f"✅ Fonctionnement non conforme {number}")
    ).to_be_visible()
    expect(main(page).get_by_text(ANSWERED)).to_be_visible()
    expect(main(page)).to_contain_text(f"Description de l'impact : {impact}")
    open_history(page)
    expect(main(page)).to_contain_text("Réponse de l'établissement concerné enregistrée")
    expect_absent(
        page,
        [analysis, measures, "Référent PDSES Henri-Mondor (démo)"],
        "signalement côté déclarant",
    )
    full_screenshot(page, "non-conforme-declarant")
    log_out(person)
    timings["lecture côté déclarant"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - started

    print(
        "mails : "
        + ", ".join(f"{d:.1f} s" for d in delays)
        + " après le clic « Déclarer » (référent, coordinateur, directeur)"
    )
    print("durées : " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
