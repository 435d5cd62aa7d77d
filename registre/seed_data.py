"""Reference data loaded by ``registre init --demo``.

``ESTABLISHMENTS`` lists sixteen real Île-de-France hospitals (AP-HP and non-AP-HP) spread
over départements 75, 77, 78, 91, 92, 93, 94 and 95, each with a few of its wards.
``PDSES_LINES`` lists on-call lines (``garde`` or ``astreinte``) of the permanence des soins
en établissement de santé (PDSES) held by these hospitals.

The PDSES lines are plausible demonstration data only: they are NOT the official PDSES
organisation decided by the ARS Île-de-France, and no real arrangement should be inferred
from them. Ward lists are likewise illustrative.

FINESS numbers
--------------
Every ``finess`` is the 9-character FINESS géographique (ET) number of the site: the first
two characters are the département and the whole string passes the Luhn check.

A number is marked ``finess_verified: True`` only when that exact number was seen paired with
that hospital in public material. All sixteen were found in the public repository
``FraidFraid/France-Monitor``, file ``public/data/hospitals-urgences.json`` (commit
``74abb51a98ddf8da6be5aeb16c009af20e19364f``): a join of the DREES SAE 2025 administrative
base with the etalab FINESS extraction of 2026-05-12, listing each emergency site's FINESS,
registered name (e.g. ``GHU APHP HM SITE HENRI MONDOR``), commune and département. The
AP-HP numbers also appear in the AP-HP ``ETA_NUM`` lists commonly used in public SNDS/PMSI
code. Numbers that could not be verified would use a demonstration pattern instead
(département + ``99`` + 4 digits + Luhn key, ``finess_verified: False``, ``finess_source:
"numéro de démonstration"``); none is needed in the current list.

``territory`` is ``"AP-HP"`` for AP-HP sites, the groupement hospitalier de territoire (GHT)
when known, and ``None`` otherwise (including private non-profit hospitals outside any GHT).
"""

from __future__ import annotations

from typing import Literal, TypedDict


class EstablishmentSeed(TypedDict):
    finess: str
    name: str
    departement: str
    territory: str | None
    finess_verified: bool
    finess_source: str
    services: list[str]


class PdsesLineSeed(TypedDict):
    finess: str
    specialty: str
    kind: Literal["garde", "astreinte"]
    territory: str


FINESS_SOURCE_SAE_FINESS = (
    "FraidFraid/France-Monitor, public/data/hospitals-urgences.json (SAE 2025 × FINESS 2026-05-12)"
)
FINESS_SOURCE_DEMO = "numéro de démonstration"


