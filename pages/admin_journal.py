"""Administration — Journal d'audit: who did what and when, filtered by user, action,
dossier and period, exported as CSV. Reading and permission: ``registre.audit_log``."""

from datetime import date

import pandas as pd
import streamlit as st

from registre import audit_log
from registre.errors import RegistreError
from registre.validation import MAX_SEARCH_LENGTH, MAX_USERNAME_LENGTH
from registre.web.auth import require_actor
from registre.web.navigation import ADMIN_ROLES
from registre.web.resources import database
from registre.web.widgets import dt, page_number, pager

actor = require_actor(ADMIN_ROLES)
db = database()

st.title("Journal d'audit")
actions = dict(audit_log.action_choices())
with st.form("filtres-journal"):
    c1, c2, c3 = st.columns(3)
    username = c1.text_input("Utilisateur (identifiant)", max_chars=MAX_USERNAME_LENGTH)
    action = c2.selectbox(
        "Action",
        [None, *actions],
        format_func=lambda a: "Toutes" if a is None else actions[a],
        key="journal-action",
    )
    number = c3.text_input(
        "Dossier ou signalement (numéro)",
        placeholder="R-2026-000042",
        max_chars=MAX_SEARCH_LENGTH,
    )
    c4, c5 = st.columns(2)
    start: date | None = c4.date_input("Du", value=None, format="DD/MM/YYYY", key="journal-du")
    end: date | None = c5.date_input("Au", value=None, format="DD/MM/YYYY", key="journal-au")
    st.form_submit_button("Filtrer")

filters = audit_log.AuditFilters(
    username=username, action=action, dossier_number=number, start=start, end=end
)
try:
    result = audit_log.list_entries(
        db, actor, filters, page=page_number("journal", filters), page_size=50
    )
except RegistreError as exc:
    st.error(exc.message)
    st.stop()

if not result.items:
    st.info("Aucune entrée ne correspond à ces filtres.")
    st.stop()
st.dataframe(
    pd.DataFrame(
        [
            (
                dt(r.at),
                r.who,
                r.action_label,
                f"{r.entity} {r.entity_id or ''}".strip(),
                r.dossier_number or "",
                r.details,
            )
            for r in result.items
        ],
        columns=[
            "Date et heure",
            "Utilisateur",
            "Action",
            "Objet",
            "Dossier ou signalement",
            "Détails",
        ],
    ),
    hide_index=True,
    width="stretch",
)
pager("journal", result.page, result.pages, result.total)
st.download_button(
    "⬇️ Exporter en CSV",
    data=lambda: audit_log.export_csv(db, actor, filters),
    file_name="journal-audit.csv",
    mime="text/csv",
    key="journal-export",
    on_click="ignore",
)
