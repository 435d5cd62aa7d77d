"""Administration — Documents: the files offered on « Accueil » (upload, replace, retitle,
reorder, remove). Rules and permissions: ``registre.documents``."""

from functools import partial

import streamlit as st

from registre import documents
from registre.validation import MAX_LABEL_LENGTH, MAX_SORT_ORDER, MIN_SORT_ORDER
from registre.web.actions import run_action
from registre.web.auth import require_actor
from registre.web.navigation import ADMIN_ROLES
from registre.web.resources import database
from registre.web.widgets import errors_for, field_errors, flash, md, md_label, show_flash

actor = require_actor(ADMIN_ROLES)
db = database()
ACCEPTED = ["pdf", "docx", "xlsx", "odt"]
LIMIT = f"PDF, DOCX, XLSX ou ODT ; {documents.MAX_BYTES // (1024 * 1024)} Mo au plus"

st.title("Documents")
show_flash()
st.caption(
    "Les documents proposés au téléchargement sur la page « Accueil », dans cet ordre. Ils sont "
    "enregistrés dans la base de données : sa sauvegarde les contient."
)

for doc in documents.list_documents(db, actor):
    size = f"{doc.size // 1024 + 1} ko"
    if doc.builtin:
        st.markdown(
            f"📘 **{md(doc.title)}** — {md(doc.filename)}, {size} (fourni avec l'application)"
        )
        continue
    scope = f"document-{doc.key}"
    errors = errors_for(scope)
    with st.expander(f"📄 {md_label(doc.title)} — {md_label(doc.filename)}, {size}"):
        with st.form(scope):
            title = st.text_input("Titre", value=doc.title, max_chars=MAX_LABEL_LENGTH)
            field_errors(errors, "title")
            order = st.number_input(
                "Ordre",
                value=doc.sort_order,
                step=1,
                min_value=MIN_SORT_ORDER,
                max_value=MAX_SORT_ORDER,
            )
            replacement = st.file_uploader(f"Remplacer le fichier ({LIMIT})", type=ACCEPTED)
            field_errors(errors, "file")
            saved = st.form_submit_button("Enregistrer")
        if saved:
            done = run_action(
                scope,
                partial(
                    documents.update,
                    db,
                    actor,
                    int(doc.key),
                    title,
                    int(order),
                    filename=replacement.name if replacement else None,
                    content=replacement.getvalue() if replacement else None,
                ),
            )
            if done:
                flash(f"Document « {md(title.strip())} » enregistré.")
                st.rerun()
        confirm = st.checkbox("Je confirme le retrait de ce document", key=f"{scope}-confirmer")
        if st.button("Retirer le document", key=f"{scope}-retirer", disabled=not confirm):
            if run_action(scope, partial(documents.remove, db, actor, int(doc.key))):
                flash(f"Document « {md(doc.title)} » retiré.")
                st.rerun()

st.subheader("Ajouter un document")
scope = "document-ajout"
errors = errors_for(scope)
with st.form(scope, clear_on_submit=True):
    title = st.text_input("Titre", max_chars=MAX_LABEL_LENGTH)
    field_errors(errors, "title")
    order = st.number_input(
        "Ordre", value=10, step=1, min_value=MIN_SORT_ORDER, max_value=MAX_SORT_ORDER
    )
    uploaded = st.file_uploader(f"Fichier ({LIMIT})", type=ACCEPTED)
    field_errors(errors, "file")
    added = st.form_submit_button("Ajouter le document", type="primary")
if added:
    if uploaded is None:
        st.error("Choisissez un fichier.")
    elif run_action(
        scope,
        partial(documents.upload, db, actor, title, uploaded.name, uploaded.getvalue(), int(order)),
    ):
        flash(f"Document « {md(title.strip())} » ajouté.")
        st.rerun()
