"""The dossier workflow as one table: every action, the states it starts from, the state it
leads to, and the roles that may perform it. ``registre.permissions`` reads this table and
adds the scope rules (which establishment, which specialties); ``registre.dossiers`` performs
the transitions. Read it as the specification (SPEC §3 and §5).

| action               | side       | dossier states        | line states           | → dossier  | → line    | roles                              |
|----------------------|------------|-----------------------|-----------------------|------------|-----------|------------------------------------|
| create               | requester  | (none)                |                       | À compléter|           | Déclarant, Référent, Coordinateur  |
| update               | requester  | À compléter           |                       | =          |           | Déclarant, Référent, Coordinateur  |
| add_line             | requester  | À compléter           |                       | =          | en prép.  | Déclarant, Référent, Coordinateur  |
| edit_line            | requester  | À compléter           | any                   | =          | =         | Déclarant, Référent, Coordinateur  |
| remove_line          | requester  | À compléter           | en préparation        | =          | retirée   | Déclarant, Référent, Coordinateur  |
| finalise             | requester  | À compléter           |                       | Finalisé   | en prép.→🔔| Déclarant, Référent, Coordinateur  |
| reopen               | requester  | Finalisé              |                       | À compléter|           | Coordinateur                       |
| abandon              | requester  | À compléter (never sent)|                     | Abandonné  |           | Déclarant, Référent, Coordinateur  |
| answer               | refuser    | À compléter, Finalisé | 🔔 Réponse attendue   | =          | ✅ Répondu | Déclarant, Référent, Coordinateur  |

A « fonctionnement non conforme » report (SPEC §9) has its own, shorter table: it reaches the
concerned establishment the moment it is declared (no draft: a clinician reports at once),
which answers once. The declaring establishment plays the requester's side and the concerned
one the refuser's, with the same scope and blindness rules.

| report action   | side      | report states          | → report            | roles                              |
|-----------------|-----------|------------------------|---------------------|------------------------------------|
| declare         | requester | (none)                 | 🔔 Réponse attendue | Déclarant, Référent, Coordinateur  |
| answer_report   | refuser   | 🔔 Réponse attendue    | ✅ Répondu           | Déclarant, Référent, Coordinateur  |
| withdraw        | requester | 🔔 Réponse attendue    | 🗄️ Retiré            | Déclarant, Référent, Coordinateur  |
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from registre.models import WRITER_ROLES, DossierState, LineState, ReportState, Role


class Action(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    ADD_LINE = "add_line"
    EDIT_LINE = "edit_line"
    REMOVE_LINE = "remove_line"
    FINALISE = "finalise"
    REOPEN = "reopen"
    ABANDON = "abandon"
    ANSWER = "answer"


class Side(enum.StrEnum):
    REQUESTER = "requester"
    REFUSER = "refuser"


@dataclass(frozen=True)
class Transition:
    action: Action
    label: str
    side: Side
    roles: frozenset[Role]
    dossier_states: frozenset[DossierState | None]
    line_states: frozenset[LineState] | None = None
    dossier_target: DossierState | None = None
    line_target: LineState | None = None


_WRITERS = WRITER_ROLES
_DRAFT = frozenset({DossierState.DRAFT})

TRANSITIONS: dict[Action, Transition] = {
    t.action: t
    for t in (
        Transition(
            Action.CREATE,
            "Créer un refus",
            Side.REQUESTER,
            _WRITERS,
            frozenset({None}),
            dossier_target=DossierState.DRAFT,
        ),
        Transition(Action.UPDATE, "Enregistrer", Side.REQUESTER, _WRITERS, _DRAFT),
        Transition(
            Action.ADD_LINE,
            "Ajouter le refuseur",
            Side.REQUESTER,
            _WRITERS,
            _DRAFT,
            line_target=LineState.PENDING,
        ),
        Transition(
            Action.EDIT_LINE,
            "Modifier le refuseur",
            Side.REQUESTER,
            _WRITERS,
            _DRAFT,
            line_states=frozenset(LineState),
        ),
        Transition(
            Action.REMOVE_LINE,
            "Retirer le refuseur",
            Side.REQUESTER,
            _WRITERS,
            _DRAFT,
            line_states=frozenset({LineState.PENDING}),
        ),
        Transition(
            Action.FINALISE,
            "Finaliser le dossier",
            Side.REQUESTER,
            _WRITERS,
            _DRAFT,
            dossier_target=DossierState.FINALISED,
            line_target=LineState.AWAITING,
        ),
        Transition(
            Action.REOPEN,
            "Réouvrir",
            Side.REQUESTER,
            frozenset({Role.COORDINATEUR}),
            frozenset({DossierState.FINALISED}),
            dossier_target=DossierState.DRAFT,
        ),
        Transition(
            Action.ABANDON,
            "Abandonner le brouillon",
            Side.REQUESTER,
            _WRITERS,
            _DRAFT,
            dossier_target=DossierState.ABANDONED,
        ),
        Transition(
            Action.ANSWER,
            "Enregistrer la réponse",
            Side.REFUSER,
            _WRITERS,
            frozenset({DossierState.DRAFT, DossierState.FINALISED}),
            line_states=frozenset({LineState.AWAITING}),
            line_target=LineState.ANSWERED,
        ),
    )
}

DOSSIER_STATE_LABELS: dict[DossierState, str] = {
    DossierState.DRAFT: "À compléter",
    DossierState.FINALISED: "Finalisé",
    DossierState.ABANDONED: "Abandonné",
}
DOSSIER_STATE_ICONS: dict[DossierState, str] = {
    DossierState.DRAFT: "📝",
    DossierState.FINALISED: "✅",
    DossierState.ABANDONED: "🗄️",
}
LINE_STATE_LABELS: dict[LineState, str] = {
    LineState.PENDING: "En préparation",
    LineState.AWAITING: "Réponse attendue",
    LineState.ANSWERED: "Répondu",
}
LINE_STATE_ICONS: dict[LineState, str] = {
    LineState.PENDING: "📝",
    LineState.AWAITING: "🔔",
    LineState.ANSWERED: "✅",
}


# --- « fonctionnement non conforme » reports ------------------------------------------------


class ReportAction(enum.StrEnum):
    DECLARE = "declare"
    ANSWER = "answer_report"
    WITHDRAW = "withdraw"


@dataclass(frozen=True)
class ReportTransition:
    action: ReportAction
    label: str
    side: Side  # REQUESTER: the declaring establishment; REFUSER: the concerned one
    roles: frozenset[Role]
    states: frozenset[ReportState | None]
    target: ReportState


_AWAITING = frozenset({ReportState.AWAITING})

REPORT_TRANSITIONS: dict[ReportAction, ReportTransition] = {
    t.action: t
    for t in (
        ReportTransition(
            ReportAction.DECLARE,
            "Déclarer le fonctionnement non conforme",
            Side.REQUESTER,
            _WRITERS,
            frozenset({None}),
            ReportState.AWAITING,
        ),
        ReportTransition(
            ReportAction.ANSWER,
            "Enregistrer la réponse",
            Side.REFUSER,
            _WRITERS,
            _AWAITING,
            ReportState.ANSWERED,
        ),
        ReportTransition(
            ReportAction.WITHDRAW,
            "Retirer le signalement",
            Side.REQUESTER,
            _WRITERS,
            _AWAITING,
            ReportState.WITHDRAWN,
        ),
    )
}

REPORT_STATE_LABELS: dict[ReportState, str] = {
    ReportState.AWAITING: LINE_STATE_LABELS[LineState.AWAITING],
    ReportState.ANSWERED: LINE_STATE_LABELS[LineState.ANSWERED],
    ReportState.WITHDRAWN: "Retiré",
}
REPORT_STATE_ICONS: dict[ReportState, str] = {
    ReportState.AWAITING: LINE_STATE_ICONS[LineState.AWAITING],
    ReportState.ANSWERED: LINE_STATE_ICONS[LineState.ANSWERED],
    ReportState.WITHDRAWN: DOSSIER_STATE_ICONS[DossierState.ABANDONED],
}
