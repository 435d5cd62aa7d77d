"""Documents offered on « Accueil » (issue 5): the guide shipped with the application and the
files uploaded by the Administrateur (PDF, DOCX, XLSX, ODT, a size limit, a title and an
order), stored in the database. Every logged-in account reads them; only the administrator
uploads, replaces or removes; every change audited.

The files are built here: a PDF header, real ZIP containers for DOCX, XLSX and ODT.
"""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from sqlalchemy import func, select

from registre import documents
from registre.errors import AuthenticationError, NotFound, PermissionDenied, ValidationError
from registre.models import Account, AuditEntry, StoredDocument

from .factories import ACTOR_NAMES, NON_ADMINS

GUIDE = "app:guide-utilisateur.html"
REFUSED_TYPE = (
    "Type de fichier refusé : seuls PDF, Word (DOCX), Excel (XLSX), OpenDocument (ODT) sont "
    "acceptés."
)

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


DOCX = _zip(
    {
        "[Content_Types].xml": b"<?xml version='1.0'?><Types/>",
        "_rels/.rels": b"<?xml version='1.0'?><Relationships/>",
        "word/document.xml": b"<?xml version='1.0'?><w:document/>",
    }
)
XLSX = _zip(
    {
        "[Content_Types].xml": b"<?xml version='1.0'?><Types/>",
        "xl/workbook.xml": b"<?xml version='1.0'?><workbook/>",
        "xl/worksheets/sheet1.xml": b"<?xml version='1.0'?><worksheet/>",
    }
)
ODT = _zip(
    {
        "mimetype": b"application/vnd.oasis.opendocument.text",
        "content.xml": b"<?xml version='1.0'?><office:document-content/>",
        "META-INF/manifest.xml": b"<?xml version='1.0'?><manifest/>",
    }
)
ODS = _zip(
    {
        "mimetype": b"application/vnd.oasis.opendocument.spreadsheet",
        "content.xml": b"<?xml version='1.0'?><office:document-content/>",
    }
)


def admin(world):
    return world.actor("admin")


def uploaded(world) -> list[documents.Document]:
    return [d for d in documents.list_documents(world.db, admin(world)) if not d.builtin]


def audit(world, action: str) -> list[AuditEntry]:
    with world.db.read() as s:
        return list(
            s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        )


def stored_count(world) -> int:
    with world.db.read() as s:
        return s.scalar(select(func.count()).select_from(StoredDocument)) or 0


def audit_count(world) -> int:
    with world.db.read() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry)) or 0


# --- reading --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ACTOR_NAMES)
def test_every_account_gets_the_shipped_guide(world, name):
    actor = world.actor(name)
    listed = documents.list_documents(world.db, actor)
    guide = listed[0]
    assert (guide.key, guide.builtin, guide.mime) == (GUIDE, True, "text/html")
    assert guide.title == "Guide d'utilisation du Registre des refus PDSES"
    content = documents.read_document(world.db, actor, GUIDE)
    assert content == (documents.DOCS / "guide-utilisateur.html").read_bytes()
    assert len(content) == guide.size > 0


@pytest.mark.parametrize("key", ["app:../../pyproject.toml", "app:autre.html", "abc", "999999", ""])
def test_an_unknown_document_is_not_found(world, key):
    with pytest.raises(NotFound):
        documents.read_document(world.db, world.actor("declarant_req"), key)


def test_an_inactive_account_reads_nothing(world):
    doc = documents.upload(world.db, admin(world), "Fiche", "fiche.pdf", PDF)
    with world.db.transaction() as s:
        s.get(Account, world.actor("declarant_req").id).active = False
    actor = world.actor("declarant_req")
    with pytest.raises(AuthenticationError):
        documents.list_documents(world.db, actor)
    with pytest.raises(AuthenticationError):
        documents.read_document(world.db, actor, GUIDE)
    with pytest.raises(AuthenticationError):
        documents.read_document(world.db, actor, str(doc))


