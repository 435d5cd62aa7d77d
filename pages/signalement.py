"""A « fonctionnement non conforme » report as its viewer may see it (declaring
establishment, concerned establishment or ARS), its history, and that viewer's actions:
answer (analysis and corrective measures) or withdraw."""

from functools import partial

import streamlit as st

from registre import report_queries, reports
from registre.errors import NotFound, PermissionDenied
from registre.report_queries import (
    ConcernedReportView,
    DeclarerReportView,
    RegionalReportView,
    ReportAnswerView,
)
from registre.validation import MAX_REASON_LENGTH, MAX_TEXT_LENGTH
from registre.web.actions import run_action
from registre.web.auth import require_actor
from registre.web.navigation import DOSSIER_READERS, NON_CONFORME
from registre.web.resources import database
from registre.web.widgets import (
    clear_errors,
    dt,
    errors_for,
    facts,
    field_errors,
    flash,
    md,
    show_flash,
)

actor = require_actor(DOSSIER_READERS)
db = database()
number = (st.query_params.get("numero") or "").strip()


def back_link() -> None:
    if actor.establishment_id:
        st.page_link(NON_CONFORME, label="Retour aux fonctionnements non conformes", icon="⚠️")


try:
    view = report_queries.get_report(db, actor, number=number or None)
except (NotFound, PermissionDenied) as exc:
    st.error(exc.message)
    back_link()
    st.stop()


def answer_facts(answer: ReportAnswerView) -> None:
    facts(
        [
            ("Analyse de l'établissement", answer.analysis),
            ("Mesures correctives", answer.corrective_measures or "non renseignées"),
            ("Réponse enregistrée le", dt(answer.answered_at)),
        ]
    )


def unsaved(keys: list[str], what: str) -> None:
    """A form submitted on the previous run but no longer offered (the other establishment
    answered or withdrew meanwhile): say so and keep the typed text in sight, never lose it
    silently."""
    if st.session_state.pop(SAVED, None) == view.id:
        return  # our own action succeeded: nothing was lost
    typed = [str(st.session_state.get(k) or "").strip() for k in keys]
    if any(typed):
        st.warning(
            f"Le signalement a changé pendant votre saisie (il est maintenant « "
            f"{view.state_label} ») : {what}. Votre texte :",
            icon="⚠️",
        )
        st.code("\n\n".join(t for t in typed if t), language=None, wrap_lines=True)


def fresh_errors(scope: str, key: str) -> dict[str, list[str]]:
    """The errors of a form, unless the form was not on screen just before (the user comes
    back to the page: its fields are empty, old messages would mislead)."""
    if key not in st.session_state:
        clear_errors(scope)
    return errors_for(scope)


SAVED = "signalement-enregistre"
ANSWER_KEYS = [f"fnc{view.id}-analyse", f"fnc{view.id}-mesures"]
REASON_KEY = f"fnc{view.id}-retrait"

show_flash()
st.title(f"{view.icon} Fonctionnement non conforme {view.number}")
caption = view.state_label
if isinstance(view, ConcernedReportView):
    caption += " — signalement concernant votre établissement"
st.caption(caption)
holder = " (titulaire de la ligne PDSES)" if view.is_line_holder else ""
rows: list[tuple[str, object]] = [
    ("Date et heure", dt(view.occurred_at)),
    ("Horaires", "PDSES" if view.in_pdses_hours else "hors horaires PDSES"),
    ("Spécialité PDSES", view.specialty),
    ("Etablissement déclarant", view.declaring_establishment),
    ("Etablissement concerné", view.concerned_establishment + holder),
    ("Type de dysfonctionnement", view.report_type),
    ("Description", view.description),
]
if isinstance(view, DeclarerReportView):
    rows += [
        ("Impact sur la prise en charge du patient", "oui" if view.impact else "non"),
        ("Description de l'impact", view.impact_description or ""),
        ("Déclaré par", view.created_by),
    ]
facts(rows)

if isinstance(view, ConcernedReportView):
    st.info(
        "L'impact éventuel sur la prise en charge du patient et l'auteur de la déclaration ne "
        "vous sont pas communiqués."
    )
    if not view.abilities["answer_report"]:
        unsaved(ANSWER_KEYS, "votre réponse n'a pas été enregistrée")
    if view.answer is not None:
        st.subheader("Réponse de votre établissement")
        answer_facts(view.answer)
    elif view.abilities["answer_report"]:
        st.subheader("Répondre à ce signalement")
        scope = f"reponse-fnc-{view.id}"
        errors = fresh_errors(scope, ANSWER_KEYS[0])
        with st.form("reponse-signalement"):
            analysis = st.text_area(
                "Analyse de l'établissement *",
                key=f"fnc{view.id}-analyse",
                max_chars=MAX_TEXT_LENGTH,
            )
            field_errors(errors, "analysis")
            measures = st.text_area(
                "Mesures correctives", key=f"fnc{view.id}-mesures", max_chars=MAX_TEXT_LENGTH
            )
            field_errors(errors, "corrective_measures")
            st.caption(
                "Aucune donnée nominative ne doit être saisie. La réponse est enregistrée une "
                "fois pour toutes ; l'établissement déclarant verra que vous avez répondu, sans "
                "en connaître le contenu."
            )
            sent = st.form_submit_button("Enregistrer la réponse", type="primary")
        if sent:
            data = reports.ReportAnswerInput(analysis=analysis, corrective_measures=measures)
            if run_action(scope, partial(reports.answer, db, actor, view.id, data)):
                st.session_state[SAVED] = view.id
                flash(f"Réponse enregistrée pour le signalement {view.number}.")
                st.rerun()
elif isinstance(view, RegionalReportView):
    st.subheader("Réponse de l'établissement concerné")
    if view.answer is not None:
        answer_facts(view.answer)
    else:
        st.caption("L'établissement concerné n'a pas encore répondu.")
else:
    if view.answered:
        st.success("L'établissement concerné a répondu à ce signalement.", icon="✅")
        st.caption(
            f"Réponse enregistrée le {dt(view.answered_at)} ; son contenu n'est communiqué "
            "qu'à l'établissement concerné et à l'ARS."
        )
    if not view.abilities["withdraw"]:
        unsaved([REASON_KEY], "le retrait n'a pas été enregistré")
    if view.abilities["withdraw"]:
        with st.expander("Retirer le signalement"):
            scope = f"retrait-fnc-{view.id}"
            errors = fresh_errors(scope, REASON_KEY)
            with st.form("retrait-signalement"):
                reason = st.text_area(
                    "Motif du retrait *",
                    key=f"fnc{view.id}-retrait",
                    max_chars=MAX_REASON_LENGTH,
                )
                field_errors(errors, "reason")
                withdraw_clicked = st.form_submit_button("Retirer le signalement")
            if withdraw_clicked:
                withdraw = partial(reports.withdraw, db, actor, view.id, reason, view.version)
                if run_action(scope, withdraw):
                    st.session_state[SAVED] = view.id
                    flash(f"Signalement {view.number} retiré (il reste conservé et tracé).")
                    st.rerun()

with st.expander("Historique du signalement"):
    for entry in report_queries.history(db, actor, view.id):
        detail = "".join(f"  \n  {md(d)}" for d in entry.details)
        st.markdown(f"- {dt(entry.at)} — **{md(entry.action)}** — {md(entry.who)}{detail}")
back_link()
