"""Documents offered for download on « Accueil » (user guides, forms).

They ship with the application in ``registre/docs``; the administration pages will add
uploaded ones. ``MANIFEST`` gives each file its title and order."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parent / "docs"

MANIFEST: list[tuple[str, str, str]] = [
    ("guide-utilisateur.html", "Guide d'utilisation du Registre des refus PDSES", "text/html"),
]


@dataclass(frozen=True)
class Document:
    title: str
    filename: str
    mime: str
    size: int

    def read(self) -> bytes:
        return (DOCS / self.filename).read_bytes()


def list_documents() -> list[Document]:
    return [
        Document(title, name, mime, (DOCS / name).stat().st_size)
        for name, title, mime in MANIFEST
        if (DOCS / name).is_file()
    ]
