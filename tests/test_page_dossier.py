"""AppTest: the dossier page as each viewer sees it (SPEC §5, mutual blindness): the
requester's view and history, the refuser's view limited to the call's identity and its
answer form (guide §5), the regional view of both sides, and the reopening of a dossier."""

from __future__ import annotations

import pytest

from registre import dossiers, pii, queries
from registre.dossiers import LineInput
from registre.models import AgeBand, DossierState, LineState, Urgency

from . import apptest_helpers
from .apptest_helpers import (
    DOSSIER,
    answer,
    button,
    click,
    errors,
    markdown_text,
    open_page,
    page_text,
    widget,
)
from .factories import at

app_env = apptest_helpers.app_env  # the fixture

REQUESTER = "Centre hospitalier Sud Francilien (CHSF)"
SERVICE = "Service d'accueil des urgences"
# What the requester wrote: never shown to a refusing establishment.
REQUESTER_ONLY = {
    "request other motif": "motif Quetzalcoatl",
    "comments": "commentaire Zanzibar",
    "impact": "impact Ouagadougou",
    "line other motif": "ligne Vladivostok",
    "line comments": "ligne Tegucigalpa",
    "other refuser": "Hôpital Foch",
    "destination": "Transféré dans un autre établissement",
    "destination establishment": "Pitié-Salpêtrière",
    "age band": "65 à 79 ans",
    "urgency": "Urgence vitale",
    "author": "declarant_req",
}
# What the refuser answers: never shown to the requester.
ANSWER_ONLY = {
    "answer other motif": "réponse Kilimandjaro",
    "answer comments": "réponse Popocatepetl",
}


@pytest.fixture
def call(app_env):
    """A finalised dossier of ``req`` refused by ``ref`` and ``other``, full of statements."""
    w = app_env
    draft = w.draft(
        requested_at=at(2026, 11, 24, 22, 5),
        age_band=AgeBand.SENIOR,
        urgency=Urgency.VITAL,
        request_motif_id=w.request_motif["Autre"],
        request_other_motif=REQUESTER_ONLY["request other motif"],
        comments=REQUESTER_ONLY["comments"],
        impact=True,
        impact_description=REQUESTER_ONLY["impact"],
        final_destination_id=w.destination["Transféré dans un autre établissement"],
        final_destination_establishment_id=w.est["paris"],
    )
    author = w.actor("declarant_req")
    dossiers.add_line(
        w.db,
        author,
        draft.id,
        LineInput(
            refusing_establishment_id=w.est["ref"],
            refusal_motif_id=w.refusal_motif["Autre"],
            other_motif=REQUESTER_ONLY["line other motif"],
            comments=REQUESTER_ONLY["line comments"],
        ),
    )
    dossiers.add_line(w.db, author, draft.id, w.line_input("other"))
    return dossiers.finalise(w.db, author, draft.id)


def _answer_ref(world, dossier_id: int) -> None:
    answer(
        world,
        dossier_id,
        "ref",
        refusal_motif_id=world.refusal_motif["Autre"],
        other_motif=ANSWER_ONLY["answer other motif"],
        comments=ANSWER_ONLY["answer comments"],
    )


def _line_state(world, dossier_id: int, est: str = "ref") -> LineState:
    view = queries.get_dossier(world.db, world.actor("ars"), dossier_id=dossier_id)
    assert isinstance(view, queries.RegionalView)
    name = {"ref": "Henri-Mondor", "other": "Foch"}[est]
    return next(ln.state for ln in view.lines if name in ln.refusing_establishment)


def _history(app) -> str:
    [expander] = [e for e in app.expander if e.label == "Historique du dossier"]
    return "\n".join(m.value for m in expander.markdown).replace("\\", "")


# --- the requester ------------------------------------------------------------------------------


