"""Ajouter un nouveau refus / compléter un refus (guide §4).

A new refusal is one form (« Enregistrer »). Once saved, the page shows first the refusing
establishments, added one at a time (« Ajouter le refuseur »), then the dossier's form again
with the final destination and two buttons: « Enregistrer » and « Finaliser le dossier »,
which saves what the form holds and finalises in one go (nothing typed is lost)."""

import uuid
from datetime import time
from functools import partial

import streamlit as st

from registre import dossiers, queries
from registre.errors import NotFound, PermissionDenied
from registre.models import AGE_BAND_LABELS, SEX_LABELS, URGENCY_LABELS, LineState
from registre.queries import RequesterView
from registre.timeutil import to_paris
from registre.validation import MAX_REASON_LENGTH, MAX_SHORT_TEXT_LENGTH, MAX_TEXT_LENGTH
from registre.web.actions import run_action
from registre.web.auth import require_actor
from registre.web.navigation import DOSSIER, REFUS, REGISTRE, WRITER_ROLES
from registre.web.resources import database
from registre.web.widgets import (
    choice_box,
    combine_paris,
    enum_radio,
    errors_for,
    field_errors,
    flash,
    md,
    paris_now,
    show_flash,
)

actor = require_actor(WRITER_ROLES)
db = database()
params = st.query_params


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


dossier_id = _int(params.get("id"))
view: RequesterView | None = None
if dossier_id is not None:
    try:
        loaded = queries.get_dossier(db, actor, dossier_id=dossier_id)
    except (NotFound, PermissionDenied) as exc:
        st.error(exc.message)
        st.stop()
    if not isinstance(loaded, RequesterView) or not loaded.abilities["update"]:
        st.info("Ce dossier n'est pas modifiable : il est affiché en lecture seule.")
        st.page_link(DOSSIER, label="Voir le dossier", query_params={"numero": loaded.number})
        st.stop()
    view = loaded

options = queries.form_options(db, actor)
st.title(f"📝 Refus {view.number} — à compléter" if view else "Ajouter un nouveau refus")
show_flash()
st.warning("ATTENTION : aucune donnée nominative ne doit être saisie dans ces champs.", icon="⚠️")

SCOPE = f"dossier-{view.id if view else 'nouveau'}"
LINE_SCOPE = f"ligne-{view.id if view else 'nouveau'}"
# Keys without the version: what is typed survives adding a refuser in between.
KEY = f"d{view.id}" if view else "nouveau"


def refusers_section(view: RequesterView) -> None:
    st.header("Établissements refuseurs")
    line_errors = errors_for(LINE_SCOPE)
    editing = st.session_state.get("ligne-en-cours")
    editing_line = next((ln for ln in view.lines if ln.id == editing), None)
    if not view.lines:
        st.info("Aucun établissement refuseur pour le moment : ajoutez-les un par un ci-dessous.")
    for line in view.lines:
        with st.container(border=True):
            c1, c2, c3 = st.columns([3, 3, 1], vertical_alignment="center")
            holder = " — **titulaire de la ligne PDSES**" if line.is_line_holder else ""
            c1.markdown(
                f"{line.icon} **{md(line.refusing_establishment)}**{holder}  \n"
                f"{md(line.state_label)}"
            )
            detail = md(line.refusal_motif)
            if line.other_motif:
                detail += f" : {md(line.other_motif)}"
            if line.comments:
                detail += f"  \n{md(line.comments)}"
            c2.markdown(detail)
            if c3.button("Modifier", key=f"modifier-{line.id}"):
                st.session_state["ligne-en-cours"] = line.id
                st.rerun()
            if line.state is LineState.PENDING and c3.button("Retirer", key=f"retirer-{line.id}"):
                remove = partial(dossiers.remove_line, db, actor, view.id, line.id, view.version)
                if run_action(LINE_SCOPE, remove):
                    flash("Établissement refuseur retiré.")
                    st.rerun()

    # A fresh line form after each change (the dossier's version moves with every line).
    line_key = f"l{editing_line.id}v{view.version}" if editing_line else f"l-new-{view.version}"
    with st.form("refuseur"):
        st.subheader(
            "Modifier le refuseur" if editing_line else "Ajouter un établissement refuseur"
        )
        refuser = choice_box(
            "Etablissement refuseur *",
            queries.refuser_choices(db, actor, view.requesting_service_id),
            key=f"{line_key}-etab",
            value=editing_line.refusing_establishment_id if editing_line else None,
            help="Les établissements que votre service sollicite le plus souvent viennent en "
            "premier.",
        )
        field_errors(line_errors, "refusing_establishment_id")
        refusal_motif = choice_box(
            "Motif du refus *",
            options.refusal_motifs,
            key=f"{line_key}-motif",
            value=editing_line.refusal_motif_id if editing_line else None,
        )
        field_errors(line_errors, "refusal_motif_id")
        line_other = st.text_input(
            "Autre motif",
            key=f"{line_key}-autre",
            value=(editing_line.other_motif or "") if editing_line else "",
            help="Obligatoire si le motif du refus est « Autre ».",
            max_chars=MAX_SHORT_TEXT_LENGTH,
        )
        field_errors(line_errors, "other_motif")
        line_comments = st.text_area(
            "Commentaires",
            key=f"{line_key}-commentaires",
            value=(editing_line.comments or "") if editing_line else "",
            max_chars=MAX_TEXT_LENGTH,
        )
        field_errors(line_errors, "comments")
        label = "Enregistrer les modifications" if editing_line else "Ajouter le refuseur"
        add = st.form_submit_button(label, type="primary")
        cancel = st.form_submit_button("Annuler la modification") if editing_line else False

    if cancel:
        st.session_state.pop("ligne-en-cours", None)
        st.rerun()
    if add:
        line_data = dossiers.LineInput(
            refusing_establishment_id=refuser,
            refusal_motif_id=refusal_motif,
            other_motif=line_other,
            comments=line_comments,
        )
        if editing_line is not None:
            change = partial(
                dossiers.edit_line, db, actor, view.id, editing_line.id, line_data, view.version
            )
        else:
            change = partial(dossiers.add_line, db, actor, view.id, line_data, view.version)
        if run_action(LINE_SCOPE, change):
            st.session_state.pop("ligne-en-cours", None)
            flash("Établissement refuseur enregistré.")
            st.rerun()


