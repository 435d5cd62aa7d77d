"""Statistics (SPEC §10, issue 4): every figure and chart of ``statistics.compute`` checked
against numbers computed by hand on a small registry, for each perspective, with the scope
and the blindness of SPEC §3/§5 and the filters of the page.

The registry (Paris times; the period is March 2026; ``ref`` holds the neurosurgery line):

=====  =====================  ============  ======  =============  ============================
name   requested (Paris)      specialty     impact  destination    refusers (stated motif)
=====  =====================  ============  ======  =============  ============================
d1     Sun 01/03 00:30 (CET)  Neuro         yes     domicile       ref (lit) answered 2 h,
                                                                   other (bloc) answered 10 h
d2     Tue 10/03 14:00 *      ORL           no      sur place      ref (praticien) answered 4 h,
                                                                   paris (lit)
d3     Sun 29/03 03:30 (CEST) Neuro         yes     transféré      ref (lit) answered 6 h
d4     Tue 31/03 23:30 (CEST) Neuro         no      domicile       other (lit), paris removed
d8     Fri 20/03 10:00 *      Viscérale     yes     décédé         other (bloc) answered 3 h,
       (requested by ref)                                          paris (lit)
d5     Wed 01/04 00:30        outside the period (UTC: 31/03 22:30)   ref
d6     Sat 28/02 23:30        outside the period                      ref
d7     Sun 15/03 12:00        a draft never finalised                 ref
=====  =====================  ============  ======  =============  ============================

``*``: outside PDSES hours. Answers: ref says « plateau » (d1), « lit » (d2, d3); other says
« bloc » (d1, d8).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest

from registre import dossiers, statistics
from registre.actors import Actor
from registre.dossiers import AnswerInput
from registre.errors import PermissionDenied, ValidationError
from registre.models import Role
from registre.permissions import Perspective
from registre.statistics import StatsFilters, default_filters, series
from registre.timeutil import as_utc

from .factories import at

REQUESTER, REFUSER, REGIONAL = Perspective.REQUESTER, Perspective.REFUSER, Perspective.REGIONAL
PERIOD = StatsFilters(start=date(2026, 3, 1), end=date(2026, 3, 31))

NEURO = "Neurochirurgie"
ORL = "ORL"
VISC = "Chirurgie viscérale et digestive"
LIT = "Absence de lit disponible"
PRATICIEN = "Absence de praticien disponible"
BLOC = "Bloc opératoire indisponible"
PLATEAU = "Plateau technique indisponible"
HOME = "Retour à domicile"
ON_SITE = "Pris en charge dans l'établissement demandeur"
TRANSFERRED = "Transféré dans un autre établissement"
DEAD = "Décédé"
NAME = {
    "req": "Centre hospitalier Sud Francilien (CHSF) (91)",
    "ref": "Hôpital Henri-Mondor (AP-HP) (94)",
    "other": "Hôpital Foch (92)",
    "paris": "Hôpital Pitié-Salpêtrière (AP-HP) (75)",
}
REQUESTER_ONLY_FIGURES = {"dossiers", "refusals_per_dossier", "impact_share"}


# --- building the registry -------------------------------------------------------------------


@dataclass
class Made:
    id: int
    number: str
    lines: dict[str, int]
    notified_at: datetime  # UTC: when the dossier was finalised


def make_dossier(
    world,
    clock,
    *,
    when: datetime,
    by: str = "coordinateur_req",
    specialty: str = NEURO,
    lines: tuple = (("ref", LIT),),
    removed: tuple[str, ...] = (),
    destination: str = HOME,
    destination_est: str | None = None,
    impact: bool = False,
    finalise: bool = True,
    **extra,
) -> Made:
    """A dossier requested at ``when`` (Paris), finalised 30 minutes later. ``lines`` are
    ``(est, motif)`` or ``(est, motif, {line fields})``; ``removed`` lines are added then
    taken out before finalisation."""
    finalised_at = as_utc(when) + timedelta(minutes=30)
    clock.set(finalised_at)
    actor = world.actor(by)
    values = {
        "requesting_service_id": world.services[by.rsplit("_", 1)[1]],
        "requested_at": when,
        "specialty_id": world.specialty[specialty],
        "final_destination_id": world.destination[destination],
        "final_destination_establishment_id": world.est[destination_est]
        if destination_est
        else None,
        "impact": impact,
        "impact_description": "Transfert retardé de deux heures" if impact else None,
    }
    values.update(extra)
    ref = dossiers.create_draft(world.db, actor, world.dossier_input(**values))
    line_ids: dict[str, int] = {}
    for est, motif, *more in lines:
        fields = more[0] if more else {}
        line_ids[est] = dossiers.add_line(
            world.db,
            actor,
            ref.id,
            world.line_input(est, refusal_motif_id=world.refusal_motif[motif], **fields),
        )
    for est in removed:
        line_id = dossiers.add_line(world.db, actor, ref.id, world.line_input(est))
        dossiers.remove_line(world.db, actor, ref.id, line_id)
    if finalise:
        dossiers.finalise(world.db, actor, ref.id)
    return Made(ref.id, ref.number, line_ids, finalised_at)


def answer_line(
    world,
    clock,
    made: Made,
    est: str,
    actor: Actor,
    *,
    hours: float,
    motif: str,
    understood: str = "Avis spécialisé",
    **extra,
) -> None:
    """``est`` answers its line of ``made``, ``hours`` after it was sent."""
    clock.set(made.notified_at + timedelta(hours=hours))
    dossiers.answer(
        world.db,
        actor,
        made.id,
        made.lines[est],
        AnswerInput(
            understood_motif_id=world.request_motif[understood],
            refusal_motif_id=world.refusal_motif[motif],
            **extra,
        ),
    )


def build_registry(world, clock) -> tuple[dict[str, Made], Actor]:
    """The registry of the module docstring; returns it and the coordinator of ``other``."""
    other = world.add_account("coordinateur-other", Role.COORDINATEUR, "other")
    ref = world.actor("coordinateur_ref")
    made = {
        "d1": make_dossier(
            world,
            clock,
            when=at(2026, 3, 1, 0, 30),
            lines=(("ref", LIT), ("other", BLOC)),
            impact=True,
        ),
        "d2": make_dossier(
            world,
            clock,
            when=at(2026, 3, 10, 14, 0),
            specialty=ORL,
            lines=(("ref", PRATICIEN), ("paris", LIT)),
            destination=ON_SITE,
        ),
        "d3": make_dossier(
            world,
            clock,
            when=at(2026, 3, 29, 3, 30),
            impact=True,
            destination=TRANSFERRED,
            destination_est="paris",
        ),
        "d4": make_dossier(
            world, clock, when=at(2026, 3, 31, 23, 30), lines=(("other", LIT),), removed=("paris",)
        ),
        "d5": make_dossier(world, clock, when=at(2026, 4, 1, 0, 30)),
        "d6": make_dossier(world, clock, when=at(2026, 2, 28, 23, 30)),
        "d7": make_dossier(world, clock, when=at(2026, 3, 15, 12, 0), finalise=False),
        "d8": make_dossier(
            world,
            clock,
            when=at(2026, 3, 20, 10, 0),
            by="coordinateur_ref",
            specialty=VISC,
            lines=(("other", BLOC), ("paris", LIT)),
            destination=DEAD,
            impact=True,
        ),
    }
    answer_line(world, clock, made["d1"], "ref", ref, hours=2, motif=PLATEAU)
    answer_line(world, clock, made["d1"], "other", other, hours=10, motif=BLOC)
    answer_line(world, clock, made["d2"], "ref", ref, hours=4, motif=LIT)
    answer_line(world, clock, made["d3"], "ref", ref, hours=6, motif=LIT)
    answer_line(world, clock, made["d8"], "other", other, hours=3, motif=BLOC)
    return made, other


@pytest.fixture
def registry(world, clock):
    return build_registry(world, clock)


def viewer(world, other: Actor, name: str) -> Actor:
    return other if name == "coordinateur_other" else world.actor(name)


# --- reading the results ---------------------------------------------------------------------


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def rows(frame) -> list[tuple]:
    return [tuple(_plain(v) for v in r) for r in frame.itertuples(index=False, name=None)]


def figures(stats) -> dict[str, float | None]:
    return {f.key: f.value for f in stats.figures}


def assert_figures(stats, expected: dict[str, float | None]) -> None:
    got = figures(stats)
    assert list(got) == list(expected)
    for key, value in expected.items():
        if value is None:
            assert got[key] is None, key
        else:
            assert got[key] == pytest.approx(value, rel=1e-6), key


def busy_cells(stats) -> dict[tuple[str, str], int]:
    return {(d, h): n for d, h, n in rows(stats.weekday_hour) if n}


def d(month: int, day: int) -> date:
    return date(2026, month, day)


# --- the expected numbers, computed by hand ----------------------------------------------------

REQ_AS_REQUESTER = {
    "figures": {
        "dossiers": 4,
        "refusals": 6,
        "refusals_per_dossier": 1.5,
        "impact_share": 0.5,
        "answer_rate": 4 / 6,
        "median_answer_hours": 5.0,  # 2, 4, 6, 10: the two middle ones averaged
        "holder_share": 2 / 6,
        "outside_pdses_share": 2 / 6,
    },
    "daily": [(d(3, 1), NEURO, 2), (d(3, 10), ORL, 2), (d(3, 29), NEURO, 1), (d(3, 31), NEURO, 1)],
    "week": [(d(2, 23), NEURO, 2), (d(3, 9), ORL, 2), (d(3, 23), NEURO, 1), (d(3, 30), NEURO, 1)],
    "month": [(d(3, 1), NEURO, 4), (d(3, 1), ORL, 2)],
    "establishments": [
        (NAME["ref"], 3, 2, "Oui"),
        (NAME["other"], 2, 0, "Non"),
        (NAME["paris"], 1, 0, "Non"),
    ],
    "requester_motifs": [(LIT, 4), (PRATICIEN, 1), (BLOC, 1)],
    "refuser_motifs": None,
    "concordance": None,
    "destinations": [(HOME, 2), (ON_SITE, 1), (TRANSFERRED, 1)],
    "cells": {
        ("Dimanche", "00 h"): 2,
        ("Mardi", "14 h"): 2,
        ("Dimanche", "03 h"): 1,  # the DST night: 01:30 UTC
        ("Mardi", "23 h"): 1,  # 21:30 UTC
    },
}

REF_AS_REFUSER = {
    "figures": {
        "refusals": 3,
        "answer_rate": 1.0,
        "median_answer_hours": 4.0,  # 2, 4, 6
        "holder_share": 2 / 3,
        "outside_pdses_share": 1 / 3,
    },
    "daily": [(d(3, 1), NEURO, 1), (d(3, 10), ORL, 1), (d(3, 29), NEURO, 1)],
    "week": [(d(2, 23), NEURO, 1), (d(3, 9), ORL, 1), (d(3, 23), NEURO, 1)],
    "month": [(d(3, 1), NEURO, 2), (d(3, 1), ORL, 1)],
    "establishments": [(NAME["req"], 3, 2, "Oui")],
    "requester_motifs": None,
    "refuser_motifs": [(LIT, 2), (PLATEAU, 1)],
    "concordance": None,
    "destinations": None,
    "cells": {("Dimanche", "00 h"): 1, ("Mardi", "14 h"): 1, ("Dimanche", "03 h"): 1},
}

OTHER_AS_REFUSER = {
    "figures": {
        "refusals": 3,
        "answer_rate": 2 / 3,
        "median_answer_hours": 6.5,  # 3, 10
        "holder_share": 0.0,
        "outside_pdses_share": 1 / 3,
    },
    "daily": [(d(3, 1), NEURO, 1), (d(3, 20), VISC, 1), (d(3, 31), NEURO, 1)],
    "week": [(d(2, 23), NEURO, 1), (d(3, 16), VISC, 1), (d(3, 30), NEURO, 1)],
    "month": [(d(3, 1), VISC, 1), (d(3, 1), NEURO, 2)],
    "establishments": [(NAME["req"], 2, 0, "Non"), (NAME["ref"], 1, 0, "Non")],
    "requester_motifs": None,
    "refuser_motifs": [(BLOC, 2)],
    "concordance": None,
    "destinations": None,
    "cells": {("Dimanche", "00 h"): 1, ("Vendredi", "10 h"): 1, ("Mardi", "23 h"): 1},
}

REF_AS_REQUESTER = {
    "figures": {
        "dossiers": 1,
        "refusals": 2,
        "refusals_per_dossier": 2.0,
        "impact_share": 1.0,
        "answer_rate": 0.5,
        "median_answer_hours": 3.0,
        "holder_share": 0.0,
        "outside_pdses_share": 1.0,
    },
    "daily": [(d(3, 20), VISC, 2)],
    "week": [(d(3, 16), VISC, 2)],
    "month": [(d(3, 1), VISC, 2)],
    "establishments": [(NAME["other"], 1, 0, "Non"), (NAME["paris"], 1, 0, "Non")],
    "requester_motifs": [(LIT, 1), (BLOC, 1)],
    "refuser_motifs": None,
    "concordance": None,
    "destinations": [(DEAD, 1)],
    "cells": {("Vendredi", "10 h"): 2},
}

NOTHING_REFUSER = {
    "figures": {
        "refusals": 0,
        "answer_rate": None,
        "median_answer_hours": None,
        "holder_share": None,
        "outside_pdses_share": None,
    },
    "daily": [],
    "week": [],
    "month": [],
    "establishments": [],
    "requester_motifs": None,
    "refuser_motifs": [],
    "concordance": None,
    "destinations": None,
    "cells": {},
}

REGION = {
    "figures": {
        "dossiers": 5,
        "refusals": 8,
        "refusals_per_dossier": 1.6,
        "impact_share": 0.6,
        "answer_rate": 5 / 8,
        "median_answer_hours": 4.0,  # 2, 3, 4, 6, 10
        "holder_share": 0.25,
        "outside_pdses_share": 0.5,
    },
    "daily": [
        (d(3, 1), NEURO, 2),
        (d(3, 10), ORL, 2),
        (d(3, 20), VISC, 2),
        (d(3, 29), NEURO, 1),
        (d(3, 31), NEURO, 1),
    ],
    "week": [
        (d(2, 23), NEURO, 2),
        (d(3, 9), ORL, 2),
        (d(3, 16), VISC, 2),
        (d(3, 23), NEURO, 1),
        (d(3, 30), NEURO, 1),
    ],
    "month": [(d(3, 1), VISC, 2), (d(3, 1), NEURO, 4), (d(3, 1), ORL, 2)],
    "establishments": [
        (NAME["other"], 3, 0, "Non"),
        (NAME["ref"], 3, 2, "Oui"),
        (NAME["paris"], 2, 0, "Non"),
    ],
    "requester_motifs": [(LIT, 5), (BLOC, 2), (PRATICIEN, 1)],
    "refuser_motifs": [(LIT, 2), (BLOC, 2), (PLATEAU, 1)],
    "concordance": [(LIT, LIT, 1), (LIT, PLATEAU, 1), (PRATICIEN, LIT, 1), (BLOC, BLOC, 2)],
    "destinations": [(HOME, 2), (DEAD, 1), (ON_SITE, 1), (TRANSFERRED, 1)],
    "cells": {
        ("Dimanche", "00 h"): 2,
        ("Mardi", "14 h"): 2,
        ("Vendredi", "10 h"): 2,
        ("Dimanche", "03 h"): 1,
        ("Mardi", "23 h"): 1,
    },
}

# ars_75: the refusals whose requester or refuser is in Paris (issue 14): the Pitié-Salpêtrière
# lines of d2 and d8, neither answered; their other lines (91 → 94, 94 → 92) are not its own,
# nor d4 (its Pitié line removed before sending) and d3 (transferred there).
REGION_75 = {
    "figures": {
        "dossiers": 2,
        "refusals": 2,
        "refusals_per_dossier": 1.0,
        "impact_share": 0.5,
        "answer_rate": 0.0,
        "median_answer_hours": None,
        "holder_share": 0.0,
        "outside_pdses_share": 1.0,
    },
    "daily": [(d(3, 10), ORL, 1), (d(3, 20), VISC, 1)],
    "week": [(d(3, 9), ORL, 1), (d(3, 16), VISC, 1)],
    "month": [(d(3, 1), VISC, 1), (d(3, 1), ORL, 1)],
    "establishments": [(NAME["paris"], 2, 0, "Non")],
    "requester_motifs": [(LIT, 2)],
    "refuser_motifs": [],
    "concordance": [],
    "destinations": [(DEAD, 1), (ON_SITE, 1)],
    "cells": {("Mardi", "14 h"): 1, ("Vendredi", "10 h"): 1},
}

CASES = [
    ("coordinateur_req", REQUESTER, REQ_AS_REQUESTER),
    ("directeur_req", REQUESTER, REQ_AS_REQUESTER),
    ("coordinateur_ref", REFUSER, REF_AS_REFUSER),
    ("directeur_ref", REFUSER, REF_AS_REFUSER),
    ("coordinateur_other", REFUSER, OTHER_AS_REFUSER),
    ("coordinateur_ref", REQUESTER, REF_AS_REQUESTER),
    ("directeur_ref", REQUESTER, REF_AS_REQUESTER),
    ("coordinateur_req", REFUSER, NOTHING_REFUSER),
    ("directeur_req", REFUSER, NOTHING_REFUSER),
    ("ars", REGIONAL, REGION),
    ("ars_75", REGIONAL, REGION_75),
]


@pytest.mark.parametrize(
    ("name", "perspective", "expected"),
    CASES,
    ids=[f"{name}-{perspective.value}" for name, perspective, _ in CASES],
)
def test_every_aggregate_matches_the_hand_count(world, registry, name, perspective, expected):
    """Figures, series and charts of each perspective equal the hand-computed values."""
    _made, other = registry
    stats = statistics.compute(world.db, viewer(world, other, name), perspective, PERIOD)
    assert stats.perspective is perspective
    assert stats.filters == PERIOD
    assert_figures(stats, expected["figures"])
    assert rows(stats.daily) == expected["daily"]
    assert list(stats.daily.columns) == ["Jour", "Spécialité", "Refus"]
    assert rows(series(stats, "semaine")) == expected["week"]
    assert rows(series(stats, "mois")) == expected["month"]
    assert rows(stats.establishments) == expected["establishments"]
    for chart in ("requester_motifs", "refuser_motifs", "concordance", "destinations"):
        frame = getattr(stats, chart)
        if expected[chart] is None:
            assert frame is None, chart
        else:
            assert rows(frame) == expected[chart], chart
    assert len(stats.weekday_hour) == 7 * 24
    assert busy_cells(stats) == expected["cells"]
    assert int(stats.weekday_hour["Refus"].sum()) == expected["figures"]["refusals"]


def test_units_and_labels_of_the_figures(world, registry):
    """Shares are 0–1 shares, the delay in hours; each side gets its own wording."""
    _made, _other = registry
    requester = statistics.compute(world.db, world.actor("directeur_req"), REQUESTER, PERIOD)
    units = {f.key: f.unit for f in requester.figures}
    assert units == {
        "dossiers": "count",
        "refusals": "count",
        "refusals_per_dossier": "ratio",
        "impact_share": "share",
        "answer_rate": "share",
        "median_answer_hours": "hours",
        "holder_share": "share",
        "outside_pdses_share": "share",
    }
    assert requester.figure("refusals").label == "Refus"
    assert requester.establishments_title == "Établissements qui refusent le plus"
    assert list(requester.establishments.columns) == [
        "Établissement",
        "Refus",
        "Dont titulaire de la ligne",
        "Titulaire de ligne",
    ]
    refuser = statistics.compute(world.db, world.actor("directeur_ref"), REFUSER, PERIOD)
    assert refuser.figure("refusals").label == "Refus reçus"
    assert "Dont ligne PDSES tenue par mon établissement" in refuser.establishments.columns
    with pytest.raises(KeyError):
        refuser.figure("impact_share")


# --- scope and blindness --------------------------------------------------------------------


def _everything_shown(stats) -> str:
    frames = [
        stats.daily,
        stats.establishments,
        stats.weekday_hour,
        stats.requester_motifs,
        stats.refuser_motifs,
        stats.concordance,
        stats.destinations,
    ]
    text = " ".join(f.to_string() for f in frames if f is not None)
    return text + " " + repr(stats.figures) + " " + stats.establishments_title


@pytest.mark.parametrize("name", ["coordinateur_ref", "directeur_ref"])
def test_the_refuser_sees_nothing_of_the_requester_side_nor_of_other_refusers(
    world, registry, name
):
    """SPEC §5: no requester motif, impact, destination, nor the other refusers of d1/d2."""
    _made, _other = registry
    stats = statistics.compute(world.db, world.actor(name), REFUSER, PERIOD)
    assert stats.requester_motifs is None
    assert stats.concordance is None
    assert stats.destinations is None
    assert not {f.key for f in stats.figures} & REQUESTER_ONLY_FIGURES
    shown = _everything_shown(stats)
    for hidden in ("Foch", "Pitié", PRATICIEN, BLOC, HOME, ON_SITE):
        assert hidden not in shown, hidden
    assert "Sud Francilien" in shown  # the requester itself is part of the call's identity


@pytest.mark.parametrize("name", ["coordinateur_ref", "directeur_ref"])
def test_an_establishment_never_sees_another_establishments_dossiers(world, registry, name):
    """As requester, ref counts only d8: none of req's dossiers, whatever the filters."""
    _made, _other = registry
    wide = StatsFilters(start=date(2026, 1, 1), end=date(2026, 11, 26))
    stats = statistics.compute(world.db, world.actor(name), REQUESTER, wide)
    assert figures(stats)["dossiers"] == 1
    assert figures(stats)["refusals"] == 2
    assert "Sud Francilien" not in _everything_shown(stats)
    asking_for_req = StatsFilters(
        start=wide.start, end=wide.end, requesting_establishment_id=world.est["req"]
    )
    stats = statistics.compute(world.db, world.actor(name), REQUESTER, asking_for_req)
    assert figures(stats)["refusals"] == 0
    assert figures(stats)["dossiers"] == 0


