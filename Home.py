"""Entry point: the login gate, then the menu built from the user's role."""

import streamlit as st

from registre.web.auth import mark_chrome_rendered, require_actor
from registre.web.navigation import pages_for
from registre.web.resources import start_background_duties

st.set_page_config(page_title="Registre des refus PDSES", page_icon="🏥", layout="wide")

start_background_duties()
actor = require_actor(entrypoint=True)
page = st.navigation(pages_for(actor), position="top")
mark_chrome_rendered()
page.run()
