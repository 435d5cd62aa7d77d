"""The Streamlit glue shared by the pages: authentication gate, resources, formatting.
The only part of ``registre`` allowed to import Streamlit."""
