"""Registre des refus PDSES: top right, a new refusal for a specialty; in the centre, the
latest dossiers of the establishment and the refusals addressed to it (guide §3)."""

from datetime import date, datetime, time, timedelta

import streamlit as st

from registre import queries
from registre.models import DossierState, LineState
from registre.permissions import can_create
from registre.timeutil import PARIS
from registre.web.auth import require_actor
from registre.web.navigation import DOSSIER, ESTABLISHMENT_ROLES, REFUS, WRITER_ROLES
from registre.web.resources import database
from registre.web.widgets import choice_box, clear_errors, dt, md, page_number, pager, show_flash
from registre.workflow import DOSSIER_STATE_LABELS, LINE_STATE_LABELS

actor = require_actor(ESTABLISHMENT_ROLES)
db = database()

head, new = st.columns([2, 1], vertical_alignment="top")
with head:
    st.title("Registre des refus PDSES")
    show_flash()
with new:
    if can_create(actor):
        with st.form("nouveau-refus", border=True):
            specialty = choice_box(
                "Spécialité PDS-ES", queries.specialty_choices(db, actor), key="nouveau-specialite"
            )
            if st.form_submit_button("Nouveau refus", type="primary", use_container_width=True):
                if specialty is None:
                    st.error("Sélectionnez une spécialité PDS-ES pour saisir un nouveau refus.")
                else:
                    clear_errors("dossier-nouveau")  # a fresh form, not the last abandoned one
                    st.switch_page(REFUS, query_params={"specialite": str(specialty)})

# --- the establishment's dossiers ------------------------------------------------------

st.subheader("Derniers refus enregistrés par votre établissement")
STATES = {None: "Tous (sauf abandonnés)", **DOSSIER_STATE_LABELS}
f1, f2, f3, f4 = st.columns(4)
state = f1.selectbox("État", list(STATES), format_func=lambda s: STATES[s], key="filtre-etat")
with f2:
    spec_filter = choice_box(
        "Spécialité", queries.specialty_choices(db, actor), key="filtre-specialite"
    )
date_from: date | None = f3.date_input("Du", value=None, format="DD/MM/YYYY", key="filtre-du")
date_to: date | None = f4.date_input("Au", value=None, format="DD/MM/YYYY", key="filtre-au")


def _paris(day: date | None, *, end: bool = False) -> datetime | None:
    if day is None:
        return None
    start = datetime.combine(day, time(0, 0)).replace(tzinfo=PARIS)
    return start + timedelta(days=1) if end else start


filters = (state, spec_filter, date_from, date_to)
current = page_number("dossiers", filters)
result = queries.list_establishment_dossiers(
    db,
    actor,
    state=state,
    specialty_id=spec_filter,
    date_from=_paris(date_from),
    date_to=_paris(date_to, end=True),
    page=current,
    page_size=20,
)

WIDTHS = [1.4, 1.3, 2.2, 2.2, 1.3, 1.1]
if not result.items:
    st.info("Aucun refus ne correspond à ces critères.")
else:
    header = st.columns(WIDTHS)
    for col, title in zip(
        header,
        ["Dossier", "Date et heure", "Spécialité", "Service demandeur", "Refuseurs", "Horaires"],
        strict=True,
    ):
        col.markdown(f"**{title}**")
    for row in result.items:
        cols = st.columns(WIDTHS, vertical_alignment="center")
        # A draft opens on its form for those who write, read-only elsewhere.
        editable = row.state is DossierState.DRAFT and actor.role in WRITER_ROLES
        target = REFUS if editable else DOSSIER
        if cols[0].button(
            f"{row.icon} {row.number}",
            key=f"ouvrir-{row.id}",
            help=f"{row.state_label} — ouvrir le dossier",
        ):
            params = {"id": str(row.id)} if target == REFUS else {"numero": row.number}
            st.switch_page(target, query_params=params)
        cols[1].markdown(md(dt(row.requested_at)))
        cols[2].markdown(md(row.specialty))
        cols[3].markdown(md(row.requesting_service))
        refusers = f"{row.refusers} (répondu : {row.answered})" if row.refusers else "0"
        holder = "  \n⚠️ titulaire de la ligne PDSES" if row.line_holders else ""
        cols[4].markdown(refusers + holder)
        cols[5].markdown(md("PDSES" if row.in_pdses_hours else "hors horaires PDSES"))
    pager("dossiers", result.page, result.pages, result.total)

# --- refusals addressed to the establishment ---------------------------------------------

st.subheader("Refus adressés à votre établissement")
LINE_FILTERS = {
    None: "Tous",
    LineState.AWAITING: "🔔 " + LINE_STATE_LABELS[LineState.AWAITING],
    LineState.ANSWERED: "✅ " + LINE_STATE_LABELS[LineState.ANSWERED],
}
line_state = st.selectbox(
    "Réponse", list(LINE_FILTERS), format_func=lambda s: LINE_FILTERS[s], key="filtre-reponse"
)
current_in = page_number("recus", line_state)
incoming = queries.list_incoming_lines(db, actor, state=line_state, page=current_in, page_size=20)
IN_WIDTHS = [1.4, 1.3, 2.2, 2.6, 2.2]
if not incoming.items:
    st.info("Aucun refus adressé à votre établissement.")
else:
    header = st.columns(IN_WIDTHS)
    for col, title in zip(
        header,
        ["Dossier", "Date et heure", "Spécialité", "Établissement demandeur", "Service demandeur"],
        strict=True,
    ):
        col.markdown(f"**{title}**")
    for line in incoming.items:
        cols = st.columns(IN_WIDTHS, vertical_alignment="center")
        if cols[0].button(
            f"{line.icon} {line.number}",
            key=f"repondre-{line.line_id}",
            help=f"{line.state_label} — ouvrir le refus",
        ):
            st.switch_page(DOSSIER, query_params={"numero": line.number})
        cols[1].markdown(md(dt(line.requested_at)))
        cols[2].markdown(md(line.specialty))
        cols[3].markdown(md(line.requesting_establishment))
        cols[4].markdown(
            md(line.requesting_service)
            + ("  \n⚠️ votre établissement est titulaire de la ligne" if line.is_line_holder else "")
        )
    pager("recus", incoming.page, incoming.pages, incoming.total)
