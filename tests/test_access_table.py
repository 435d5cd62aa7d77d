"""The access table (``tests/access_table.py``, issue « Access probes »), checked three ways:

- it is complete (every action of the workflow tables, every page file) and coherent (the menu
  and each page's own gate agree; the abilities the pages draw from equal its cells; the
  lists hold a record for exactly those who may open it);
- through ``registre``: every action of every account on every dossier and report state is
  carried out by the action functions: allowed, it succeeds and leads to the workflow
  table's target state; refused, it raises ``PermissionDenied`` with the rules' French
  message and writes nothing;
- through the pages (AppTest): each role opens each page by its URL, and gets it exactly when
  the table says so (else the menu falls back to the home page; a page file run on its own
  shows the refusal); on a sample of dossiers and reports, each page offers an action's
  button exactly when the table allows it.

``docs/droits.md`` is the table in Markdown: a test keeps it equal to what the rules give.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import func, select

from registre import permissions, queries, report_queries
from registre.errors import PermissionDenied
from registre.models import ESTABLISHMENT_ROLES, Base, Dossier, RefuserLine, Report, Role
from registre.permissions import Perspective
from registre.statistics import PERSPECTIVE_LABELS
from registre.workflow import REPORT_TRANSITIONS, TRANSITIONS, Action, ReportAction

from . import apptest_helpers
from .access_table import (
    DOSSIER_ACTS,
    DOSSIER_CASES,
    EDITED,
    GENERAL_ACTS,
    PERFORM,
    PROFILES,
    REPORT_ACTS,
    REPORT_CASES,
    ROOT,
    SPECIALTY,
    STATISTICS,
    UPDATED,
    VIEW,
    Access,
    Case,
    Instance,
    PageRule,
    Section,
    build_table,
    dossier_section,
    general_section,
    loaded_dossier,
    loaded_report,
    menu_of,
    page_rules,
    prepare,
    report_section,
    to_markdown,
)
from .apptest_helpers import (
    DENIED,
    DOSSIER,
    NON_CONFORME,
    REFUS,
    REGISTRE,
    SIGNALEMENT,
    STATISTIQUES,
    errors,
    open_by_url,
    run_directly,
)

app_env = apptest_helpers.app_env  # the fixtures
fresh_server_env = apptest_helpers.fresh_server_env

PAGES = page_rules()
DOC = ROOT / "docs" / "droits.md"
# One account of each role for the pages (the menu depends on the role only).
ROLE_ACCOUNTS = {
    role: next(p.key for p in PROFILES if p.key.split("_")[0] == role.value) for role in Role
}
SECTIONS = [
    ("general", "general"),
    *(("dossier", case.key) for case in DOSSIER_CASES),
    *(("report", case.key) for case in REPORT_CASES),
]


@pytest.fixture
def access(world) -> Access:
    return prepare(world)


def username(key: str) -> str:
    return key.replace("_", "-")


def _case(kind: str, key: str) -> Case:
    return next(c for c in (DOSSIER_CASES if kind == "dossier" else REPORT_CASES) if c.key == key)


def _section(access: Access, kind: str, key: str) -> Section:
    if kind == "general":
        return general_section(access)
    if kind == "dossier":
        return dossier_section(access, _case(kind, key))
    return report_section(access, _case(kind, key))


# --- complete and coherent ------------------------------------------------------------------


def test_every_action_of_the_workflow_tables_is_in_the_table_and_can_be_performed():
    keys = {a.key for a in (*GENERAL_ACTS, *DOSSIER_ACTS, *REPORT_ACTS)}
    assert {a.value for a in Action} <= keys
    assert {a.value for a in ReportAction} <= keys
    assert {STATISTICS + p.value for p in Perspective} <= keys
    for kind, acts in (
        ("general", GENERAL_ACTS),
        ("dossier", DOSSIER_ACTS),
        ("report", REPORT_ACTS),
    ):
        assert set(PERFORM[kind]) == {a.key for a in acts}, kind


def test_every_page_file_is_in_the_table_and_in_some_menu():
    files = {f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py")}
    assert {page.path for page in PAGES} == files
    for page in PAGES:
        assert page.menu, f"{page.path} : aucun menu ne propose cette page"


def test_the_menu_offers_exactly_the_pages_whose_gate_accepts_the_role():
    disagreements = [
        (page.path, role.value, sorted(r.value for r in page.menu), sorted(page.guard))
        for page in PAGES
        for role in Role
        if not page.agrees(role)
    ]
    assert disagreements == []


def test_the_committed_doc_is_the_generated_table(access):
    table = build_table(access)
    for section in table.sections:
        for (profile, act), decision in section.cells.items():
            # every refusal comes with its French reason (shown to the user)
            assert decision or decision.reason.endswith("."), (section.key, profile, act)
    generated = to_markdown(table)
    committed = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    assert committed == generated, (
        "docs/droits.md ne correspond plus aux règles : régénérez-le avec "
        "`python -m tests.access_table > docs/droits.md`."
    )


@pytest.mark.parametrize(("kind", "key"), [s for s in SECTIONS if s[0] != "general"])
def test_the_abilities_the_pages_draw_from_are_the_tables_cells(access, kind, key):
    """The pages show buttons from ``get_abilities`` (``get_report_abilities``): for every
    account they say what the table says."""
    section = _section(access, kind, key)
    assert section.instance is not None
    for profile in PROFILES:
        actor = access.actor(profile.key)
        if kind == "dossier":
            with loaded_dossier(access, section.instance) as (dossier, _line):
                abilities = permissions.get_abilities(actor, dossier)
        else:
            with loaded_report(access, section.instance) as report:
                abilities = permissions.get_report_abilities(actor, report)
        expected = {name: bool(section.cells[profile.key, name]) for name in abilities}
        assert abilities == expected, profile.key


@pytest.mark.parametrize(("kind", "key"), [s for s in SECTIONS if s[0] != "general"])
def test_the_lists_show_a_record_to_exactly_the_accounts_that_may_open_it(access, kind, key):
    """The registry's and the reports' lists (both sides) hold the record for exactly the
    establishment accounts the table lets view it; other roles have no list at all."""
    section = _section(access, kind, key)
    assert section.instance is not None
    if kind == "dossier":
        with loaded_dossier(access, section.instance) as (dossier, _line):
            state: Any = dossier.state
        own_list, other_list = queries.list_establishment_dossiers, queries.list_incoming_lines
        other_state = None
    else:
        with loaded_report(access, section.instance) as report:
            state = report.state
        own_list = report_queries.list_declared_reports
        other_list = report_queries.list_concerning_reports
        other_state = state
    for profile in PROFILES:
        actor = access.actor(profile.key)
        if actor.role not in ESTABLISHMENT_ROLES:
            for listing in (own_list, other_list):
                with pytest.raises(PermissionDenied):
                    listing(access.db, actor)
            continue
        rows = [
            *own_list(access.db, actor, state=state, page_size=100).items,
            *other_list(access.db, actor, state=other_state, page_size=100).items,
        ]
        listed = section.instance.number in {row.number for row in rows}
        assert listed == bool(section.cells[profile.key, VIEW]), profile.key


# --- through registre -------------------------------------------------------------------------


def _fingerprint(access: Access) -> tuple[Any, ...]:
    """What any write changes: the audit trail, the outbox, the records and their versions."""
    tables = Base.metadata.tables
    counted = [
        select(func.count()).select_from(tables[name]).scalar_subquery()
        for name in ("audit_log", "outbox", "dossiers", "refuser_lines", "reports", "accounts")
    ]
    versions = [
        select(func.coalesce(func.sum(model.version), 0)).scalar_subquery()
        for model in (Dossier, RefuserLine, Report)
    ]
    with access.db.read() as session:
        return tuple(session.execute(select(*counted, *versions)).one())


def _snapshot(access: Access) -> dict[str, list[str]]:
    with access.db.engine.connect() as conn:
        return {
            table.name: sorted(repr(tuple(row)) for row in conn.execute(table.select()))
            for table in Base.metadata.sorted_tables
        }


def _audit_count(access: Access) -> int:
    with access.db.read() as session:
        return session.scalar(select(func.count()).select_from(Base.metadata.tables["audit_log"]))


@pytest.mark.parametrize(("kind", "key"), SECTIONS)
def test_refused_actions_raise_permission_denied_with_the_rules_reason_and_write_nothing(
    access, kind, key
):
    section = _section(access, kind, key)
    perform = PERFORM[kind]
    before = _snapshot(access)
    problems = []
    refused = 0
    for (profile, act), decision in section.cells.items():
        if decision:
            continue
        refused += 1
        fingerprint = _fingerprint(access)
        try:
            perform[act](access, access.actor(profile), section.instance)
        except PermissionDenied as exc:
            if exc.message != decision.reason:
                problems.append((profile, act, exc.message, decision.reason))
        except Exception as exc:  # refused for another reason: the permission is not checked
            problems.append((profile, act, repr(exc), decision.reason))
        else:
            problems.append((profile, act, "autorisé", decision.reason))
        if _fingerprint(access) != fingerprint:
            problems.append((profile, act, "écriture", fingerprint))
    assert problems == []
    assert refused
    assert _snapshot(access) == before


def _check_dossier_effect(access: Access, act: str, instance: Instance, result: object) -> None:
    if act == VIEW:
        return
    action = Action(act)
    transition = TRANSITIONS[action]
    with loaded_dossier(access, instance) as (dossier, line):
        if transition.dossier_target is not None:
            assert dossier.state is transition.dossier_target
        if action is Action.ADD_LINE:
            added = next(ln for ln in dossier.lines if ln.id == result)
            assert added.state is transition.line_target
        elif action is Action.REMOVE_LINE:
            assert line.removed_at is not None
        elif transition.line_target is not None:
            assert line.state is transition.line_target
        if action is Action.UPDATE:
            assert dossier.comments == UPDATED
        if action is Action.EDIT_LINE:
            assert line.comments == EDITED


def _check_report_effect(access: Access, act: str, instance: Instance, result: object) -> None:
    if act == VIEW:
        return
    with loaded_report(access, instance) as report:
        assert report.state is REPORT_TRANSITIONS[ReportAction(act)].target


def _check_general_effect(access: Access, act: str, instance: object, result: object) -> None:
    targets = {
        Action.CREATE.value: TRANSITIONS[Action.CREATE].dossier_target,
        ReportAction.DECLARE.value: REPORT_TRANSITIONS[ReportAction.DECLARE].target,
    }
    if act in targets:
        assert getattr(result, "state", None) is targets[act]


EFFECTS: dict[str, Callable[[Access, str, Any, object], None]] = {
    "general": _check_general_effect,
    "dossier": _check_dossier_effect,
    "report": _check_report_effect,
}
READS = {VIEW, *(STATISTICS + p.value for p in Perspective)}


@pytest.mark.parametrize(("kind", "key"), SECTIONS)
def test_allowed_actions_succeed_and_reach_the_workflow_tables_target(access, kind, key):
    """Each allowed write on a fresh dossier (or report) in the same state; reads on the
    section's own."""
    section = _section(access, kind, key)
    allowed = [(p, a) for (p, a), decision in section.cells.items() if decision]
    assert allowed or kind == "general"
    for profile, act in allowed:
        actor = access.actor(profile)
        instance = section.instance
        if kind != "general" and act not in READS:
            fresh = _section(access, kind, key)  # the same state, built anew
            assert fresh.cells == section.cells
            instance = fresh.instance
        audited = _audit_count(access)
        result = PERFORM[kind][act](access, actor, instance)
        EFFECTS[kind](access, act, instance, result)
        if act not in READS:
            assert _audit_count(access) > audited, (profile, act)