# --- upload ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "content", "mime"),
    [
        ("fiche-reflexe.pdf", PDF, "application/pdf"),
        (
            "procedure.docx",
            DOCX,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            "annuaire.XLSX",
            XLSX,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("charte.odt", ODT, "application/vnd.oasis.opendocument.text"),
    ],
)
def test_upload_each_accepted_type(world, filename, content, mime):
    doc_id = documents.upload(world.db, admin(world), "  Fiche   réflexe ", filename, content, 3)
    [doc] = uploaded(world)
    assert (doc.key, doc.title, doc.filename, doc.mime, doc.size, doc.sort_order) == (
        str(doc_id),
        "Fiche réflexe",
        filename,
        mime,
        len(content),
        3,
    )
    # any account reads it, byte for byte
    assert documents.read_document(world.db, world.actor("declarant_ref"), doc.key) == content
    with world.db.read() as s:
        row = s.get(StoredDocument, doc_id)
        assert row.sha256 == hashlib.sha256(content).hexdigest()
        assert row.updated_by_id == admin(world).id
    [entry] = audit(world, "document_added")
    assert entry.actor_id == admin(world).id and entry.entity_id == doc_id
    assert entry.details == {
        "title": "Fiche réflexe",
        "filename": filename,
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("installeur.exe", PDF, REFUSED_TYPE),
        ("page.html", b"<html><body>guide</body></html>", REFUSED_TYPE),
        ("macro.docm", DOCX, REFUSED_TYPE),
        ("sans-extension", PDF, REFUSED_TYPE),
        ("rapport.pdf.exe", PDF, REFUSED_TYPE),
        ("rapport.pdf", DOCX, "Le contenu du fichier ne correspond pas à un document PDF."),
        (
            "rapport.docx",
            b"ceci n'est pas une archive",
            "Le contenu du fichier ne correspond pas à un document Word (DOCX).",
        ),
        (
            "tableau.xlsx",
            DOCX,
            "Le contenu du fichier ne correspond pas à un document Excel (XLSX).",
        ),
        (
            "tableau.docx",
            XLSX,
            "Le contenu du fichier ne correspond pas à un document Word (DOCX).",
        ),
        (
            "classeur.odt",
            ODS,
            "Le contenu du fichier ne correspond pas à un document OpenDocument (ODT).",
        ),
        (
            "texte.odt",
            PDF,
            "Le contenu du fichier ne correspond pas à un document OpenDocument (ODT).",
        ),
        ("vide.pdf", b"", "Le fichier est vide."),
        ("vide.docx", b"", "Le fichier est vide."),
    ],
)
def test_a_file_of_another_type_or_content_is_refused(world, filename, content, message):
    with pytest.raises(ValidationError) as exc:
        documents.upload(world.db, admin(world), "Titre", filename, content)
    assert exc.value.by_field() == {"file": [message]}
    assert (stored_count(world), audit(world, "document_added")) == (0, [])


def test_the_size_limit(world, monkeypatch):
    monkeypatch.setattr(documents, "MAX_BYTES", len(PDF))
    documents.upload(world.db, admin(world), "Juste à la limite", "limite.pdf", PDF)
    with pytest.raises(ValidationError) as exc:
        documents.upload(world.db, admin(world), "Trop gros", "gros.pdf", PDF + b"\n")
    [message] = exc.value.by_field()["file"]
    assert message.startswith("Le fichier dépasse la taille maximale")
    assert [d.title for d in uploaded(world)] == ["Juste à la limite"]


def test_the_real_limit_is_ten_megabytes():
    assert documents.MAX_BYTES == 10 * 1024 * 1024
    _name, _mime, errors = documents.check_file("gros.pdf", PDF + b"0" * documents.MAX_BYTES)
    assert [e.message for e in errors] == ["Le fichier dépasse la taille maximale de 10 Mo."]


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("", "Le titre est obligatoire."),
        ("  \n ", "Le titre est obligatoire."),
        ("T" * 201, "Le titre ne doit pas dépasser 200 caractères."),
    ],
)
def test_a_title_is_required(world, title, message):
    with pytest.raises(ValidationError) as exc:
        documents.upload(world.db, admin(world), title, "fiche.pdf", PDF)
    assert exc.value.by_field() == {"title": [message]}
    assert stored_count(world) == 0


def test_a_bad_title_and_a_bad_file_are_listed_together(world):
    with pytest.raises(ValidationError) as exc:
        documents.upload(world.db, admin(world), "", "virus.exe", b"MZ")
    assert set(exc.value.by_field()) == {"title", "file"}


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/Guide PDSES.pdf", "Guide PDSES.pdf"),
        ("C:\\Users\\moi\\Documents\\fiche réflexe.pdf", "fiche réflexe.pdf"),
        ("/var/tmp/annexe.pdf", "annexe.pdf"),
        ("<script>alert(1)</script>.pdf", "script_.pdf"),
        ('fiche"; rm -rf.pdf', "fiche_ rm -rf.pdf"),
    ],
)
def test_the_file_name_loses_its_path_and_odd_characters(world, given, kept):
    documents.upload(world.db, admin(world), "Fiche", given, PDF)
    [doc] = uploaded(world)
    assert doc.filename == kept
    assert "/" not in doc.filename and "\\" not in doc.filename


def test_documents_follow_their_order_then_their_title(world):
    me = admin(world)
    documents.upload(world.db, me, "Charte", "charte.odt", ODT, sort_order=2)
    documents.upload(world.db, me, "Procédure", "procedure.docx", DOCX, sort_order=1)
    documents.upload(world.db, me, "Annuaire", "annuaire.xlsx", XLSX, sort_order=1)
    listed = documents.list_documents(world.db, world.actor("coordinateur_ref"))
    assert [d.title for d in listed] == [
        "Guide d'utilisation du Registre des refus PDSES",
        "Annuaire",
        "Procédure",
        "Charte",
    ]


# --- update, replace, remove ----------------------------------------------------------------


