"""The framework's floor for ``benchmarks.load``: a one-line page, served with the app's server
settings (``streamlit run`` from the project root reads the same ``.streamlit/config.toml``)."""

import streamlit as st

st.write("ok")