def test_the_requester_sees_its_dossier_and_whether_each_refuser_answered(app_env, call):
    _answer_ref(app_env, call.id)
    app = open_page(DOSSIER, "declarant-req", numero=call.number)
    assert not app.exception
    assert [t.value for t in app.title] == [f"✅ Refus {call.number}"]
    text = markdown_text(app)
    for fact in (
        f"**Etablissement demandeur** : {REQUESTER}",
        f"**Service demandeur** : {SERVICE}",
        "**Spécialité PDSES** : Neurochirurgie",
        "**Date et heure de la demande** : 24/11/2026 22:05",
        "**Motif de la demande** : Autre",
        f"**Autre motif de la demande** : {REQUESTER_ONLY['request other motif']}",
        "**Niveau d'urgence** : Urgence vitale",
        "**Destination finale du patient** : Transféré dans un autre établissement "
        "(Hôpital Pitié-Salpêtrière (AP-HP))",
        "**Impact sur la prise en charge du patient** : oui",
        f"**Commentaires** : {REQUESTER_ONLY['comments']}",
    ):
        assert fact in text
    assert "✅ **Hôpital Henri-Mondor (AP-HP)** — **titulaire de la ligne PDSES** — Répondu" in text
    assert "🔔 **Hôpital Foch** — Réponse attendue" in text
    assert f"Autre ({REQUESTER_ONLY['line other motif']})" in text
    # whether the refuser answered, never what
    page = page_text(app)
    for value in ANSWER_ONLY.values():
        assert value not in page
    history = _history(app)
    assert "**Dossier créé** — declarant_req" in history
    assert "**Dossier finalisé** — declarant_req" in history
    assert (
        "**Réponse de l'établissement refuseur enregistrée** — Hôpital Henri-Mondor (AP-HP)"
        in history
    )
    assert "coordinateur_ref" not in history
    # nothing left to do for a Déclarant
    assert not [b for b in app.main.button if b.label in ("Compléter le refus", "Réouvrir")]
    assert not [e for e in app.expander if e.label == "Réouvrir le dossier"]


def test_the_dossier_opens_by_id_too(app_env, call):
    app = open_page(DOSSIER, "directeur-req", id=str(call.id))
    assert [t.value for t in app.title] == [f"✅ Refus {call.number}"]


def test_a_draft_is_completed_from_the_dossier_page(app_env):
    draft = app_env.draft()
    app = open_page(DOSSIER, "declarant-req", numero=draft.number)
    assert [t.value for t in app.title] == [f"📝 Refus {draft.number}"]
    app = click(app, "Compléter le refus")
    assert not app.exception
    assert app.query_params == {"id": str(draft.id)}
    assert [t.value for t in app.title] == [f"📝 Refus {draft.number} — à compléter"]


# --- the refuser --------------------------------------------------------------------------------


def _assert_blind(app) -> None:
    page = page_text(app)
    for what, value in REQUESTER_ONLY.items():
        assert value not in page, what


@pytest.mark.parametrize("answered", [False, True])
def test_the_refuser_sees_only_the_identity_of_the_call(app_env, call, answered):
    if answered:
        _answer_ref(app_env, call.id)
    app = open_page(DOSSIER, "declarant-ref", numero=call.number)
    assert not app.exception
    icon = "✅" if answered else "🔔"
    assert [t.value for t in app.title] == [f"{icon} Refus {call.number}"]
    text = markdown_text(app)
    for fact in (
        "**Date et heure de la demande** : 24/11/2026 22:05",
        "**Spécialité PDSES** : Neurochirurgie",
        f"**Etablissement demandeur** : {REQUESTER}",
        f"**Service demandeur** : {SERVICE}",
    ):
        assert fact in text
    _assert_blind(app)
    history = _history(app)
    assert f"**Refus transmis à votre établissement** — {REQUESTER}" in history
    assert "Dossier créé" not in history and "Établissement refuseur ajouté" not in history


