"""Hostile input on the refusal dossier's actions (issue « Hostile input »), property-based.

Every action that takes text or values from a user — create, update, add / edit / remove a
refuser line, finalise, abandon, reopen, the refuser's answer, the reminders — is fed random
text: control characters (NUL, ESC, CR), bidirectional overrides, zero-width characters,
100 kB strings and strings around each limit, emoji, Arabic and Hebrew, SQL and HTML
fragments, lone surrogates, decomposed accents; and ids, versions and delays beyond 32 and
64 bits. What is asserted, for each example:

- either a ``ValidationError`` whose messages are exactly those the oracle of
  ``tests/hostile_input.py`` expects, field by field (forbidden character named by its code,
  limit given, nominative data — ``registre.pii`` rejects patient data by design —, required
  field), and not one row of the database changed;
- or, when the oracle expects no error, the value read back through the functions the pages
  use (``queries.get_dossier``, ``queries.history``) is exactly the text typed in its stored
  normal form (NFC, ``\\n`` line breaks, no surrounding blanks): never cut, never altered;
- never another exception (``IntegrityError``, ``DataError``, ``UnicodeEncodeError``,
  ``OverflowError``…). The same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from sqlalchemy import func, select

from registre import dossiers, queries
from registre.dossiers import AnswerInput, LineInput
from registre.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from registre.models import DossierState, LineState, RefuserLine
from registre.timeutil import as_utc, to_paris

from .hostile_input import (
    FEW,
    HOSTILE,
    HUGE_INT,
    MAYBE_TEXT,
    Text,
    issue_samples,
    normal_text,
    outcome,
    snapshot,
)

START = datetime(2026, 11, 26, 2, 15, tzinfo=UTC)
OTHER = "Autre"
REQUEST_OTHER = Text("request_other_motif", "Autre motif de la demande", 300)
IMPACT = Text("impact_description", "Description de l'impact", 5000)
COMMENTS = Text("comments", "Commentaires", 5000)
LINE_OTHER = Text("other_motif", "Autre motif", 300, required=True)
REOPEN_REASON = Text("reason", "Motif de la réouverture", 1000, required=True)
ABANDON_REASON = Text("reason", "Motif de l'abandon", 1000)


def _record(ok: bool) -> None:
    event("accepted" if ok else "refused")


def _form(world, other, impact, impact_description, comments, **overrides):
    return world.dossier_input(
        request_motif_id=world.request_motif[OTHER],
        request_other_motif=other,
        impact=impact,
        impact_description=impact_description,
        comments=comments,
        **overrides,
    )


def _form_errors(other, impact, impact_description, comments) -> dict[str, list[str]]:
    return {
        "request_other_motif": REQUEST_OTHER.errors(other, required=True),
        "impact_description": IMPACT.errors(impact_description, required=impact),
        "comments": COMMENTS.errors(comments),
    }


def _assert_form_stored(view, other, impact, impact_description, comments) -> None:
    assert view.request_other_motif == normal_text(other)
    assert view.impact is impact
    assert view.impact_description == (normal_text(impact_description) if impact else None)
    assert view.comments == normal_text(comments)


FORM = {
    "other": MAYBE_TEXT,
    "impact": st.booleans(),
    "impact_description": MAYBE_TEXT,
    "comments": MAYBE_TEXT,
}


@HOSTILE
@issue_samples("other", "impact_description", "comments", impact=True)
@given(**FORM)
def test_create_draft(world, other, impact, impact_description, comments):
    actor = world.actor("declarant_req")
    data = _form(world, other, impact, impact_description, comments)
    ok, ref = outcome(
        world.db,
        lambda: dossiers.create_draft(world.db, actor, data),
        _form_errors(other, impact, impact_description, comments),
    )
    _record(ok)
    if ok:
        view = queries.get_dossier(world.db, actor, dossier_id=ref.id)
        _assert_form_stored(view, other, impact, impact_description, comments)
        # a draft is the requester's own work: no ARS reads it (tests/test_regional_scope.py)
        with pytest.raises(PermissionDenied):
            queries.get_dossier(world.db, world.actor("ars"), dossier_id=ref.id)


@HOSTILE
@issue_samples("other", "impact_description", "comments", impact=True)
@given(**FORM)
def test_update_draft(world, other, impact, impact_description, comments):
    actor = world.actor("declarant_req")
    ref = world.draft(comments="Avant")
    data = _form(world, other, impact, impact_description, comments)
    ok, _ = outcome(
        world.db,
        lambda: dossiers.update_draft(world.db, actor, ref.id, data, ref.version),
        _form_errors(other, impact, impact_description, comments),
    )
    _record(ok)
    view = queries.get_dossier(world.db, actor, dossier_id=ref.id)
    if ok:
        _assert_form_stored(view, other, impact, impact_description, comments)
    else:
        assert view.comments == "Avant"


@FEW
@issue_samples("other", "impact_description", "comments", impact=True)
@given(**FORM)
def test_finalise_with_the_form(world, other, impact, impact_description, comments):
    actor = world.actor("declarant_req")
    ref = world.draft(lines=("ref",))
    data = _form(
        world,
        other,
        impact,
        impact_description,
        comments,
        final_destination_id=world.destination["Retour à domicile"],
    )
    ok, _ = outcome(
        world.db,
        lambda: dossiers.finalise(world.db, actor, ref.id, ref.version, data),
        _form_errors(other, impact, impact_description, comments),
    )
    _record(ok)
    view = queries.get_dossier(world.db, actor, dossier_id=ref.id)
    if ok:
        assert view.state is DossierState.FINALISED
        _assert_form_stored(view, other, impact, impact_description, comments)
    else:
        assert view.state is DossierState.DRAFT


def _aware_or_naive() -> st.SearchStrategy[datetime]:
    offsets = st.integers(-(24 * 60) + 1, 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
    return st.one_of(
        st.datetimes(),  # naive: Paris local time, as typed; year 1 to 9999
        st.datetimes(timezones=st.one_of(st.just(UTC), offsets, st.timezones())),
        st.sampled_from(
            [
                datetime.min,
                datetime.max,
                datetime(2026, 3, 29, 2, 30),  # skipped by summer time
                datetime(2026, 10, 25, 2, 30),  # repeated in the autumn
                datetime(1999, 12, 31, 23, 59),
                datetime(2000, 1, 1, 0, 0),
            ]
        ),
    )


INSTANT_MESSAGES = {
    "Cette heure n'existe pas ce jour-là (passage à l'heure d'été) : vérifiez l'heure de la "
    "demande.",
    "La date et l'heure de la demande ne peuvent pas être dans le futur.",
    "La date de la demande est invalide.",
}


@HOSTILE
@given(requested_at=_aware_or_naive())
def test_any_date_and_time_of_the_request(world, requested_at):
    actor = world.actor("declarant_req")
    before = snapshot(world.db)
    try:
        ref = dossiers.create_draft(world.db, actor, world.dossier_input(requested_at=requested_at))
    except ValidationError as exc:
        _record(False)
        assert set(exc.by_field()) == {"requested_at"}
        assert set(exc.by_field()["requested_at"]) <= INSTANT_MESSAGES, exc.by_field()
        assert snapshot(world.db) == before
        return
    _record(True)
    view = queries.get_dossier(world.db, actor, dossier_id=ref.id)
    assert view.requested_at == as_utc(requested_at)
    assert to_paris(view.requested_at).year >= 2000


@HOSTILE
@issue_samples("other", "comments")
@given(other=MAYBE_TEXT, comments=MAYBE_TEXT)
def test_add_line(world, other, comments):
    actor = world.actor("declarant_req")
    ref = world.draft()
    data = world.line_input(
        refusal_motif_id=world.refusal_motif[OTHER], other_motif=other, comments=comments
    )
    ok, line_id = outcome(
        world.db,
        lambda: dossiers.add_line(world.db, actor, ref.id, data, ref.version),
        {"other_motif": LINE_OTHER.errors(other), "comments": COMMENTS.errors(comments)},
    )
    _record(ok)
    view = queries.get_dossier(world.db, actor, dossier_id=ref.id)
    if ok:
        (line,) = view.lines
        assert line.id == line_id
        assert (line.other_motif, line.comments) == (normal_text(other), normal_text(comments))
    else:
        assert view.lines == ()


@HOSTILE
@issue_samples("other", "comments")
@given(other=MAYBE_TEXT, comments=MAYBE_TEXT)
def test_edit_line(world, other, comments):
    actor = world.actor("declarant_req")
    ref = world.draft(lines=("ref",))
    view = queries.get_dossier(world.db, actor, dossier_id=ref.id)
    (line,) = view.lines
    data = world.line_input(
        refusal_motif_id=world.refusal_motif[OTHER], other_motif=other, comments=comments
    )
    ok, _ = outcome(
        world.db,
        lambda: dossiers.edit_line(world.db, actor, ref.id, line.id, data, view.version),
        {"other_motif": LINE_OTHER.errors(other), "comments": COMMENTS.errors(comments)},
    )
    _record(ok)
    (after,) = queries.get_dossier(world.db, actor, dossier_id=ref.id).lines
    if ok:
        assert (after.other_motif, after.comments) == (normal_text(other), normal_text(comments))
    else:
        assert after == line


def _maybe(real: int) -> st.SearchStrategy[int]:
    return st.one_of(st.just(real), HUGE_INT)


@FEW
@given(data=st.data())
def test_remove_line_with_any_ids(world, data):
    """Ids and versions come from the page, never typed: any integer is still answered in
    French (not found, changed meanwhile) or removes the right line."""
    actor = world.actor("declarant_req")
    ref = world.draft(lines=("ref",))
    (line,) = queries.get_dossier(world.db, actor, dossier_id=ref.id).lines
    dossier_id = data.draw(_maybe(ref.id), "dossier_id")
    line_id = data.draw(_maybe(line.id), "line_id")
    version = data.draw(st.one_of(st.none(), _maybe(ref.version)), "expected_version")
    before = snapshot(world.db)
    try:
        dossiers.remove_line(world.db, actor, dossier_id, line_id, version)
    except (NotFound, ConflictError, ValidationError):
        _record(False)
        assert snapshot(world.db) == before
        return
    _record(True)
    assert (dossier_id, line_id) == (ref.id, line.id)
    assert version in (None, ref.version)
    assert queries.get_dossier(world.db, actor, dossier_id=ref.id).lines == ()


def _reasons(world, actor, dossier_id: int) -> list[str]:
    return [
        detail
        for entry in queries.history(world.db, actor, dossier_id)
        for detail in entry.details
        if detail.startswith("Motif : ")
    ]


@HOSTILE
@issue_samples("reason")
@given(reason=MAYBE_TEXT)
def test_abandon(world, reason):
    actor = world.actor("declarant_req")
    ref = world.draft()
    ok, _ = outcome(
        world.db,
        lambda: dossiers.abandon(world.db, actor, ref.id, reason, ref.version),
        {"reason": ABANDON_REASON.errors(reason)},
    )
    _record(ok)
    view = queries.get_dossier(world.db, actor, dossier_id=ref.id)
    if ok:
        assert view.state is DossierState.ABANDONED
        cleaned = normal_text(reason)
        assert _reasons(world, actor, ref.id) == ([f"Motif : {cleaned}"] if cleaned else [])
    else:
        assert view.state is DossierState.DRAFT


@FEW
@issue_samples("reason")
@given(reason=MAYBE_TEXT)
def test_reopen(world, reason):
    actor = world.actor("coordinateur_req")
    ref = world.finalised("coordinateur_req")
    ok, _ = outcome(
        world.db,
        lambda: dossiers.reopen(world.db, actor, ref.id, reason, ref.version),
        {"reason": REOPEN_REASON.errors(reason)},
    )
    _record(ok)
    view = queries.get_dossier(world.db, actor, dossier_id=ref.id)
    if ok:
        assert view.state is DossierState.DRAFT
        assert _reasons(world, actor, ref.id) == [f"Motif : {normal_text(reason)}"]
        # the ARS reads the same reason
        assert _reasons(world, world.actor("ars"), ref.id) == [f"Motif : {normal_text(reason)}"]
    else:
        assert view.state is DossierState.FINALISED


@FEW
@issue_samples("other", "comments")
@given(other=MAYBE_TEXT, comments=MAYBE_TEXT)
def test_answer(world, other, comments):
    """The refusing establishment's own account (« Autre motif », « Commentaires »)."""
    ref = world.finalised()
    refuser = world.actor("coordinateur_ref")
    line_id = queries.get_dossier(world.db, refuser, dossier_id=ref.id).line_id
    data = AnswerInput(
        understood_motif_id=world.request_motif["Avis spécialisé"],
        refusal_motif_id=world.refusal_motif[OTHER],
        other_motif=other,
        comments=comments,
    )
    ok, _ = outcome(
        world.db,
        lambda: dossiers.answer(world.db, refuser, ref.id, line_id, data),
        {"other_motif": LINE_OTHER.errors(other), "comments": COMMENTS.errors(comments)},
    )
    _record(ok)
    own = queries.get_dossier(world.db, refuser, dossier_id=ref.id)
    (regional,) = queries.get_dossier(world.db, world.actor("ars"), dossier_id=ref.id).lines
    if ok:
        expected = (normal_text(other), normal_text(comments))
        assert own.line_state is LineState.ANSWERED
        assert (own.answer.other_motif, own.answer.comments) == expected
        assert (regional.answer.other_motif, regional.answer.comments) == expected
    else:
        assert own.line_state is LineState.AWAITING
        assert own.answer is None


