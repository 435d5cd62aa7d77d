"""Administration — Référentiels: establishments (and the import of the FINESS file), their
services, the lists (specialties, motifs, destinations) and the PDSES lines. Add, edit,
deactivate; nothing is deleted. Rules and permissions: ``registre``."""

from functools import partial

import pandas as pd
import streamlit as st

from registre import finess_import, referentials
from registre.errors import RegistreError
from registre.models import LineKind
from registre.queries import Choice
from registre.referentials import LINE_KIND_LABELS, LISTS, EstablishmentFields, ListKind
from registre.validation import (
    MAX_EMAIL_LENGTH,
    MAX_LABEL_LENGTH,
    MAX_SEARCH_LENGTH,
    MAX_SORT_ORDER,
    MAX_TERRITORY_LENGTH,
    MIN_SORT_ORDER,
)
from registre.web.actions import run_action
from registre.web.auth import require_actor
from registre.web.navigation import ADMIN_ROLES
from registre.web.resources import database
from registre.web.widgets import (
    choice_box,
    errors_for,
    field_errors,
    flash,
    md,
    md_label,
    page_number,
    pager,
    show_flash,
)

actor = require_actor(ADMIN_ROLES)
db = database()

st.title("Référentiels")
show_flash()
st.caption(
    "Rien n'est supprimé : un élément désactivé disparaît des formulaires et reste dans les "
    "dossiers qui l'utilisent, leur historique et les statistiques."
)


def _active_button(label_on: str, label_off: str, active: bool, key: str, action) -> None:  # type: ignore[no-untyped-def]
    """« Désactiver » / « Réactiver » for one item."""
    if st.button(label_off if active else label_on, key=key):
        if run_action(key, partial(action, not active)):
            flash("Désactivé." if active else "Réactivé.")
            st.rerun()


etab_tab, services_tab, lists_tab, lines_tab, import_tab = st.tabs(
    ["Établissements", "Services", "Listes", "Lignes PDSES", "Import FINESS"]
)

# --- establishments -------------------------------------------------------------------------

with etab_tab:
    search = st.text_input(
        "Rechercher un établissement",
        placeholder="nom, FINESS ou département",
        key="etab-recherche",
        max_chars=MAX_SEARCH_LENGTH,
    )
    found = referentials.list_establishments(
        db, actor, search=search, page=page_number("etablissements", search), page_size=20
    )
    widths = [1.3, 3.5, 0.8, 0.8, 1.1]
    header = st.columns(widths)
    for col, title in zip(header, ["FINESS", "Nom", "Dépt", "Services", "État"], strict=True):
        col.markdown(f"**{title}**")
    for est in found.items:
        cols = st.columns(widths, vertical_alignment="center")
        if cols[0].button(est.finess, key=f"etab-{est.id}", help="Modifier cet établissement"):
            st.session_state["etab-choisi"] = est.id
            st.rerun()
        cols[1].markdown(md(est.name))
        cols[2].markdown(md(est.departement))
        cols[3].markdown(str(est.services))
        cols[4].markdown("Actif" if est.active else "Désactivé")
    pager("etablissements", found.page, found.pages, found.total)

    chosen = st.session_state.get("etab-choisi")
    current = referentials.get_establishment(db, actor, chosen) if chosen else None
    st.subheader(f"Modifier « {md(current.name)} »" if current else "Ajouter un établissement")
    scope = f"etab-form-{chosen or 0}"
    errors = errors_for(scope)
    with st.form(scope):
        c1, c2 = st.columns(2)
        # nine characters, typed with spaces or dots as well (« 910 020 254 »)
        number = c1.text_input("FINESS", value=current.finess if current else "", max_chars=20)
        name = c2.text_input(
            "Nom", value=current.name if current else "", max_chars=MAX_LABEL_LENGTH
        )
        with c1:
            field_errors(errors, "finess")
        with c2:
            field_errors(errors, "name")
        c3, c4, c5 = st.columns(3)
        departement = c3.text_input(
            "Département",
            value=current.departement if current else "",
            help="Vide : déduit du numéro FINESS.",
            max_chars=3,
        )
        territory = c4.text_input(
            "Territoire / GHT",
            value=(current.territory or "") if current else "",
            max_chars=MAX_TERRITORY_LENGTH,
        )
        director = c5.text_input(
            "E-mail de la direction",
            value=(current.director_email or "") if current else "",
            max_chars=MAX_EMAIL_LENGTH,
        )
        with c3:
            field_errors(errors, "departement")
        with c5:
            field_errors(errors, "director_email")
        submitted = st.form_submit_button("Enregistrer l'établissement", type="primary")
    if submitted:
        data = EstablishmentFields(number, name, departement, territory, director)
        done = run_action(scope, partial(referentials.save_establishment, db, actor, chosen, data))
        if done:
            flash(f"Établissement « {md(name.strip())} » enregistré.")
            st.session_state["etab-choisi"] = done.value
            st.rerun()
    if current:
        _active_button(
            "Réactiver l'établissement",
            "Désactiver l'établissement",
            current.active,
            f"etab-actif-{current.id}",
            partial(referentials.set_establishment_active, db, actor, current.id),
        )
        if st.button("Nouvel établissement", key="etab-nouveau"):
            st.session_state.pop("etab-choisi", None)
            st.rerun()

