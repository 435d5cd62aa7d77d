"""Documents offered for download on « Accueil » (user guides, forms).

Two sources: the guide shipped with the application (``registre/docs``, versioned with the
code, always offered) and the files uploaded by the administrator (PDF, DOCX, XLSX, ODT,
at most ``MAX_BYTES``), stored in the database so that its backup holds them. Every
logged-in account reads them; only the Administrateur uploads, replaces or removes."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from registre import audit
from registre.actors import Actor
from registre.administration import admin_write
from registre.auth import fresh_actor
from registre.db import Database
from registre.errors import FieldError, NotFound, ValidationError
from registre.models import StoredDocument
from registre.timeutil import now
from registre.validation import check_line, check_sort_order

DOCS = Path(__file__).resolve().parent / "docs"
MAX_BYTES = 10 * 1024 * 1024
BUILTIN_PREFIX = "app:"

MANIFEST: list[tuple[str, str, str]] = [
    ("guide-utilisateur.html", "Guide d'utilisation du Registre des refus PDSES", "text/html"),
]

# Accepted types: the extension and what the content must be.
TYPES: dict[str, tuple[str, str]] = {
    ".pdf": ("application/pdf", "PDF"),
    ".docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "Word (DOCX)",
    ),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel (XLSX)"),
    ".odt": ("application/vnd.oasis.opendocument.text", "OpenDocument (ODT)"),
}
_ZIP_MEMBER = {".docx": "word/document.xml", ".xlsx": "xl/workbook.xml"}


@dataclass(frozen=True)
class Document:
    key: str  # ``app:<file>`` for a shipped one, the id for an uploaded one
    title: str
    filename: str
    mime: str
    size: int
    sort_order: int
    builtin: bool


def _builtin() -> list[Document]:
    return [
        Document(BUILTIN_PREFIX + name, title, name, mime, (DOCS / name).stat().st_size, 0, True)
        for name, title, mime in MANIFEST
        if (DOCS / name).is_file()
    ]


def list_documents(db: Database, actor: Actor) -> list[Document]:
    """The shipped guide first, then the uploaded files in their order."""
    with db.read() as session:
        fresh_actor(session, actor)  # any active account
        uploaded = [
            Document(str(d.id), d.title, d.filename, d.mime, d.size, d.sort_order, False)
            for d in session.execute(
                select(
                    StoredDocument.id,
                    StoredDocument.title,
                    StoredDocument.filename,
                    StoredDocument.mime,
                    StoredDocument.size,
                    StoredDocument.sort_order,
                ).order_by(StoredDocument.sort_order, StoredDocument.title)
            )
        ]
    return _builtin() + uploaded


def read_document(db: Database, actor: Actor, key: str) -> bytes:
    if key.startswith(BUILTIN_PREFIX):
        name = key.removeprefix(BUILTIN_PREFIX)
        if name not in {n for n, _t, _m in MANIFEST}:
            raise NotFound("Document introuvable.")
        with db.read() as session:
            fresh_actor(session, actor)
        return (DOCS / name).read_bytes()
    with db.read() as session:
        fresh_actor(session, actor)
        content = (
            session.scalar(select(StoredDocument.content).where(StoredDocument.id == int(key)))
            if key.isdigit()
            else None
        )
        if content is None:
            raise NotFound("Document introuvable.")
        return bytes(content)


# --- administration -----------------------------------------------------------------------


def _safe_filename(name: str) -> str:
    base = Path(name.replace("\\", "/")).name
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .") or "document"
    return base[:200]


def check_file(filename: str, content: bytes) -> tuple[str, str, list[FieldError]]:
    """The file's clean name and MIME type, or why it is refused."""
    errors: list[FieldError] = []
    name = _safe_filename(filename)
    extension = Path(name).suffix.lower()
    if extension not in TYPES:
        kinds = ", ".join(label for _mime, label in TYPES.values())
        errors.append(FieldError("file", f"Type de fichier refusé : seuls {kinds} sont acceptés."))
        return name, "", errors
    if not content:
        errors.append(FieldError("file", "Le fichier est vide."))
    elif len(content) > MAX_BYTES:
        errors.append(
            FieldError(
                "file", f"Le fichier dépasse la taille maximale de {MAX_BYTES // (1024 * 1024)} Mo."
            )
        )
    elif not _content_matches(extension, content):
        errors.append(
            FieldError(
                "file",
                f"Le contenu du fichier ne correspond pas à un document {TYPES[extension][1]}.",
            )
        )
    return name, TYPES[extension][0], errors


