"""Entry point: the login gate, then the menu built from the user's role."""

import streamlit as st

from registre.web.actions import page_guard
from registre.web.auth import mark_chrome_rendered, pending_target, require_actor, starts_at_home
from registre.web.navigation import find_page, pages_for
from registre.web.resources import start_background_duties

st.set_page_config(page_title="Registre des refus PDSES", page_icon="🏥", layout="wide")

# An error that escapes (the database down while the page reads, a bug) is shown in French.
with page_guard():
    start_background_duties()
    actor = require_actor(entrypoint=True)
    menu = pages_for(actor)
    page = st.navigation(menu, position="top")
    target = pending_target()
    if target is not None and (wanted := find_page(menu, target[0])) is not None:
        st.switch_page(wanted, query_params=target[1])
    mark_chrome_rendered()
    if starts_at_home():
        # A login on a tab someone else used: the page its address names was theirs; the
        # next run (the cookie component's, once the cookie is written) opens « Accueil ».
        st.caption("Connexion…")
    else:
        page.run()
