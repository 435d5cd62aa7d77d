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

from typing import Any

import streamlit as st
import streamlit_authenticator as stauth

from registre import auth
from registre.actors import Actor
from registre.models import Role
from registre.web.resources import database, settings

COOKIE_NAME = "registre_pdses_session"
_ACTOR_KEY = "registre_actor"
_MESSAGE_KEY = "registre_login_message"


def _authenticator() -> Any:
    conf = settings()
    return stauth.Authenticate(
        credentials={"usernames": {}},
        cookie_name=COOKIE_NAME,
        cookie_key=conf.require_cookie_key(),
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


def _end_session() -> None:
    for key in ("authentication_status", "username", "name", "email", "roles", _ACTOR_KEY):
        st.session_state[key] = None


def _session_actor() -> Actor | None:
    """The logged-in account, reloaded: a deactivated account is out at the next rerun."""
    if not st.session_state.get("authentication_status"):
        return None
    username = st.session_state.get(_ACTOR_KEY)
    actor = auth.load_actor(database(), username) if username else None
    if actor is None:
        _end_session()
    return actor


def _from_cookie(authenticator: Any) -> Actor | None:
    token = authenticator.cookie_controller.get_cookie()
    if not token or "username" not in token:
        return None
    actor = auth.load_actor(database(), token["username"])
    if actor is not None:
        _start_session(actor)
    return actor


def _login_form(authenticator: Any) -> Actor | None:
    area = st.empty()
    with area.container():
        st.title("Registre des refus PDSES")
        with st.form("connexion", clear_on_submit=False):
            st.subheader("Connexion")
            username = st.text_input("Identifiant", autocomplete="username")
            password = st.text_input(
                "Mot de passe", type="password", autocomplete="current-password"
            )
            submitted = st.form_submit_button("Se connecter", type="primary")
        message = st.empty()
    if not submitted:
        return None
    result = auth.authenticate(database(), username, password)
    if not result.ok or result.actor is None:
        message.error(result.message)
        return None
    _start_session(result.actor)
    area.empty()
    # The cookie component is rendered outside ``area`` so that clearing the form keeps it.
    authenticator.cookie_controller.set_cookie()
    return result.actor


def require_actor(roles: set[Role] | frozenset[Role] | None = None) -> Actor:
    """Return the logged-in account, or show the login form and stop the page.

    Every page calls this first (a page opened by its URL right after a server start runs
    without ``Home.py``). With ``roles``, any other role gets a refusal and the page stops.
    """
    authenticator = _authenticator()
    actor = _session_actor() or _from_cookie(authenticator)
    if actor is None:
        actor = _login_form(authenticator)
        if actor is None:
            st.stop()
    if roles is not None and actor.role not in roles:
        st.error("Votre profil ne donne pas accès à cette page.")
        _sidebar(authenticator, actor)
        st.stop()
    _sidebar(authenticator, actor)
    if not st.session_state.get("authentication_status"):
        # Logged out just now: the cookie deletion component is on its way; show the form.
        st.info("Vous êtes déconnecté.")
        _login_form(authenticator)
        st.stop()
    return actor


def _sidebar(authenticator: Any, actor: Actor) -> None:
    with st.sidebar:
        st.markdown(f"**{actor.display_name}**  \n{actor.role_label}")
    if st.session_state.get("authentication_status"):
        authenticator.logout(
            button_name="Se déconnecter",
            location="sidebar",
            key="registre_logout",
            callback=lambda _info: auth.record_logout(database(), actor),
        )
