"""Mon compte: the profile and « Changer mon mot de passe », for every account."""

import streamlit as st

from registre.web.auth import password_change_form, require_actor
from registre.web.views import show_profile
from registre.web.widgets import show_flash

actor = require_actor()

st.title("Mon compte")
show_flash()
show_profile(actor)
st.subheader("Changer mon mot de passe")
st.caption("Le mot de passe doit comporter au moins 12 caractères.")
password_change_form(actor)