def test_the_requester_sees_whether_refusers_answered_not_what(world, registry):
    """The requester perspective has no refuser motif nor concordance, only the answer rate."""
    _made, _other = registry
    stats = statistics.compute(world.db, world.actor("coordinateur_req"), REQUESTER, PERIOD)
    assert stats.refuser_motifs is None
    assert stats.concordance is None
    assert PLATEAU not in _everything_shown(stats)


def test_the_ars_sees_both_sides(world, registry):
    """Requester motifs, refuser motifs and their concordance, from the same refusals."""
    _made, _other = registry
    stats = statistics.compute(world.db, world.actor("ars"), REGIONAL, PERIOD)
    assert stats.requester_motifs is not None and stats.refuser_motifs is not None
    assert stats.concordance is not None and stats.destinations is not None
    answered = int(stats.refuser_motifs["Refus"].sum())
    assert int(stats.concordance["Refus"].sum()) == answered == 5
    assert int(stats.requester_motifs["Refus"].sum()) == 8


@pytest.mark.parametrize(
    "name", ["declarant_req", "referent_req", "declarant_ref", "referent_ref_orl", "admin"]
)
@pytest.mark.parametrize("perspective", list(Perspective))
def test_other_roles_have_no_statistics(world, name, perspective):
    with pytest.raises(PermissionDenied) as error:
        statistics.compute(world.db, world.actor(name), perspective, PERIOD)
    assert "statistiques" in error.value.message
    with pytest.raises(PermissionDenied):
        statistics.options(world.db, world.actor(name))


