"""The authentication gate every page starts with.

streamlit-authenticator provides the cookie component that writes and deletes the login
cookie (our signed token: ``registre.auth.encode_login_token``) and the session clean-up on
logout; the accounts, the password check and the lockout are ours (``registre.auth``, in the
database). Two traps:
- never ``st.rerun()`` right after setting or deleting the cookie: the cookie component must
  reach the browser (it triggers the rerun itself once the cookie is written);
- its ``max_login_attempts`` is process-wide and never expires, its ``api_key`` sends data to
  a third party: neither is used.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import streamlit as st
import streamlit_authenticator as stauth

from registre import auth, timeutil
from registre.actors import Actor
from registre.errors import ConfigurationError, RegistreError, ValidationError
from registre.models import Role
from registre.validation import MAX_USERNAME_LENGTH
from registre.web.accessibility import render_accessibility_statement
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
_DELETE_COOKIE_KEY = "registre_delete_cookie"
_LOGGED_IN_AT_KEY = "registre_logged_in_at"
_SEEN_KEY = "registre_last_seen"
_TOUCHED_KEY = "registre_last_recorded"
_EXPIRED_KEY = "registre_session_expired"
_COOKIE_WRITER_KEY = "registre_cookie_writer"
_HAD_ACCOUNT_KEY = "registre_had_account"  # pragma: allowlist secret (a session key)
_HOME_KEY = "registre_start_at_home"

# What survives a change of person on the tab: the cookie component's own state (the keys of
# extra_streamlit_components' CookieManager) and the flags of a cookie write or removal in
# progress. Everything else — widget values, kept texts, flashes, pagers, the page to return
# to — belongs to the person who leaves (issue 14 § 3).
_SURVIVES_A_CHANGE_OF_PERSON = frozenset(
    {
        "init",
        "set",
        "delete",
        "get_all",
        "logout",
        _DELETE_COOKIE_KEY,
        _COOKIE_WRITER_KEY,
        _LOGGED_OUT_KEY,
        _EXPIRED_KEY,
        _HAD_ACCOUNT_KEY,
    }
)


def _cookie_key() -> str:
    try:
        return settings().require_cookie_key()
    except ConfigurationError as exc:
        logger.error("Configuration : %s", exc.message)
        st.error(f"Configuration incomplète : {exc.message}", icon="⛔")
        st.stop()
        raise  # st.stop() raises; for the type checker


def _authenticator() -> Any:
    """streamlit-authenticator, to write or delete the cookie; building it draws its cookie
    component, which reruns the script once it has read the browser's cookies."""
    return stauth.Authenticate(
        credentials={"usernames": {}},
        cookie_name=COOKIE_NAME,
        cookie_key=_cookie_key(),
        cookie_expiry_days=settings().cookie_expiry_days,
        auto_hash=False,
        login_sleep_time=0,
    )


def _cookie_lifetime() -> timedelta:
    return timedelta(days=settings().cookie_expiry_days)


def _cookie_token() -> auth.LoginToken | None:
    """The signed login cookie sent with this session's connection (``registre.auth``
    checks its signature, issue time and expiry), read without drawing the cookie
    component."""
    if st.session_state.get("logout"):
        return None  # logged out or expired in this session: the cookie is not used again
    raw = st.context.cookies.get(COOKIE_NAME)
    if not isinstance(raw, str) or not raw:
        return None
    return auth.decode_login_token(raw, _cookie_key(), lifetime=_cookie_lifetime())


def _write_cookie(authenticator: Any, actor: Actor) -> None:
    """Write the login cookie through streamlit-authenticator's cookie component, with our
    token (it carries its issue time) and, behind HTTPS, the ``Secure`` flag."""
    issued = timeutil.now()
    lifetime = _cookie_lifetime()
    token = auth.encode_login_token(
        actor.username, _cookie_key(), issued_at=issued, lifetime=lifetime
    )
    authenticator.cookie_controller.cookie_model.cookie_manager.set(
        COOKIE_NAME,
        token,
        expires_at=datetime.now() + lifetime,  # the component's clock: naive local time
        max_age=lifetime.total_seconds(),
        secure=True if settings().base_url.startswith("https://") else None,
        same_site="strict",
    )


def _forget_the_person() -> None:
    """Empty the session of everything its last account held, before anything of the next
    one is drawn: a shared workstation's next user inherits nothing typed or shown."""
    for key in [str(k) for k in st.session_state]:
        if key not in _SURVIVES_A_CHANGE_OF_PERSON:
            del st.session_state[key]
    _end_session()


