"""The authentication gate every page starts with.

streamlit-authenticator provides the signed re-authentication cookie (a JWT in a cookie set
through its cookie manager component) and the session clean-up on logout; the accounts, the
password check and the lockout are ours (``registre.auth``, in the database). Two traps:
- never ``st.rerun()`` right after setting or deleting the cookie: the cookie component must
  reach the browser (it triggers the rerun itself once the cookie is written);
- its ``max_login_attempts`` is process-wide and never expires, its ``api_key`` sends data to
  a third party: neither is used.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import streamlit as st
import streamlit_authenticator as stauth

from registre import auth
from registre.actors import Actor
from registre.errors import ConfigurationError, RegistreError, ValidationError
from registre.models import Role
from registre.web.resources import database, settings
from registre.web.widgets import flash, md

logger = logging.getLogger(__name__)

COOKIE_NAME = "registre_pdses_session"
_ACTOR_KEY = "registre_actor"
_ACTOR_ID_KEY = "registre_actor_id"
_CHROME_KEY = "registre_chrome_rendered"
_TARGET_KEY = "registre_after_login"
_JUST_IN_KEY = "registre_just_logged_in"
_LOGGED_OUT_KEY = "registre_logged_out"
_MESSAGE_KEY = "registre_login_message"


def _authenticator() -> Any:
    conf = settings()
    try:
        cookie_key = conf.require_cookie_key()
    except ConfigurationError as exc:
        logger.error("Configuration : %s", exc.message)
        st.error(f"Configuration incomplète : {exc.message}", icon="⛔")
        st.stop()
    return stauth.Authenticate(
        credentials={"usernames": {}},
        cookie_name=COOKIE_NAME,
        cookie_key=cookie_key,
        cookie_expiry_days=conf.cookie_expiry_days,
        auto_hash=False,
        login_sleep_time=0,
    )


def _start_session(actor: Actor) -> None:
    st.session_state["authentication_status"] = True
    st.session_state["username"] = actor.username
    st.session_state["name"] = actor.display_name
    st.session_state["email"] = actor.email
    st.session_state["roles"] = [actor.role.value]
    st.session_state["logout"] = None
    st.session_state[_ACTOR_KEY] = actor.username
    st.session_state[_ACTOR_ID_KEY] = actor.id


def _end_session() -> None:
    for key in (
        "authentication_status",
        "username",
        "name",
        "email",
        "roles",
        _ACTOR_KEY,
        _ACTOR_ID_KEY,
    ):
        st.session_state[key] = None


def _session_actor() -> Actor | None:
    """The logged-in account, reloaded: a deactivated account is out at the next rerun."""
    if not st.session_state.get("authentication_status"):
        return None
    username = st.session_state.get(_ACTOR_KEY)
    actor = auth.load_actor(database(), username) if username else None
    started_as = st.session_state.get(_ACTOR_ID_KEY)
    if actor is not None and started_as is not None and actor.id != started_as:
        # The account was renamed and its identifier given to another one: not the same
        # person. (The session names the account, as the cookie does.)
        actor = None
    if actor is None:
        _end_session()
    return actor


def _from_cookie(authenticator: Any) -> Actor | None:
    token = authenticator.cookie_controller.get_cookie()
    if not token or "username" not in token or "exp_date" not in token:
        return None
    # streamlit-authenticator signs {username, exp_date}; the issue date follows from the
    # configured lifetime, and a logout refuses every cookie issued before it.
    lifetime = timedelta(days=settings().cookie_expiry_days)
    issued_at = datetime.fromtimestamp(float(token["exp_date"]), UTC) - lifetime
    actor = auth.load_actor_for_cookie(database(), token["username"], issued_at)
    if actor is not None:
        _start_session(actor)
    return actor


def _remember_target() -> None:
    """The page asked for before login (a mail's link to a dossier), to open it after."""
    path = urlparse(st.context.url or "").path.strip("/").split("/")[-1]
    if path and path not in {"accueil", "Home"}:
        st.session_state[_TARGET_KEY] = (path, st.query_params.to_dict())


def _login_form(authenticator: Any) -> Actor | None:
    _remember_target()
    area = st.empty()
    with area.container():
        st.title("Registre des refus PDSES")
        if st.session_state.pop(_LOGGED_OUT_KEY, False):
            st.info("Vous êtes déconnecté.")
        with st.form("connexion", clear_on_submit=False):
            st.subheader("Connexion")
            username = st.text_input("Identifiant", autocomplete="username")
            password = st.text_input(
                "Mot de passe", type="password", autocomplete="current-password"
            )
            submitted = st.form_submit_button("Se connecter", type="primary")
        message = st.empty()
        st.caption(auth.LOCKOUT_NOTICE)
    if not submitted:
        return None
    result = auth.authenticate(database(), username, password)
    if not result.ok or result.actor is None:
        message.error(result.message)
        return None
    _start_session(result.actor)
    st.session_state[_JUST_IN_KEY] = True
    area.empty()
    # The cookie component is rendered outside ``area`` so that clearing the form keeps it.
    authenticator.cookie_controller.set_cookie()
    return result.actor


def require_actor(
    roles: set[Role] | frozenset[Role] | None = None, *, entrypoint: bool = False
) -> Actor:
    """Return the logged-in account, or show the login form and stop the page.

    ``Home.py`` calls it first at every run; every page file calls it again (a page opened
    by its URL right after a server start runs without ``Home.py``). The sidebar and its
    « Se déconnecter » are rendered once per run. With ``roles``, any other role gets a
    refusal and the page stops.
    """
    if not entrypoint and st.session_state.pop(_CHROME_KEY, False):
        # Run through Home.py's navigation: it authenticated this very run and drew the
        # sidebar and the cookie manager (a second one would collide).
        actor = _session_actor()
        if actor is None:
            st.stop()
    else:
        st.session_state.pop(_CHROME_KEY, None)
        actor = _authenticate_and_draw()
    if actor.must_change_password:
        _password_change_form(actor)
        st.stop()
    if roles is not None and actor.role not in roles:
        st.error("Votre profil ne donne pas accès à cette page.")
        st.stop()
    return actor


_PASSWORD_FORM_KEY = "registre_password_form"  # noqa: S105 (a session key)


def _password_change_form(actor: Actor) -> None:
    """A temporary password must be replaced before anything else."""
    st.title("Changer mon mot de passe")
    st.info(
        "Votre mot de passe est provisoire : choisissez-en un nouveau pour continuer "
        "(au moins 12 caractères)."
    )
    password_change_form(actor)


def password_change_form(actor: Actor) -> None:
    """« Changer mon mot de passe » (the forced change at login and the « Mon compte » page)."""
    # A new form after a success, so that the fields come back empty (not after an error:
    # the user corrects one field without typing everything again).
    generation = st.session_state.get(_PASSWORD_FORM_KEY, 0)
    with st.form(f"changer-mot-de-passe-{generation}"):
        current = st.text_input("Mot de passe actuel", type="password")
        new = st.text_input(
            "Nouveau mot de passe",
            type="password",
            help="Au moins 12 caractères ; une phrase de passe est plus sûre et plus facile à "
            "retenir.",
        )
        again = st.text_input("Confirmation du nouveau mot de passe", type="password")
        submitted = st.form_submit_button("Changer mon mot de passe", type="primary")
    if not submitted:
        return
    if new != again:
        st.error("Les deux saisies du nouveau mot de passe diffèrent.")
        return
    try:
        auth.change_password(database(), actor, current, new)
    except ValidationError as exc:
        for err in exc.errors:
            st.error(err.message)
        return
    except RegistreError as exc:
        st.error(exc.message)
        return
    st.session_state[_PASSWORD_FORM_KEY] = generation + 1
    flash("Mot de passe changé.")
    st.rerun()


def _authenticate_and_draw() -> Actor:
    authenticator = _authenticator()
    actor = _session_actor() or _from_cookie(authenticator)
    if actor is None:
        actor = _login_form(authenticator)
        if actor is None:
            st.stop()
    _sidebar(authenticator, actor)
    if not st.session_state.get("authentication_status"):
        # Logged out just now: the cookie deletion component is on its way (it reruns the
        # script); show the form now and say so on that rerun too.
        st.session_state[_LOGGED_OUT_KEY] = True
        st.session_state.pop(_TARGET_KEY, None)
        _login_form(authenticator)
        st.stop()
    return actor


def pending_target() -> tuple[str, dict[str, str]] | None:
    """The page asked for before login, once the login's own run is over (switching page in
    that run would lose the cookie being written: DEVELOPERS.md trap 2)."""
    if st.session_state.pop(_JUST_IN_KEY, False):
        return None
    target: tuple[str, dict[str, str]] | None = st.session_state.pop(_TARGET_KEY, None)
    return target


def mark_chrome_rendered() -> None:
    """Called by ``Home.py`` before running the selected page: the page's own gate must not
    render the sidebar a second time in the same run."""
    st.session_state[_CHROME_KEY] = True


def _sidebar(authenticator: Any, actor: Actor) -> None:
    with st.sidebar:
        st.markdown(f"**{md(actor.display_name)}**  \n{actor.role_label}")
        if settings().demo_mode:
            st.warning(
                "Mode démonstration : clé de session intégrée et comptes de démonstration. "
                "Ne pas utiliser pour de vrais dossiers."
            )
    if st.session_state.get(_JUST_IN_KEY):
        # The run of the login itself: a widget drawn here before st.navigation gets another
        # identity than in the next runs, so a click on it would be lost. The cookie
        # component reruns the script at once; the button comes with that run.
        st.sidebar.caption("Connexion…")
        return
    if st.session_state.get("authentication_status"):
        authenticator.logout(
            button_name="Se déconnecter",
            location="sidebar",
            key="registre_logout",
            callback=lambda _info: auth.record_logout(database(), actor),
        )