@pytest.mark.parametrize(
    ("name", "perspective"),
    [
        ("ars", REQUESTER),
        ("ars", REFUSER),
        ("ars_75", REQUESTER),
        ("coordinateur_req", REGIONAL),
        ("directeur_ref", REGIONAL),
    ],
)
def test_a_perspective_outside_the_role_is_refused(world, name, perspective):
    with pytest.raises(PermissionDenied) as error:
        statistics.compute(world.db, world.actor(name), perspective, PERIOD)
    assert error.value.message == "Ce point de vue n'est pas ouvert à votre profil."


def test_options_offer_the_roles_perspectives_and_never_the_own_establishment(world):
    coordinator = statistics.options(world.db, world.actor("coordinateur_req"))
    assert coordinator.perspectives == (REQUESTER, REFUSER)
    assert coordinator.establishment == "Centre hospitalier Sud Francilien (CHSF)"
    assert world.est["req"] not in {o.id for o in coordinator.establishments}
    assert {o.id for o in coordinator.establishments} == {
        world.est[k] for k in ("ref", "other", "paris")
    }
    assert list(coordinator.departements) == ["75", "91", "92", "94"]
    assert len(coordinator.specialties) == 18
    assert coordinator.scope_label(REFUSER) == (
        "Établissement : Centre hospitalier Sud Francilien (CHSF)"
    )
    ars_75 = statistics.options(world.db, world.actor("ars_75"))
    assert ars_75.perspectives == (REGIONAL,)
    assert ars_75.establishment is None
    assert len(ars_75.establishments) == 4
    assert ars_75.scope_label(REGIONAL) == "Départements : 75"
    assert statistics.options(world.db, world.actor("ars")).scope_label(REGIONAL) == (
        "Toute la région"
    )


