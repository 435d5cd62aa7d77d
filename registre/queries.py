"""The read side. Every function checks what the viewer may see and returns view objects
already cut to it (SPEC §5, mutual blindness): a refusing establishment receives a
``RefuserView`` that has no field for the requester's motifs, comments, destination, impact
or the other refusers, so that no page can show them by accident. Lists are filtered,
ordered (latest first) and paginated in the database."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from registre.actors import Actor
from registre.auth import fresh_actor
from registre.db import Database
from registre.errors import NotFound, PermissionDenied
from registre.models import (
    AGE_BAND_LABELS,
    ESTABLISHMENT_ROLES,
    SEX_LABELS,
    URGENCY_LABELS,
    Account,
    AgeBand,
    AuditEntry,
    Dossier,
    DossierState,
    Establishment,
    FinalDestination,
    LineState,
    RefusalMotif,
    RefuserLine,
    RequestMotif,
    Service,
    Sex,
    Specialty,
    Urgency,
)
from registre.permissions import (
    DOSSIER_UNAVAILABLE,
    ViewKind,
    get_abilities,
    refuser_line_of,
    regional_history_line_ids,
    regional_lines,
    view_kind,
)
from registre.validation import searchable, valid_id
from registre.workflow import (
    DOSSIER_STATE_ICONS,
    DOSSIER_STATE_LABELS,
    LINE_STATE_ICONS,
    LINE_STATE_LABELS,
)

T = TypeVar("T")
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int
    more: bool = False  # ``total`` is a lower bound: the count stopped there (``COUNT_LIMIT``)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True)
class Choice:
    id: int
    label: str
    is_other: bool = False
    requires_establishment: bool = False


# --- views of one dossier ---------------------------------------------------------------


@dataclass(frozen=True)
class RequesterLineView:
    """A refuser as its requester sees it: its own statement and whether it has answered."""

    id: int
    version: int
    refusing_establishment_id: int
    refusing_establishment: str
    is_line_holder: bool
    refusal_motif_id: int
    refusal_motif: str
    other_motif: str | None
    comments: str | None
    state: LineState
    state_label: str
    icon: str
    answered: bool


@dataclass(frozen=True)
class AnswerView:
    understood_motif_id: int | None
    understood_motif: str | None
    refusal_motif_id: int | None
    refusal_motif: str | None
    other_motif: str | None
    comments: str | None
    answered_at: datetime | None


@dataclass(frozen=True)
class RefuserView:
    """What a refusing establishment may see: the call's identity and its own line."""

    kind: ViewKind
    id: int
    number: str
    requested_at: datetime
    specialty: str
    requesting_establishment: str
    requesting_service: str
    line_id: int
    line_version: int
    line_state: LineState
    line_state_label: str
    line_icon: str
    answer: AnswerView | None
    abilities: dict[str, bool]


@dataclass(frozen=True)
class _RequesterFields:
    kind: ViewKind
    id: int
    number: str
    version: int
    state: DossierState
    state_label: str
    icon: str
    requesting_establishment: str
    requesting_service_id: int
    requesting_service: str
    specialty_id: int
    specialty: str
    requested_at: datetime
    in_pdses_hours: bool
    age_band: AgeBand
    age_band_label: str
    sex: Sex | None
    sex_label: str
    request_motif_id: int
    request_motif: str
    request_other_motif: str | None
    urgency: Urgency
    urgency_label: str
    final_destination_id: int | None
    final_destination: str | None
    final_destination_establishment_id: int | None
    final_destination_establishment: str | None
    impact: bool
    impact_description: str | None
    comments: str | None
    created_by: str
    created_at: datetime
    finalised_at: datetime | None
    abilities: dict[str, bool]


@dataclass(frozen=True)
class RequesterView(_RequesterFields):
    lines: tuple[RequesterLineView, ...]


@dataclass(frozen=True)
class RegionalLineView:
    refusing_establishment: str
    refusing_departement: str
    is_line_holder: bool
    refusal_motif: str
    other_motif: str | None
    comments: str | None
    state: LineState
    state_label: str
    icon: str
    answer: AnswerView | None


