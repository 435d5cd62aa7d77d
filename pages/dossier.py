"""A dossier as its viewer may see it (requester, refuser or regional view), its history,
and the actions of that viewer: answer (guide §5), reopen, complete."""

from functools import partial

import streamlit as st

from registre import dossiers, queries
from registre.errors import NotFound, PermissionDenied
from registre.queries import AnswerView, RefuserView, RegionalView, RequesterView
from registre.validation import MAX_REASON_LENGTH, MAX_SHORT_TEXT_LENGTH, MAX_TEXT_LENGTH
from registre.web.actions import run_action
from registre.web.auth import require_actor
from registre.web.navigation import DOSSIER_READERS, REFUS, REGISTRE
from registre.web.resources import database
from registre.web.widgets import (
    choice_box,
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
params = st.query_params
number = (params.get("numero") or "").strip()
ident = params.get("id") or ""

try:
    view = queries.get_dossier(
        db, actor, number=number or None, dossier_id=int(ident) if ident.isdigit() else None
    )
except (NotFound, PermissionDenied) as exc:
    st.error(exc.message)
    st.page_link(
        REGISTRE, label="Retour au registre", icon="📋"
    ) if actor.establishment_id else None
    st.stop()


def answer_facts(answer: AnswerView) -> None:
    rows: list[tuple[str, object]] = [
        ("Motif compris de la demande", answer.understood_motif or ""),
        ("Motif du refus", answer.refusal_motif or ""),
        ("Autre motif", answer.other_motif or ""),
        ("Commentaires", answer.comments or ""),
        ("Réponse enregistrée le", dt(answer.answered_at)),
    ]
    facts(rows)


def requester_facts(v: RequesterView | RegionalView) -> None:
    destination = v.final_destination or "non renseignée"
    if v.final_destination_establishment:
        destination += f" ({v.final_destination_establishment})"
    facts(
        [
            ("Etablissement demandeur", v.requesting_establishment),
            ("Service demandeur", v.requesting_service),
            ("Spécialité PDSES", v.specialty),
            ("Date et heure de la demande", dt(v.requested_at)),
            ("Horaires", "PDSES" if v.in_pdses_hours else "hors horaires PDSES"),
            ("Tranche d'âge du patient", v.age_band_label),
            ("Sexe", v.sex_label),
            ("Motif de la demande", v.request_motif),
            ("Autre motif de la demande", v.request_other_motif or ""),
            ("Niveau d'urgence", v.urgency_label),
            ("Destination finale du patient", destination),
            ("Impact sur la prise en charge du patient", "oui" if v.impact else "non"),
            ("Description de l'impact", v.impact_description or ""),
            ("Commentaires", v.comments or ""),
            ("Saisi par", v.created_by),
        ]
    )


show_flash()
if isinstance(view, RefuserView):
    st.title(f"{view.line_icon} Refus {view.number}")
    st.caption(f"{view.line_state_label} — refus adressé à votre établissement")
    facts(
        [
            ("Date et heure de la demande", dt(view.requested_at)),
            ("Spécialité PDSES", view.specialty),
            ("Etablissement demandeur", view.requesting_establishment),
            ("Service demandeur", view.requesting_service),
        ]
    )
    st.info(
        "Les motifs et les informations saisis par l'établissement demandeur ne vous sont "
        "pas communiqués."
    )
    if view.answer is not None:
        st.subheader("Réponse de votre établissement")
        answer_facts(view.answer)
    elif view.abilities["answer"]:
        st.subheader("Répondre à ce refus")
        options = queries.form_options(db, actor)
        errors = errors_for(f"reponse-{view.line_id}")
        key = f"r{view.line_id}"
        with st.form("reponse"):
            understood = choice_box(
                "Motif compris de la demande *", options.request_motifs, key=f"{key}-compris"
            )
            field_errors(errors, "understood_motif_id")
            motif = choice_box("Motif du refus *", options.refusal_motifs, key=f"{key}-motif")
            field_errors(errors, "refusal_motif_id")
            other = st.text_input(
                "Autre motif",
                key=f"{key}-autre",
                help="Obligatoire si le motif du refus est « Autre ».",
                max_chars=MAX_SHORT_TEXT_LENGTH,
            )
            field_errors(errors, "other_motif")
            comments = st.text_area(
                "Commentaires", key=f"{key}-commentaires", max_chars=MAX_TEXT_LENGTH
            )
            field_errors(errors, "comments")
            st.caption("Aucune donnée nominative ne doit être saisie.")
            sent = st.form_submit_button("Enregistrer la réponse", type="primary")
        if sent:
            data = dossiers.AnswerInput(
                understood_motif_id=understood,
                refusal_motif_id=motif,
                other_motif=other,
                comments=comments,
            )
            answer = partial(dossiers.answer, db, actor, view.id, view.line_id, data)
            if run_action(f"reponse-{view.line_id}", answer):
                flash(f"Réponse enregistrée pour le refus {view.number}.")
                st.rerun()
else:
    st.title(f"{view.icon} Refus {view.number}")
    st.caption(view.state_label)
    requester_facts(view)
    st.subheader("Établissements refuseurs")
    if not view.lines:
        st.info("Aucun établissement refuseur.")
    for line in view.lines:
        with st.container(border=True):
            holder = " — **titulaire de la ligne PDSES**" if line.is_line_holder else ""
            st.markdown(
                f"{line.icon} **{md(line.refusing_establishment)}**{holder} — "
                f"{md(line.state_label)}"
            )
            st.markdown(
                f"Motif du refus selon le demandeur : {md(line.refusal_motif)}"
                + (f" ({md(line.other_motif)})" if line.other_motif else "")
                + (f"  \nCommentaires : {md(line.comments)}" if line.comments else "")
            )
            if isinstance(line, queries.RegionalLineView):
                if line.answer is not None:
                    st.markdown("**Version de l'établissement refuseur**")
                    answer_facts(line.answer)
                else:
                    st.caption("L'établissement refuseur n'a pas encore répondu.")
    if isinstance(view, RequesterView):
        if view.abilities["update"] and st.button("Compléter le refus", type="primary"):
            st.switch_page(REFUS, query_params={"id": str(view.id)})
        if view.abilities["reopen"]:
            with st.expander("Réouvrir le dossier"):
                errors = errors_for(f"reouverture-{view.id}")
                with st.form("reouverture"):
                    reason = st.text_area("Motif de la réouverture *", max_chars=MAX_REASON_LENGTH)
                    field_errors(errors, "reason")
                    reopen_clicked = st.form_submit_button("Réouvrir")
                if reopen_clicked:
                    reopen = partial(dossiers.reopen, db, actor, view.id, reason, view.version)
                    if run_action(f"reouverture-{view.id}", reopen):
                        flash(f"Dossier {view.number} réouvert : il peut de nouveau être complété.")
                        st.switch_page(REFUS, query_params={"id": str(view.id)})

with st.expander("Historique du dossier"):
    for entry in queries.history(db, actor, view.id):
        detail = "".join(f"  \n  {md(d)}" for d in entry.details)
        st.markdown(f"- {dt(entry.at)} — **{md(entry.action)}** — {md(entry.who)}{detail}")
