"""Accueil: login, then who is connected. The registry pages come with st.navigation."""

import streamlit as st

from registre.web.auth import require_actor
from registre.web.views import show_profile

st.set_page_config(page_title="Registre des refus PDSES", page_icon="🏥", layout="wide")

actor = require_actor()
st.title("Registre des refus PDSES")
show_profile(actor)