@FEW
@given(days=HUGE_INT)
def test_reminders_with_any_delay(world, clock, days):
    """The delay comes from the configuration or ``registre remind --days``: a French error
    when it makes no sense, never an overflow."""
    clock.set(START)
    world.finalised()
    clock.set(START + timedelta(days=30))
    with world.db.read() as s:
        due = s.scalar(
            select(func.count()).where(
                RefuserLine.reminded_at.is_(None), RefuserLine.state == LineState.AWAITING
            )
        )
    before = snapshot(world.db)
    try:
        count = dossiers.send_reminders(world.db, days)
    except ValidationError as exc:
        _record(False)
        assert list(exc.by_field()) == ["days"]
        assert snapshot(world.db) == before
        assert not 0 <= days <= 3650
        return
    _record(True)
    assert 0 <= days <= 3650
    assert count == (due if days < 30 else 0)


@FEW
@given(establishment=st.one_of(st.none(), HUGE_INT), motif=st.one_of(st.none(), HUGE_INT))
def test_add_line_with_any_ids(world, establishment, motif):
    """A line whose establishment and motif are any integers (or none): a French error on
    those fields, never a database error."""
    actor = world.actor("declarant_req")
    ref = world.draft()
    data = LineInput(refusing_establishment_id=establishment, refusal_motif_id=motif)
    before = snapshot(world.db)
    try:
        dossiers.add_line(world.db, actor, ref.id, data, ref.version)
    except ValidationError as exc:
        _record(False)
        assert set(exc.by_field()) <= {"refusing_establishment_id", "refusal_motif_id"}
        assert snapshot(world.db) == before
        return
    _record(True)


@FEW
@given(
    service=HUGE_INT,
    specialty=HUGE_INT,
    motif=HUGE_INT,
    destination=st.one_of(st.none(), HUGE_INT),
    establishment=st.one_of(st.none(), HUGE_INT),
)
def test_create_draft_with_any_ids(world, service, specialty, motif, destination, establishment):
    """Ids out of any range (beyond 32 or 64 bits, negative): « valeur inconnue », never an
    overflow of the driver."""
    actor = world.actor("declarant_req")
    data = world.dossier_input(
        requesting_service_id=service,
        specialty_id=specialty,
        request_motif_id=motif,
        final_destination_id=destination,
        final_destination_establishment_id=establishment,
    )
    before = snapshot(world.db)
    try:
        dossiers.create_draft(world.db, actor, data)
    except (ValidationError, NotFound, PermissionDenied) as exc:
        _record(False)
        assert snapshot(world.db) == before
        if isinstance(exc, ValidationError):
            assert set(exc.by_field()) <= {
                "requesting_service_id",
                "specialty_id",
                "request_motif_id",
                "final_destination_id",
                "final_destination_establishment_id",
            }
        return
    _record(True)