def test_the_answer_form(app_env, call):
    app = open_page(DOSSIER, "declarant-ref", numero=call.number)
    [form] = [f for f in app.main.form]
    assert [s.label for s in form.selectbox] == [
        "Motif compris de la demande *",
        "Motif du refus *",
    ]
    assert [t.label for t in form.text_input] == ["Autre motif"]
    assert [t.label for t in form.text_area] == ["Commentaires"]
    assert [b.label for b in form.button] == ["Enregistrer la réponse"]


@pytest.mark.parametrize(
    ("understood", "motif", "other", "comments", "messages"),
    [
        (
            None,
            None,
            "",
            "",
            [
                "« Motif compris de la demande » est obligatoire.",
                "« Motif du refus » est obligatoire.",
            ],
        ),
        ("Avis spécialisé", "Autre", "", "", ["« Autre motif » est obligatoire."]),
        (
            "Avis spécialisé",
            "Absence de lit disponible",
            "",
            "rappel Mme Martin au 01 45 17 12 34",
            [f"« Commentaires » : {pii.REASON_PHONE}", f"« Commentaires » : {pii.REASON_CIVILITY}"],
        ),
    ],
    ids=["nothing chosen", "autre without text", "nominative comment"],
)
def test_a_wrong_answer_shows_its_errors(
    app_env, call, understood, motif, other, comments, messages
):
    world = app_env
    app = open_page(DOSSIER, "declarant-ref", numero=call.number)
    if understood:
        widget(app.selectbox, "Motif compris de la demande *").select(
            world.request_motif[understood]
        )
    if motif:
        widget(app.selectbox, "Motif du refus *").select(world.refusal_motif[motif])
    widget(app.text_input, "Autre motif").input(other)
    widget(app.text_area, "Commentaires").input(comments)
    app = click(app, "Enregistrer la réponse")
    assert not app.exception
    assert sorted(errors(app)) == sorted(messages)
    assert _line_state(world, call.id) is LineState.AWAITING
    assert widget(app.text_area, "Commentaires").value == comments


def test_a_valid_answer_is_recorded_and_shown(app_env, call):
    world = app_env
    app = open_page(DOSSIER, "referent-ref", numero=call.number)
    widget(app.selectbox, "Motif compris de la demande *").select(
        world.request_motif["Transfert en soins critiques"]
    )
    widget(app.selectbox, "Motif du refus *").select(world.refusal_motif["Autre"])
    widget(app.text_input, "Autre motif").input("scanner en panne")
    widget(app.text_area, "Commentaires").input("rappel à 23h10, 45 ans")
    app = click(app, "Enregistrer la réponse")
    assert not app.exception
    assert not errors(app)
    view = queries.get_dossier(world.db, world.actor("coordinateur_ref"), dossier_id=call.id)
    assert isinstance(view, queries.RefuserView) and view.answer is not None
    assert (
        view.line_state,
        view.answer.understood_motif,
        view.answer.refusal_motif,
        view.answer.other_motif,
        view.answer.comments,
    ) == (
        LineState.ANSWERED,
        "Transfert en soins critiques",
        "Autre",
        "scanner en panne",
        "rappel à 23h10, 45 ans",
    )
    assert _line_state(world, call.id, "other") is LineState.AWAITING
    assert [s.value for s in app.success] == [f"Réponse enregistrée pour le refus {call.number}."]
    assert [t.value for t in app.title] == [f"✅ Refus {call.number}"]
    assert "Réponse de votre établissement" in [s.value for s in app.subheader]
    text = markdown_text(app)
    assert "**Motif compris de la demande** : Transfert en soins critiques" in text
    assert "**Autre motif** : scanner en panne" in text
    assert "**Réponse enregistrée le** : 26/11/2026 03:15" in text
    assert not app.main.form
    _assert_blind(app)


def test_answer_errors_do_not_follow_to_another_refusal(app_env):
    first, second = app_env.finalised(), app_env.finalised()
    app = click(open_page(DOSSIER, "declarant-ref", numero=first.number), "Enregistrer la réponse")
    assert errors(app)
    app.switch_page(DOSSIER)
    app.query_params.clear()
    app.query_params["numero"] = second.number
    app.run()
    assert [t.value for t in app.title] == [f"🔔 Refus {second.number}"]
    assert errors(app) == []