@dataclass(frozen=True)
class RegionalView(_RequesterFields):
    requesting_departement: str
    lines: tuple[RegionalLineView, ...]


DossierView = RequesterView | RefuserView | RegionalView


def _load(session: Session, *, dossier_id: int | None, number: str | None) -> Dossier:
    query = select(Dossier).options(
        joinedload(Dossier.requesting_establishment),
        joinedload(Dossier.requesting_service),
        joinedload(Dossier.specialty),
        joinedload(Dossier.request_motif),
        joinedload(Dossier.final_destination),
        joinedload(Dossier.final_destination_establishment),
        joinedload(Dossier.created_by),
        selectinload(Dossier.lines).options(
            joinedload(RefuserLine.refusing_establishment),
            joinedload(RefuserLine.refusal_motif),
            joinedload(RefuserLine.answer_understood_motif),
            joinedload(RefuserLine.answer_refusal_motif),
        ),
    )
    # what an address (``?id=``, ``?numero=``) holds may be anything: never sent if nothing
    # can match
    if dossier_id is not None and valid_id(dossier_id):
        query = query.where(Dossier.id == dossier_id)
    elif dossier_id is None and number and searchable(number.strip()):
        query = query.where(Dossier.number == number.strip().upper())
    else:
        raise NotFound(DOSSIER_UNAVAILABLE)
    dossier = session.scalars(query).unique().one_or_none()
    if dossier is None:
        raise NotFound(DOSSIER_UNAVAILABLE)
    return dossier


def _answer(line: RefuserLine) -> AnswerView | None:
    if line.state is not LineState.ANSWERED:
        return None
    return AnswerView(
        understood_motif_id=line.answer_understood_motif_id,
        understood_motif=line.answer_understood_motif.label
        if line.answer_understood_motif
        else None,
        refusal_motif_id=line.answer_refusal_motif_id,
        refusal_motif=line.answer_refusal_motif.label if line.answer_refusal_motif else None,
        other_motif=line.answer_other_motif,
        comments=line.answer_comments,
        answered_at=line.answered_at,
    )


def _requester_fields(d: Dossier, kind: ViewKind, abilities: dict[str, bool]) -> dict[str, Any]:
    return {
        "kind": kind,
        "id": d.id,
        "number": d.number,
        "version": d.version,
        "state": d.state,
        "state_label": DOSSIER_STATE_LABELS[d.state],
        "icon": DOSSIER_STATE_ICONS[d.state],
        "requesting_establishment": d.requesting_establishment.name,
        "requesting_service_id": d.requesting_service_id,
        "requesting_service": d.requesting_service.name,
        "specialty_id": d.specialty_id,
        "specialty": d.specialty.label,
        "requested_at": d.requested_at,
        "in_pdses_hours": d.in_pdses_hours,
        "age_band": d.age_band,
        "age_band_label": AGE_BAND_LABELS[d.age_band],
        "sex": d.sex,
        "sex_label": SEX_LABELS[d.sex] if d.sex else "",
        "request_motif_id": d.request_motif_id,
        "request_motif": d.request_motif.label,
        "request_other_motif": d.request_other_motif,
        "urgency": d.urgency,
        "urgency_label": URGENCY_LABELS[d.urgency],
        "final_destination_id": d.final_destination_id,
        "final_destination": d.final_destination.label if d.final_destination else None,
        "final_destination_establishment_id": d.final_destination_establishment_id,
        "final_destination_establishment": (
            d.final_destination_establishment.name if d.final_destination_establishment else None
        ),
        "impact": d.impact,
        "impact_description": d.impact_description,
        "comments": d.comments,
        "created_by": d.created_by.display_name,
        "created_at": d.created_at,
        "finalised_at": d.finalised_at,
        "abilities": abilities,
    }


def _live(d: Dossier) -> list[RefuserLine]:
    return [ln for ln in d.lines if ln.removed_at is None]


