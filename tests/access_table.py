"""Who may do what, as a table generated from ``registre``'s own rules (issue « Access probes »).

Nothing in this module says who is allowed: it only chooses whom and what to ask about, then
asks the application.

- **Pages** (role × page): the menu that ``registre.web.navigation.pages_for`` builds for an
  account of each role, and the roles that each page file's own gate accepts (the argument
  of its ``require_actor(...)`` call, read from the page's source and resolved in the module
  it is imported from). A page is open to a role when both say so; the table shows a warning
  where they disagree.
- **Actions** (account × action): every permission function of ``registre.permissions``
  — one per action of the workflow tables ``TRANSITIONS`` and ``REPORT_TRANSITIONS``
  (found by name: ``can_<action>``, ``can_<action>_report``), plus viewing a dossier or a
  report, administration and each statistics perspective — asked about real dossiers and
  reports in each state, built in a database with the action functions themselves. The
  accounts are the test world's (``tests/factories.py``) plus a Déclarant of another service
  of the requesting establishment and one account per establishment role in a third
  establishment (Hôpital Foch), so that every relation to a dossier is there: requesting
  establishment, refusing one, another one, the ARS in and out of its départements, the
  administrator.

``python -m tests.access_table > docs/droits.md`` writes the table in Markdown (in a
throw-away SQLite database); ``tests/test_access_table.py`` checks it against the action
functions and the pages, and that ``docs/droits.md`` is up to date.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import streamlit
from sqlalchemy import select

from registre import (
    administration,
    audit_log,
    dossiers,
    exports,
    permissions,
    queries,
    referentials,
    report_queries,
    report_statistics,
    reports,
    statistics,
    timeutil,
)
from registre.accounts import AccountInput, create_account
from registre.actors import Actor
from registre.auth import load_actor
from registre.db import Database
from registre.models import (
    ESTABLISHMENT_ROLES,
    Dossier,
    Establishment,
    RefuserLine,
    Report,
    Role,
    Service,
)
from registre.permissions import Decision, Perspective
from registre.statistics import PERSPECTIVE_LABELS
from registre.web import navigation
from registre.workflow import (
    DOSSIER_STATE_ICONS,
    DOSSIER_STATE_LABELS,
    LINE_STATE_ICONS,
    LINE_STATE_LABELS,
    REPORT_STATE_ICONS,
    REPORT_STATE_LABELS,
    REPORT_TRANSITIONS,
    TRANSITIONS,
    Action,
    ReportAction,
)

from . import marker_wall
from .factories import PASSWORD, World

ROOT = Path(__file__).resolve().parent.parent
PAGES_DIR = ROOT / "pages"
# The instant of the test clock (conftest.py): a PDSES night.
CLOCK = datetime(2026, 11, 26, 2, 15, tzinfo=UTC)
SPECIALTY = "Neurochirurgie"  # the specialty of every dossier and report of the table

# --- pages ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MenuEntry:
    """Stands in for ``st.Page`` while ``pages_for`` builds a menu outside a Streamlit run."""

    page: str
    title: str | None = None
    icon: str | None = None
    url_path: str | None = None
    default: bool = False
    visibility: str = "visible"


@dataclass(frozen=True)
class PageRule:
    path: str  # "pages/dossier.py", as registre.web.navigation names it
    title: str
    hidden: bool  # not drawn in the menu (opened from a link, by its URL)
    menu: frozenset[Role]  # the roles whose menu holds the page
    guard: frozenset[Role]  # the roles that the page's require_actor accepts

    def allows(self, role: Role) -> bool:
        return role in self.menu and role in self.guard

    def agrees(self, role: Role) -> bool:
        return (role in self.menu) == (role in self.guard)


def page_actor(role: Role) -> Actor:
    """An account of ``role`` as the menu sees it (the menu depends on the role only)."""
    return Actor(
        id=0,
        username=role.value,
        display_name=role.label,
        email=f"{role.value}@example.org",
        role=role,
        establishment_id=1 if role in ESTABLISHMENT_ROLES else None,
        service_id=None,
    )


def menu_of(role: Role) -> list[MenuEntry]:
    """The pages of the menu ``pages_for`` builds for ``role``, in the menu's order."""
    with mock.patch.object(streamlit, "Page", MenuEntry):
        menu = navigation.pages_for(page_actor(role))
    return [entry for entries in menu.values() for entry in entries]


