"""Who may do what: one function per action, each returning a ``Decision`` (yes/no and, when
no, a French reason). Deny by default: an action, role, state or scope that is not
explicitly allowed by ``registre.workflow.TRANSITIONS`` and the scope rules below is refused.

Scope rules (SPEC §3):
- requester side: the account's establishment is the requesting one; a Déclarant writes only
  the dossiers of its own service or those it created; a Référent PDSES limited to some
  specialties acts only on those; reading is open to the establishment's Déclarant, Référent,
  Coordinateur and Directeur (same specialty limit);
- refuser side: the account's establishment is the refusing one of a line that has been sent
  (finalised at least once), with the same specialty limit;
- Coordinateur régional (ARS): reads every dossier, both sides, within its départements (none
  listed: the whole region); writes nothing;
- Administrateur: no access to dossiers.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from registre.actors import Actor
from registre.models import (
    ESTABLISHMENT_ROLES,
    Dossier,
    LineState,
    RefuserLine,
    Report,
    ReportState,
    Role,
)
from registre.workflow import REPORT_TRANSITIONS, TRANSITIONS, Action, ReportAction, Side


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


YES = Decision(True)


def _no(reason: str) -> Decision:
    return Decision(False, reason)


class ViewKind(enum.StrEnum):
    """What a viewer may see of a dossier (SPEC §5, mutual blindness)."""

    REQUESTER = "requester"
    REFUSER = "refuser"
    REGIONAL = "regional"


_NOT_YOURS = "Ce dossier ne concerne pas votre établissement."

# One answer for « no such record » and « not yours », given before anything about the
# record's state: an outsider learns neither that a number exists nor where it stands.
DOSSIER_UNAVAILABLE = "Ce dossier n'existe pas ou vous n'y avez pas accès."
REPORT_UNAVAILABLE = "Ce signalement n'existe pas ou vous n'y avez pas accès."
NO_SUCH_LINE = "Établissement refuseur introuvable dans ce dossier."


def _specialty_ok(actor: Actor, specialty_id: int) -> bool:
    return not actor.specialty_ids or specialty_id in actor.specialty_ids


def _establishment_scope(
    actor: Actor, establishment_id: int, specialty_id: int, record: str
) -> Decision:
    """The scope rule of both sides of dossiers and reports: the actor's own establishment,
    within its specialties. ``record``: « Ce dossier », « Ce signalement »."""
    if actor.establishment_id is None or actor.establishment_id != establishment_id:
        return _no(f"{record} ne concerne pas votre établissement.")
    if not _specialty_ok(actor, specialty_id):
        return _no(f"{record} concerne une spécialité hors de votre périmètre.")
    return YES


def _may_start(decision: Decision, actor: Actor | None, specialty_id: int | None) -> Decision:
    """A new dossier or report: the table allows it, the account has an establishment, and
    the specialty (when already chosen) is within its scope."""
    if not decision:
        return decision
    assert actor is not None
    if actor.establishment_id is None:
        return _no("Votre compte n'est rattaché à aucun établissement.")
    if specialty_id is not None and not _specialty_ok(actor, specialty_id):
        return _no("Cette spécialité est hors de votre périmètre.")
    return YES


def _requester_scope(actor: Actor, dossier: Dossier, *, write: bool) -> Decision:
    scope = _establishment_scope(
        actor, dossier.requesting_establishment_id, dossier.specialty_id, "Ce dossier"
    )
    if not scope:
        return scope
    if (
        write
        and actor.role is Role.DECLARANT
        and dossier.requesting_service_id != actor.service_id
        and dossier.created_by_id != actor.id
    ):
        return _no("Ce dossier a été créé par un autre service de votre établissement.")
    return YES


def _refuser_scope(actor: Actor, dossier: Dossier, line: RefuserLine) -> Decision:
    if actor.establishment_id is None or actor.establishment_id != line.refusing_establishment_id:
        return _no(_NOT_YOURS)
    if line.removed_at is not None or line.state is LineState.PENDING:
        return _no(_NOT_YOURS)
    return _establishment_scope(
        actor, line.refusing_establishment_id, dossier.specialty_id, "Ce dossier"
    )


def _side_scope(actor: Actor, side: Side, dossier: Dossier, line: RefuserLine | None) -> Decision:
    if side is Side.REQUESTER:
        return _requester_scope(actor, dossier, write=True)
    if line is None or line.dossier_id != dossier.id:
        return _no(NO_SUCH_LINE if refuser_line_of(actor, dossier) is not None else _NOT_YOURS)
    return _refuser_scope(actor, dossier, line)


def check(
    actor: Actor | None,
    action: Action,
    dossier: Dossier | None = None,
    line: RefuserLine | None = None,
) -> Decision:
    """The single gate behind every ``can_*`` function. Its order is part of the rule: the
    actor's role, then the scope (someone who may not see the dossier gets
    ``DOSSIER_UNAVAILABLE``, as for a dossier that does not exist), and only then the
    states, which only those who see the dossier may learn."""
    if actor is None:
        return _no("Vous devez être connecté.")
    transition = TRANSITIONS.get(action)
    if transition is None:
        return _no("Action inconnue.")
    if actor.role not in transition.roles:
        return _no(f"Le profil « {actor.role.label} » ne permet pas cette action.")
    if dossier is None:
        return YES if action is Action.CREATE else _no(DOSSIER_UNAVAILABLE)
    scope = _side_scope(actor, transition.side, dossier, line)
    if not scope:
        return scope if view_kind(actor, dossier) is not None else _no(DOSSIER_UNAVAILABLE)
    if dossier.state not in transition.dossier_states:
        return _no("Cette action n'est pas possible dans l'état actuel du dossier.")
    if transition.line_states is not None:
        if line is None or line.dossier_id != dossier.id or line.removed_at is not None:
            return _no(NO_SUCH_LINE)
        if line.state not in transition.line_states:
            if action is Action.ANSWER and line.state is LineState.ANSWERED:
                return _no("Une réponse a déjà été enregistrée pour ce refus.")
            return _no("Cette action n'est pas possible dans l'état actuel de ce refuseur.")
    return YES


def can_create(actor: Actor | None, specialty_id: int | None = None) -> Decision:
    return _may_start(check(actor, Action.CREATE), actor, specialty_id)


def can_update(actor: Actor | None, dossier: Dossier) -> Decision:
    return check(actor, Action.UPDATE, dossier)


def can_add_line(actor: Actor | None, dossier: Dossier) -> Decision:
    return check(actor, Action.ADD_LINE, dossier)


def can_edit_line(actor: Actor | None, dossier: Dossier, line: RefuserLine | None) -> Decision:
    return check(actor, Action.EDIT_LINE, dossier, line)


def can_remove_line(actor: Actor | None, dossier: Dossier, line: RefuserLine | None) -> Decision:
    decision = check(actor, Action.REMOVE_LINE, dossier, line)
    already_sent = (
        line is not None and line.state is not LineState.PENDING and line.dossier_id == dossier.id
    )
    if not decision and already_sent and check(actor, Action.EDIT_LINE, dossier, line):
        return _no(
            "Cet établissement a déjà été informé du refus : la ligne ne peut plus être "
            "retirée, seulement modifiée."
        )
    return decision


def can_finalise(actor: Actor | None, dossier: Dossier) -> Decision:
    return check(actor, Action.FINALISE, dossier)


def can_reopen(actor: Actor | None, dossier: Dossier) -> Decision:
    return check(actor, Action.REOPEN, dossier)


def can_abandon(actor: Actor | None, dossier: Dossier) -> Decision:
    decision = check(actor, Action.ABANDON, dossier)
    if decision and any(
        ln.removed_at is None and ln.state is not LineState.PENDING for ln in dossier.lines
    ):
        return _no(
            "Ce dossier a déjà été transmis aux établissements refuseurs : il ne peut plus être "
            "abandonné."
        )
    return decision


def can_answer(actor: Actor | None, dossier: Dossier, line: RefuserLine | None) -> Decision:
    return check(actor, Action.ANSWER, dossier, line)


SENT_LINE_STATES = frozenset({LineState.AWAITING, LineState.ANSWERED})


def is_sent(line: RefuserLine) -> bool:
    """A live line its refuser received (the dossier was finalised with it)."""
    return line.removed_at is None and line.state in SENT_LINE_STATES


def refuser_line_of(actor: Actor, dossier: Dossier) -> RefuserLine | None:
    """The sent, live line of ``dossier`` addressed to the actor's establishment, if any."""
    if actor.establishment_id is None:
        return None
    for line in dossier.lines:
        if line.refusing_establishment_id == actor.establishment_id and is_sent(line):
            return line
    return None