# --- filters -------------------------------------------------------------------------------


def _counts(world, name, perspective, **filters) -> tuple[float | None, ...]:
    values = {"start": PERIOD.start, "end": PERIOD.end, **filters}
    stats = statistics.compute(world.db, world.actor(name), perspective, StatsFilters(**values))
    got = figures(stats)
    return got.get("dossiers"), got["refusals"]


def test_filters_by_specialty_establishments_and_line_holders(world, registry):
    _made, _other = registry
    neuro = world.specialty[NEURO]
    assert _counts(world, "ars", REGIONAL, specialty_id=neuro) == (3, 4)
    assert _counts(world, "coordinateur_req", REQUESTER, specialty_id=world.specialty[ORL]) == (
        1,
        2,
    )
    assert _counts(world, "ars", REGIONAL, requesting_establishment_id=world.est["ref"]) == (1, 2)
    assert _counts(world, "ars", REGIONAL, refusing_establishment_id=world.est["paris"]) == (2, 2)
    assert _counts(world, "ars", REGIONAL, line_holders_only=True) == (2, 2)
    assert _counts(world, "coordinateur_req", REQUESTER, line_holders_only=True) == (2, 2)
    assert _counts(world, "directeur_ref", REFUSER, line_holders_only=True) == (None, 2)
    assert _counts(
        world, "ars", REGIONAL, specialty_id=neuro, refusing_establishment_id=world.est["other"]
    ) == (2, 2)
    holders = statistics.compute(
        world.db,
        world.actor("ars"),
        REGIONAL,
        StatsFilters(start=PERIOD.start, end=PERIOD.end, line_holders_only=True),
    )
    assert figures(holders)["holder_share"] == 1.0
    assert rows(holders.establishments) == [(NAME["ref"], 2, 2, "Oui")]


