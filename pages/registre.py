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
from registre.web.widgets import (
    ListRow,
    choice_box,
    clear_errors,
    dt,
    listing,
    md,
    page_number,
    pager,
    show_flash,
)
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


def dossier_row(row: queries.DossierRow) -> ListRow:
    # A draft opens on its form for those who write, read-only elsewhere.
    editable = row.state is DossierState.DRAFT and actor.role in WRITER_ROLES
    refusers = f"{row.refusers} (répondu : {row.answered})" if row.refusers else "0"
    holder = "  \n⚠️ titulaire de la ligne PDSES" if row.line_holders else ""
    return ListRow(
        key=f"ouvrir-{row.id}",
        label=f"{row.icon} {row.number}",
        help=f"{row.state_label} — ouvrir le dossier",
        page=REFUS if editable else DOSSIER,
        params={"id": str(row.id)} if editable else {"numero": row.number},
        cells=(
            md(dt(row.requested_at)),
            md(row.specialty),
            md(row.requesting_service),
            refusers + holder,
            md("PDSES" if row.in_pdses_hours else "hors horaires PDSES"),
        ),
    )


if not result.items:
    st.info("Aucun refus ne correspond à ces critères.")
else:
    listing(
        WIDTHS,
        ["Dossier", "Date et heure", "Spécialité", "Service demandeur", "Refuseurs", "Horaires"],
        [dossier_row(row) for row in result.items],
    )
    pager("dossiers", result.page, result.pages, result.total, result.more)

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
    listing(
        IN_WIDTHS,
        ["Dossier", "Date et heure", "Spécialité", "Établissement demandeur", "Service demandeur"],
        [
            ListRow(
                key=f"repondre-{line.line_id}",
                label=f"{line.icon} {line.number}",
                help=f"{line.state_label} — ouvrir le refus",
                page=DOSSIER,
                params={"numero": line.number},
                cells=(
                    md(dt(line.requested_at)),
                    md(line.specialty),
                    md(line.requesting_establishment),
                    md(line.requesting_service)
                    + (
                        "  \n⚠️ votre établissement est titulaire de la ligne"
                        if line.is_line_holder
                        else ""
                    ),
                ),
            )
            for line in incoming.items
        ],
    )
    pager("recus", incoming.page, incoming.pages, incoming.total, incoming.more)