def view_kind(actor: Actor | None, dossier: Dossier) -> ViewKind | None:
    """Which view of ``dossier`` the actor gets, or None: no access at all."""
    if actor is None:
        return None
    if actor.role is Role.ARS:
        return ViewKind.REGIONAL if in_regional_scope(actor, dossier) else None
    if actor.role not in ESTABLISHMENT_ROLES:
        return None
    if _requester_scope(actor, dossier, write=False):
        return ViewKind.REQUESTER
    line = refuser_line_of(actor, dossier)
    if line is not None and _refuser_scope(actor, dossier, line):
        return ViewKind.REFUSER
    return None


# --- what the regional agency sees (README « Ce que voit l'ARS ») --------------------------
# A dossier reaches the ARS only through what was transmitted: a draft never finalised and a
# line not yet sent are the requester's private work. An ARS limited to some départements
# sees a dossier whose requester is there (with all its sent lines), or one of whose sent
# lines goes to a refuser there (with those lines only: a line whose two sides are both
# outside its départements stays out of its view, as out of its statistics).


def _in_region(actor: Actor, dossier: Dossier, line: RefuserLine) -> bool:
    departements = actor.departements
    return (
        not departements
        or dossier.requesting_establishment.departement in departements
        or line.refusing_establishment.departement in departements
    )