def dossier_form(view: RequesterView | None) -> None:
    errors = errors_for(SCOPE)
    requested = to_paris(view.requested_at) if view else paris_now()
    services = options.services
    default_service = options.default_service_id or (services[0].id if len(services) == 1 else None)
    with st.form("dossier"):
        if view is not None:
            st.header("Le refus")
        if errors:
            st.error("Le dossier n'a pas été enregistré : corrigez les champs signalés ci-dessous.")
        st.text_input("Etablissement demandeur *", value=options.establishment, disabled=True)
        c1, c2 = st.columns(2)
        with c1:
            service = choice_box(
                "Service demandeur *",
                services,
                key=f"{KEY}-service",
                value=view.requesting_service_id if view else default_service,
            )
            field_errors(errors, "requesting_service_id")
        with c2:
            specialty = choice_box(
                "Spécialité PDSES *",
                options.specialties,
                key=f"{KEY}-specialite",
                value=view.specialty_id if view else _int(params.get("specialite")),
            )
            field_errors(errors, "specialty_id")
        c1, c2 = st.columns(2)
        day = c1.date_input(
            "Date et heure de la demande *",
            value=requested.date(),
            max_value=paris_now().date(),
            format="DD/MM/YYYY",
            key=f"{KEY}-date",
        )
        clock = c2.time_input(
            "Heure de la demande *",
            value=time(requested.hour, requested.minute),
            step=60,
            key=f"{KEY}-heure",
        )
        field_errors(errors, "requested_at")
        age_band = enum_radio(
            "Tranche d'âge du patient *",
            AGE_BAND_LABELS,
            key=f"{KEY}-age",
            value=view.age_band if view else None,
        )
        field_errors(errors, "age_band")
        sex = enum_radio("Sexe", SEX_LABELS, key=f"{KEY}-sexe", value=view.sex if view else None)
        c1, c2 = st.columns(2)
        with c1:
            motif = choice_box(
                "Motif de la demande *",
                options.request_motifs,
                key=f"{KEY}-motif",
                value=view.request_motif_id if view else None,
            )
            field_errors(errors, "request_motif_id")
        with c2:
            other_motif = st.text_input(
                "Autre motif de la demande",
                key=f"{KEY}-autre",
                value=(view.request_other_motif or "") if view else "",
                help="Obligatoire si le motif de la demande est « Autre ».",
                max_chars=MAX_SHORT_TEXT_LENGTH,
            )
            field_errors(errors, "request_other_motif")
        urgency = enum_radio(
            "Niveau d'urgence *",
            URGENCY_LABELS,
            key=f"{KEY}-urgence",
            value=view.urgency if view else None,
        )
        field_errors(errors, "urgency")
        c1, c2 = st.columns(2)
        with c1:
            destination = choice_box(
                "Destination finale du patient",
                options.destinations,
                key=f"{KEY}-destination",
                value=view.final_destination_id if view else None,
                help="Obligatoire seulement pour finaliser le dossier.",
            )
            field_errors(errors, "final_destination_id")
        with c2:
            destination_est = choice_box(
                "Établissement de destination",
                queries.refuser_choices(db, actor),
                key=f"{KEY}-destination-etab",
                value=view.final_destination_establishment_id if view else None,
                help="Obligatoire si le patient a été transféré dans un autre établissement.",
            )
            field_errors(errors, "final_destination_establishment_id")
        impact = st.checkbox(
            "Ce refus a eu un impact sur la prise en charge du patient",
            value=view.impact if view else False,
            key=f"{KEY}-impact",
            help="Un mail est envoyé automatiquement au directeur de votre établissement.",
        )
        impact_description = st.text_area(
            "Description de l'impact",
            key=f"{KEY}-impact-desc",
            value=(view.impact_description or "") if view else "",
            help="Obligatoire si la case ci-dessus est cochée.",
            max_chars=MAX_TEXT_LENGTH,
        )
        field_errors(errors, "impact_description")
        comments = st.text_area(
            "Commentaires",
            key=f"{KEY}-commentaires",
            value=(view.comments or "") if view else "",
            max_chars=MAX_TEXT_LENGTH,
        )
        field_errors(errors, "comments")
        field_errors(errors, "lines")
        b1, b2 = st.columns(2)
        saved = b1.form_submit_button("Enregistrer", use_container_width=True)
        finalising = view is not None and view.abilities["finalise"]
        finalise_clicked = finalising and b2.form_submit_button(
            "Finaliser le dossier", type="primary", use_container_width=True
        )
        if finalising:
            st.caption(
                "« Finaliser le dossier » enregistre ce formulaire et informe par mail les "
                "établissements refuseurs ; il faut la destination finale du patient et au "
                "moins un établissement refuseur."
            )

    if not (saved or finalise_clicked):
        return
    data = dossiers.DossierInput(
        requesting_service_id=service,
        specialty_id=specialty,
        requested_at=combine_paris(day, clock),
        age_band=age_band,
        sex=sex,
        request_motif_id=motif,
        request_other_motif=other_motif,
        urgency=urgency,
        final_destination_id=destination,
        final_destination_establishment_id=destination_est,
        impact=impact,
        impact_description=impact_description,
        comments=comments,
    )
    if view is None:
        # One token per new form: a double click on « Enregistrer » creates one dossier.
        token = st.session_state.setdefault("nouveau-jeton", uuid.uuid4().hex)
        created = run_action(SCOPE, partial(dossiers.create_draft, db, actor, data, token))
        if created is not None:
            st.session_state.pop("nouveau-jeton", None)
            flash(
                f"Refus {created.value.number} enregistré. Ajoutez maintenant les établissements "
                "refuseurs."
            )
            st.switch_page(REFUS, query_params={"id": str(created.value.id)})
    elif finalise_clicked:
        done = run_action(SCOPE, partial(dossiers.finalise, db, actor, view.id, view.version, data))
        if done is not None:
            message = (
                f"Dossier {done.value.number} finalisé : les établissements refuseurs sont "
                "informés par mail."
            )
            if done.value.unreached:
                message += (
                    " Attention : aucun compte Coordinateur ou Référent PDSES n'est enregistré "
                    f"pour {', '.join(md(n) for n in done.value.unreached)} ; prévenez cet établissement par un "
                    "autre moyen (le refus apparaîtra dans son registre dès qu'un compte existera)."
                )
            flash(message)
            st.switch_page(REGISTRE)
    else:
        update = partial(dossiers.update_draft, db, actor, view.id, data, view.version)
        if run_action(SCOPE, update):
            flash("Modifications enregistrées.")
            st.rerun()


def abandon_section(view: RequesterView) -> None:
    with st.expander("Abandonner ce brouillon"):
        scope = f"abandon-{view.id}"
        reason = st.text_input(
            "Motif de l'abandon", key=f"{KEY}-abandon", max_chars=MAX_REASON_LENGTH
        )
        field_errors(errors_for(scope), "reason")
        abandon = partial(dossiers.abandon, db, actor, view.id, reason, view.version)
        if st.button("Abandonner le brouillon") and run_action(scope, abandon):
            flash(f"Brouillon {view.number} abandonné (il reste conservé et tracé).")
            st.switch_page(REGISTRE)


if view is None:
    dossier_form(None)
else:
    refusers_section(view)
    st.divider()
    dossier_form(view)
    if view.abilities["abandon"]:
        abandon_section(view)
