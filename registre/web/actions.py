"""Running a ``registre`` action from a page: French errors shown, mails flushed after the
commit without making the page wait."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import streamlit as st

from registre import mailer
from registre.errors import RegistreError, ValidationError
from registre.web.resources import database, settings
from registre.web.widgets import clear_errors, set_errors

T = TypeVar("T")


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
    except RegistreError as exc:
        st.error(exc.message, icon="⛔")
        return None
    clear_errors(scope)
    flush_mail()
    return Done(result)
