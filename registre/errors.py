"""Typed errors carrying a French message fit to show the user."""

from __future__ import annotations

from dataclasses import dataclass


class RegistreError(Exception):
    """Base class: ``message`` is French and can be shown as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(RegistreError):
    pass


class PermissionDenied(RegistreError):
    def __init__(self, message: str = "Vous n'avez pas les droits pour cette action.") -> None:
        super().__init__(message)


class NotFound(RegistreError):
    def __init__(self, message: str = "Élément introuvable.") -> None:
        super().__init__(message)


class ConflictError(RegistreError):
    """Someone else changed the record meanwhile (optimistic locking)."""

    def __init__(
        self,
        message: str = "Ce dossier a été modifié entre-temps par un autre utilisateur : "
        "rechargez-le avant de recommencer.",
    ) -> None:
        super().__init__(message)


class AuthenticationError(RegistreError):
    pass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class ValidationError(RegistreError):
    """One or more fields are wrong; every faulty field is listed, not only the first."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__(" ".join(e.message for e in self.errors) or "Saisie invalide.")

    @classmethod
    def single(cls, field: str, message: str) -> ValidationError:
        return cls([FieldError(field, message)])

    def by_field(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for err in self.errors:
            out.setdefault(err.field, []).append(err.message)
        return out


_CALL_IT = "Si le problème persiste, prévenez le service informatique."
DATABASE_UNREACHABLE = (
    f"La base de données est momentanément inaccessible. Réessayez dans un instant. {_CALL_IT}"
)
DATABASE_UNREACHABLE_WRITE = (
    "La base de données est momentanément inaccessible : l'action n'a pas été enregistrée. "
    f"Réessayez dans un instant. {_CALL_IT}"
)
DATABASE_CUT_AT_COMMIT = (
    "La connexion à la base de données a été coupée pendant l'enregistrement : vérifiez si "
    f"l'action a été prise en compte avant de la refaire. {_CALL_IT}"
)


class DatabaseUnavailable(RegistreError):
    """The database cannot be reached or cannot write (restart, network, locked file…).
    The transaction is rolled back; the technical cause goes to the log (``registre.db``)."""

    def __init__(self, message: str = DATABASE_UNREACHABLE_WRITE) -> None:
        super().__init__(message)


class DatabaseReadOnly(DatabaseUnavailable):
    def __init__(
        self,
        message: str = "La base de données est en lecture seule : l'action n'a pas été "
        "enregistrée. Prévenez le service informatique (droits d'écriture sur la base de "
        "données ou sur son dossier).",
    ) -> None:
        super().__init__(message)


class DatabaseFull(DatabaseUnavailable):
    def __init__(
        self,
        message: str = "Le disque de la base de données est plein : l'action n'a pas été "
        "enregistrée. Prévenez le service informatique.",
    ) -> None:
        super().__init__(message)