def guard_roles(path: str) -> frozenset[Role]:
    """The roles accepted by the page's ``require_actor(...)``: every role without an
    argument, else the set its argument names (resolved in the module it is imported from)."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    imported = {
        alias.asname or alias.name: (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "require_actor"
    ]
    if len(calls) != 1:
        raise ValueError(f"{path} : {len(calls)} appels à require_actor (un attendu).")
    arguments = list(calls[0].args) + [k.value for k in calls[0].keywords if k.arg == "roles"]
    if not arguments:
        return frozenset(Role)
    [argument] = arguments
    if not isinstance(argument, ast.Name) or argument.id not in imported:
        raise ValueError(f"{path} : argument de require_actor non résolu ({ast.dump(argument)}).")
    module, name = imported[argument.id]
    roles = getattr(importlib.import_module(module), name)
    return frozenset(Role(r) for r in roles)


def page_rules() -> tuple[PageRule, ...]:
    """Every page file, in the order of the menus (then the files no menu holds)."""
    menus = {role: menu_of(role) for role in Role}
    entries: dict[str, MenuEntry] = {}
    for role in Role:
        for entry in menus[role]:
            entries.setdefault(entry.page, entry)
    files = [f"pages/{p.name}" for p in sorted(PAGES_DIR.glob("*.py"))]
    rules = []
    for path in [*entries, *(f for f in files if f not in entries)]:
        entry = entries.get(path)
        rules.append(
            PageRule(
                path=path,
                title=(entry.title if entry and entry.title else Path(path).stem),
                hidden=entry is None or entry.visibility == "hidden",
                menu=frozenset(r for r in Role if any(e.page == path for e in menus[r])),
                guard=guard_roles(path),
            )
        )
    return tuple(rules)


# --- accounts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    key: str  # the world's actor name (``World.actor``) or one added here
    relation: str  # to the dossiers and reports of the table


PROFILES: tuple[Profile, ...] = (
    Profile("declarant_req", "établissement demandeur (auteur)"),
    Profile("referent_req", "établissement demandeur"),
    Profile("coordinateur_req", "établissement demandeur"),
    Profile("directeur_req", "établissement demandeur"),
    Profile("declarant_req_service2", "établissement demandeur, autre service"),
    Profile("declarant_ref", "établissement refuseur"),
    Profile("referent_ref", "établissement refuseur"),
    Profile("coordinateur_ref", "établissement refuseur"),
    Profile("directeur_ref", "établissement refuseur"),
    Profile("referent_ref_orl", "établissement refuseur, limité à l'ORL"),
    Profile("declarant_other", "autre établissement"),
    Profile("referent_other", "autre établissement"),
    Profile("coordinateur_other", "autre établissement"),
    Profile("directeur_other", "autre établissement"),
    Profile("ars", "toute la région"),
    Profile("ars_75", "Paris seulement (hors périmètre)"),
    Profile("admin", "plateforme"),
)
# Accounts the test world lacks: (name, role, establishment, service: another one than the
# world's Déclarant of that establishment).
EXTRA_ACCOUNTS: tuple[tuple[str, Role, str], ...] = (
    ("declarant_req_service2", Role.DECLARANT, "req"),
    ("declarant_other", Role.DECLARANT, "other"),
    ("referent_other", Role.REFERENT, "other"),
    ("coordinateur_other", Role.COORDINATEUR, "other"),
    ("directeur_other", Role.DIRECTEUR, "other"),
)


@dataclass
class Access:
    """The test world and an actor for every profile."""

    world: World
    actors: dict[str, Actor] = field(default_factory=dict)

    @property
    def db(self) -> Database:
        return self.world.db

    def actor(self, key: str) -> Actor:
        return self.actors[key]

    def service_of(self, actor: Actor) -> int | None:
        """The service a new dossier of ``actor`` comes from: its own, else the first of its
        establishment."""
        if actor.service_id is not None or actor.establishment_id is None:
            return actor.service_id
        with self.db.read() as session:
            return session.scalars(
                select(Service.id)
                .where(Service.establishment_id == actor.establishment_id)
                .order_by(Service.id)
            ).first()


def prepare(world: World) -> Access:
    """Add the missing accounts to the world's database; an actor for every profile."""
    access = Access(world)
    with world.db.transaction() as session:
        for name, role, est in EXTRA_ACCOUNTS:
            establishment = session.get(Establishment, world.est[est])
            assert establishment is not None
            taken = world.actors["declarant_req"].service_id
            service = session.scalars(
                select(Service.name)
                .where(Service.establishment_id == establishment.id, Service.id != taken)
                .order_by(Service.id)
            ).first()
            username = name.replace("_", "-")
            create_account(
                session,
                AccountInput(
                    username=username,
                    display_name=name,
                    email=f"{username}@example.org",
                    role=role,
                    password=PASSWORD,
                    establishment_finess=establishment.finess,
                    service_name=service if role is Role.DECLARANT else None,
                ),
            )
    for profile in PROFILES:
        actor = world.actors.get(profile.key) or load_actor(world.db, profile.key.replace("_", "-"))
        assert actor is not None, profile.key
        access.actors[profile.key] = actor
    return access


