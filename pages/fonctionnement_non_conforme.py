"""Fonctionnement non conforme (guide §3, SPEC §9): a form to report that another
establishment's PDSES line did not work as it should, then the reports of the establishment
and those that concern it, with their state icons."""

import uuid
from datetime import time
from functools import partial

import streamlit as st

from registre import report_queries, reports
from registre.models import ReportState
from registre.permissions import can_declare_report
from registre.report_queries import ReportRow
from registre.validation import MAX_TEXT_LENGTH
from registre.web.actions import run_action
from registre.web.auth import require_actor
from registre.web.navigation import ESTABLISHMENT_ROLES, SIGNALEMENT
from registre.web.resources import database
from registre.web.widgets import (
    ListRow,
    choice_box,
    clear_errors,
    combine_paris,
    count_text,
    dt,
    errors_for,
    field_errors,
    flash,
    listing,
    md,
    page_number,
    pager,
    paris_now,
    show_flash,
)
from registre.workflow import REPORT_STATE_ICONS, REPORT_STATE_LABELS

actor = require_actor(ESTABLISHMENT_ROLES)
db = database()

st.title("Fonctionnement non conforme")
show_flash()

SCOPE = "signalement-nouveau"
# A new generation of keys after each declaration: the next form starts empty, while a form
# refused for an error keeps everything typed.
GENERATION = st.session_state.setdefault("signalement-generation", 0)
KEY = f"fnc{GENERATION}"


def declaration_form() -> None:
    if f"{KEY}-description" not in st.session_state:
        # The form was not on the previous run (the user comes from another page): the
        # messages of a form left with errors would describe fields that are empty now.
        clear_errors(SCOPE)
    options = report_queries.form_options(db, actor)
    errors = errors_for(SCOPE)
    now = paris_now()
    with st.expander("Déclarer un fonctionnement non conforme", expanded=True):
        st.warning(
            "ATTENTION : aucune donnée nominative ne doit être saisie dans ces champs.", icon="⚠️"
        )
        with st.form("signalement"):
            if errors:
                st.error(
                    "Le signalement n'a pas été enregistré : corrigez les champs signalés "
                    "ci-dessous."
                )
            st.text_input("Etablissement déclarant", value=options.establishment, disabled=True)
            c1, c2 = st.columns(2)
            day = c1.date_input(
                "Date et heure *",
                value=now.date(),
                max_value=now.date(),
                format="DD/MM/YYYY",
                key=f"{KEY}-date",
            )
            clock = c2.time_input(
                "Heure *", value=time(now.hour, now.minute), step=60, key=f"{KEY}-heure"
            )
            field_errors(errors, "occurred_at")
            c1, c2 = st.columns(2)
            with c1:
                specialty = choice_box(
                    "Spécialité PDSES *", options.specialties, key=f"{KEY}-specialite"
                )
                field_errors(errors, "specialty_id")
            with c2:
                concerned = choice_box(
                    "Etablissement concerné *",
                    options.establishments,
                    key=f"{KEY}-etablissement",
                    help="L'établissement dont la ligne PDSES n'a pas fonctionné comme prévu ; "
                    "ses coordinateurs et référents PDSES sont informés par mail.",
                )
                field_errors(errors, "concerned_establishment_id")
            report_type = choice_box(
                "Type de dysfonctionnement *", options.report_types, key=f"{KEY}-type"
            )
            field_errors(errors, "report_type_id")
            description = st.text_area(
                "Description *",
                key=f"{KEY}-description",
                help="Ce texte est communiqué à l'établissement concerné.",
                max_chars=MAX_TEXT_LENGTH,
            )
            field_errors(errors, "description")
            impact = st.checkbox(
                reports.LABELS["impact"],
                key=f"{KEY}-impact",
                help="Un mail est envoyé automatiquement au directeur de votre établissement. "
                "L'impact n'est pas communiqué à l'établissement concerné.",
            )
            impact_description = st.text_area(
                "Description de l'impact",
                key=f"{KEY}-impact-desc",
                help="Obligatoire si la case ci-dessus est cochée.",
                max_chars=MAX_TEXT_LENGTH,
            )
            field_errors(errors, "impact_description")
            sent = st.form_submit_button("Déclarer le fonctionnement non conforme", type="primary")
    if not sent:
        return
    data = reports.ReportInput(
        occurred_at=combine_paris(day, clock),
        specialty_id=specialty,
        concerned_establishment_id=concerned,
        report_type_id=report_type,
        description=description,
        impact=impact,
        impact_description=impact_description,
    )
    token = st.session_state.setdefault("signalement-jeton", uuid.uuid4().hex)
    done = run_action(SCOPE, partial(reports.declare, db, actor, data, token))
    if done is None:
        return
    st.session_state.pop("signalement-jeton", None)
    st.session_state["signalement-generation"] = GENERATION + 1
    message = (
        f"Fonctionnement non conforme {done.value.number} déclaré : l'établissement concerné "
        "est informé par mail."
    )
    if done.value.unreached:
        message = (
            f"Fonctionnement non conforme {done.value.number} déclaré. Attention : aucun compte "
            "Coordinateur ou Référent PDSES n'est enregistré pour l'établissement concerné ; "
            "prévenez-le par un autre moyen (le signalement apparaîtra sur sa page « "
            "Fonctionnement non conforme » dès qu'un compte y existera)."
        )
    if done.value.director_unreached:
        message += (
            " Aucun directeur n'est enregistré pour votre établissement : l'impact sur la prise "
            "en charge n'a pu lui être signalé par mail ; prévenez-le directement."
        )
    flash(message)
    st.rerun()