def regional_lines(actor: Actor, dossier: Dossier) -> list[RefuserLine]:
    """The live, sent lines of ``dossier`` an ARS account sees (none of a draft)."""
    if dossier.finalised_at is None:
        return []
    return [ln for ln in dossier.lines if is_sent(ln) and _in_region(actor, dossier, ln)]


def regional_history_line_ids(actor: Actor, dossier: Dossier) -> set[int]:
    """The lines whose history an ARS account sees: those it sees, and those sent then
    removed on a reopening (they were transmitted)."""
    if dossier.finalised_at is None:
        return set()
    return {
        ln.id
        for ln in dossier.lines
        if ln.notified_at is not None
        and (ln.removed_at is not None or is_sent(ln))
        and _in_region(actor, dossier, ln)
    }


def in_regional_scope(actor: Actor, dossier: Dossier) -> bool:
    if dossier.finalised_at is None:
        return False
    departements = actor.departements
    if not departements or dossier.requesting_establishment.departement in departements:
        return True
    return bool(regional_lines(actor, dossier))


def can_view(actor: Actor | None, dossier: Dossier) -> Decision:
    if view_kind(actor, dossier) is None:
        return _no(DOSSIER_UNAVAILABLE)
    return YES


# --- « fonctionnement non conforme » reports (SPEC §9) ---------------------------------------
# The declaring establishment has the requester's scope, the concerned one the refuser's: the
# same establishment and specialty rules, and the same blindness (``ViewKind``).


def _declaring_scope(actor: Actor, report: Report, *, write: bool) -> Decision:
    scope = _establishment_scope(
        actor, report.declaring_establishment_id, report.specialty_id, "Ce signalement"
    )
    if scope and write and actor.role is Role.DECLARANT and report.created_by_id != actor.id:
        return _no("Ce signalement a été déclaré par un autre membre de votre établissement.")
    return scope


def _concerned_scope(actor: Actor, report: Report) -> Decision:
    return _establishment_scope(
        actor, report.concerned_establishment_id, report.specialty_id, "Ce signalement"
    )


def check_report(
    actor: Actor | None, action: ReportAction, report: Report | None = None
) -> Decision:
    """The single gate behind every report permission, read from ``REPORT_TRANSITIONS``,
    in the order of ``check``: role, scope (``REPORT_UNAVAILABLE`` to whoever may not see
    the report), then state."""
    if actor is None:
        return _no("Vous devez être connecté.")
    transition = REPORT_TRANSITIONS.get(action)
    if transition is None:
        return _no("Action inconnue.")
    if actor.role not in transition.roles:
        return _no(f"Le profil « {actor.role.label} » ne permet pas cette action.")
    if report is None:
        return YES if action is ReportAction.DECLARE else _no(REPORT_UNAVAILABLE)
    if transition.side is Side.REFUSER:
        scope = _concerned_scope(actor, report)
    else:
        scope = _declaring_scope(actor, report, write=True)
    if not scope:
        return scope if report_view_kind(actor, report) is not None else _no(REPORT_UNAVAILABLE)
    if report.state not in transition.states:
        if action is ReportAction.ANSWER and report.state is ReportState.ANSWERED:
            return _no("Une réponse a déjà été enregistrée pour ce signalement.")
        return _no("Cette action n'est pas possible dans l'état actuel du signalement.")
    return YES