def _content_matches(extension: str, content: bytes) -> bool:
    if extension == ".pdf":
        return content.startswith(b"%PDF-")
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
            if extension == ".odt":
                return (
                    "mimetype" in names
                    and archive.read("mimetype").strip()
                    == b"application/vnd.oasis.opendocument.text"
                )
            return _ZIP_MEMBER[extension] in names
    except (zipfile.BadZipFile, KeyError, OSError):
        return False


def _title(errors: list[FieldError], title: str) -> str:
    return check_line(errors, "title", "Le titre", title)


def upload(
    db: Database, actor: Actor, title: str, filename: str, content: bytes, sort_order: int = 0
) -> int:
    with admin_write(db, actor) as (session, actor):
        errors: list[FieldError] = []
        clean_title = _title(errors, title)
        check_sort_order(errors, sort_order)
        name, mime, file_errors = check_file(filename, content)
        errors.extend(file_errors)
        if errors:
            raise ValidationError(errors)
        moment = now()
        doc = StoredDocument(
            title=clean_title,
            filename=name,
            mime=mime,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            sort_order=int(sort_order),
            content=content,
            created_at=moment,
            updated_at=moment,
            updated_by_id=actor.id,
        )
        session.add(doc)
        session.flush()
        audit.record(
            session,
            actor_id=actor.id,
            action="document_added",
            entity="documents",
            entity_id=doc.id,
            title=clean_title,
            filename=name,
            size=len(content),
            sha256=doc.sha256,
        )
        return doc.id


def update(
    db: Database,
    actor: Actor,
    document_id: int,
    title: str,
    sort_order: int,
    *,
    filename: str | None = None,
    content: bytes | None = None,
) -> None:
    """New title and order; with a file, its content is replaced."""
    with admin_write(db, actor) as (session, actor):
        doc = session.get(StoredDocument, document_id, with_for_update=True)
        if doc is None:
            raise NotFound("Document introuvable.")
        errors: list[FieldError] = []
        clean_title = _title(errors, title)
        check_sort_order(errors, sort_order)
        name = mime = ""
        if content is not None:
            name, mime, file_errors = check_file(filename or doc.filename, content)
            errors.extend(file_errors)
        if errors:
            raise ValidationError(errors)
        details: dict[str, Any] = {}
        if clean_title != doc.title or int(sort_order) != doc.sort_order:
            details["changes"] = audit.diff(
                {"title": doc.title, "sort_order": doc.sort_order},
                {"title": clean_title, "sort_order": int(sort_order)},
            )
        doc.title = clean_title
        doc.sort_order = int(sort_order)
        if content is not None:
            doc.filename, doc.mime, doc.size = name, mime, len(content)
            doc.sha256 = hashlib.sha256(content).hexdigest()
            doc.content = content
            details.update(filename=name, size=len(content), sha256=doc.sha256)
        if details:
            doc.updated_at = now()
            doc.updated_by_id = actor.id
            audit.record(
                session,
                actor_id=actor.id,
                action="document_replaced" if content is not None else "document_updated",
                entity="documents",
                entity_id=doc.id,
                **details,
            )


def remove(db: Database, actor: Actor, document_id: int) -> None:
    """No dossier refers to a document: it is deleted, and the audit entry keeps its title,
    name, size and fingerprint."""
    with admin_write(db, actor) as (session, actor):
        doc = session.get(StoredDocument, document_id, with_for_update=True)
        if doc is None:
            raise NotFound("Document introuvable.")
        audit.record(
            session,
            actor_id=actor.id,
            action="document_removed",
            entity="documents",
            entity_id=doc.id,
            title=doc.title,
            filename=doc.filename,
            size=doc.size,
            sha256=doc.sha256,
        )
        session.delete(doc)
