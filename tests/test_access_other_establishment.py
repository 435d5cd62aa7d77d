"""A user of one establishment opening another establishment's dossier or report by its
identifier (issue « Access probes »): refused, through ``registre`` and through the pages, with
a French message and none of the record's data; guessed identifiers and numbers (the
neighbours of one's own, 0, -1, text, huge numbers, wildcards) open nothing more; lists,
statistics and exports hold no row of another establishment.

The world: ``req`` (CHSF, 91) asks ``other`` (Foch, 92) twice — A, finalised, and C, a draft —
and declares two reports about ``other`` (RA, RC); in between, ``ref`` (Henri-Mondor, 94)
records its own dossier B (refused by Pitié-Salpêtrière, 75) and its own report RB. So B's
neighbours, B - 1 and B + 1, are A and C. The prober is ``ref``'s staff (and the ARS of Paris
only, for which 91 → 92 is out of scope).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from registre import dossiers, exports, queries, report_queries, report_statistics, statistics
from registre.errors import NotFound, PermissionDenied, RegistreError
from registre.models import Base, DossierState, LineState, RefuserLine, ReportState
from registre.permissions import Perspective

from . import apptest_helpers
from .access_table import DOSSIER_PERFORM, REPORT_PERFORM, Access, Instance, prepare
from .apptest_helpers import DOSSIER, REFUS, REGISTRE, SIGNALEMENT, errors, open_by_url, page_text

app_env = apptest_helpers.app_env  # the fixture

# one message whether the record does not exist or is another's: a number tells nothing
DOSSIER_UNAVAILABLE = "Ce dossier n'existe pas ou vous n'y avez pas accès."
REPORT_UNAVAILABLE = "Ce signalement n'existe pas ou vous n'y avez pas accès."
SECRETS = {
    "comments": "commentaire-demandeur-tamanoir",
    "request_other_motif": "autre-demande-okapi",
    "impact_description": "impact-description-axolotl",
    "line_other_motif": "autre-motif-refus-pangolin",
    "line_comments": "commentaire-ligne-narval",
    "draft_comments": "commentaire-brouillon-capybara",
    "report_a": "signalement-ornithorynque : ligne sonnant dans le vide.",
    "report_c": "signalement-quokka : aucun praticien d'astreinte.",
}
NAMES = ("Centre hospitalier Sud Francilien", "Hôpital Foch")
# The prober's staff: every account of ``ref`` (none of them concerned by A, C, RA, RC).
PROBERS = ["declarant_ref", "referent_ref", "coordinateur_ref", "directeur_ref", "referent_ref_orl"]


@dataclass(frozen=True)
class Probe:
    access: Access
    a: Instance
    b: Instance
    c: Instance
    ra: Instance
    rb: Instance
    rc: Instance

    def forbidden(self) -> list[str]:
        """What ``ref`` must never read of ``req``'s records about ``other``."""
        numbers = [self.a.number, self.c.number, self.ra.number, self.rc.number]
        return [*numbers, *SECRETS.values(), *NAMES]


@pytest.fixture
def probe(world) -> Probe:
    access = prepare(world)
    w = world
    author = w.actor("declarant_req")
    secret_line = w.line_input(
        "other",
        refusal_motif_id=w.refusal_motif["Autre"],
        other_motif=SECRETS["line_other_motif"],
        comments=SECRETS["line_comments"],
    )
    a = w.draft(
        comments=SECRETS["comments"],
        request_motif_id=w.request_motif["Autre"],
        request_other_motif=SECRETS["request_other_motif"],
        impact=True,
        impact_description=SECRETS["impact_description"],
        final_destination_id=w.destination["Retour à domicile"],
    )
    dossiers.add_line(w.db, author, a.id, secret_line)
    a = dossiers.finalise(w.db, author, a.id)
    b = w.finalised(
        by="declarant_ref",
        lines=("paris",),
        requesting_service_id=w.actor("declarant_ref").service_id,
    )
    c = w.draft(lines=("other",), comments=SECRETS["draft_comments"])
    assert (b.id - a.id, c.id - b.id) == (1, 1)
    ra = w.report(concerned="other", description=SECRETS["report_a"])
    rb = w.report(by="declarant_ref", concerned="paris")
    rc = w.report(concerned="other", description=SECRETS["report_c"])
    assert (rb.id - ra.id, rc.id - rb.id) == (1, 1)
    return Probe(
        access,
        *(Instance(r.id, r.number) for r in (a, b, c)),
        *(Instance(r.id, r.number) for r in (ra, rb, rc)),
    )


