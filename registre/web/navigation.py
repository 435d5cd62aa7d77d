"""The menu, built from the user's role (the guide's horizontal menu with its « PDSES »
entry). A page appears only when its role may use it; the pages check again themselves."""

from __future__ import annotations

import streamlit as st

from registre.actors import Actor
from registre.models import ESTABLISHMENT_ROLES, WRITER_ROLES, Role
from registre.permissions import STATISTICS_PERSPECTIVES

DOSSIER_READERS = ESTABLISHMENT_ROLES | {Role.ARS}
STATISTICS_ROLES = frozenset(STATISTICS_PERSPECTIVES)

ACCUEIL = "pages/accueil.py"
REGISTRE = "pages/registre.py"
NON_CONFORME = "pages/fonctionnement_non_conforme.py"
SIGNALEMENT = "pages/signalement.py"
REFUS = "pages/refus.py"
DOSSIER = "pages/dossier.py"
STATISTIQUES = "pages/statistiques.py"
MON_COMPTE = "pages/mon_compte.py"
ACCESSIBILITE = "pages/accessibilite.py"
ADMIN_COMPTES = "pages/admin_comptes.py"
ADMIN_REFERENTIELS = "pages/admin_referentiels.py"
ADMIN_DOCUMENTS = "pages/admin_documents.py"
ADMIN_JOURNAL = "pages/admin_journal.py"
ADMIN_ROLES = frozenset({Role.ADMIN})


def pages_for(actor: Actor) -> dict[str, list[st.Page]]:
    menu: dict[str, list[st.Page]] = {
        "": [st.Page(ACCUEIL, title="Accueil", icon="🏠", url_path="accueil", default=True)]
    }
    pdses: list[st.Page] = []
    if actor.role in ESTABLISHMENT_ROLES:
        # The guide's order: « Fonctionnement non conforme » then « Registre des refus PDSES ».
        pdses.append(
            st.Page(
                NON_CONFORME,
                title="Fonctionnement non conforme",
                icon="⚠️",
                url_path="fonctionnement_non_conforme",
            )
        )
        pdses.append(
            st.Page(REGISTRE, title="Registre des refus PDSES", icon="📋", url_path="registre")
        )
    if actor.role in WRITER_ROLES:
        pdses.append(
            st.Page(REFUS, title="Refus", icon="📝", url_path="refus", visibility="hidden")
        )
    if actor.role in DOSSIER_READERS:
        pdses.append(
            st.Page(DOSSIER, title="Dossier", icon="📄", url_path="dossier", visibility="hidden")
        )
        pdses.append(
            st.Page(
                SIGNALEMENT,
                title="Signalement",
                icon="⚠️",
                url_path="signalement",
                visibility="hidden",
            )
        )
    if pdses:
        menu["PDSES"] = pdses
    if actor.role in STATISTICS_ROLES:
        menu[""].append(
            st.Page(STATISTIQUES, title="Statistiques", icon="📊", url_path="statistiques")
        )
    if actor.role in ADMIN_ROLES:
        menu["Administration"] = [
            st.Page(ADMIN_COMPTES, title="Comptes", icon="👥", url_path="admin_comptes"),
            st.Page(
                ADMIN_REFERENTIELS, title="Référentiels", icon="🗂️", url_path="admin_referentiels"
            ),
            st.Page(ADMIN_DOCUMENTS, title="Documents", icon="📎", url_path="admin_documents"),
            st.Page(ADMIN_JOURNAL, title="Journal d'audit", icon="🔎", url_path="admin_journal"),
        ]
    menu[""].append(st.Page(MON_COMPTE, title="Mon compte", icon="👤", url_path="mon_compte"))
    menu[""].append(
        st.Page(ACCESSIBILITE, title="Accessibilité", icon="♿", url_path="accessibilite")
    )
    return menu


def find_page(menu: dict[str, list[st.Page]], url_path: str) -> st.Page | None:
    for pages in menu.values():
        for page in pages:
            if page.url_path == url_path:
                return page
    return None