def _start_session(actor: Actor) -> None:
    if st.session_state.get(_HAD_ACCOUNT_KEY) is not None:
        # Someone was logged in on this tab before (logged out, expired, deactivated): even
        # the page to return to was theirs; the new account starts from « Accueil ».
        _forget_the_person()
        st.session_state[_HOME_KEY] = True
    st.session_state[_HAD_ACCOUNT_KEY] = actor.id
    st.session_state["authentication_status"] = True
    st.session_state["username"] = actor.username
    st.session_state["name"] = actor.display_name
    st.session_state["email"] = actor.email
    st.session_state["roles"] = [actor.role.value]
    st.session_state["logout"] = None
    st.session_state[_ACTOR_KEY] = actor.username
    st.session_state[_ACTOR_ID_KEY] = actor.id
    at = timeutil.now()
    st.session_state[_LOGGED_IN_AT_KEY] = at
    st.session_state[_SEEN_KEY] = at
    st.session_state[_TOUCHED_KEY] = at


def client_address() -> str:
    """The client's address for the login limit (``registre.auth.client_address``)."""
    peer = st.context.ip_address
    forwarded = st.context.headers.get("X-Forwarded-For")
    return auth.client_address(
        peer if isinstance(peer, str) else None,  # AppTest gives a stand-in object
        forwarded if isinstance(forwarded, str) else None,
        settings().trusted_proxies,
    )


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
    actor = (
        auth.load_actor(database(), username, logged_in_at=st.session_state.get(_LOGGED_IN_AT_KEY))
        if username
        else None
    )
    started_as = st.session_state.get(_ACTOR_ID_KEY)
    if actor is not None and started_as is not None and actor.id != started_as:
        # The account was renamed and its identifier given to another one: not the same
        # person. (The session names the account, as the cookie does.)
        actor = None
    if actor is None:
        _forget_the_person()
        return None
    return _still_active(actor)


def _idle_limit() -> timedelta:
    return timedelta(minutes=settings().session_idle_minutes)


def _still_active(actor: Actor) -> Actor | None:
    """End the session after the configured idle time; else note the activity (in the
    database at most once a minute: the login cookie of an idle account is refused too)."""
    at = timeutil.now()
    seen = st.session_state.get(_SEEN_KEY)
    if seen is not None and at - seen > _idle_limit():
        _forget_the_person()
        st.session_state["logout"] = True  # this session reads the cookie no more
        st.session_state[_EXPIRED_KEY] = True
        auth.record_session_expired(database(), actor)
        return None
    st.session_state[_SEEN_KEY] = at
    touched = st.session_state.get(_TOUCHED_KEY)
    if touched is None or at - touched >= auth.SEEN_PRECISION:
        auth.record_activity(database(), actor)
        st.session_state[_TOUCHED_KEY] = at
    return actor


def _from_cookie() -> Actor | None:
    token = _cookie_token()
    if token is None:
        return None
    # A logout refuses every cookie issued before it (the issue time is in the token).
    actor = auth.load_actor_for_cookie(
        database(), token.username, token.issued_at, idle=_idle_limit()
    )
    if actor is not None:
        _start_session(actor)
        auth.record_activity(database(), actor)
    return actor


def _remember_target() -> None:
    """The page asked for before login (a mail's link to a dossier), to open it after; not
    once someone has used the tab (the address is still theirs)."""
    if st.session_state.get(_HAD_ACCOUNT_KEY) is not None:
        return
    path = urlparse(st.context.url or "").path.strip("/").split("/")[-1]
    if path and path not in {"accueil", "Home"}:
        st.session_state[_TARGET_KEY] = (path, st.query_params.to_dict())


