"""Administration — Comptes: search, create (with a temporary password), edit, deactivate or
reactivate, unlock, set a temporary password. Rules and permissions: ``registre``."""

from functools import partial

import streamlit as st

from registre import administration
from registre.administration import AccountFields
from registre.auth import MAX_PASSWORD_BYTES
from registre.errors import RegistreError
from registre.models import ESTABLISHMENT_ROLES, ROLE_LABELS, Role
from registre.validation import (
    MAX_EMAIL_LENGTH,
    MAX_LABEL_LENGTH,
    MAX_SEARCH_LENGTH,
    MAX_USERNAME_LENGTH,
)
from registre.web.actions import run_action
from registre.web.auth import require_actor
from registre.web.navigation import ADMIN_ROLES
from registre.web.resources import database
from registre.web.widgets import (
    choice_box,
    clear_errors,
    dt,
    errors_for,
    field_errors,
    flash,
    md,
    page_number,
    pager,
    show_flash,
)

actor = require_actor(ADMIN_ROLES)
db = database()
SELECTED = "admin-compte"
WARNING = "admin-compte-avertissement"
NEW = 0

CLEAR = "admin-compte-a-vider"


def _open(account_id: int | None) -> None:
    """Show another account's form (or none): the former one's errors and typed values go."""
    for name in [str(k) for k in st.session_state]:
        if name.startswith(f"compte-{NEW}-") or name.endswith("-provisoire"):
            del st.session_state[name]
    clear_errors(f"compte-{NEW}")
    if account_id is not None:
        clear_errors(f"compte-{account_id}")
        st.session_state[SELECTED] = account_id
    else:
        st.session_state.pop(SELECTED, None)
    st.rerun()


# Values to forget before the widgets are drawn (a temporary password once it is set).
for name in st.session_state.pop(CLEAR, []):
    st.session_state.pop(name, None)

st.title("Comptes")
show_flash()
if warning := st.session_state.pop(WARNING, None):
    st.warning(warning, icon="⚠️")

# --- search -------------------------------------------------------------------------------

STATES = {None: "Tous", True: "Actifs", False: "Désactivés"}
with st.form("recherche-comptes"):
    c1, c2, c3 = st.columns([3, 2, 2])
    search = c1.text_input(
        "Rechercher",
        placeholder="identifiant, nom, e-mail, établissement",
        max_chars=MAX_SEARCH_LENGTH,
    )
    role_filter = c2.selectbox(
        "Profil",
        [None, *Role],
        format_func=lambda r: "Tous" if r is None else ROLE_LABELS[r],
        key="comptes-profil",
    )
    state_filter = c3.selectbox(
        "État", list(STATES), format_func=STATES.__getitem__, key="comptes-etat"
    )
    st.form_submit_button("Rechercher")

filters = (search, role_filter, state_filter)
result = administration.list_accounts(
    db,
    actor,
    search=search,
    role=role_filter,
    active=state_filter,
    page=page_number("comptes", filters),
    page_size=25,
)
if st.button("➕ Nouveau compte", key="compte-nouveau"):
    _open(NEW)
WIDTHS = [2, 2.2, 1.8, 2.6, 2.6, 1.4]
if not result.items:
    st.info("Aucun compte ne correspond à la recherche.")
else:
    header = st.columns(WIDTHS)
    for col, title in zip(
        header,
        ["Identifiant", "Nom affiché", "Profil", "Établissement", "Adresse e-mail", "État"],
        strict=True,
    ):
        col.markdown(f"**{title}**")
    for row in result.items:
        cols = st.columns(WIDTHS, vertical_alignment="center")
        if cols[0].button(f"✏️ {row.username}", key=f"compte-{row.id}", help="Modifier ce compte"):
            _open(row.id)
        cols[1].markdown(md(row.display_name))
        cols[2].markdown(md(row.role_label))
        cols[3].markdown(md(row.establishment or "—"))
        cols[4].markdown(md(row.email))
        cols[5].markdown(md(row.status))
    pager("comptes", result.page, result.pages, result.total)

# --- the account form ---------------------------------------------------------------------

selected = st.session_state.get(SELECTED)
if selected is None:
    st.stop()

try:
    options = administration.account_form_options(db, actor)
    detail = administration.get_account(db, actor, selected) if selected != NEW else None
except RegistreError as exc:
    st.error(exc.message)
    st.session_state.pop(SELECTED, None)
    st.stop()

st.divider()
key = f"compte-{selected}"
scope = f"compte-{selected}"
errors = errors_for(scope)
current = detail.fields if detail else AccountFields("", "", "", Role.DECLARANT)
if detail:
    st.header(f"Compte « {md(detail.row.username)} »")
    st.caption(
        f"État : {detail.row.status}"
        + (
            f" — dernière connexion le {dt(detail.row.last_login_at)}"
            if detail.row.last_login_at
            else ""
        )
    )
else:
    st.header("Nouveau compte")

c1, c2 = st.columns(2)
username = c1.text_input(
    "Identifiant",
    value=current.username,
    key=f"{key}-identifiant",
    max_chars=MAX_USERNAME_LENGTH,
)
with c1:
    field_errors(errors, "username")