def profile_label(access: Access, profile: Profile) -> str:
    actor = access.actor(profile.key)
    return f"{actor.role.label} — {profile.relation} (`{actor.username}`)"


# --- actions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Act:
    key: str
    label: str  # the workflow table's label of the action
    decide: Callable[[Actor, Any], Decision]  # (actor, subject) → the rules' decision


def _permission(name: str) -> Callable[..., Decision]:
    function = getattr(permissions, name, None)
    if function is None:
        raise LookupError(f"registre.permissions.{name} manque : chaque action a sa règle.")
    return function


def _dossier_act(action: Action) -> Act:
    rule = _permission(f"can_{action.name.lower()}")
    if "line" in inspect.signature(rule).parameters:
        return Act(action.value, TRANSITIONS[action].label, lambda a, s: rule(a, s[0], s[1]))
    return Act(action.value, TRANSITIONS[action].label, lambda a, s: rule(a, s[0]))


def _report_act(action: ReportAction) -> Act:
    rule = _permission(f"can_{action.name.lower()}_report")
    return Act(action.value, REPORT_TRANSITIONS[action].label, lambda a, r: rule(a, r))


def _starts(action: Action | ReportAction) -> bool:
    """A transition from no record at all (creating a dossier, declaring a report)."""
    if isinstance(action, Action):
        return None in TRANSITIONS[action].dossier_states
    return None in REPORT_TRANSITIONS[action].states


VIEW = "view"
ADMINISTER = "administer"
STATISTICS = "statistics-"  # + the perspective

# On a dossier (subject: the dossier and its line to the refusing establishment).
DOSSIER_ACTS: tuple[Act, ...] = (
    Act(VIEW, "Voir le dossier", lambda a, s: permissions.can_view(a, s[0])),
    *(_dossier_act(a) for a in Action if not _starts(a)),
)
# On a report (subject: the report).
REPORT_ACTS: tuple[Act, ...] = (
    Act(VIEW, "Voir le signalement", lambda a, r: permissions.can_view_report(a, r)),
    *(_report_act(a) for a in ReportAction if not _starts(a)),
)


def _start_act(action: Action | ReportAction) -> Act:
    if isinstance(action, Action):
        rule = _permission(f"can_{action.name.lower()}")
        label = TRANSITIONS[action].label
    else:
        rule = _permission(f"can_{action.name.lower()}_report")
        label = REPORT_TRANSITIONS[action].label
    return Act(
        action.value, f"{label} ({SPECIALTY.lower()})", lambda a, specialty: rule(a, specialty)
    )


def _statistics_act(perspective: Perspective) -> Act:
    return Act(
        STATISTICS + perspective.value,
        f"Statistiques et exports : {PERSPECTIVE_LABELS[perspective]}",
        lambda a, _: permissions.can_view_statistics(a, perspective),
    )


# Without a record (subject: the specialty of a new dossier or report).
GENERAL_ACTS: tuple[Act, ...] = (
    *(_start_act(a) for a in Action if _starts(a)),
    *(_start_act(a) for a in ReportAction if _starts(a)),
    Act(ADMINISTER, "Administration", lambda a, _: permissions.can_administer(a)),
    *(_statistics_act(p) for p in Perspective),
)