def test_a_directeur_of_the_refuser_reads_without_answering(app_env, call):
    app = open_page(DOSSIER, "directeur-ref", numero=call.number)
    assert [t.value for t in app.title] == [f"🔔 Refus {call.number}"]
    assert not app.main.form
    _assert_blind(app)


@pytest.mark.parametrize(
    ("username", "dossier"),
    [
        ("referent-ref-orl", "neurosurgery sent to ref"),  # limited to ORL
        ("ars-75", "sent to other"),  # 91 → 92: outside Paris
        ("declarant-ref", "draft naming ref"),  # not sent yet
    ],
)
def test_a_viewer_outside_the_dossier_is_denied(app_env, username, dossier):
    w = app_env
    make = {
        "neurosurgery sent to ref": lambda: w.finalised(lines=("ref",)),
        "sent to other": lambda: w.finalised(lines=("other",)),
        "draft naming ref": lambda: w.draft(lines=("ref",)),
    }[dossier]
    number = make().number
    app = open_page(DOSSIER, username, numero=number)
    assert not app.exception
    assert errors(app) == ["Ce dossier n'existe pas ou vous n'y avez pas accès."]
    assert not app.title
    page = page_text(app)
    assert number not in page and SERVICE not in page


# --- the regional view ----------------------------------------------------------------------


def test_the_ars_sees_both_sides(app_env, call):
    _answer_ref(app_env, call.id)
    app = open_page(DOSSIER, "ars", numero=call.number)
    assert not app.exception
    text = markdown_text(app)
    for value in (*REQUESTER_ONLY.values(), *ANSWER_ONLY.values()):
        assert value in text
    assert "**Version de l'établissement refuseur**" in text
    assert "L'établissement refuseur n'a pas encore répondu." in [c.value for c in app.caption]
    assert not app.main.form and not [b for b in app.main.button if b.label != "Se déconnecter"]
    assert "(Centre hospitalier Sud Francilien (CHSF))" in _history(app)


# --- reopening ------------------------------------------------------------------------------------


def test_only_the_coordinateur_may_reopen(app_env, call):
    for username in ("declarant-req", "referent-req", "directeur-req"):
        app = open_page(DOSSIER, username, numero=call.number)
        assert not [e for e in app.expander if e.label == "Réouvrir le dossier"], username
    app = open_page(DOSSIER, "coordinateur-req", numero=call.number)
    assert [e for e in app.expander if e.label == "Réouvrir le dossier"]


def test_reopen_needs_a_reason(app_env, call):
    app = click(open_page(DOSSIER, "coordinateur-req", numero=call.number), "Réouvrir")
    assert not app.exception
    assert errors(app) == ["« Motif de la réouverture » est obligatoire."]
    assert _state(app_env, call.id) is DossierState.FINALISED


def test_reopen_with_a_reason(app_env, call):
    app = open_page(DOSSIER, "coordinateur-req", numero=call.number)
    widget(app.text_area, "Motif de la réouverture *").input("destination erronée")
    app = click(app, "Réouvrir")
    assert not app.exception
    assert _state(app_env, call.id) is DossierState.DRAFT
    assert app.query_params == {"id": str(call.id)}
    assert [t.value for t in app.title] == [f"📝 Refus {call.number} — à compléter"]
    assert [s.value for s in app.success] == [
        f"Dossier {call.number} réouvert : il peut de nouveau être complété."
    ]
    app = open_page(DOSSIER, "declarant-req", numero=call.number)
    assert "**Dossier réouvert** — coordinateur_req  \n  Motif : destination erronée" in _history(
        app
    )
    assert button(app, "Compléter le refus")


def _state(world, dossier_id: int) -> DossierState:
    view = queries.get_dossier(world.db, world.actor("ars"), dossier_id=dossier_id)
    assert not isinstance(view, queries.RefuserView)
    return view.state
