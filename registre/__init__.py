"""Registre des refus PDSES: the rules, the data and the e-mail notification.

Everything here is free of Streamlit except the ``registre.web`` sub-package, the glue
shared by the pages (authentication gate, widgets, formatting).
"""

__version__ = "0.1.0"
