"""FINESS numbers: 9 characters, two for the département, the 9th a Luhn check digit."""

from __future__ import annotations

import re

from stdnum import luhn

# ASCII digits only (``\d`` would take Arabic-Indic or full-width digits too).
_FINESS_RE = re.compile(r"^(?:[0-9]{2}|2[AB])[0-9]{7}$")


def normalise(value: str) -> str:
    return re.sub(r"[\s.\-]", "", value or "").upper()


def _digits_for_check(finess: str) -> str:
    # Corsican numbers start with 2A / 2B; the check digit is computed on 20 in their place.
    return "20" + finess[2:] if finess[:2] in {"2A", "2B"} else finess


def is_valid(value: str) -> bool:
    finess = normalise(value)
    return bool(_FINESS_RE.match(finess)) and luhn.is_valid(_digits_for_check(finess))


def check_digit(first_eight: str) -> str:
    """The Luhn digit completing eight characters (used to make demo numbers)."""
    return str(luhn.calc_check_digit(_digits_for_check(first_eight)))


def departement(value: str) -> str:
    """Département of a FINESS: ``75``, ``2A``; ``97x`` for the overseas ones."""
    finess = normalise(value)
    if finess.startswith("970"):
        return "97" + finess[3]  # 9701… Guadeloupe 971, 9703… Guyane 973, 9704… Réunion 974
    if finess.startswith("9805"):
        return "976"  # Mayotte
    if finess.startswith(("97", "98")):
        return finess[:3]
    return finess[:2]


def error_message(value: str) -> str | None:
    """A French message when ``value`` is not a valid FINESS, else None."""
    finess = normalise(value)
    if not finess:
        return "Le numéro FINESS est obligatoire."
    if len(finess) != 9:
        return "Le numéro FINESS doit comporter 9 caractères."
    if not _FINESS_RE.match(finess):
        return "Le numéro FINESS doit commencer par le département (2 chiffres, 2A ou 2B) suivi de 7 chiffres."
    if not luhn.is_valid(_digits_for_check(finess)):
        return "Le numéro FINESS est invalide (clé de contrôle incorrecte)."
    return None