# --- dossiers and reports in each state -----------------------------------------------------


@dataclass(frozen=True)
class Instance:
    """A dossier (and its line to the refusing establishment) or a report, as built."""

    id: int
    number: str
    line_id: int | None = None


@dataclass(frozen=True)
class Case:
    key: str
    note: str
    build: Callable[[Access], Instance]


def _dossier(access: Access, dossier_id: int) -> Instance:
    with access.db.read() as session:
        dossier = session.get(Dossier, dossier_id)
        assert dossier is not None
        line_id = session.scalars(
            select(RefuserLine.id).where(
                RefuserLine.dossier_id == dossier_id,
                RefuserLine.refusing_establishment_id == access.world.est["ref"],
                RefuserLine.removed_at.is_(None),
            )
        ).one()
        return Instance(dossier.id, dossier.number, line_id)


def answer_input(access: Access) -> dossiers.AnswerInput:
    world = access.world
    return dossiers.AnswerInput(
        understood_motif_id=world.request_motif["Avis spécialisé"],
        refusal_motif_id=world.refusal_motif["Absence de praticien disponible"],
    )


def report_answer_input() -> reports.ReportAnswerInput:
    return reports.ReportAnswerInput(
        analysis="Astreinte joignable par le standard seulement.",
        corrective_measures="Numéro direct communiqué.",
    )


def _draft(access: Access) -> Instance:
    world = access.world
    ref = world.draft(lines=("ref",), final_destination_id=world.destination["Retour à domicile"])
    return _dossier(access, ref.id)


def _sent(access: Access) -> Instance:
    return _dossier(access, access.world.finalised().id)


def _answered(access: Access) -> Instance:
    sent = _sent(access)
    assert sent.line_id is not None
    dossiers.answer(
        access.db, access.actor("coordinateur_ref"), sent.id, sent.line_id, answer_input(access)
    )
    return sent


def _reopened(access: Access) -> Instance:
    sent = _sent(access)
    dossiers.reopen(access.db, access.actor("coordinateur_req"), sent.id, "Destination erronée.")
    return sent


def _abandoned(access: Access) -> Instance:
    draft = _draft(access)
    dossiers.abandon(access.db, access.actor("declarant_req"), draft.id, "Saisi en double.")
    return draft


DOSSIER_CASES: tuple[Case, ...] = (
    Case("brouillon", "jamais transmis", _draft),
    Case("transmis", "transmis au refuseur", _sent),
    Case("repondu", "le refuseur a répondu", _answered),
    Case("reouvert", "réouvert après transmission", _reopened),
    Case("abandonne", "brouillon abandonné", _abandoned),
)


def _report_instance(ref: reports.ReportRef) -> Instance:
    return Instance(ref.id, ref.number)


def _report(access: Access) -> Instance:
    return _report_instance(access.world.report())


def _report_answered(access: Access) -> Instance:
    report = _report(access)
    reports.answer(access.db, access.actor("coordinateur_ref"), report.id, report_answer_input())
    return report


def _report_withdrawn(access: Access) -> Instance:
    report = _report(access)
    reports.withdraw(access.db, access.actor("declarant_req"), report.id, "Erreur d'établissement.")
    return report


REPORT_CASES: tuple[Case, ...] = (
    Case("attendu", "réponse attendue", _report),
    Case("repondu", "l'établissement concerné a répondu", _report_answered),
    Case("retire", "retiré par le déclarant", _report_withdrawn),
)


# --- the table ----------------------------------------------------------------------------------

Cells = dict[tuple[str, str], Decision]  # (profile, act) → decision


@dataclass(frozen=True)
class Section:
    kind: str  # "general", "dossier", "report"
    key: str
    title: str
    acts: tuple[Act, ...]
    cells: Cells
    instance: Instance | None = None


@dataclass(frozen=True)
class AccessTable:
    pages: tuple[PageRule, ...]
    profile_labels: dict[str, str]
    sections: tuple[Section, ...]
    context: dict[str, str]

    def section(self, kind: str, key: str) -> Section:
        return next(s for s in self.sections if (s.kind, s.key) == (kind, key))

    def size(self) -> dict[str, int]:
        return {
            "roles": len(Role),
            "pages": len(self.pages),
            "profiles": len(self.profile_labels),
            "actions": sum(len(s.acts) for s in self.sections),
            "page cells": len(Role) * len(self.pages),
            "action cells": sum(len(s.cells) for s in self.sections),
        }