ESTABLISHMENTS: list[EstablishmentSeed] = [
    # 1. Demo "declarant" and "directeur" accounts belong here (non-AP-HP, with an SAU).
    {
        "finess": "910020254",
        "name": "Centre hospitalier Sud Francilien (CHSF)",
        "departement": "91",
        "territory": None,
        "finess_verified": True,
        "finess_source": FINESS_SOURCE_SAE_FINESS,
        "services": [
            "Service d'accueil des urgences",
            "SAU pédiatrique",
            "Réanimation polyvalente",
            "Chirurgie orthopédique et traumatologique",
            "Chirurgie viscérale et digestive",
            "Unité de soins intensifs de cardiologie",
        ],
    },
    # 2. Demo "referent" and "coordinateur" accounts belong here (neurochirurgie line).
    {
        "finess": "940100027",
        "name": "Hôpital Henri-Mondor (AP-HP)",
        "departement": "94",
        "territory": "AP-HP",
        "finess_verified": True,
        "finess_source": FINESS_SOURCE_SAE_FINESS,
        "services": [
            "Neurochirurgie",
            "Coordination PDSES",
            "Service d'accueil des urgences",
            "Réanimation chirurgicale",
            "Chirurgie maxillo-faciale",
            "Unité de soins intensifs de cardiologie",
        ],
    },
    {
        "finess": "750100125",
        "name": "Hôpital Pitié-Salpêtrière (AP-HP)",
        "departement": "75",
        "territory": "AP-HP",
        "finess_verified": True,
        "finess_source": FINESS_SOURCE_SAE_FINESS,
        "services": [
            "Service d'accueil des urgences",
            "Neurochirurgie",
            "Neuroradiologie interventionnelle",
            "Réanimation neurochirurgicale",
            "Chirurgie maxillo-faciale",
            "Unité de soins intensifs de cardiologie",
        ],
    },
    {
        "finess": "940100043",
        "name": "Hôpital Bicêtre (AP-HP)",
        "departement": "94",
        "territory": "AP-HP",
        "finess_verified": True,
        "finess_source": FINESS_SOURCE_SAE_FINESS,
        "services": [
            "Service d'accueil des urgences",
            "SAU pédiatrique",
            "Chirurgie de la main",
            "Chirurgie pédiatrique",
            "Neuroradiologie interventionnelle",
            "Réanimation chirurgicale",
        ],
    },
    {
        "finess": "750100042",
        "name": "Hôpital Lariboisière (AP-HP)",
        "departement": "75",
        "territory": "AP-HP",
        "finess_verified": True,
        "finess_source": FINESS_SOURCE_SAE_FINESS,
        "services": [
            "Service d'accueil des urgences",
            "Neurochirurgie",
            "Neuroradiologie interventionnelle",
            "ORL et chirurgie cervico-faciale",
            "Ophtalmologie",
        ],
    },
    {
        "finess": "750803447",
        "name": "Hôpital européen Georges-Pompidou (HEGP, AP-HP)",
        "departement": "75",
        "territory": "AP-HP",
        "finess_verified": True,
        "finess_source": FINESS_SOURCE_SAE_FINESS,
        "services": [
            "Service d'accueil des urgences",
            "Chirurgie de la main (SOS Mains)",
            "Chirurgie vasculaire",
            "Cardiologie interventionnelle",
            "Unité de soins intensifs de cardiologie",
        ],
    },
    {
        "finess": "920100039",
        "name": "Hôpital Beaujon (AP-HP)",
        "departement": "92",
        "territory": "AP-HP",
        "finess_verified": True,
        "finess_source": FINESS_SOURCE_SAE_FINESS,
        "services": [
            "Service d'accueil des urgences",
            "Neurochirurgie",
            "Chirurgie viscérale et digestive",
            "Endoscopie digestive",
            "Réanimation chirurgicale",
        ],
    },
    {
        "finess": "930100037",
        "name": "Hôpital Avicenne (AP-HP)",
        "departement": "93",
        "territory": "AP-HP",
        "finess_verified": True,
        "finess_source": FINESS_SOURCE_SAE_FINESS,
        "services": [
            "Service d'accueil des urgences",
            "Réanimation médicale",
            "Pneumologie et endoscopie bronchique",
            "Chirurgie viscérale et digestive",
            "Chirurgie orthopédique et traumatologique",
        ],
    },
    {
        "finess": "750100208",
        "name": "Hôpital Necker-Enfants malades (AP-HP)",
        "departement": "75",
        "territory": "AP-HP",
        "finess_verified": True,
        "finess_source": FINESS_SOURCE_SAE_FINESS,
        "services": [
            "SAU pédiatrique",
            "Chirurgie pédiatrique viscérale",
            "Chirurgie orthopédique pédiatrique",
            "Neurochirurgie pédiatrique",
            "Réanimation pédiatrique",
            "Néphrologie et dialyse",
        ],
    },
    {
        "finess": "770000446",
        "name": "Grand Hôpital de l'Est Francilien (GHEF), site de Meaux",
        "departement": "77",
        "territory": None,
        "finess_verified": True,
        "finess_source": FINESS_SOURCE_SAE_FINESS,
        "services": [
            "Service d'accueil des urgences",
            "SAU pédiatrique",
            "Réanimation polyvalente",
            "Chirurgie orthopédique et traumatologique",
            "Chirurgie viscérale et digestive",
        ],
    },
    {
        "finess": "780800256",
        "name": "Centre hospitalier de Versailles, hôpital André-Mignot",
        "departement": "78",
        "territory": None,
        "finess_verified": True,
        "finess_source": FINESS_SOURCE_SAE_FINESS,
        "services": [
            "Service d'accueil des urgences",
            "SAU pédiatrique",
            "Réanimation polyvalente",
            "Unité de soins intensifs de cardiologie",
            "Chirurgie orthopédique et traumatologique",
        ],
    },
    {
        "finess": "950000364",
        "name": "Hôpital NOVO, site de Pontoise (ex-CH René-Dubos)",
        "departement": "95",
        "territory": "GHT NOVO",
        "finess_verified": True,
        "finess_source": FINESS_SOURCE_SAE_FINESS,
        "services": [
            "Service d'accueil des urgences",
            "SAU pédiatrique",
            "Réanimation polyvalente",
            "Unité de soins intensifs de cardiologie",
            "Cardiologie interventionnelle",
        ],
    },
    {
        "finess": "940000573",
        "name": "Centre hospitalier intercommunal de Créteil (CHIC)",
        "departement": "94",
        "territory": None,
        "finess_verified": True,
        "finess_source": FINESS_SOURCE_SAE_FINESS,
        "services": [
            "Service d'accueil des urgences",
            "SAU pédiatrique",
            "Réanimation polyvalente",
            "ORL et chirurgie cervico-faciale",
            "Ophtalmologie",
        ],
    },
    {
        "finess": "920000650",
        "name": "Hôpital Foch",
        "departement": "92",
        "territory": None,
        "finess_verified": True,
        "finess_source": FINESS_SOURCE_SAE_FINESS,
        "services": [
            "Service d'accueil des urgences",
            "Neurochirurgie",
            "Chirurgie thoracique",
            "Urologie",
            "ORL et chirurgie cervico-faciale",
        ],
    },
    {
        "finess": "930000328",
        "name": "Centre hospitalier Delafontaine (Saint-Denis)",
        "departement": "93",
        "territory": None,
        "finess_verified": True,
        "finess_source": FINESS_SOURCE_SAE_FINESS,
        "services": [
            "Service d'accueil des urgences",
            "SAU pédiatrique",
            "Réanimation polyvalente",
            "Chirurgie orthopédique et traumatologique",
            "Psychiatrie adulte",
        ],
    },
    {
        "finess": "950000307",
        "name": "Centre hospitalier Victor-Dupouy d'Argenteuil",
        "departement": "95",
        "territory": None,
        "finess_verified": True,
        "finess_source": FINESS_SOURCE_SAE_FINESS,
        "services": [
            "Service d'accueil des urgences",
            "SAU pédiatrique",
            "Réanimation polyvalente",
            "Chirurgie orthopédique et traumatologique",
            "Unité de soins intensifs de cardiologie",
        ],
    },
]


