"""Mutual blindness (SPEC §5): each role × each view, what is there and what is not.

A dossier of ``req`` (CHSF) refused by ``ref`` (Henri-Mondor) and ``other`` (Foch) carries
distinctive words in every field the refusers must never see; ``ref`` answers with words the
requester must never see. Each actor reads the dossier, its history and its lists; the whole
``repr`` of what it receives is searched, so a hidden field cannot slip through in any
attribute."""

from __future__ import annotations

import pytest

from registre import dossiers, queries
from registre.errors import PermissionDenied
from registre.models import LineState
from registre.permissions import ViewKind
from registre.queries import RefuserView, RegionalView, RequesterView

REQUESTER_SECRETS = {
    "comments": "commentaire-demandeur-zebre",
    "request_other_motif": "autre-demande-girafe",
    "impact_description": "impact-description-koala",
    "line_other_motif": "autre-motif-refus-panda",
    "line_comments": "commentaire-ligne-lynx",
}
REFUSER_SECRETS = {
    "answer_comments": "reponse-refuseur-loutre",
    "answer_other": "autre-motif-reponse-castor",
}
OTHER_REFUSER = "Foch"

EXPECTED = {
    "declarant_req": ViewKind.REQUESTER,
    "referent_req": ViewKind.REQUESTER,
    "coordinateur_req": ViewKind.REQUESTER,
    "directeur_req": ViewKind.REQUESTER,
    "declarant_ref": ViewKind.REFUSER,
    "referent_ref": ViewKind.REFUSER,
    "coordinateur_ref": ViewKind.REFUSER,
    "directeur_ref": ViewKind.REFUSER,
    "referent_ref_orl": None,  # limited to ORL, the dossier is Neurochirurgie
    "ars": ViewKind.REGIONAL,
    "ars_75": None,  # Paris only; req is in 91, refusers in 94 and 92
    "admin": None,
}


@pytest.fixture
def case(world):
    autre_req = world.request_motif["Autre"]
    autre_ref = world.refusal_motif["Autre"]
    ref = world.draft(
        "declarant_req",
        comments=REQUESTER_SECRETS["comments"],
        request_motif_id=autre_req,
        request_other_motif=REQUESTER_SECRETS["request_other_motif"],
        impact=True,
        impact_description=REQUESTER_SECRETS["impact_description"],
        final_destination_id=world.destination["Retour à domicile"],
    )
    actor = world.actor("declarant_req")
    for est in ("ref", "other"):
        dossiers.add_line(
            world.db,
            actor,
            ref.id,
            world.line_input(
                est,
                refusal_motif_id=autre_ref,
                other_motif=REQUESTER_SECRETS["line_other_motif"],
                comments=REQUESTER_SECRETS["line_comments"],
            ),
        )
    dossiers.finalise(world.db, actor, ref.id)
    view = queries.get_dossier(world.db, world.actor("referent_ref"), dossier_id=ref.id)
    assert isinstance(view, RefuserView)
    dossiers.answer(
        world.db,
        world.actor("referent_ref"),
        ref.id,
        view.line_id,
        dossiers.AnswerInput(
            understood_motif_id=world.request_motif["Avis spécialisé"],
            refusal_motif_id=autre_ref,
            other_motif=REFUSER_SECRETS["answer_other"],
            comments=REFUSER_SECRETS["answer_comments"],
        ),
    )
    return ref