def _cells(access: Access, acts: tuple[Act, ...], subject: Any) -> Cells:
    return {
        (profile.key, act.key): act.decide(access.actor(profile.key), subject)
        for profile in PROFILES
        for act in acts
    }


def general_section(access: Access) -> Section:
    specialty = access.world.specialty[SPECIALTY]
    return Section(
        "general",
        "general",
        "Sans dossier",
        GENERAL_ACTS,
        _cells(access, GENERAL_ACTS, specialty),
    )


@contextmanager
def loaded_dossier(access: Access, instance: Instance) -> Iterator[tuple[Dossier, RefuserLine]]:
    with access.db.read() as session:
        dossier = session.get(Dossier, instance.id)
        line = session.get(RefuserLine, instance.line_id)
        assert dossier is not None and line is not None
        yield dossier, line


@contextmanager
def loaded_report(access: Access, instance: Instance) -> Iterator[Report]:
    with access.db.read() as session:
        report = session.get(Report, instance.id)
        assert report is not None
        yield report


def dossier_cells(access: Access, instance: Instance) -> Cells:
    with loaded_dossier(access, instance) as subject:
        return _cells(access, DOSSIER_ACTS, subject)


def report_cells(access: Access, instance: Instance) -> Cells:
    with loaded_report(access, instance) as report:
        return _cells(access, REPORT_ACTS, report)


def dossier_section(access: Access, case: Case, instance: Instance | None = None) -> Section:
    instance = instance or case.build(access)
    with loaded_dossier(access, instance) as (dossier, line):
        title = (
            f"{DOSSIER_STATE_ICONS[dossier.state]} {DOSSIER_STATE_LABELS[dossier.state]}, "
            f"refuseur {LINE_STATE_ICONS[line.state]} {LINE_STATE_LABELS[line.state]} "
            f"({case.note})"
        )
        cells = _cells(access, DOSSIER_ACTS, (dossier, line))
    return Section("dossier", case.key, title, DOSSIER_ACTS, cells, instance)


def report_section(access: Access, case: Case, instance: Instance | None = None) -> Section:
    instance = instance or case.build(access)
    with loaded_report(access, instance) as report:
        title = (
            f"{REPORT_STATE_ICONS[report.state]} {REPORT_STATE_LABELS[report.state]} ({case.note})"
        )
        cells = _cells(access, REPORT_ACTS, report)
    return Section("report", case.key, title, REPORT_ACTS, cells, instance)


def _context(access: Access, sections: list[Section]) -> dict[str, str]:
    """What the dossiers and reports of the table are, read back from the database."""
    dossier = next(s.instance for s in sections if s.kind == "dossier")
    report = next(s.instance for s in sections if s.kind == "report")
    assert dossier is not None and report is not None

    def where(est: Establishment) -> str:
        return f"{est.name} ({est.departement})"

    with loaded_dossier(access, dossier) as (d, line):
        dossier_text = (
            f"demandé par {where(d.requesting_establishment)}, service « "
            f"{d.requesting_service.name} », en {d.specialty.label.lower()}, refusé par "
            f"{where(line.refusing_establishment)}"
        )
    with loaded_report(access, report) as r:
        report_text = (
            f"déclaré par {where(r.declaring_establishment)} au sujet de "
            f"{where(r.concerned_establishment)}, en {r.specialty.label.lower()}"
        )
    return {"dossier": dossier_text, "report": report_text}


def build_table(access: Access) -> AccessTable:
    sections = [general_section(access)]
    sections += [dossier_section(access, case) for case in DOSSIER_CASES]
    sections += [report_section(access, case) for case in REPORT_CASES]
    return AccessTable(
        pages=page_rules(),
        profile_labels={p.key: profile_label(access, p) for p in PROFILES},
        sections=tuple(sections),
        context=_context(access, sections),
    )


# --- performing the actions through registre -------------------------------------------------
# How each action of the table is carried out with ``registre``'s action functions (valid
# input: an allowed action must succeed, a refused one must be refused for its permission).

UPDATED = "Complété après coup."
EDITED = "Motif précisé par le demandeur."