def build_view(actor: Actor, dossier: Dossier) -> DossierView:
    kind = view_kind(actor, dossier)
    if kind is None:
        raise PermissionDenied(DOSSIER_UNAVAILABLE)
    abilities = get_abilities(actor, dossier)
    if kind is ViewKind.REFUSER:
        line = refuser_line_of(actor, dossier)
        assert line is not None
        return RefuserView(
            kind=kind,
            id=dossier.id,
            number=dossier.number,
            requested_at=dossier.requested_at,
            specialty=dossier.specialty.label,
            requesting_establishment=dossier.requesting_establishment.name,
            requesting_service=dossier.requesting_service.name,
            line_id=line.id,
            line_version=line.version,
            line_state=line.state,
            line_state_label=LINE_STATE_LABELS[line.state],
            line_icon=LINE_STATE_ICONS[line.state],
            answer=_answer(line),
            abilities=abilities,
        )
    fields = _requester_fields(dossier, kind, abilities)
    if kind is ViewKind.REGIONAL:
        return RegionalView(
            **fields,
            requesting_departement=dossier.requesting_establishment.departement,
            lines=tuple(
                RegionalLineView(
                    refusing_establishment=ln.refusing_establishment.name,
                    refusing_departement=ln.refusing_establishment.departement,
                    is_line_holder=ln.is_line_holder,
                    refusal_motif=ln.refusal_motif.label,
                    other_motif=ln.other_motif,
                    comments=ln.comments,
                    state=ln.state,
                    state_label=LINE_STATE_LABELS[ln.state],
                    icon=LINE_STATE_ICONS[ln.state],
                    answer=_answer(ln),
                )
                for ln in regional_lines(actor, dossier)
            ),
        )
    return RequesterView(
        **fields,
        lines=tuple(
            RequesterLineView(
                id=ln.id,
                version=ln.version,
                refusing_establishment_id=ln.refusing_establishment_id,
                refusing_establishment=ln.refusing_establishment.name,
                is_line_holder=ln.is_line_holder,
                refusal_motif_id=ln.refusal_motif_id,
                refusal_motif=ln.refusal_motif.label,
                other_motif=ln.other_motif,
                comments=ln.comments,
                state=ln.state,
                state_label=LINE_STATE_LABELS[ln.state],
                icon=LINE_STATE_ICONS[ln.state],
                answered=ln.state is LineState.ANSWERED,
            )
            for ln in _live(dossier)
        ),
    )


def get_dossier(
    db: Database, actor: Actor, *, dossier_id: int | None = None, number: str | None = None
) -> DossierView:
    """One dossier as the actor may see it; PermissionDenied when it may not."""
    with db.read() as session:
        actor = fresh_actor(session, actor)
        return build_view(actor, _load(session, dossier_id=dossier_id, number=number))


# --- lists ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DossierRow:
    id: int
    number: str
    state: DossierState
    icon: str
    state_label: str
    requested_at: datetime
    specialty: str
    requesting_service: str
    refusers: int
    in_pdses_hours: bool
    answered: int = 0
    line_holders: int = 0


@dataclass(frozen=True)
class IncomingRow:
    """A line addressed to the viewer's establishment: only what identifies the call."""

    line_id: int
    dossier_id: int
    number: str
    requested_at: datetime
    specialty: str
    requesting_establishment: str
    requesting_service: str
    state: LineState
    icon: str
    state_label: str
    is_line_holder: bool = False


def _page_bounds(page: int, page_size: int) -> tuple[int, int]:
    size = min(max(page_size, 1), MAX_PAGE_SIZE)
    return max(page, 1), size


COUNT_LIMIT = 1000
"""The registry's lists count their rows up to this many past the page shown, then say « plus
de … »: an exact count of a large hospital's three years (40,000 dossiers, 100,000 refusals
received at a million dossiers) took 90 and 350 ms of every rerun of the registry page,
growing with the registry (``make bench``); the latest rows are what a user pages through."""