# --- through the pages --------------------------------------------------------------------------


def record_selection(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Wrap ``st.navigation``: the title of the page it selects, at each run."""
    selected: list[str] = []
    real = st.navigation

    def recording(pages: Any, *args: Any, **kwargs: Any) -> Any:
        page = real(pages, *args, **kwargs)
        selected.append(page.title)
        return page

    monkeypatch.setattr(st, "navigation", recording)
    return selected


def _general_cells(world: Any, account: str) -> dict[str, bool]:
    actor = world.actor(account)
    specialty = world.specialty[SPECIALTY]
    return {act.key: bool(act.decide(actor, specialty)) for act in GENERAL_ACTS}


def _buttons(app: Any) -> set[str]:
    return {b.label for b in app.button}


# What offers each action on each page: the label of the workflow table unless the page
# words it otherwise.
PAGE_BUTTONS: dict[str, dict[str, str]] = {
    REGISTRE: {Action.CREATE.value: "Nouveau refus"},
    NON_CONFORME: {
        ReportAction.DECLARE.value: REPORT_TRANSITIONS[ReportAction.DECLARE].label,
    },
    DOSSIER: {
        Action.UPDATE.value: "Compléter le refus",
        Action.REOPEN.value: TRANSITIONS[Action.REOPEN].label,
        Action.ANSWER.value: TRANSITIONS[Action.ANSWER].label,
    },
    REFUS: {
        Action.UPDATE.value: TRANSITIONS[Action.UPDATE].label,
        Action.ADD_LINE.value: TRANSITIONS[Action.ADD_LINE].label,
        Action.EDIT_LINE.value: "Modifier",
        Action.REMOVE_LINE.value: "Retirer",
        Action.FINALISE.value: TRANSITIONS[Action.FINALISE].label,
        Action.ABANDON.value: TRANSITIONS[Action.ABANDON].label,
    },
    SIGNALEMENT: {
        ReportAction.ANSWER.value: REPORT_TRANSITIONS[ReportAction.ANSWER].label,
        ReportAction.WITHDRAW.value: REPORT_TRANSITIONS[ReportAction.WITHDRAW].label,
    },
}


def _offered(app: Any, page: str, cells: dict[str, bool]) -> list[tuple[str, bool, bool]]:
    """(action, offered by the page, allowed by the table) for each action the page may
    offer, where the two differ."""
    labels = _buttons(app)
    return [
        (act, label in labels, cells[act])
        for act, label in PAGE_BUTTONS[page].items()
        if (label in labels) != cells[act]
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: Path(p.path).stem)
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_each_role_gets_exactly_its_pages_by_url(app_env, monkeypatch, role: Role, page: PageRule):
    """A new session opens the page's URL: the menu serves it when the table allows it (and
    then it offers the actions without a record as the table says), else its home page."""
    selected = record_selection(monkeypatch)
    account = ROLE_ACCOUNTS[role]
    app = open_by_url(page.path, username(account))
    assert not app.exception, app.exception
    assert DENIED not in errors(app)
    if not page.allows(role):
        home = next(entry for entry in menu_of(role) if entry.default)
        assert selected == [home.title]
        return
    assert selected == [page.title]
    assert [ti.label for ti in app.text_input][:2] != ["Identifiant", "Mot de passe"]
    cells = _general_cells(app_env, account)
    if page.path in PAGE_BUTTONS and set(PAGE_BUTTONS[page.path]) <= set(cells):
        # the actions without a record (on a record: test_the_page_offers_an_action...)
        assert _offered(app, page.path, cells) == []
    if page.path == STATISTIQUES:
        perspectives = [p for p in Perspective if cells[STATISTICS + p.value]]
        radios = [r for r in app.radio if r.label == "Point de vue"]
        if len(perspectives) > 1:
            assert list(radios[0].options) == [PERSPECTIVE_LABELS[p] for p in perspectives]
        else:
            assert radios == []


def _denied_runs() -> list[tuple[PageRule, Role]]:
    """The page files that refuse some roles, each run on its own (a server's first URL)
    by those roles; the administration pages by one of them each, in turn."""
    runs = []
    turn = 0
    for page in PAGES:
        denied = [role for role in Role if role not in page.guard]
        if len(denied) > 3:
            denied = [denied[turn % len(denied)]]
            turn += 1
        runs += [(page, role) for role in denied]
    return runs


@pytest.mark.parametrize(
    ("page", "role"),
    _denied_runs(),
    ids=lambda v: Path(v.path).stem if isinstance(v, PageRule) else str(v),
)
def test_a_page_file_run_on_its_own_refuses_the_roles_the_table_denies(
    fresh_server_env, page: PageRule, role: Role
):
    assert not page.allows(role)
    app = run_directly(page.path, username(ROLE_ACCOUNTS[role]))
    assert not app.exception, app.exception
    assert errors(app) == [DENIED]
    assert not app.title and not app.text_area and not app.selectbox and not app.expander
    assert _buttons(app) <= {"Se déconnecter"}


# A sample of dossiers and reports opened by each side: (account, page, kind, case).
ACTION_SAMPLES: list[tuple[str, str, str, str]] = [
    *(
        (f"{role.value}_req", DOSSIER, "dossier", case)
        for role in sorted(ESTABLISHMENT_ROLES)
        for case in ("brouillon", "transmis")
    ),
    *(
        (f"{role.value}_ref", DOSSIER, "dossier", case)
        for role in sorted(ESTABLISHMENT_ROLES)
        for case in ("transmis", "reouvert")
    ),
    ("ars", DOSSIER, "dossier", "repondu"),
    *(
        (f"{role.value}_req", REFUS, "dossier", case)
        for role in sorted(ESTABLISHMENT_ROLES)
        if role is not Role.DIRECTEUR
        for case in ("brouillon", "reouvert")
    ),
    *(
        (f"{role.value}_{side}", SIGNALEMENT, "report", "attendu")
        for role in sorted(ESTABLISHMENT_ROLES)
        for side in ("req", "ref")
    ),
    ("ars", SIGNALEMENT, "report", "attendu"),
]


@pytest.mark.parametrize(
    ("account", "page", "kind", "case"),
    ACTION_SAMPLES,
    ids=["-".join((a, Path(p).stem, c)) for a, p, _k, c in ACTION_SAMPLES],
)
def test_the_page_offers_an_action_exactly_when_the_table_allows_it(
    app_env, access, account, page, kind, case
):
    section = _section(access, kind, case)
    assert section.instance is not None
    cells = {act: bool(section.cells[account, act]) for act in PAGE_BUTTONS[page]}
    if kind == "dossier":
        app = open_by_url(page, username(account), id=str(section.instance.id))
    else:
        app = open_by_url(page, username(account), numero=section.instance.number)
    assert not app.exception, app.exception
    assert _offered(app, page, cells) == []
    if not section.cells[account, VIEW]:
        assert errors(app) and section.instance.number not in "".join(errors(app))
    elif page == REFUS and not section.cells[account, Action.UPDATE.value]:
        assert "Ce dossier n'est pas modifiable" in "".join(i.value for i in app.info)