def _fingerprint(access: Access) -> tuple[Any, ...]:
    tables = Base.metadata.tables
    with access.db.read() as session:
        return tuple(
            session.execute(
                select(
                    *(
                        select(func.count()).select_from(tables[name]).scalar_subquery()
                        for name in ("audit_log", "outbox", "dossiers", "refuser_lines", "reports")
                    ),
                    *(
                        select(func.coalesce(func.sum(tables[name].c.version), 0)).scalar_subquery()
                        for name in ("dossiers", "refuser_lines", "reports")
                    ),
                )
            ).one()
        )


def _line_instance(probe: Probe, instance: Instance) -> Instance:
    """The dossier with its line to ``other`` (the line actions need one)."""
    with probe.access.db.read() as session:
        line_id = session.scalars(
            select(RefuserLine.id).where(
                RefuserLine.dossier_id == instance.id,
                RefuserLine.refusing_establishment_id == probe.access.world.est["other"],
            )
        ).one()
    return Instance(instance.id, instance.number, line_id)


# --- through registre -----------------------------------------------------------------------


@pytest.mark.parametrize("prober", [*PROBERS, "ars_75", "admin"])
def test_every_action_on_another_establishments_records_is_refused(probe, prober):
    access = probe.access
    actor = access.actor(prober)
    before = _fingerprint(access)
    for target in (_line_instance(probe, probe.a), _line_instance(probe, probe.c)):
        for act, perform in DOSSIER_PERFORM.items():
            with pytest.raises(PermissionDenied) as refused:
                perform(access, actor, target)
            assert refused.value.message.endswith("."), act
        with pytest.raises(PermissionDenied, match=DOSSIER_UNAVAILABLE):
            queries.get_dossier(access.db, actor, dossier_id=target.id)
        with pytest.raises(PermissionDenied, match=DOSSIER_UNAVAILABLE):
            queries.get_dossier(access.db, actor, number=target.number)
        with pytest.raises(PermissionDenied, match=DOSSIER_UNAVAILABLE):
            queries.history(access.db, actor, target.id)
    for target in (probe.ra, probe.rc):
        for act, perform in REPORT_PERFORM.items():
            with pytest.raises(PermissionDenied) as refused:
                perform(access, actor, target)
            assert refused.value.message.endswith("."), act
        with pytest.raises(PermissionDenied, match=REPORT_UNAVAILABLE):
            report_queries.get_report(access.db, actor, number=target.number)
        with pytest.raises(PermissionDenied, match=REPORT_UNAVAILABLE):
            report_queries.history(access.db, actor, target.id)
    assert _fingerprint(access) == before


def _dossier_guesses(probe: Probe) -> dict[str, tuple[dict[str, Any], str]]:
    """Guess → (arguments of ``get_dossier``, the refusal expected)."""
    b, a = probe.b, probe.a
    ids = {
        "own id - 1": (b.id - 1, DOSSIER_UNAVAILABLE),
        "own id + 1": (b.id + 1, DOSSIER_UNAVAILABLE),
        "own id + 100": (b.id + 100, DOSSIER_UNAVAILABLE),
        "0": (0, DOSSIER_UNAVAILABLE),
        "-1": (-1, DOSSIER_UNAVAILABLE),
        "10**12": (10**12, DOSSIER_UNAVAILABLE),
        "2**63": (2**63, DOSSIER_UNAVAILABLE),
    }
    numbers = {
        "number of A": (a.number, DOSSIER_UNAVAILABLE),
        "number of C, lower case": (probe.c.number.lower(), DOSSIER_UNAVAILABLE),
        "number of A, blanks": (f"  {a.number} ", DOSSIER_UNAVAILABLE),
        "wildcard %": ("R-2026-%", DOSSIER_UNAVAILABLE),
        "wildcard _": (a.number[:-1] + "_", DOSSIER_UNAVAILABLE),
        "text": ("abc", DOSSIER_UNAVAILABLE),
        "number 0": ("R-2026-000000", DOSSIER_UNAVAILABLE),
    }
    return {
        **{k: ({"dossier_id": v}, m) for k, (v, m) in ids.items()},
        **{k: ({"number": v}, m) for k, (v, m) in numbers.items()},
    }