def _paginate(
    session: Session, query: Any, page: int, size: int, *, limited: bool = False
) -> tuple[list[Any], int, int, bool]:
    """Rows of one page, the total, the page actually served (clamped to the last one: a
    list that shrank meanwhile never shows an empty page) and whether the total is a lower
    bound (``limited``: counted up to ``COUNT_LIMIT`` rows past the requested page only)."""
    # Counted on the first column only: the per-row subqueries are not computed for the count.
    ids = query.with_only_columns(query.selected_columns[0]).order_by(None)
    cap = max(COUNT_LIMIT, page * size) + 1 if limited else None
    if cap is not None:
        ids = ids.limit(cap)
    total = session.scalar(select(func.count()).select_from(ids.subquery())) or 0
    more = cap is not None and total >= cap
    if more:
        total -= 1
    page = min(page, max(1, -(-total // size)))
    rows = list(session.execute(query.limit(size).offset((page - 1) * size)))
    return rows, total, page, more


def paginate(
    session: Session,
    query: Any,
    page: int,
    page_size: int,
    make: Callable[[Any], T],
    *,
    limited: bool = False,
) -> Page[T]:
    """One page of an ordered query, each row turned into an item by ``make``."""
    page, size = _page_bounds(page, page_size)
    rows, total, page, more = _paginate(session, query, page, size, limited=limited)
    return Page([make(r) for r in rows], total, page, size, more)


@dataclass(frozen=True)
class Count:
    """A count that stops at ``COUNT_LIMIT`` (``more``: there are more than ``value``)."""

    value: int
    more: bool = False

    def __bool__(self) -> bool:
        return self.value > 0


def list_establishment_dossiers(
    db: Database,
    actor: Actor,
    *,
    state: DossierState | None = None,
    specialty_id: int | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    page: int = 1,
    page_size: int = 25,
) -> Page[DossierRow]:
    """The latest dossiers of the actor's establishment as requester (abandoned drafts only
    when asked for by ``state``)."""
    page, size = _page_bounds(page, page_size)
    with db.read() as session:
        actor = fresh_actor(session, actor)
        if actor.role not in ESTABLISHMENT_ROLES or actor.establishment_id is None:
            raise PermissionDenied(
                "Votre profil ne donne pas accès au registre d'un établissement."
            )

        def per_dossier(condition: Any = None) -> Any:
            """Counted for the rows of the page only (correlated, on the dossier index)."""
            query = select(func.count(RefuserLine.id)).where(
                RefuserLine.dossier_id == Dossier.id, RefuserLine.removed_at.is_(None)
            )
            if condition is not None:
                query = query.where(condition)
            return query.correlate(Dossier).scalar_subquery()

        live_lines = per_dossier()
        answered = per_dossier(RefuserLine.state == LineState.ANSWERED)
        holders = per_dossier(RefuserLine.is_line_holder.is_(True))
        query = (
            select(
                Dossier.id,
                Dossier.number,
                Dossier.state,
                Dossier.requested_at,
                Specialty.label,
                Service.name,
                live_lines,
                Dossier.in_pdses_hours,
                answered,
                holders,
            )
            .join(Specialty, Specialty.id == Dossier.specialty_id)
            .join(Service, Service.id == Dossier.requesting_service_id)
            .where(Dossier.requesting_establishment_id == actor.establishment_id)
            .order_by(Dossier.requested_at.desc(), Dossier.id.desc())
        )
        if state is None:
            query = query.where(Dossier.state != DossierState.ABANDONED)
        else:
            query = query.where(Dossier.state == state)
        if actor.specialty_ids:
            query = query.where(Dossier.specialty_id.in_(actor.specialty_ids))
        if specialty_id is not None:
            query = query.where(Dossier.specialty_id == specialty_id)
        if date_from is not None:
            query = query.where(Dossier.requested_at >= date_from)
        if date_to is not None:
            query = query.where(Dossier.requested_at < date_to)
        rows, total, page, more = _paginate(session, query, page, size, limited=True)
        items = [
            DossierRow(
                id=r[0],
                number=r[1],
                state=r[2],
                icon=DOSSIER_STATE_ICONS[r[2]],
                state_label=DOSSIER_STATE_LABELS[r[2]],
                requested_at=r[3],
                specialty=r[4],
                requesting_service=r[5],
                refusers=r[6] or 0,
                in_pdses_hours=r[7],
                answered=r[8] or 0,
                line_holders=r[9] or 0,
            )
            for r in rows
        ]
        return Page(items, total, page, size, more)


def list_incoming_lines(
    db: Database,
    actor: Actor,
    *,
    state: LineState | None = None,
    specialty_id: int | None = None,
    page: int = 1,
    page_size: int = 25,
) -> Page[IncomingRow]:
    """Lines addressed to the actor's establishment that were sent (🔔 awaiting, ✅ answered),
    awaiting ones first, latest first; counted up to ``COUNT_LIMIT``."""
    page, size = _page_bounds(page, page_size)
    with db.read() as session:
        actor = fresh_actor(session, actor)
        if actor.role not in ESTABLISHMENT_ROLES or actor.establishment_id is None:
            raise PermissionDenied(
                "Votre profil ne donne pas accès au registre d'un établissement."
            )
        requester = aliased(Establishment)
        query = (
            select(
                RefuserLine.id,
                Dossier.id,
                Dossier.number,
                Dossier.requested_at,
                Specialty.label,
                requester.name,
                Service.name,
                RefuserLine.state,
                RefuserLine.is_line_holder,
            )
            .join(Dossier, Dossier.id == RefuserLine.dossier_id)
            .join(Specialty, Specialty.id == Dossier.specialty_id)
            .join(requester, requester.id == Dossier.requesting_establishment_id)
            .join(Service, Service.id == Dossier.requesting_service_id)
            .where(
                RefuserLine.refusing_establishment_id == actor.establishment_id,
                RefuserLine.removed_at.is_(None),
            )
            # Awaiting first by the stored values' order ("reponse_attendue" > "repondu", checked
            # below): the index ix_refuser_lines_refuser_state then reads the page's rows only,
            # where ORDER BY CASE … sorted the establishment's every refusal (190 ms at a
            # million dossiers).
            .order_by(
                RefuserLine.state.desc(),
                RefuserLine.notified_at.desc(),
                RefuserLine.id.desc(),
            )
        )
        if state is None:
            query = query.where(RefuserLine.state.in_([LineState.AWAITING, LineState.ANSWERED]))
        elif state is LineState.PENDING:
            raise PermissionDenied("Ces lignes ne sont pas encore transmises.")
        else:
            query = query.where(RefuserLine.state == state)
        if actor.specialty_ids:
            query = query.where(Dossier.specialty_id.in_(actor.specialty_ids))
        if specialty_id is not None:
            query = query.where(Dossier.specialty_id == specialty_id)
        rows, total, page, more = _paginate(session, query, page, size, limited=True)
        items = [
            IncomingRow(
                line_id=r[0],
                dossier_id=r[1],
                number=r[2],
                requested_at=r[3],
                specialty=r[4],
                requesting_establishment=r[5],
                requesting_service=r[6],
                state=r[7],
                icon=LINE_STATE_ICONS[r[7]],
                state_label=LINE_STATE_LABELS[r[7]],
                is_line_holder=r[8],
            )
            for r in rows
        ]
        return Page(items, total, page, size, more)


if not LineState.AWAITING.value > LineState.ANSWERED.value:  # list_incoming_lines' order
    raise AssertionError("LineState.AWAITING must sort after LineState.ANSWERED")


def count_awaiting_answers(db: Database, actor: Actor) -> Count:
    """How many sent lines wait for the answer of the actor's establishment, up to
    ``COUNT_LIMIT``: an exact count of a large hospital's 40,000 unanswered lines (a million
    dossiers) on every Accueil, 100 users at once, kept the database busy for seconds."""
    found = list_incoming_lines(db, actor, state=LineState.AWAITING, page_size=1)
    return Count(found.total, found.more)


# --- history ----------------------------------------------------------------------------

ACTION_LABELS = {
    "dossier_created": "Dossier créé",
    "dossier_updated": "Dossier modifié",
    "line_added": "Établissement refuseur ajouté",
    "line_updated": "Établissement refuseur modifié",
    "line_removed": "Établissement refuseur retiré",
    "dossier_finalised": "Dossier finalisé",
    "dossier_reopened": "Dossier réouvert",
    "dossier_abandoned": "Brouillon abandonné",
    "line_answered": "Réponse de l'établissement refuseur enregistrée",
    "line_reminded": "Relance envoyée à l'établissement refuseur",
    "line_reminder_unreached": "Relance impossible : aucun compte Coordinateur ou Référent "
    "PDSES dans l'établissement refuseur",
}


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    who: str
    action: str
    details: tuple[str, ...]


def cut_history(
    entries: Sequence[AuditEntry],
    kind: ViewKind,
    labels: Mapping[str, str],
    details: Callable[[AuditEntry], tuple[str, ...]],
    refuser_side: Callable[[AuditEntry, str, str], HistoryEntry | None],
) -> list[HistoryEntry]:
    """An audit trail cut to its viewer, for dossiers and reports alike: the ARS sees who did
    what and the details; the requesting (declaring) side sees its own details and only that
    the other side acted; the refusing (concerned) side sees what ``refuser_side`` makes of
    each entry (given the entry, the acting person and the label), or nothing."""
    out: list[HistoryEntry] = []
    for e in entries:
        label = labels.get(e.action, e.action)
        person = e.actor.display_name if e.actor else "Système"
        establishment = (
            e.actor.establishment.name if e.actor and e.actor.establishment else "Registre"
        )
        if kind is ViewKind.REGIONAL:
            out.append(HistoryEntry(e.at, f"{person} ({establishment})", label, details(e)))
        elif kind is ViewKind.REQUESTER:
            if e.details.get("side") == "refuser":
                out.append(HistoryEntry(e.at, establishment, label, ()))
            else:
                out.append(HistoryEntry(e.at, person, label, details(e)))
        elif (entry := refuser_side(e, person, label)) is not None:
            out.append(entry)
    return out


def audit_trail(session: Session, *where: Any) -> Sequence[AuditEntry]:
    return session.scalars(
        select(AuditEntry)
        .where(*where)
        .options(joinedload(AuditEntry.actor).joinedload(Account.establishment))
        .order_by(AuditEntry.at, AuditEntry.id)
    ).all()


def history(db: Database, actor: Actor, dossier_id: int) -> list[HistoryEntry]:
    """The audit trail of a dossier, cut to the viewer: a refusing establishment sees when the
    refusal was sent to it and its own answers; the requester sees that a refuser answered,
    not what; the ARS sees every detail of the lines it sees."""
    with db.read() as session:
        actor = fresh_actor(session, actor)
        dossier = _load(session, dossier_id=dossier_id, number=None)
        kind = view_kind(actor, dossier)
        if kind is None:
            raise PermissionDenied(DOSSIER_UNAVAILABLE)
        own_line = refuser_line_of(actor, dossier) if kind is ViewKind.REFUSER else None

        def refuser_side(e: AuditEntry, person: str, label: str) -> HistoryEntry | None:
            assert own_line is not None
            if e.details.get("side") == "refuser" and e.details.get("line_id") == own_line.id:
                return HistoryEntry(e.at, person, label, ())
            if e.action == "dossier_finalised" and own_line.id in e.details.get("lines_sent", []):
                return HistoryEntry(
                    e.at,
                    dossier.requesting_establishment.name,
                    "Refus transmis à votre établissement",
                    (),
                )
            return None

        entries = audit_trail(session, AuditEntry.dossier_id == dossier.id)
        if kind is ViewKind.REGIONAL:  # not the lines it does not see (never sent, elsewhere)
            seen = regional_history_line_ids(actor, dossier)
            entries = [e for e in entries if e.entity != "refuser_line" or e.entity_id in seen]
        return cut_history(entries, kind, ACTION_LABELS, _details, refuser_side)


def _details(entry: AuditEntry) -> tuple[str, ...]:
    from registre.dossiers import LABELS

    lines = []
    reason = entry.details.get("reason")
    if reason:
        lines.append(f"Motif : {reason}")
    for field in entry.details.get("changes", {}):
        name = field.removeprefix("answer_")
        lines.append(f"{LABELS.get(field, LABELS.get(name, field))} renseigné ou modifié")
    return tuple(lines)


# --- form choices -----------------------------------------------------------------------


def _choices(session: Session, model: Any) -> list[Choice]:
    rows = session.scalars(
        select(model).where(model.active.is_(True)).order_by(model.sort_order, model.label)
    ).all()
    return [
        Choice(
            r.id,
            r.label,
            bool(getattr(r, "is_other", False)),
            bool(getattr(r, "requires_establishment", False)),
        )
        for r in rows
    ]


@dataclass(frozen=True)
class FormOptions:
    establishment: str
    services: list[Choice]
    default_service_id: int | None
    specialties: list[Choice]
    request_motifs: list[Choice]
    refusal_motifs: list[Choice]
    destinations: list[Choice]


def form_options(db: Database, actor: Actor) -> FormOptions:
    """The lists of the requester's form, pre-filled from the profile (SPEC §5)."""
    with db.read() as session:
        actor = fresh_actor(session, actor)
        if actor.establishment_id is None:
            raise PermissionDenied("Votre compte n'est rattaché à aucun établissement.")
        est = session.get(Establishment, actor.establishment_id)
        assert est is not None
        services = [
            Choice(s.id, s.name)
            for s in session.scalars(
                select(Service)
                .where(Service.establishment_id == est.id, Service.active.is_(True))
                .order_by(Service.name)
            )
        ]
        specialties = [
            c
            for c in _choices(session, Specialty)
            if not actor.specialty_ids or c.id in actor.specialty_ids
        ]
        return FormOptions(
            establishment=est.name,
            services=services,
            default_service_id=actor.service_id,
            specialties=specialties,
            request_motifs=_choices(session, RequestMotif),
            refusal_motifs=_choices(session, RefusalMotif),
            destinations=_choices(session, FinalDestination),
        )


def specialty_choices(db: Database, actor: Actor) -> list[Choice]:
    with db.read() as session:
        actor = fresh_actor(session, actor)
        return [
            c
            for c in _choices(session, Specialty)
            if not actor.specialty_ids or c.id in actor.specialty_ids
        ]


def refuser_choices(db: Database, actor: Actor, service_id: int | None = None) -> list[Choice]:
    """Active establishments other than the actor's, those most often refused by this
    service (else this establishment) first, then by name: the night clinician's shortcut."""
    with db.read() as session:
        actor = fresh_actor(session, actor)
        if actor.establishment_id is None:
            raise PermissionDenied("Votre compte n'est rattaché à aucun établissement.")
        own_service = service_id is not None and session.scalar(
            select(Service.id).where(
                Service.id == service_id, Service.establishment_id == actor.establishment_id
            )
        )
        # Another establishment's service would reveal whom that service sends patients to.
        scope = (
            Dossier.requesting_service_id == service_id
            if own_service
            else Dossier.requesting_establishment_id == actor.establishment_id
        )
        usage = (
            select(
                RefuserLine.refusing_establishment_id.label("est_id"),
                func.count(RefuserLine.id).label("n"),
            )
            .join(Dossier, Dossier.id == RefuserLine.dossier_id)
            .where(scope, RefuserLine.removed_at.is_(None))
            .group_by(RefuserLine.refusing_establishment_id)
            .subquery()
        )
        rows = session.execute(
            select(Establishment.id, Establishment.name, Establishment.departement)
            .outerjoin(usage, usage.c.est_id == Establishment.id)
            .where(Establishment.active.is_(True), Establishment.id != actor.establishment_id)
            .order_by(func.coalesce(usage.c.n, 0).desc(), Establishment.name)
        ).all()
        return [Choice(r[0], f"{r[1]} ({r[2]})") for r in rows]


@dataclass(frozen=True)
class Profile:
    display_name: str
    username: str
    role_label: str
    establishment: str | None
    service: str | None
    email: str


def profile(db: Database, actor: Actor) -> Profile:
    with db.read() as session:
        fresh = fresh_actor(session, actor)
        est = session.get(Establishment, fresh.establishment_id) if fresh.establishment_id else None
        svc = session.get(Service, fresh.service_id) if fresh.service_id else None
        return Profile(
            fresh.display_name,
            fresh.username,
            fresh.role.label,
            est.name if est else None,
            svc.name if svc else None,
            fresh.email,
        )


__all__ = [
    "Choice",
    "DossierRow",
    "DossierView",
    "FormOptions",
    "HistoryEntry",
    "IncomingRow",
    "Page",
    "Profile",
    "RefuserView",
    "RegionalView",
    "RequesterView",
]