def test_the_departement_filter_is_that_of_the_other_side(world, registry):
    """Requester and ARS: the refuser's département; refuser: the requester's."""
    _made, other = registry
    assert _counts(world, "coordinateur_req", REQUESTER, departement="94") == (3, 3)
    assert _counts(world, "coordinateur_req", REQUESTER, departement="91") == (0, 0)
    assert _counts(world, "ars", REGIONAL, departement="75") == (2, 2)
    assert _counts(world, "ars", REGIONAL, departement="92") == (3, 3)
    assert _counts(world, "directeur_ref", REFUSER, departement="91") == (None, 3)
    assert _counts(world, "directeur_ref", REFUSER, departement="94") == (None, 0)
    by_requester = StatsFilters(start=PERIOD.start, end=PERIOD.end, departement="94")
    stats = statistics.compute(world.db, other, REFUSER, by_requester)
    assert figures(stats)["refusals"] == 1  # d8, requested by Henri-Mondor (94)
    assert statistics.departement_filter_label(REFUSER) == (
        "Département de l'établissement demandeur"
    )
    assert statistics.departement_filter_label(REGIONAL) == (
        "Département de l'établissement refuseur"
    )


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # d1 (01/03 00:30 Paris, still 28/02 in UTC) counts; d6 (28/02 23:30 Paris) does not.
        (d(3, 1), d(3, 1), (1, 2)),
        (d(2, 28), d(2, 28), (1, 1)),
        # d4 (31/03 23:30 Paris) is on the end day; d5 (01/04 00:30 Paris, 31/03 in UTC) is not.
        (d(3, 31), d(3, 31), (1, 1)),
        (d(3, 1), d(3, 30), (3, 5)),
        (d(4, 1), d(4, 1), (1, 1)),
        # Everything but the draft d7.
        (d(2, 1), d(4, 30), (6, 8)),
    ],
)
def test_the_period_is_made_of_paris_days_end_day_included(world, registry, start, end, expected):
    _made, _other = registry
    assert _counts(world, "coordinateur_req", REQUESTER, start=start, end=end) == expected


