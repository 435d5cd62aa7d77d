"""What the regional agency (ARS) sees (issue 14 § 1; README « Ce que voit l'ARS »).

A dossier reaches an ARS only through what was transmitted: the requester's establishment or a
line that was sent. A draft never finalised and a line not yet sent are the requester's private
work. An ARS limited to some départements sees, of a dossier, the lines whose requester or
refuser is there; a line with both sides outside stays out of its view and of its figures.

The world: ``req`` (91) asks, ``ref`` (94) and ``other`` (92) refuse, ``paris`` (75);
``ars`` has the whole region, ``ars_75`` Paris only.
"""

from __future__ import annotations

import pytest

from registre import dossiers, exports, queries, statistics
from registre.accounts import AccountInput, create_account
from registre.auth import load_actor
from registre.errors import PermissionDenied
from registre.models import LineState, Role
from registre.permissions import Perspective

from .apptest_helpers import answer
from .factories import PASSWORD

ANSWER_TEXT = "Réponse-du-94-marqueur"
REQUESTER_TEXT = "Commentaire-du-91-marqueur"


def _refused_by_94_and_92(world):
    ref = world.finalised(lines=("ref", "other"), comments=REQUESTER_TEXT)
    answer(world, ref.id, comments=ANSWER_TEXT)
    return ref


def _reopened_with_a_pending_75_line(world):
    ref = _refused_by_94_and_92(world)
    dossiers.reopen(world.db, world.actor("coordinateur_req"), ref.id, "Un refus oublié")
    dossiers.add_line(world.db, world.actor("declarant_req"), ref.id, world.line_input("paris"))
    return ref


def _regional_count(world, name: str) -> int:
    filters = statistics.default_filters()
    actor = world.actor(name)
    statistics.clear_cache()
    counted = statistics.compute(world.db, actor, Perspective.REGIONAL, filters)
    rows = exports.count_rows(world.db, actor, Perspective.REGIONAL, filters)
    assert rows == counted.figure("refusals").value
    return rows


def _export_text(world, name: str) -> str:
    tables = exports.export_tables(
        world.db, world.actor(name), Perspective.REGIONAL, statistics.default_filters()
    )
    return "\n".join(exports.to_csv(t).decode("utf-8-sig") for t in tables)


def test_a_line_not_yet_sent_opens_nothing_to_an_ars_of_its_departement(world):
    ref = _reopened_with_a_pending_75_line(world)
    with pytest.raises(PermissionDenied):
        queries.get_dossier(world.db, world.actor("ars_75"), dossier_id=ref.id)
    with pytest.raises(PermissionDenied):
        queries.history(world.db, world.actor("ars_75"), ref.id)
    assert _regional_count(world, "ars_75") == 0
    assert ref.number not in _export_text(world, "ars_75")


def test_once_sent_the_75_line_and_only_it_is_seen_by_the_ars_of_the_75(world):
    ref = _reopened_with_a_pending_75_line(world)
    dossiers.finalise(world.db, world.actor("declarant_req"), ref.id)
    view = queries.get_dossier(world.db, world.actor("ars_75"), dossier_id=ref.id)
    assert [ln.refusing_departement for ln in view.lines] == ["75"]
    assert view.comments == REQUESTER_TEXT  # the dossier touches its territory
    assert _regional_count(world, "ars_75") == 1
    text = _export_text(world, "ars_75")
    assert ref.number in text and ANSWER_TEXT not in text
    # the whole region sees the three refusals, the 94's answer with them
    whole = queries.get_dossier(world.db, world.actor("ars"), dossier_id=ref.id)
    assert sorted(ln.refusing_departement for ln in whole.lines) == ["75", "92", "94"]
    assert _regional_count(world, "ars") == 3
    assert ANSWER_TEXT in _export_text(world, "ars")


def test_the_whole_region_sees_neither_a_pending_line_nor_its_history(world):
    ref = _reopened_with_a_pending_75_line(world)
    view = queries.get_dossier(world.db, world.actor("ars"), dossier_id=ref.id)
    assert sorted(ln.refusing_departement for ln in view.lines) == ["92", "94"]
    assert {ln.state for ln in view.lines} <= {LineState.AWAITING, LineState.ANSWERED}
    actions = [e.action for e in queries.history(world.db, world.actor("ars"), ref.id)]
    assert actions.count("Établissement refuseur ajouté") == 2  # not the pending 75 line
    assert "Dossier réouvert" in actions
    assert _regional_count(world, "ars") == 2


def test_a_draft_never_finalised_is_seen_by_no_ars(world):
    ref = world.draft(lines=("paris",), comments=REQUESTER_TEXT)
    for name in ("ars", "ars_75"):
        with pytest.raises(PermissionDenied):
            queries.get_dossier(world.db, world.actor(name), dossier_id=ref.id)
        with pytest.raises(PermissionDenied):
            queries.history(world.db, world.actor(name), ref.id)
        assert REQUESTER_TEXT not in _export_text(world, name)


def test_an_ars_of_the_requesters_departement_sees_every_sent_line(world):
    """The requester is in its départements: the dossier is its own, every sent line with it."""
    ref = _refused_by_94_and_92(world)
    with world.db.transaction() as session:
        create_account(
            session,
            AccountInput(
                username="ars-91",
                display_name="ARS de l'Essonne",
                email="ars-91@example.org",
                role=Role.ARS,
                password=PASSWORD,
                departements=["91"],
            ),
        )
    ars_91 = load_actor(world.db, "ars-91")
    view = queries.get_dossier(world.db, ars_91, dossier_id=ref.id)
    assert sorted(ln.refusing_departement for ln in view.lines) == ["92", "94"]
    assert ANSWER_TEXT in {ln.answer.comments for ln in view.lines if ln.answer}