@pytest.mark.parametrize("prober", [*PROBERS, "ars_75"])
def test_guessed_identifiers_open_nothing_but_ones_own(probe, prober):
    access = probe.access
    actor = access.actor(prober)
    if prober not in ("referent_ref_orl",):  # limited to ORL: not even its own neurosurgery
        assert queries.get_dossier(access.db, actor, dossier_id=probe.b.id).id == probe.b.id
    for guess, (arguments, message) in _dossier_guesses(probe).items():
        with pytest.raises(RegistreError) as refused:
            queries.get_dossier(access.db, actor, **arguments)
        assert isinstance(refused.value, NotFound | PermissionDenied), guess
        assert refused.value.message == message, guess
    report_guesses = {
        "own number - 1": (probe.ra.number, REPORT_UNAVAILABLE),
        "own number + 1": (probe.rc.number, REPORT_UNAVAILABLE),
        "wildcard": ("F-2026-%", REPORT_UNAVAILABLE),
        "text": ("abc", REPORT_UNAVAILABLE),
    }
    for guess, (number, message) in report_guesses.items():
        with pytest.raises(RegistreError) as refused:
            report_queries.get_report(access.db, actor, number=number)
        assert refused.value.message == message, guess
    for ident in (probe.rb.id - 1, probe.rb.id + 1, 0, -1, 10**12):
        with pytest.raises(RegistreError):
            report_queries.get_report(access.db, actor, report_id=ident)


@pytest.mark.parametrize("prober", PROBERS)
def test_lists_hold_only_the_establishments_own_records(probe, prober):
    access = probe.access
    actor = access.actor(prober)
    own = set() if prober == "referent_ref_orl" else {probe.b.number}
    for state in (None, *DossierState):
        listed = queries.list_establishment_dossiers(access.db, actor, state=state, page_size=100)
        assert {row.number for row in listed.items} <= own, state
    for line_state in (None, LineState.AWAITING, LineState.ANSWERED):
        incoming = queries.list_incoming_lines(access.db, actor, state=line_state)
        assert incoming.items == []
    assert not queries.count_awaiting_answers(access.db, actor)
    own_reports = set() if prober == "referent_ref_orl" else {probe.rb.number}
    for report_state in (None, *ReportState):
        declared = report_queries.list_declared_reports(access.db, actor, state=report_state)
        concerning = report_queries.list_concerning_reports(access.db, actor, state=report_state)
        assert {r.number for r in declared.items} <= own_reports
        assert concerning.items == []
    # the refusing establishment itself sees the sent dossier, not the draft never sent
    foch = access.actor("coordinateur_other")
    incoming = queries.list_incoming_lines(access.db, foch)
    assert {row.number for row in incoming.items} == {probe.a.number}


EXPORT_VIEWS = [
    ("coordinateur_ref", Perspective.REQUESTER),
    ("coordinateur_ref", Perspective.REFUSER),
    ("directeur_ref", Perspective.REQUESTER),
    ("directeur_ref", Perspective.REFUSER),
    ("ars_75", Perspective.REGIONAL),
]


@pytest.mark.parametrize(("viewer", "perspective"), EXPORT_VIEWS, ids=str)
def test_statistics_and_exports_hold_no_row_of_another_establishment(probe, viewer, perspective):
    access = probe.access
    actor = access.actor(viewer)
    filters = statistics.default_filters()
    tables = exports.export_tables(access.db, actor, perspective, filters)
    tables.append(exports.report_table(access.db, actor, perspective, filters))
    text = "\n".join(exports.to_csv(t).decode("utf-8-sig") for t in tables)
    for value in probe.forbidden():
        assert value not in text, value
    # what the viewer may see is there: the exports are not empty by accident
    seen = perspective is not Perspective.REFUSER
    assert (probe.b.number in text) is seen
    assert (probe.rb.number in text) is seen
    counted = statistics.compute(access.db, actor, perspective, filters)
    assert counted.figure("refusals").value == (1 if seen else 0)
    reported = report_statistics.compute(access.db, actor, perspective, filters)
    assert reported.total == (1 if seen else 0)


# --- through the pages ---------------------------------------------------------------------


def _assert_nothing_of_it(app: Any, probe: Probe, *, names: bool = True) -> None:
    """None of the numbers and texts of A, C, RA, RC on the page; nor the names of their
    establishments (``names``: not where a form lists every establishment to choose from)."""
    assert not app.exception, app.exception
    text = page_text(app)
    for value in probe.forbidden():
        if names or value not in NAMES:
            assert value not in text, value


def _refusal_only(app: Any, probe: Probe, message: str) -> None:
    _assert_nothing_of_it(app, probe)
    assert errors(app) == [message]
    assert not app.title and not app.text_area and not app.selectbox and not app.expander
    assert {b.label for b in app.button} <= {"Se déconnecter"}


