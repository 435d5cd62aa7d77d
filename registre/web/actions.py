"""Running a ``registre`` action from a page: French errors shown, mails flushed after the
commit without making the page wait."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

import streamlit as st

from registre import mailer
from registre.errors import RegistreError, ValidationError
from registre.web.resources import database, settings
from registre.web.widgets import clear_errors, set_errors

T = TypeVar("T")

logger = logging.getLogger(__name__)

_DETAIL = (
    "Réessayez ; si cela se reproduit, prévenez le service informatique (le détail est dans "
    "le journal de l'application)."
)
UNEXPECTED_ACTION = f"Une erreur inattendue a empêché l'action d'aboutir. {_DETAIL}"
UNEXPECTED_PAGE = f"Une erreur inattendue empêche d'afficher cette page. {_DETAIL}"


def flush_mail() -> None:
    """Deliver the outbox in a background thread: SMTP never blocks the user."""
    mailer.flush_in_background(database(), settings())


@dataclass(frozen=True)
class Done(Generic[T]):
    """A successful action and what it returned (truthy even when that is None)."""

    value: T


def run_action(scope: str, action: Callable[[], T]) -> Done[T] | None:
    """Run ``action``; on a validation error keep every field's messages for the next run
    (the typed values stay in their widgets) and rerun; on another refusal show it and
    return None."""
    try:
        result = action()
    except ValidationError as exc:
        set_errors(scope, exc.by_field())
        st.rerun()
    except RegistreError as exc:  # a refusal, or the database unavailable (logged by it)
        st.error(exc.message, icon="⛔")
        return None
    except Exception:  # a bug: the user gets French, the log the traceback
        logger.exception("Action « %s » : erreur inattendue.", scope)
        st.error(UNEXPECTED_ACTION, icon="⛔")
        return None
    clear_errors(scope)
    flush_mail()
    return Done(result)


@contextmanager
def page_guard() -> Iterator[None]:
    """Around a whole run (``Home.py``): whatever escapes the page is shown in French, never
    as a traceback (Streamlit's own message, with ``showErrorDetails = "none"``, is in
    English). A ``RegistreError`` (e.g. the database unavailable while the page reads) shows
    its message; anything else a generic one, its traceback going to the log. Streamlit's
    ``st.stop``/``st.rerun``/``st.switch_page`` are ``BaseException``s: they pass."""
    try:
        yield
    except RegistreError as exc:
        st.error(exc.message, icon="⛔")
    except Exception:
        logger.exception("Page : erreur inattendue.")
        st.error(UNEXPECTED_PAGE, icon="⛔")