display_name = c2.text_input(
    "Nom affiché", value=current.display_name, key=f"{key}-nom", max_chars=MAX_LABEL_LENGTH
)
with c2:
    field_errors(errors, "display_name")
email = st.text_input(
    "Adresse e-mail",
    value=current.email,
    key=f"{key}-email",
    help="Une seule adresse par compte.",
    max_chars=MAX_EMAIL_LENGTH,
)
st.caption(
    "Préférez une adresse générique créée par l'établissement (par exemple pdses@hopital.fr) : "
    "elle reste valable quand les personnes changent."
)
field_errors(errors, "email")
roles = list(Role)
role: Role = st.selectbox(
    "Profil",
    roles,
    index=roles.index(current.role),
    format_func=ROLE_LABELS.__getitem__,
    key=f"{key}-profil",
)
field_errors(errors, "role")
establishment_id = service_id = None
specialty_ids: list[int] = []
departements: list[str] = []
if role in ESTABLISHMENT_ROLES:
    c3, c4 = st.columns(2)
    with c3:
        establishment_id = choice_box(
            "Établissement",
            options.establishments,
            key=f"{key}-etablissement",
            value=current.establishment_id,
        )
        field_errors(errors, "establishment")
    with c4:
        service_id = choice_box(
            "Service",
            options.services.get(establishment_id or 0, ()),
            key=f"{key}-service-{establishment_id}",
            value=current.service_id,
            help="Facultatif. Un Déclarant saisit pour son service.",
        )
        field_errors(errors, "service")
if role is Role.REFERENT:
    labels = {c.id: c.label for c in options.specialties}
    specialty_ids = st.multiselect(
        "Spécialités (facultatif : toutes si vide)",
        list(labels),
        default=[i for i in current.specialty_ids if i in labels],
        format_func=labels.__getitem__,
        key=f"{key}-specialites",
    )
    field_errors(errors, "specialties")
if role is Role.ARS:
    departements = st.multiselect(
        "Départements (facultatif : toute la région si vide)",
        list(options.departements),
        default=[d for d in current.departements if d in options.departements],
        key=f"{key}-departements",
    )
    field_errors(errors, "departements")

fields = AccountFields(
    username=username,
    display_name=display_name,
    email=email,
    role=role,
    establishment_id=establishment_id,
    service_id=service_id,
    specialty_ids=specialty_ids,
    departements=departements,
)


def _saved(done: administration.SavedAccount, message: str) -> None:
    flash(message)
    if done.warning:
        st.session_state[WARNING] = done.warning
    st.session_state[SELECTED] = done.id
    st.rerun()


if detail is None:
    password = st.text_input(
        "Mot de passe provisoire",
        type="password",
        key=f"{key}-mot-de-passe",
        max_chars=MAX_PASSWORD_BYTES,
        help="À transmettre à la personne : elle devra le changer à sa première connexion.",
    )
    field_errors(errors, "password")
    if st.button("Créer le compte", type="primary", key=f"{key}-creer"):
        done = run_action(scope, partial(administration.create, db, actor, fields, password))
        if done:
            _saved(
                done.value,
                f"Compte « {done.value.username} » créé. Le mot de passe provisoire devra être "
                "changé à la première connexion.",
            )
    if st.button("Annuler", key=f"{key}-annuler"):
        _open(None)
    st.stop()

if st.button("Enregistrer les modifications", type="primary", key=f"{key}-enregistrer"):
    done = run_action(scope, partial(administration.update, db, actor, selected, fields))
    if done:
        _saved(done.value, f"Compte « {done.value.username} » enregistré.")

st.subheader("Accès")
row = detail.row
a1, a2 = st.columns(2)
with a1:
    if row.active:
        if st.button("Désactiver le compte", key=f"{key}-desactiver"):
            if run_action(scope, partial(administration.set_active, db, actor, selected, False)):
                flash(f"Compte « {row.username} » désactivé : il ne peut plus se connecter.")
                st.rerun()
    elif st.button("Réactiver le compte", key=f"{key}-reactiver"):
        if run_action(scope, partial(administration.set_active, db, actor, selected, True)):
            flash(f"Compte « {row.username} » réactivé.")
            st.rerun()
    field_errors(errors, "active")
    if row.locked:
        st.warning(
            f"Compte verrouillé jusqu'au {dt(row.locked_until)} après des échecs de connexion."
        )
        if st.button("Déverrouiller le compte", key=f"{key}-deverrouiller"):
            if run_action(scope, partial(administration.unlock, db, actor, selected)):
                flash(f"Compte « {row.username} » déverrouillé.")
                st.rerun()
with a2:
    temporary = st.text_input(
        "Nouveau mot de passe provisoire",
        type="password",
        key=f"{key}-provisoire",
        max_chars=MAX_PASSWORD_BYTES,
        help="La personne devra le changer à sa prochaine connexion ; ses sessions ouvertes "
        "sont fermées.",
    )
    field_errors(errors, "password")
    if st.button("Définir le mot de passe provisoire", key=f"{key}-definir") and run_action(
        scope, partial(administration.reset_password, db, actor, selected, temporary)
    ):
        flash(
            f"Mot de passe provisoire défini pour « {row.username} » : à changer à la "
            "prochaine connexion."
        )
        st.rerun()
