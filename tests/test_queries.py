"""Read side details: pagination served from the database and clamped, the order of the
lines awaiting an answer, the night clinician's list of refusers."""

from __future__ import annotations

from registre import dossiers, queries
from registre.models import LineState


def test_a_page_past_the_end_is_clamped_to_the_last_one(world, clock):
    for _ in range(3):
        world.draft("declarant_req")
        clock.advance(minutes=1)
    page = queries.list_establishment_dossiers(
        world.db, world.actor("declarant_req"), page=5, page_size=2
    )
    assert (page.page, page.pages, page.total, len(page.items)) == (2, 2, 3, 1)
    empty = queries.list_incoming_lines(world.db, world.actor("declarant_ref"), page=3)
    assert (empty.page, empty.total, empty.items) == (1, 0, [])


def test_a_long_list_is_counted_up_to_a_limit_past_the_page(world, clock, monkeypatch):
    """The registry's lists stop counting ``COUNT_LIMIT`` rows past the page asked for (the
    cost of a page must not grow with the registry): the total is then a lower bound
    (``more``) and the next pages stay reachable; near the end the count is exact again."""
    monkeypatch.setattr(queries, "COUNT_LIMIT", 3)
    for _ in range(5):
        world.draft("declarant_req")
        clock.advance(minutes=1)
    actor = world.actor("declarant_req")

    def page(number: int) -> tuple[int, int, bool, int]:
        found = queries.list_establishment_dossiers(world.db, actor, page=number, page_size=2)
        return found.page, found.total, found.more, len(found.items)

    assert page(1) == (1, 3, True, 2)  # « plus de 3 »
    assert page(2) == (2, 4, True, 2)
    assert page(3) == (3, 5, False, 1)  # exact: the end is in sight
    assert page(9) == (3, 5, False, 1)


def test_the_awaiting_count_stops_at_the_limit(world, clock, monkeypatch):
    """Accueil's « 🔔 N refus … » counts up to ``COUNT_LIMIT`` (« plus de 2 »)."""
    referent = world.actor("referent_ref")
    assert queries.count_awaiting_answers(world.db, referent) == queries.Count(0)
    for _ in range(3):
        world.finalised(lines=("ref",))
        clock.advance(minutes=1)
    assert queries.count_awaiting_answers(world.db, referent) == queries.Count(3)
    monkeypatch.setattr(queries, "COUNT_LIMIT", 2)
    assert queries.count_awaiting_answers(world.db, referent) == queries.Count(2, more=True)
    listed = queries.list_incoming_lines(world.db, referent, page_size=1)
    assert (listed.total, listed.more) == (2, True)


def test_lines_awaiting_an_answer_come_first(world, clock):
    first = world.finalised(lines=("ref",))
    clock.advance(minutes=5)
    second = world.finalised(lines=("ref",))
    referent = world.actor("referent_ref")
    view = queries.get_dossier(world.db, referent, dossier_id=second.id)
    dossiers.answer(
        world.db,
        referent,
        second.id,
        view.line_id,
        dossiers.AnswerInput(
            understood_motif_id=world.request_motif["Avis spécialisé"],
            refusal_motif_id=world.refusal_motif["Absence de lit disponible"],
        ),
    )
    rows = queries.list_incoming_lines(world.db, referent).items
    assert [(r.number, r.state) for r in rows] == [
        (first.number, LineState.AWAITING),
        (second.number, LineState.ANSWERED),
    ]


def test_refusers_most_often_chosen_by_the_service_come_first(world, clock):
    for _ in range(2):
        world.draft("declarant_req", lines=("paris",))
    world.draft("declarant_req", lines=("other",))
    actor = world.actor("declarant_req")
    names = [c.label for c in queries.refuser_choices(world.db, actor, world.services["req"])]
    assert names[0].startswith("Hôpital Pitié-Salpêtrière")
    assert names[1].startswith("Hôpital Foch")
    assert not any("Sud Francilien" in n for n in names)  # never the requester itself


def test_another_establishments_service_reveals_nothing(world):
    world.draft("declarant_req", lines=("paris",))
    outsider = world.actor("declarant_ref")
    mine = queries.refuser_choices(world.db, outsider)
    probing = queries.refuser_choices(world.db, outsider, world.services["req"])
    assert [c.label for c in probing] == [c.label for c in mine]
