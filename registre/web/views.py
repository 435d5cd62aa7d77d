"""Small rendering helpers shared by the pages."""

from __future__ import annotations

import streamlit as st

from registre import queries
from registre.actors import Actor
from registre.web.resources import database
from registre.web.widgets import md


def show_profile(actor: Actor) -> None:
    profile = queries.profile(database(), actor)
    st.subheader(f"Bonjour {md(profile.display_name)}")
    rows = [("Identifiant", profile.username), ("Profil", profile.role_label)]
    if profile.establishment:
        rows.append(("Établissement", profile.establishment))
    if profile.service:
        rows.append(("Service", profile.service))
    rows.append(("Adresse e-mail", profile.email))
    st.markdown("\n".join(f"- **{label}** : {md(value)}" for label, value in rows))