def dossier_input(access: Access, actor: Actor, **overrides: Any) -> dossiers.DossierInput:
    world = access.world
    values: dict[str, Any] = {
        "requesting_service_id": access.service_of(actor),
        "final_destination_id": world.destination["Retour à domicile"],
    }
    return world.dossier_input(**{**values, **overrides})


def _view_dossier(access: Access, actor: Actor, instance: Instance) -> object:
    by_id = queries.get_dossier(access.db, actor, dossier_id=instance.id)
    by_number = queries.get_dossier(access.db, actor, number=instance.number)
    assert by_id == by_number
    queries.history(access.db, actor, instance.id)
    return by_id


def _line(instance: Instance) -> int:
    assert instance.line_id is not None
    return instance.line_id


Perform = Callable[[Access, Actor, Any], object]

DOSSIER_PERFORM: dict[str, Perform] = {
    VIEW: _view_dossier,
    Action.UPDATE.value: lambda acc, a, i: dossiers.update_draft(
        acc.db, a, i.id, dossier_input(acc, a, comments=UPDATED)
    ),
    Action.ADD_LINE.value: lambda acc, a, i: dossiers.add_line(
        acc.db, a, i.id, acc.world.line_input("paris")
    ),
    Action.EDIT_LINE.value: lambda acc, a, i: dossiers.edit_line(
        acc.db, a, i.id, _line(i), acc.world.line_input("ref", comments=EDITED)
    ),
    Action.REMOVE_LINE.value: lambda acc, a, i: dossiers.remove_line(acc.db, a, i.id, _line(i)),
    Action.FINALISE.value: lambda acc, a, i: dossiers.finalise(acc.db, a, i.id),
    Action.REOPEN.value: lambda acc, a, i: dossiers.reopen(
        acc.db, a, i.id, "Destination finale à corriger."
    ),
    Action.ABANDON.value: lambda acc, a, i: dossiers.abandon(acc.db, a, i.id, "Saisi en double."),
    Action.ANSWER.value: lambda acc, a, i: dossiers.answer(
        acc.db, a, i.id, _line(i), answer_input(acc)
    ),
}


def _view_report(access: Access, actor: Actor, instance: Instance) -> object:
    by_id = report_queries.get_report(access.db, actor, report_id=instance.id)
    by_number = report_queries.get_report(access.db, actor, number=instance.number)
    assert by_id == by_number
    report_queries.history(access.db, actor, instance.id)
    return by_id


REPORT_PERFORM: dict[str, Perform] = {
    VIEW: _view_report,
    ReportAction.ANSWER.value: lambda acc, a, i: reports.answer(
        acc.db, a, i.id, report_answer_input()
    ),
    ReportAction.WITHDRAW.value: lambda acc, a, i: reports.withdraw(
        acc.db, a, i.id, "Erreur d'établissement."
    ),
}


def _administer(access: Access, actor: Actor, _: object) -> object:
    """Reads and a write of the administration (each module checks on its own)."""
    administration.list_accounts(access.db, actor)
    audit_log.list_entries(access.db, actor, audit_log.AuditFilters())
    referentials.list_items(access.db, actor, referentials.ListKind.SPECIALTY)
    administration.unlock(access.db, actor, actor.id)
    return None


def _statistics(perspective: Perspective) -> Perform:
    def perform(access: Access, actor: Actor, _: object) -> object:
        filters = statistics.default_filters()
        statistics.compute(access.db, actor, perspective, filters)
        report_statistics.compute(access.db, actor, perspective, filters)
        exports.report_table(access.db, actor, perspective, filters)
        return exports.export_tables(access.db, actor, perspective, filters)

    return perform


GENERAL_PERFORM: dict[str, Perform] = {
    Action.CREATE.value: lambda acc, a, _: dossiers.create_draft(acc.db, a, dossier_input(acc, a)),
    ReportAction.DECLARE.value: lambda acc, a, _: reports.declare(
        acc.db, a, acc.world.report_input("paris")
    ),
    ADMINISTER: _administer,
    **{STATISTICS + p.value: _statistics(p) for p in Perspective},
}
PERFORM: dict[str, dict[str, Perform]] = {
    "general": GENERAL_PERFORM,
    "dossier": DOSSIER_PERFORM,
    "report": REPORT_PERFORM,
}