DOSSIER_URL_GUESSES = {
    "A by id": (lambda p: {"id": str(p.a.id)}, DOSSIER_UNAVAILABLE),
    "own id - 1": (lambda p: {"id": str(p.b.id - 1)}, DOSSIER_UNAVAILABLE),
    "own id + 1": (lambda p: {"id": str(p.b.id + 1)}, DOSSIER_UNAVAILABLE),
    "0": (lambda p: {"id": "0"}, DOSSIER_UNAVAILABLE),
    "-1": (lambda p: {"id": "-1"}, DOSSIER_UNAVAILABLE),
    "abc": (lambda p: {"id": "abc"}, DOSSIER_UNAVAILABLE),
    "10**12": (lambda p: {"id": str(10**12)}, DOSSIER_UNAVAILABLE),
    "A by number": (lambda p: {"numero": p.a.number}, DOSSIER_UNAVAILABLE),
    "C by number": (lambda p: {"numero": p.c.number}, DOSSIER_UNAVAILABLE),
}


@pytest.mark.parametrize("guess", list(DOSSIER_URL_GUESSES))
def test_the_dossier_page_refuses_another_establishments_dossier_in_french(app_env, probe, guess):
    params, message = DOSSIER_URL_GUESSES[guess]
    app = open_by_url(DOSSIER, "coordinateur-ref", **params(probe))
    _refusal_only(app, probe, message)


# The « Refus » page: with an id it edits that dossier; without a usable id (text, negative)
# it is the form of a new refusal, which shows nothing of any dossier either.
REFUS_URL_GUESSES = {
    "A by id": ("id", lambda p: str(p.a.id), DOSSIER_UNAVAILABLE),
    "own id + 1": ("id", lambda p: str(p.b.id + 1), DOSSIER_UNAVAILABLE),
    "0": ("id", lambda p: "0", DOSSIER_UNAVAILABLE),
    "10**12": ("id", lambda p: str(10**12), DOSSIER_UNAVAILABLE),
    "abc": ("id", lambda p: "abc", None),
    "-1": ("id", lambda p: "-1", None),
}


@pytest.mark.parametrize("guess", list(REFUS_URL_GUESSES))
def test_the_refus_page_refuses_another_establishments_dossier_in_french(app_env, probe, guess):
    name, value, message = REFUS_URL_GUESSES[guess]
    app = open_by_url(REFUS, "coordinateur-ref", **{name: value(probe)})
    _assert_nothing_of_it(app, probe, names=message is not None)
    if message is None:
        assert [t.value for t in app.title] == ["Ajouter un nouveau refus"]
        assert errors(app) == []
    else:
        assert errors(app) == [message]
        assert not app.title and not app.text_area and not app.selectbox


REPORT_URL_GUESSES = {
    "RA by number": (lambda p: {"numero": p.ra.number}, REPORT_UNAVAILABLE),
    "own number + 1": (lambda p: {"numero": p.rc.number}, REPORT_UNAVAILABLE),
    "lower case": (lambda p: {"numero": p.ra.number.lower()}, REPORT_UNAVAILABLE),
    "number 0": (lambda p: {"numero": "F-2026-000000"}, REPORT_UNAVAILABLE),
    "wildcard": (lambda p: {"numero": "F-2026-%"}, REPORT_UNAVAILABLE),
    "RA by id": (lambda p: {"id": str(p.ra.id)}, REPORT_UNAVAILABLE),
}


@pytest.mark.parametrize("guess", list(REPORT_URL_GUESSES))
def test_the_report_page_refuses_another_establishments_report_in_french(app_env, probe, guess):
    params, message = REPORT_URL_GUESSES[guess]
    app = open_by_url(SIGNALEMENT, "coordinateur-ref", **params(probe))
    _refusal_only(app, probe, message)


@pytest.mark.parametrize(("page", "params"), [(DOSSIER, "a"), (SIGNALEMENT, "ra")])
def test_the_ars_out_of_its_departements_is_refused_too(app_env, probe, page, params):
    target: Instance = getattr(probe, params)
    app = open_by_url(page, "ars-75", numero=target.number)
    _refusal_only(app, probe, DOSSIER_UNAVAILABLE if page == DOSSIER else REPORT_UNAVAILABLE)


def test_the_registre_page_lists_none_of_another_establishments_dossiers(app_env, probe):
    app = open_by_url(REGISTRE, "coordinateur-ref")
    _assert_nothing_of_it(app, probe)
    assert probe.b.number in page_text(app)