@pytest.mark.parametrize(("name", "kind"), EXPECTED.items())
def test_each_role_gets_its_view_and_nothing_more(world, case, name, kind):
    actor = world.actor(name)
    if kind is None:
        with pytest.raises(PermissionDenied):
            queries.get_dossier(world.db, actor, dossier_id=case.id)
        with pytest.raises(PermissionDenied):
            queries.history(world.db, actor, case.id)
        return
    view = queries.get_dossier(world.db, actor, dossier_id=case.id)
    text = repr(view) + repr(queries.history(world.db, actor, case.id))
    assert view.kind is kind
    assert case.number in text
    if kind is ViewKind.REQUESTER:
        assert isinstance(view, RequesterView)
        for secret in REQUESTER_SECRETS.values():
            assert secret in text
        for secret in REFUSER_SECRETS.values():
            assert secret not in text, f"{name} sees the refuser's answer"
        answered = {ln.refusing_establishment.split(" ")[1]: ln.answered for ln in view.lines}
        assert sorted(answered.values()) == [False, True]  # whether, not what
    elif kind is ViewKind.REFUSER:
        assert isinstance(view, RefuserView)
        for secret in REQUESTER_SECRETS.values():
            assert secret not in text, f"{name} sees a requester field"
        assert OTHER_REFUSER not in text, f"{name} sees the other refuser"
        assert "Centre hospitalier Sud Francilien" in text  # who called
        assert view.requesting_service
        assert view.specialty == "Neurochirurgie"
        for secret in REFUSER_SECRETS.values():
            assert secret in text  # its own answer
    else:
        assert isinstance(view, RegionalView)
        for secret in (*REQUESTER_SECRETS.values(), *REFUSER_SECRETS.values(), OTHER_REFUSER):
            assert secret in text


def test_refuser_view_has_no_field_for_hidden_data():
    """Structural: the refuser's view type cannot carry the requester's statements."""
    fields = set(RefuserView.__dataclass_fields__)
    for hidden in (
        "comments",
        "request_motif",
        "request_other_motif",
        "final_destination",
        "impact",
        "impact_description",
        "lines",
        "age_band",
        "urgency",
        "sex",
    ):
        assert hidden not in fields


def test_the_other_refuser_sees_only_its_own_line(world, case):
    view = queries.get_dossier(world.db, world.actor("coordinateur_req"), dossier_id=case.id)
    assert isinstance(view, RequesterView)
    # a user of Foch: no account in the world; check through the lists of ``ref`` instead
    rows = queries.list_incoming_lines(world.db, world.actor("declarant_ref")).items
    assert [r.number for r in rows] == [case.number]
    assert rows[0].state is LineState.ANSWERED
    assert "Foch" not in repr(rows)
    for secret in REQUESTER_SECRETS.values():
        assert secret not in repr(rows)


def test_a_draft_is_invisible_to_its_refusers(world):
    ref = world.draft("declarant_req", lines=("ref",))
    with pytest.raises(PermissionDenied):
        queries.get_dossier(world.db, world.actor("coordinateur_ref"), dossier_id=ref.id)
    assert queries.list_incoming_lines(world.db, world.actor("coordinateur_ref")).total == 0


def test_establishment_lists_never_cross(world, case):
    own = queries.list_establishment_dossiers(world.db, world.actor("declarant_req"))
    assert [r.number for r in own.items] == [case.number]
    assert own.items[0].refusers == 2
    assert queries.list_establishment_dossiers(world.db, world.actor("declarant_ref")).total == 0
    assert queries.list_incoming_lines(world.db, world.actor("declarant_req")).total == 0
    for name in ("ars", "admin"):
        with pytest.raises(PermissionDenied):
            queries.list_establishment_dossiers(world.db, world.actor(name))


def test_lookup_by_number_follows_the_same_rules(world, case):
    view = queries.get_dossier(world.db, world.actor("directeur_ref"), number=case.number.lower())
    assert isinstance(view, RefuserView)
    with pytest.raises(PermissionDenied):
        queries.get_dossier(world.db, world.actor("admin"), number=case.number)


def test_history_is_cut_to_the_viewer(world, case):
    refuser = queries.history(world.db, world.actor("referent_ref"), case.id)
    actions = [h.action for h in refuser]
    assert actions == [
        "Refus transmis à votre établissement",
        "Réponse de l'établissement refuseur enregistrée",
    ]
    requester = [h.action for h in queries.history(world.db, world.actor("declarant_req"), case.id)]
    assert requester[0] == "Dossier créé"
    assert "Dossier finalisé" in requester
    assert "Réponse de l'établissement refuseur enregistrée" in requester