def test_a_period_that_ends_before_it_starts_is_refused(world):
    backwards = StatsFilters(start=date(2026, 3, 2), end=date(2026, 3, 1))
    with pytest.raises(ValidationError) as error:
        statistics.compute(world.db, world.actor("ars"), REGIONAL, backwards)
    assert [e.field for e in error.value.errors] == ["period"]
    assert "date de début" in error.value.message


def test_default_period_is_the_last_twelve_months_in_paris(clock):
    assert default_filters(date(2026, 11, 26)) == StatsFilters(
        start=date(2025, 11, 27), end=date(2026, 11, 26)
    )
    assert default_filters(date(2028, 2, 29)).start == date(2027, 3, 1)
    clock.set(as_utc(at(2026, 11, 26, 0, 30)))  # 25/11 23:30 UTC
    assert default_filters().end == date(2026, 11, 26)


# --- what counts -----------------------------------------------------------------------------


def test_a_reopened_dossier_counts_with_its_sent_lines_only(world, clock):
    """Sent once, reopened: its sent line still counts; a line added since does not, until the
    dossier is finalised again."""
    made = make_dossier(world, clock, when=at(2026, 3, 5, 21, 0))
    coordinator = world.actor("coordinateur_req")
    dossiers.reopen(world.db, coordinator, made.id, "Correction de la destination")
    dossiers.add_line(world.db, coordinator, made.id, world.line_input("other"))
    assert _counts(world, "coordinateur_req", REQUESTER) == (1, 1)
    assert _counts(world, "ars", REGIONAL) == (1, 1)
    statistics.clear_cache()
    dossiers.finalise(world.db, coordinator, made.id)
    assert _counts(world, "coordinateur_req", REQUESTER) == (1, 2)


def test_the_median_of_a_single_delay_is_that_delay(world, clock):
    """The median of one delay is that delay, to the minute (here 1 h 45)."""
    made = make_dossier(world, clock, when=at(2026, 3, 5, 21, 0))
    answer_line(world, clock, made, "ref", world.actor("referent_ref"), hours=1.75, motif=LIT)
    stats = statistics.compute(world.db, world.actor("ars"), REGIONAL, PERIOD)
    assert stats.figure("median_answer_hours").value == pytest.approx(1.75, abs=1e-4)
    assert stats.figure("answer_rate").value == 1.0


def test_no_refusal_gives_empty_charts_and_no_rate(world):
    stats = statistics.compute(world.db, world.actor("ars"), REGIONAL, PERIOD)
    assert_figures(
        stats,
        {
            "dossiers": 0,
            "refusals": 0,
            "refusals_per_dossier": None,
            "impact_share": None,
            "answer_rate": None,
            "median_answer_hours": None,
            "holder_share": None,
            "outside_pdses_share": None,
        },
    )
    assert stats.daily.empty and stats.establishments.empty
    assert list(series(stats, "semaine").columns) == ["Période", "Spécialité", "Refus"]
    assert series(stats, "mois").empty
    assert busy_cells(stats) == {}