# Plausible demonstration data, NOT the official PDSES organisation of the ARS Île-de-France:
# which hospital holds which line, its kind (garde sur place / astreinte) and its territory
# are illustrative only.
PDSES_LINES: list[PdsesLineSeed] = [
    # Neurochirurgie
    {
        "finess": "940100027",
        "specialty": "Neurochirurgie",
        "kind": "garde",
        "territory": "Est francilien",
    },
    {"finess": "750100125", "specialty": "Neurochirurgie", "kind": "garde", "territory": "Paris"},
    {"finess": "750100042", "specialty": "Neurochirurgie", "kind": "garde", "territory": "Paris"},
    {
        "finess": "920100039",
        "specialty": "Neurochirurgie",
        "kind": "garde",
        "territory": "Nord francilien",
    },
    {
        "finess": "920000650",
        "specialty": "Neurochirurgie",
        "kind": "astreinte",
        "territory": "Ouest francilien",
    },
    # Neuroradiologie interventionnelle
    {
        "finess": "750100125",
        "specialty": "Neuroradiologie interventionnelle",
        "kind": "garde",
        "territory": "Paris",
    },
    {
        "finess": "750100042",
        "specialty": "Neuroradiologie interventionnelle",
        "kind": "astreinte",
        "territory": "Nord francilien",
    },
    {
        "finess": "940100043",
        "specialty": "Neuroradiologie interventionnelle",
        "kind": "astreinte",
        "territory": "Val-de-Marne",
    },
    # Chirurgie de la main
    {
        "finess": "750803447",
        "specialty": "Chirurgie de la main",
        "kind": "garde",
        "territory": "Paris",
    },
    {
        "finess": "940100043",
        "specialty": "Chirurgie de la main",
        "kind": "astreinte",
        "territory": "Val-de-Marne",
    },
    # ORL / ophtalmologie / maxillo-facial
    {"finess": "750100042", "specialty": "ORL", "kind": "garde", "territory": "Paris"},
    {"finess": "940000573", "specialty": "ORL", "kind": "astreinte", "territory": "Val-de-Marne"},
    {"finess": "750100042", "specialty": "Ophtalmologie", "kind": "garde", "territory": "Paris"},
    {
        "finess": "940000573",
        "specialty": "Ophtalmologie",
        "kind": "astreinte",
        "territory": "Est francilien",
    },
    {
        "finess": "750100125",
        "specialty": "Chirurgie maxillo-faciale",
        "kind": "garde",
        "territory": "Paris",
    },
    {
        "finess": "940100027",
        "specialty": "Chirurgie maxillo-faciale",
        "kind": "astreinte",
        "territory": "Est francilien",
    },
    # Cardiovasculaire et thoracique
    {
        "finess": "750803447",
        "specialty": "Cardiologie interventionnelle",
        "kind": "garde",
        "territory": "Paris",
    },
    {
        "finess": "950000364",
        "specialty": "Cardiologie interventionnelle",
        "kind": "astreinte",
        "territory": "Val-d'Oise",
    },
    {
        "finess": "780800256",
        "specialty": "Cardiologie interventionnelle",
        "kind": "astreinte",
        "territory": "Yvelines",
    },
    {
        "finess": "750803447",
        "specialty": "Chirurgie vasculaire",
        "kind": "garde",
        "territory": "Paris",
    },
    {
        "finess": "920000650",
        "specialty": "Chirurgie thoracique",
        "kind": "astreinte",
        "territory": "Ouest francilien",
    },
    # Pédiatrie
    {
        "finess": "750100208",
        "specialty": "Chirurgie pédiatrique",
        "kind": "garde",
        "territory": "Paris",
    },
    {
        "finess": "940100043",
        "specialty": "Chirurgie pédiatrique",
        "kind": "astreinte",
        "territory": "Sud francilien",
    },
    # Endoscopies
    {
        "finess": "920100039",
        "specialty": "Endoscopie digestive",
        "kind": "astreinte",
        "territory": "Nord francilien",
    },
    {
        "finess": "930100037",
        "specialty": "Endoscopie bronchique",
        "kind": "astreinte",
        "territory": "Seine-Saint-Denis",
    },
    # Autres spécialités
    {
        "finess": "920000650",
        "specialty": "Urologie",
        "kind": "astreinte",
        "territory": "Hauts-de-Seine",
    },
    {
        "finess": "750100208",
        "specialty": "Néphrologie / dialyse",
        "kind": "astreinte",
        "territory": "Paris",
    },
    {
        "finess": "930000328",
        "specialty": "Psychiatrie",
        "kind": "garde",
        "territory": "Seine-Saint-Denis",
    },
    {"finess": "910020254", "specialty": "Réanimation", "kind": "garde", "territory": "Essonne"},
    {
        "finess": "770000446",
        "specialty": "Chirurgie orthopédique et traumatologique",
        "kind": "astreinte",
        "territory": "Seine-et-Marne",
    },
    {
        "finess": "910020254",
        "specialty": "Chirurgie viscérale et digestive",
        "kind": "astreinte",
        "territory": "Essonne",
    },
]