# --- Markdown -------------------------------------------------------------------------------

YES, NO = "✅", "❌"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _header(titles: list[str]) -> list[str]:
    return [_row(titles), _row(["---"] * len(titles))]


def to_markdown(table: AccessTable) -> str:
    size = table.size()
    reasons: dict[str, int] = {}

    def cell(decision: Decision) -> str:
        if decision:
            return YES
        number = reasons.setdefault(decision.reason, len(reasons) + 1)
        return f"{NO} ({number})"

    lines = [
        "# Droits d'accès : qui peut faire quoi",
        "",
        "<!-- Fichier généré par `python -m tests.access_table > docs/droits.md` : ne pas le "
        "modifier à la main. tests/test_access_table.py vérifie qu'il est à jour. -->",
        "",
        "Ce tableau est **calculé** à partir des règles de l'application, jamais écrit à la "
        "main : le menu de chaque profil (`registre.web.navigation.pages_for`) et le contrôle "
        "au début de chaque page (`require_actor`) pour les pages ; les fonctions de "
        "`registre.permissions` (une par action des tables de `registre.workflow`) interrogées "
        "sur de vrais dossiers et signalements pour les actions. Les tests "
        "(`tests/test_access_table.py`) le vérifient en exécutant chaque action par les "
        "fonctions de `registre` (autorisée : elle aboutit ; refusée : `PermissionDenied`, "
        "avec le message en français indiqué ci-dessous, et rien n'est écrit) et en ouvrant "
        "les pages.",
        "",
        f"Taille : {size['roles']} profils × {size['pages']} pages ; "
        f"{size['profiles']} comptes × {size['actions']} actions "
        f"({size['page cells']} + {size['action cells']} cases).",
        "",
        f"{YES} autorisé ; {NO} (n) refusé, n renvoie au message de refus en fin de page.",
        "",
        "## Pages",
        "",
        "Une page est ouverte à un profil quand son menu la propose et que la page l'accepte ; "
        "sinon l'adresse de la page mène à l'accueil (menu) ou au message « Votre profil ne "
        "donne pas accès à cette page. » (page ouverte directement).",
        "",
    ]
    lines += _header(["Page", *(r.label for r in Role)])
    for page in table.pages:
        marks = []
        for role in Role:
            if not page.agrees(role):
                marks.append("⚠️ menu seul" if role in page.menu else "⚠️ page seule")
            else:
                marks.append(YES if page.allows(role) else NO)
        hidden = ", hors menu" if page.hidden else ""
        lines.append(_row([f"{page.title} (`{page.path}`{hidden})", *marks]))
    headings = {
        "general": ["## Sans dossier"],
        "dossier": [
            "## Dossiers de refus",
            "",
            f"Un dossier {table.context['dossier']}, dans chacun de ses états.",
        ],
        "report": [
            "## Fonctionnements non conformes",
            "",
            f"Un signalement {table.context['report']}, dans chacun de ses états.",
        ],
    }
    previous = None
    for section in table.sections:
        lines.append("")
        if section.kind != previous:
            lines += [*headings[section.kind], ""]
            previous = section.kind
        if section.kind != "general":
            lines += [f"### {section.title}", ""]
        lines += _header(["Compte", *(f"{a.label} (`{a.key}`)" for a in section.acts)])
        for profile in PROFILES:
            lines.append(
                _row(
                    [
                        table.profile_labels[profile.key],
                        *(cell(section.cells[profile.key, a.key]) for a in section.acts),
                    ]
                )
            )
    lines += ["", "## Messages de refus", ""]
    lines += [f"{n}. {reason}" for reason, n in reasons.items()]
    lines += marker_wall.markdown_lines()
    return "\n".join(lines) + "\n"


def generate() -> str:
    """The Markdown table, from a throw-away SQLite database."""
    from registre.migrate import upgrade

    from .factories import build_world

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/droits.sqlite3"
        upgrade(url)
        db = Database(url)
        timeutil.set_clock(lambda: CLOCK)
        try:
            return to_markdown(build_table(prepare(build_world(db))))
        finally:
            timeutil.set_clock(None)
            db.dispose()


if __name__ == "__main__":
    sys.stdout.write(generate())