def _login_form(authenticator: Any = None) -> Actor | None:
    _remember_target()
    area = st.empty()
    with area.container():
        st.title("Registre des refus PDSES")
        if st.session_state.pop(_LOGGED_OUT_KEY, False):
            st.info("Vous êtes déconnecté.")
        if st.session_state.pop(_EXPIRED_KEY, False):
            minutes = f"{settings().session_idle_minutes:g}"
            st.info(
                f"Votre session a expiré après {minutes} minutes sans activité : "
                "reconnectez-vous pour continuer."
            )
        with st.form("connexion", clear_on_submit=False):
            st.subheader("Connexion")
            username = st.text_input(
                "Identifiant", autocomplete="username", max_chars=MAX_USERNAME_LENGTH
            )
            password = st.text_input(
                "Mot de passe",
                type="password",
                autocomplete="current-password",
                max_chars=auth.MAX_PASSWORD_BYTES,
            )
            submitted = st.form_submit_button("Se connecter", type="primary")
        message = st.empty()
        st.caption(auth.LOCKOUT_NOTICE)
        # Public services publish it where anyone can read it, logged in or not.
        with st.expander("Déclaration d'accessibilité"):
            render_accessibility_statement(title=False)
    if not submitted:
        return None
    result = auth.authenticate(database(), username, password, client=client_address())
    if not result.ok or result.actor is None:
        message.error(result.message)
        return None
    _start_session(result.actor)
    st.session_state[_JUST_IN_KEY] = True
    area.empty()
    # The cookie component is rendered outside ``area`` so that clearing the form keeps it.
    st.session_state[_COOKIE_WRITER_KEY] = True
    _write_cookie(authenticator or _authenticator(), result.actor)
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
        current = st.text_input(
            "Mot de passe actuel", type="password", max_chars=auth.MAX_PASSWORD_BYTES
        )
        new = st.text_input(
            "Nouveau mot de passe",
            type="password",
            help="Au moins 12 caractères ; une phrase de passe est plus sûre et plus facile à "
            "retenir.",
            max_chars=auth.MAX_PASSWORD_BYTES,
        )
        again = st.text_input(
            "Confirmation du nouveau mot de passe",
            type="password",
            max_chars=auth.MAX_PASSWORD_BYTES,
        )
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
    _cookie_key()  # a missing key is said at once, not at the first login
    deleting = st.session_state.pop(_DELETE_COOKIE_KEY, False)
    # The cookie component is drawn only where it is needed: from the login form on, and
    # in the sessions that wrote or deleted the cookie (then in every run, as
    # streamlit-authenticator does, so that it is never removed before it is done). A
    # session opened with a valid cookie (a reload) never draws it: its first value would
    # rerun the script at once and swallow a click made in that instant (« Se déconnecter »
    # right after a reload was lost once in 25 in Chromium). Drawn once a run: two collide.
    authenticator: Any = None
    if deleting or st.session_state.get(_COOKIE_WRITER_KEY):
        authenticator = _authenticator()
    if deleting:
        # The run right after « Se déconnecter »: the browser deletes its cookie (the
        # component reruns the script once done; the server refuses that cookie anyway).
        authenticator.cookie_controller.delete_cookie()
        st.session_state[_COOKIE_WRITER_KEY] = True
        st.session_state[_LOGGED_OUT_KEY] = True
        st.session_state.pop(_TARGET_KEY, None)
    actor = _session_actor() or _from_cookie()
    if actor is None:
        if authenticator is None:
            # Drawn from the login form on, so that at the login it is already there to
            # write the cookie (a component drawn for the first time in the login's own run
            # was once removed by its own rerun before it had written).
            authenticator = _authenticator()
        actor = _login_form(authenticator)
        if actor is None:
            st.stop()
    _sidebar(actor)
    return actor


def pending_target() -> tuple[str, dict[str, str]] | None:
    """The page asked for before login, once the login's own run is over (switching page in
    that run would lose the cookie being written: DEVELOPERS.md trap 2)."""
    if st.session_state.pop(_JUST_IN_KEY, False):
        return None
    if st.session_state.pop(_HOME_KEY, False):
        return ("", {})  # the default page, « Accueil » (Streamlit gives it an empty path)
    target: tuple[str, dict[str, str]] | None = st.session_state.pop(_TARGET_KEY, None)
    return target


def starts_at_home() -> bool:
    """True in the run of a login on a tab someone else used: the page its address names was
    the previous person's and is not drawn; ``pending_target`` then opens « Accueil »."""
    return bool(st.session_state.get(_HOME_KEY))


def mark_chrome_rendered() -> None:
    """Called by ``Home.py`` before running the selected page: the page's own gate must not
    render the sidebar a second time in the same run."""
    st.session_state[_CHROME_KEY] = True


def _sidebar(actor: Actor) -> None:
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
        st.sidebar.button("Se déconnecter", key="registre_logout", on_click=_log_out, args=(actor,))


def _log_out(actor: Actor) -> None:
    """« Se déconnecter », in the button's callback: Streamlit runs it before the script, so
    a run cut short by another rerun (the cookie component's, right after a reload) cannot
    lose the click, as ``if st.button(…)`` did once in 25 logouts in Chromium."""
    auth.record_logout(database(), actor)
    _forget_the_person()
    st.session_state["logout"] = True  # streamlit-authenticator's cookie reader stops
    st.session_state[_DELETE_COOKIE_KEY] = True