# --- services -------------------------------------------------------------------------------

with services_tab:
    options = referentials.establishment_choices(db, actor)
    est_id = choice_box(
        "Établissement",
        options,
        key="services-etab",
        help="Tapez quelques lettres du nom pour le retrouver.",
    )
    if est_id is not None:
        for service in referentials.list_services(db, actor, est_id):
            cols = st.columns([3, 1.2, 1.2], vertical_alignment="bottom")
            new_name = cols[0].text_input(
                "Nom du service",
                value=service.name,
                key=f"service-nom-{service.id}",
                max_chars=MAX_LABEL_LENGTH,
            )
            if cols[1].button("Renommer", key=f"service-renommer-{service.id}"):
                if run_action(
                    f"service-{service.id}",
                    partial(referentials.save_service, db, actor, est_id, service.id, new_name),
                ):
                    flash("Service renommé.")
                    st.rerun()
            with cols[2]:
                _active_button(
                    "Réactiver",
                    "Désactiver",
                    service.active,
                    f"service-actif-{service.id}",
                    partial(referentials.set_service_active, db, actor, service.id),
                )
            field_errors(errors_for(f"service-{service.id}"), "name")
        with st.form(f"service-ajout-{est_id}", clear_on_submit=True):
            added = st.text_input("Nouveau service", max_chars=MAX_LABEL_LENGTH)
            field_errors(errors_for(f"service-ajout-{est_id}"), "name")
            if st.form_submit_button("Ajouter le service") and run_action(
                f"service-ajout-{est_id}",
                partial(referentials.save_service, db, actor, est_id, None, added),
            ):
                flash(f"Service « {md(added.strip())} » ajouté.")
                st.rerun()

# --- lists ----------------------------------------------------------------------------------

with lists_tab:
    kind = st.radio(
        "Liste",
        list(ListKind),
        format_func=lambda k: LISTS[k].title,
        horizontal=True,
        key="liste-choisie",
    )
    spec = LISTS[kind]
    for item in referentials.list_items(db, actor, kind):
        scope = f"liste-{kind.value}-{item.id}"
        cols = st.columns([3, 1, 2, 1.2, 1.2], vertical_alignment="bottom")
        label = cols[0].text_input(
            "Libellé",
            value=item.label,
            key=f"{scope}-libelle",
            label_visibility="collapsed",
            max_chars=MAX_LABEL_LENGTH,
        )
        order = cols[1].number_input(
            "Ordre",
            value=item.sort_order,
            step=1,
            min_value=MIN_SORT_ORDER,
            max_value=MAX_SORT_ORDER,
            key=f"{scope}-ordre",
            label_visibility="collapsed",
        )
        flag = (
            cols[2].checkbox(spec.flag_label, value=item.flag, key=f"{scope}-option")
            if spec.flag
            else False
        )
        if cols[3].button("Enregistrer", key=f"{scope}-enregistrer") and run_action(
            scope,
            partial(referentials.save_item, db, actor, kind, item.id, label, int(order), flag),
        ):
            flash("Libellé enregistré.")
            st.rerun()
        with cols[4]:
            _active_button(
                "Réactiver",
                "Désactiver",
                item.active,
                f"{scope}-actif",
                partial(referentials.set_item_active, db, actor, kind, item.id),
            )
        field_errors(errors_for(scope), "label")
    scope = f"liste-{kind.value}-ajout"
    with st.form(scope, clear_on_submit=True):
        st.markdown(f"**Ajouter à « {spec.title} »**")
        c1, c2, c3 = st.columns([3, 1, 2])
        label = c1.text_input("Libellé", max_chars=MAX_LABEL_LENGTH)
        order = c2.number_input(
            "Ordre", value=100, step=1, min_value=MIN_SORT_ORDER, max_value=MAX_SORT_ORDER
        )
        flag = c3.checkbox(spec.flag_label) if spec.flag else False
        field_errors(errors_for(scope), "label")
        if st.form_submit_button("Ajouter") and run_action(
            scope,
            partial(referentials.save_item, db, actor, kind, None, label, int(order), flag),
        ):
            flash(f"« {md(label.strip())} » ajouté.")
            st.rerun()

# --- PDSES lines ------------------------------------------------------------------------------

