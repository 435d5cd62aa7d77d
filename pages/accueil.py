"""Accueil: documents to download, who is connected, what awaits the establishment."""

import streamlit as st

from registre import documents, queries, report_queries
from registre.validation import MAX_SEARCH_LENGTH
from registre.web.auth import require_actor
from registre.web.navigation import (
    DOSSIER,
    DOSSIER_READERS,
    ESTABLISHMENT_ROLES,
    NON_CONFORME,
    REGISTRE,
    SIGNALEMENT,
)
from registre.web.resources import database
from registre.web.views import show_profile
from registre.web.widgets import count_text, md_label, show_flash

actor = require_actor()

st.title("Registre des refus PDSES")
show_flash()
show_profile(actor)

if actor.role in ESTABLISHMENT_ROLES:
    waiting = queries.count_awaiting_answers(database(), actor)
    if waiting:
        st.warning(
            f"🔔 {count_text(waiting)} refus adressé(s) à votre établissement attend(ent) sa "
            "réponse."
        )
    reports_waiting = report_queries.count_awaiting_reports(database(), actor)
    if reports_waiting:
        st.warning(
            f"🔔 {count_text(reports_waiting)} fonctionnement(s) non conforme(s) concernant votre "
            "établissement attend(ent) sa réponse."
        )
    st.page_link(NON_CONFORME, label="Fonctionnement non conforme", icon="⚠️")
    st.page_link(REGISTRE, label="Ouvrir le Registre des refus PDSES", icon="📋")

if actor.role in DOSSIER_READERS:
    with st.form("recherche-dossier"):
        number = st.text_input(
            "Numéro de dossier",
            placeholder="R-2026-000042",
            help="Un numéro en F- ouvre un fonctionnement non conforme.",
            max_chars=MAX_SEARCH_LENGTH,
        )
        if st.form_submit_button("Ouvrir le dossier") and number.strip():
            wanted = number.strip()
            target = SIGNALEMENT if wanted.upper().startswith("F-") else DOSSIER
            st.switch_page(target, query_params={"numero": wanted})

st.header("Documents")
docs = documents.list_documents(database(), actor)
if not docs:
    st.info("Aucun document n'est disponible pour le moment.")
for doc in docs:
    st.download_button(
        f"⬇️ {md_label(doc.title)} ({doc.size // 1024 + 1} ko)",
        data=lambda key=doc.key: documents.read_document(database(), actor, key),
        file_name=doc.filename,
        mime=doc.mime,
        key=f"doc-{doc.key}",
        on_click="ignore",
    )
