"""AppTest of « Administration — Documents »: only the Administrateur reaches it; the shipped
guide and the uploaded documents listed, a document's title and order edited, its removal
behind a confirmation. (AppTest cannot upload a file: the documents are added with
``registre.documents.upload``.)"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registre import documents
from registre.models import AuditEntry

from . import apptest_helpers
from .apptest_helpers import (
    ADMIN_DOCUMENTS,
    DENIED,
    button,
    errors,
    logged_in,
    markdown_text,
    open_page,
    page_text,
    run_directly,
    widget,
)

app_env = apptest_helpers.app_env  # the fixture
fresh_server_env = apptest_helpers.fresh_server_env  # the fixture

OTHER_ROLES = ["declarant-req", "referent-ref", "coordinateur-req", "directeur-req", "ars"]
GUIDE = "Guide d'utilisation du Registre des refus PDSES"
PDF = b"%PDF-1.4 un formulaire de test\n%%EOF\n"


def _upload(world, title: str, filename: str = "x.pdf", order: int = 0) -> int:
    return documents.upload(world.db, world.actor("admin"), title, filename, PDF, order)


def _uploaded(world) -> list[tuple[str, int]]:
    return [
        (d.title, d.sort_order)
        for d in documents.list_documents(world.db, world.actor("admin"))
        if not d.builtin
    ]


def _expander(at, title: str):
    found = [e for e in at.expander if e.label.startswith(f"📄 {title} — ")]
    assert len(found) == 1, [e.label for e in at.expander]
    return found[0]


def _successes(at) -> list[str]:
    return [s.value for s in at.success]


# --- who reaches the page -------------------------------------------------------------------


@pytest.mark.parametrize("username", OTHER_ROLES)
def test_other_roles_are_refused_when_the_page_runs_alone(fresh_server_env, username):
    _upload(fresh_server_env, "Fiche réflexe confidentielle")
    at = run_directly(ADMIN_DOCUMENTS, username)
    assert not at.exception
    assert errors(at) == [DENIED]
    assert "Documents" not in [t.value for t in at.title]
    assert not at.expander and not at.main.text_input and not at.main.button
    text = page_text(at)
    for secret in ("Fiche réflexe confidentielle", GUIDE, "Ajouter un document"):
        assert secret not in text


@pytest.mark.parametrize("username", OTHER_ROLES)
def test_the_menu_of_other_roles_lacks_the_page(app_env, username):
    at = logged_in(username).run()
    assert not at.exception
    with pytest.raises(ValueError):
        at.switch_page(ADMIN_DOCUMENTS)


# --- the list -------------------------------------------------------------------------------


def test_the_shipped_guide_and_the_uploaded_documents_are_listed(app_env):
    _upload(app_env, "Fiche de liaison", "fiche.pdf", order=5)
    _upload(app_env, "Annuaire des gardes", "annuaire.pdf", order=1)
    at = open_page(ADMIN_DOCUMENTS, "admin")
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Documents"]
    text = markdown_text(at)
    assert f"📘 **{GUIDE}** — guide-utilisateur.html" in text
    assert "(fourni avec l'application)" in text
    # the shipped guide can be neither edited nor removed: no expander of its own
    labels = [e.label for e in at.expander]
    assert labels == [
        "📄 Annuaire des gardes — annuaire.pdf, 1 ko",
        "📄 Fiche de liaison — fiche.pdf, 1 ko",
    ]
    assert "Ajouter un document" in [s.value for s in at.subheader]


def test_edit_the_title_and_the_order(app_env):
    world = app_env
    doc = _upload(world, "Fiche de liaison", order=5)
    _upload(world, "Annuaire des gardes", order=1)
    at = open_page(ADMIN_DOCUMENTS, "admin")
    form = _expander(at, "Fiche de liaison")
    assert widget(form.text_input, "Titre").value == "Fiche de liaison"
    assert widget(form.number_input, "Ordre").value == 5
    widget(form.text_input, "Titre").input("  Fiche de liaison SAMU ")
    widget(form.number_input, "Ordre").set_value(0)
    at = button(form, "Enregistrer").click().run()
    assert not at.exception, at.exception
    assert _successes(at) == ["Document « Fiche de liaison SAMU » enregistré."]
    assert _uploaded(world) == [("Fiche de liaison SAMU", 0), ("Annuaire des gardes", 1)]
    assert [e.label for e in at.expander] == [
        "📄 Fiche de liaison SAMU — x.pdf, 1 ko",
        "📄 Annuaire des gardes — x.pdf, 1 ko",
    ]
    with world.db.read() as session:
        entry = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "document_updated", AuditEntry.entity_id == doc
            )
        ).one()
        assert entry.actor_id == world.actor("admin").id


def test_an_empty_title_is_refused(app_env):
    world = app_env
    _upload(world, "Fiche de liaison", order=5)
    at = open_page(ADMIN_DOCUMENTS, "admin")
    form = _expander(at, "Fiche de liaison")
    widget(form.text_input, "Titre").input("   ")
    at = button(form, "Enregistrer").click().run()
    assert not at.exception
    assert errors(at) == ["Le titre est obligatoire."]
    assert not at.success
    assert _uploaded(world) == [("Fiche de liaison", 5)]


def test_removal_needs_the_confirmation(app_env):
    world = app_env
    doc = _upload(world, "Fiche de liaison")
    kept = _upload(world, "Annuaire des gardes")
    at = open_page(ADMIN_DOCUMENTS, "admin")
    remove = at.button(key=f"document-{doc}-retirer")
    assert remove.label == "Retirer le document"
    assert remove.disabled
    assert at.checkbox(key=f"document-{doc}-confirmer").label == (
        "Je confirme le retrait de ce document"
    )
    at.checkbox(key=f"document-{doc}-confirmer").check()
    at = at.run()
    assert not at.button(key=f"document-{doc}-retirer").disabled
    assert at.button(key=f"document-{kept}-retirer").disabled  # one confirmation, one document
    at = at.button(key=f"document-{doc}-retirer").click().run()
    assert not at.exception, at.exception
    assert _successes(at) == ["Document « Fiche de liaison » retiré."]
    assert _uploaded(world) == [("Annuaire des gardes", 0)]
    assert [e.label for e in at.expander] == ["📄 Annuaire des gardes — x.pdf, 1 ko"]
    assert GUIDE in markdown_text(at)  # the shipped guide stays
    with world.db.read() as session:
        entry = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "document_removed", AuditEntry.entity_id == doc
            )
        ).one()
        assert entry.details["title"] == "Fiche de liaison"


def test_adding_without_a_file_says_so(app_env):
    at = open_page(ADMIN_DOCUMENTS, "admin")
    widget(at.text_input, "Titre").input("Sans fichier")
    at = button(at, "Ajouter le document").click().run()
    assert not at.exception
    assert errors(at) == ["Choisissez un fichier."]
    assert _uploaded(app_env) == []