def can_declare_report(actor: Actor | None, specialty_id: int | None = None) -> Decision:
    return _may_start(check_report(actor, ReportAction.DECLARE), actor, specialty_id)


def can_answer_report(actor: Actor | None, report: Report) -> Decision:
    return check_report(actor, ReportAction.ANSWER, report)


def can_withdraw_report(actor: Actor | None, report: Report) -> Decision:
    return check_report(actor, ReportAction.WITHDRAW, report)


def report_view_kind(actor: Actor | None, report: Report) -> ViewKind | None:
    """REQUESTER: the declaring establishment; REFUSER: the concerned one; REGIONAL: the ARS
    of either side's département; None: no access."""
    if actor is None:
        return None
    if actor.role is Role.ARS:
        if not actor.departements or {
            report.declaring_establishment.departement,
            report.concerned_establishment.departement,
        } & set(actor.departements):
            return ViewKind.REGIONAL
        return None
    if actor.role not in ESTABLISHMENT_ROLES:
        return None
    if _declaring_scope(actor, report, write=False):
        return ViewKind.REQUESTER
    if _concerned_scope(actor, report):
        return ViewKind.REFUSER
    return None


def can_view_report(actor: Actor | None, report: Report) -> Decision:
    if report_view_kind(actor, report) is None:
        return _no(REPORT_UNAVAILABLE)
    return YES


def get_report_abilities(actor: Actor | None, report: Report) -> dict[str, bool]:
    return {
        "view": bool(can_view_report(actor, report)),
        ReportAction.ANSWER.value: bool(can_answer_report(actor, report)),
        ReportAction.WITHDRAW.value: bool(can_withdraw_report(actor, report)),
    }


# --- administration (SPEC §3: accounts, reference data, documents, audit log) ------------


def can_administer(actor: Actor | None) -> Decision:
    """Every administration read and write: the Administrateur only."""
    if actor is None:
        return _no("Vous devez être connecté.")
    if actor.role is not Role.ADMIN:
        return _no("Seul l'administrateur a accès à l'administration.")
    return YES


# --- statistics (SPEC §10) -------------------------------------------------------------


class Perspective(enum.StrEnum):
    """From which side the statistics are seen; each has its own cut of the data."""

    REQUESTER = "demandeur"  # the refusals the establishment met (all its dossiers)
    REFUSER = "refuseur"  # the refusals addressed to it (only what SPEC §5 lets it see)
    REGIONAL = "regional"  # the ARS: both sides of every dossier in its départements


STATISTICS_PERSPECTIVES: dict[Role, tuple[Perspective, ...]] = {
    Role.COORDINATEUR: (Perspective.REQUESTER, Perspective.REFUSER),
    Role.DIRECTEUR: (Perspective.REQUESTER, Perspective.REFUSER),
    Role.ARS: (Perspective.REGIONAL,),
}


def statistics_perspectives(actor: Actor | None) -> tuple[Perspective, ...]:
    if actor is None:
        return ()
    perspectives = STATISTICS_PERSPECTIVES.get(actor.role, ())
    if actor.role in ESTABLISHMENT_ROLES and actor.establishment_id is None:
        return ()
    return perspectives


def can_view_statistics(actor: Actor | None, perspective: Perspective) -> Decision:
    """Statistics and exports: Coordinateur PDSES and Directeur for their establishment, on
    either side; the ARS for its region. Nobody else."""
    if actor is None:
        return _no("Vous devez être connecté.")
    allowed = statistics_perspectives(actor)
    if not allowed:
        return _no(f"Le profil « {actor.role.label} » ne donne pas accès aux statistiques.")
    if perspective not in allowed:
        return _no("Ce point de vue n'est pas ouvert à votre profil.")
    return YES


def get_abilities(actor: Actor | None, dossier: Dossier) -> dict[str, bool]:
    """Everything the actor may do on this dossier now, for the pages to show the buttons."""
    line = refuser_line_of(actor, dossier) if actor is not None else None
    return {
        "view": bool(can_view(actor, dossier)),
        Action.UPDATE.value: bool(can_update(actor, dossier)),
        Action.ADD_LINE.value: bool(can_add_line(actor, dossier)),
        Action.FINALISE.value: bool(can_finalise(actor, dossier)),
        Action.REOPEN.value: bool(can_reopen(actor, dossier)),
        Action.ABANDON.value: bool(can_abandon(actor, dossier)),
        Action.ANSWER.value: bool(line is not None and can_answer(actor, dossier, line)),
    }