WIDTHS = [1.4, 1.3, 2.0, 2.0, 2.6]


def report_table(key: str, rows: list[ReportRow], other_title: str, holder_note: str) -> None:
    titles = ["Signalement", "Date et heure", "Spécialité", "Type de dysfonctionnement"]
    listing(
        WIDTHS,
        [*titles, other_title],
        [
            ListRow(
                key=f"{key}-{row.id}",
                label=f"{row.icon} {row.number}",
                help=f"{row.state_label} — ouvrir le signalement",
                page=SIGNALEMENT,
                params={"numero": row.number},
                cells=(
                    md(dt(row.occurred_at)),
                    md(row.specialty),
                    md(row.report_type),
                    md(row.other_establishment)
                    + (f"  \n⚠️ {holder_note}" if row.is_line_holder else ""),
                ),
            )
            for row in rows
        ],
    )


STATES = {None: "Tous (sauf retirés)"} | {
    s: f"{REPORT_STATE_ICONS[s]} {REPORT_STATE_LABELS[s]}" for s in ReportState
}

waiting = report_queries.count_awaiting_reports(db, actor)
if waiting:
    st.warning(
        f"{count_text(waiting)} signalement(s) concernant votre établissement attend(ent) sa "
        "réponse : voir « Signalements concernant votre établissement » ci-dessous.",
        icon="🔔",
    )
if can_declare_report(actor):
    declaration_form()

st.subheader("Signalements déclarés par votre établissement")
declared_state = st.selectbox(
    "État", list(STATES), format_func=lambda s: STATES[s], key="filtre-fnc-declares"
)
page_out = page_number("fnc-declares", declared_state)
declared = report_queries.list_declared_reports(
    db, actor, state=declared_state, page=page_out, page_size=20
)
if not declared.items:
    st.info("Aucun signalement déclaré par votre établissement.")
else:
    report_table(
        "fnc-ouvrir-declare",
        declared.items,
        "Etablissement concerné",
        "titulaire de la ligne PDSES",
    )
    pager("fnc-declares", declared.page, declared.pages, declared.total, declared.more)

st.subheader("Signalements concernant votre établissement")
concerning_state = st.selectbox(
    "Réponse", list(STATES), format_func=lambda s: STATES[s], key="filtre-fnc-recus"
)
page_in = page_number("fnc-recus", concerning_state)
concerning = report_queries.list_concerning_reports(
    db, actor, state=concerning_state, page=page_in, page_size=20
)
if not concerning.items:
    st.info("Aucun signalement ne concerne votre établissement.")
else:
    report_table(
        "fnc-ouvrir-recu",
        concerning.items,
        "Établissement déclarant",
        "votre établissement est titulaire de la ligne",
    )
    pager("fnc-recus", concerning.page, concerning.pages, concerning.total, concerning.more)