with lines_tab:
    lines = referentials.list_lines(db, actor)
    widths = [2.2, 3, 1, 1.6, 1.2]
    header = st.columns(widths)
    for col, title in zip(
        header, ["Spécialité", "Établissement titulaire", "Type", "Territoire", "État"], strict=True
    ):
        col.markdown(f"**{title}**")
    for line in lines:
        cols = st.columns(widths, vertical_alignment="center")
        if cols[0].button(
            md_label(line.specialty), key=f"ligne-{line.id}", help="Modifier cette ligne"
        ):
            st.session_state["ligne-choisie"] = line.id
            st.rerun()
        cols[1].markdown(md(line.establishment))
        cols[2].markdown(LINE_KIND_LABELS[line.kind])
        cols[3].markdown(md(line.territory or "—"))
        with cols[4]:
            _active_button(
                "Réactiver",
                "Désactiver",
                line.active,
                f"ligne-actif-{line.id}",
                partial(referentials.set_line_active, db, actor, line.id),
            )
    chosen_line = st.session_state.get("ligne-choisie")
    current_line = next((ln for ln in lines if ln.id == chosen_line), None)
    st.subheader("Modifier la ligne" if current_line else "Ajouter une ligne PDSES")
    scope = f"ligne-form-{chosen_line or 0}"
    errors = errors_for(scope)
    specialties = [
        Choice(i.id, i.label) for i in referentials.list_items(db, actor, ListKind.SPECIALTY)
    ]
    c1, c2 = st.columns(2)
    with c1:
        line_specialty = choice_box(
            "Spécialité",
            specialties,
            key=f"{scope}-specialite",
            value=current_line.specialty_id if current_line else None,
        )
        field_errors(errors, "specialty")
    with c2:
        line_est = choice_box(
            "Établissement titulaire",
            options,
            key=f"{scope}-etab",
            value=current_line.establishment_id if current_line else None,
        )
        field_errors(errors, "establishment")
    kinds = list(LineKind)
    line_kind = st.radio(
        "Type",
        kinds,
        index=kinds.index(current_line.kind) if current_line else 0,
        format_func=LINE_KIND_LABELS.__getitem__,
        horizontal=True,
        key=f"{scope}-type",
    )
    line_territory = st.text_input(
        "Territoire",
        value=(current_line.territory or "") if current_line else "",
        key=f"{scope}-territoire",
        max_chars=MAX_TERRITORY_LENGTH,
    )
    if st.button("Enregistrer la ligne", type="primary", key=f"{scope}-enregistrer"):
        if run_action(
            scope,
            partial(
                referentials.save_line,
                db,
                actor,
                chosen_line,
                line_est,
                line_specialty,
                line_kind,
                line_territory,
            ),
        ):
            flash("Ligne PDSES enregistrée.")
            st.session_state.pop("ligne-choisie", None)
            st.rerun()

# --- import -----------------------------------------------------------------------------------

with import_tab:
    st.markdown(
        "Deux formats, séparés par des points-virgules : l'**extraction publique du fichier "
        "FINESS** (seules les lignes `structureet` sont lues) ou un fichier simple "
        "`finess;nom;departement` (le département peut être vide : il est alors déduit du "
        "numéro FINESS). Un nouvel import du même fichier ne change rien."
    )
    uploaded = st.file_uploader("Fichier CSV", type=["csv", "txt"], key="import-fichier")
    pasted = st.text_area(
        "… ou collez ici le contenu (format simple)",
        key="import-texte",
        placeholder="finess;nom;departement\n750100125;Hôpital Pitié-Salpêtrière (AP-HP);75",
    )
    content = uploaded.getvalue() if uploaded is not None else pasted.encode("utf-8")
    name = uploaded.name if uploaded is not None else "contenu collé"
    c1, c2 = st.columns(2)
    preview_clicked = c1.button(
        "Prévisualiser", key="import-previsualiser", disabled=not content.strip()
    )
    apply_clicked = c2.button(
        "Importer", type="primary", key="import-appliquer", disabled=not content.strip()
    )
    report = None
    try:
        if apply_clicked:
            report = finess_import.apply(db, actor, content, name)
        elif preview_clicked:
            report = finess_import.preview(db, actor, content)
    except RegistreError as exc:
        st.error(exc.message)
    if report is not None:
        counts = {change: report.count(change) for change in finess_import.Change}
        verb = "Import terminé" if report.applied else "Aperçu (rien n'est encore enregistré)"
        st.success(
            f"{verb} — {report.format.value} : "
            f"{counts[finess_import.Change.ADD]} ajout(s), "
            f"{counts[finess_import.Change.UPDATE]} mise(s) à jour, "
            f"{counts[finess_import.Change.SAME]} inchangé(s), "
            f"{len(report.rejected)} ligne(s) rejetée(s)."
        )
        changed = [ln for ln in report.lines if ln.change is not finess_import.Change.SAME]
        if changed:
            st.dataframe(
                pd.DataFrame(
                    [
                        (ln.line_no, ln.change.value, ln.finess, ln.name, ln.departement)
                        for ln in changed[:1000]
                    ],
                    columns=["Ligne", "Changement", "FINESS", "Nom", "Département"],
                ),
                hide_index=True,
                width="stretch",
            )
        if report.rejected:
            st.warning("Lignes rejetées :")
            st.dataframe(
                pd.DataFrame(
                    [(r.line_no, r.reason, r.content) for r in report.rejected[:1000]],
                    columns=["Ligne", "Raison", "Contenu"],
                ),
                hide_index=True,
                width="stretch",
            )