def test_change_the_title_and_the_order(world):
    me = admin(world)
    first = documents.upload(world.db, me, "Annuaire", "annuaire.xlsx", XLSX, sort_order=1)
    documents.upload(world.db, me, "Charte", "charte.odt", ODT, sort_order=2)
    documents.update(world.db, me, first, "  Annuaire des gardes ", 3)
    assert [(d.title, d.sort_order) for d in uploaded(world)] == [
        ("Charte", 2),
        ("Annuaire des gardes", 3),
    ]
    assert documents.read_document(world.db, me, str(first)) == XLSX
    [entry] = audit(world, "document_updated")
    assert entry.entity_id == first
    assert entry.details == {
        "changes": {"title": ["Annuaire", "Annuaire des gardes"], "sort_order": [1, 3]}
    }
    documents.update(world.db, me, first, "Annuaire des gardes", 3)  # nothing changed
    assert len(audit(world, "document_updated")) == 1
    assert audit(world, "document_replaced") == []


def test_replace_the_file(world, clock):
    me = admin(world)
    doc_id = documents.upload(world.db, me, "Procédure", "procedure.pdf", PDF)
    clock.advance(minutes=10)
    documents.update(
        world.db, me, doc_id, "Procédure", 0, filename="C:\\v2\\procedure.docx", content=DOCX
    )
    [doc] = uploaded(world)
    assert (doc.filename, doc.size) == ("procedure.docx", len(DOCX))
    assert doc.mime == documents.TYPES[".docx"][0]
    assert documents.read_document(world.db, world.actor("ars"), doc.key) == DOCX
    with world.db.read() as s:
        row = s.get(StoredDocument, doc_id)
        assert row.sha256 == hashlib.sha256(DOCX).hexdigest()
        assert row.updated_at == clock.current and row.created_at < row.updated_at
    [entry] = audit(world, "document_replaced")
    assert entry.details == {
        "filename": "procedure.docx",
        "size": len(DOCX),
        "sha256": hashlib.sha256(DOCX).hexdigest(),
    }


def test_replace_keeping_the_name_checks_the_new_content(world):
    me = admin(world)
    doc_id = documents.upload(world.db, me, "Procédure", "procedure.pdf", PDF)
    with pytest.raises(ValidationError) as exc:
        documents.update(world.db, me, doc_id, "Nouveau titre", 4, content=DOCX)
    assert exc.value.by_field() == {
        "file": ["Le contenu du fichier ne correspond pas à un document PDF."]
    }
    [doc] = uploaded(world)
    assert (doc.title, doc.sort_order, doc.filename) == ("Procédure", 0, "procedure.pdf")
    assert documents.read_document(world.db, me, doc.key) == PDF
    new_pdf = PDF.replace(b"Catalog", b"Catalog /Version /1.7")
    documents.update(world.db, me, doc_id, "Procédure", 0, content=new_pdf)
    assert documents.read_document(world.db, me, str(doc_id)) == new_pdf


def test_remove_a_document_leaves_its_fingerprint_in_the_audit(world):
    me = admin(world)
    doc_id = documents.upload(world.db, me, "Charte", "charte.odt", ODT)
    documents.remove(world.db, me, doc_id)
    assert uploaded(world) == [] and stored_count(world) == 0
    with pytest.raises(NotFound):
        documents.read_document(world.db, me, str(doc_id))
    [entry] = audit(world, "document_removed")
    assert (entry.actor_id, entry.entity_id) == (me.id, doc_id)
    assert entry.details == {
        "title": "Charte",
        "filename": "charte.odt",
        "size": len(ODT),
        "sha256": hashlib.sha256(ODT).hexdigest(),
    }
    # the shipped guide is still there
    assert [d.key for d in documents.list_documents(world.db, me)] == [GUIDE]
    with pytest.raises(NotFound):
        documents.remove(world.db, me, doc_id)
    with pytest.raises(NotFound):
        documents.update(world.db, me, doc_id, "Charte", 0)


# --- only the Administrateur writes -------------------------------------------------------

WRITES = {
    "upload": lambda w, a, doc: documents.upload(w.db, a, "Pirate", "pirate.pdf", PDF),
    "update": lambda w, a, doc: documents.update(w.db, a, doc, "Pirate", 9),
    "replace": lambda w, a, doc: documents.update(
        w.db, a, doc, "Fiche", 0, filename="pirate.pdf", content=PDF + b"%"
    ),
    "remove": lambda w, a, doc: documents.remove(w.db, a, doc),
}


@pytest.mark.parametrize("name", NON_ADMINS)
def test_only_the_administrator_writes_documents(world, name):
    doc_id = documents.upload(world.db, admin(world), "Fiche", "fiche.pdf", PDF)
    before = (uploaded(world), audit_count(world))
    answers = {}
    for key, write in WRITES.items():
        try:
            write(world, world.actor(name), doc_id)
        except PermissionDenied as exc:
            answers[key] = exc.message
        else:
            answers[key] = "allowed"
    assert answers == dict.fromkeys(WRITES, "Seul l'administrateur a accès à l'administration.")
    assert (uploaded(world), audit_count(world)) == before
    assert documents.read_document(world.db, world.actor(name), str(doc_id)) == PDF
