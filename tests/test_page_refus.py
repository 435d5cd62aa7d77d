"""AppTest: the page « Ajouter un nouveau refus » (guide §4): the requester's form (defaults,
required fields, no nominative data), the refusing establishments one at a time, then
« Finaliser le dossier »."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import select

from registre import dossiers, pii, queries
from registre.models import AgeBand, DossierState, LineState, OutboxMail, Sex, Urgency

from . import apptest_helpers
from .apptest_helpers import (
    REFUS,
    REGISTRE,
    button,
    click,
    dossier_count,
    errors,
    line_id,
    markdown_text,
    open_page,
    page_text,
    widget,
)

app_env = apptest_helpers.app_env  # the fixture

REQUESTER = "Centre hospitalier Sud Francilien (CHSF)"
NOT_SAVED = "Le dossier n'a pas été enregistré : corrigez les champs signalés ci-dessous."
DESTINATION_REQUIRED = (
    "« Destination finale du patient » est obligatoire pour finaliser le dossier."
)


def _required(label: str) -> str:
    return f"« {label} » est obligatoire."


def _view(world, dossier_id: int) -> queries.RequesterView:
    view = queries.get_dossier(world.db, world.actor("coordinateur_req"), dossier_id=dossier_id)
    assert isinstance(view, queries.RequesterView)
    return view


def _fill(app, world, *, motif: str = "Avis spécialisé") -> None:
    """The required fields that have no default."""
    widget(app.radio, "Tranche d'âge du patient *").set_value(AgeBand.SENIOR)
    widget(app.radio, "Niveau d'urgence *").set_value(Urgency.VITAL)
    widget(app.selectbox, "Motif de la demande *").select(world.request_motif[motif])


def _new(world, username: str = "declarant-req", specialty: str = "Neurochirurgie"):
    return open_page(REFUS, username, specialite=str(world.specialty[specialty]))


# --- the requester's form --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("utc_now", "day", "clock_time"),
    [
        (datetime(2026, 11, 26, 2, 15, tzinfo=UTC), date(2026, 11, 26), time(3, 15)),
        # summer time, just after midnight in Paris (still the day before in UTC)
        (datetime(2026, 6, 30, 22, 30, tzinfo=UTC), date(2026, 7, 1), time(0, 30)),
    ],
)
def test_a_new_refusal_is_prefilled(app_env, clock, utc_now, day, clock_time):
    clock.set(utc_now)
    app = _new(app_env, specialty="ORL")
    assert not app.exception
    assert [t.value for t in app.title] == ["Ajouter un nouveau refus"]
    establishment = widget(app.text_input, "Etablissement demandeur *")
    assert (establishment.value, establishment.disabled) == (REQUESTER, True)
    assert widget(app.selectbox, "Service demandeur *").value == app_env.services["req"]
    assert widget(app.selectbox, "Spécialité PDSES *").value == app_env.specialty["ORL"]
    assert widget(app.date_input, "Date et heure de la demande *").value == day
    assert widget(app.time_input, "Heure de la demande *").value == clock_time
    assert widget(app.radio, "Tranche d'âge du patient *").value is None
    assert (
        widget(app.checkbox, "Ce refus a eu un impact sur la prise en charge du patient").value
        is False
    )
    assert [b.label for b in app.button if b.label != "Se déconnecter"] == ["Enregistrer"]
    assert "Établissements refuseurs" not in [h.value for h in app.header]


def test_a_referent_has_no_default_service(app_env):
    app = _new(app_env, "referent-req")
    assert widget(app.selectbox, "Service demandeur *").value is None
    assert widget(app.selectbox, "Spécialité PDSES *").value == app_env.specialty["Neurochirurgie"]


def test_missing_required_fields_show_every_message_and_create_nothing(app_env):
    app = open_page(REFUS, "referent-req")  # no default service, no specialty in the URL
    app = click(app, "Enregistrer")
    assert not app.exception
    assert errors(app) == [
        NOT_SAVED,
        _required("Service demandeur"),
        _required("Spécialité PDSES"),
        _required("Tranche d'âge du patient"),
        _required("Motif de la demande"),
        _required("Niveau d'urgence"),
    ]
    assert dossier_count(app_env) == 0
    assert app.query_params == {}


def test_a_request_in_the_future_is_refused(app_env):
    app = _new(app_env)
    _fill(app, app_env)
    widget(app.time_input, "Heure de la demande *").set_value(time(23, 0))  # it is 03:15
    app = click(app, "Enregistrer")
    assert errors(app) == [
        NOT_SAVED,
        "La date et l'heure de la demande ne peuvent pas être dans le futur.",
    ]
    assert dossier_count(app_env) == 0
    assert widget(app.time_input, "Heure de la demande *").value == time(23, 0)


def test_autre_and_impact_need_their_text(app_env):
    app = _new(app_env)
    _fill(app, app_env, motif="Autre")
    widget(app.checkbox, "Ce refus a eu un impact sur la prise en charge du patient").check()
    app = click(app, "Enregistrer")
    assert errors(app) == [
        NOT_SAVED,
        _required("Autre motif de la demande"),
        _required("Description de l'impact"),
    ]
    assert dossier_count(app_env) == 0


@pytest.mark.parametrize(
    ("kind", "label", "text", "reason"),
    [
        ("text_area", "Commentaires", "Adressé par M. Dupont pour avis", pii.REASON_CIVILITY),
        ("text_area", "Commentaires", "rappeler au 06 12 34 56 78", pii.REASON_PHONE),
        (
            "text_area",
            "Description de l'impact",
            "patiente née le 12/03/1954",
            pii.REASON_BIRTH_DATE,
        ),
        ("text_input", "Autre motif de la demande", "bilan IPP 20261234", pii.REASON_PATIENT_ID),
    ],
)
def test_nominative_data_is_refused_and_the_input_kept(app_env, kind, label, text, reason):
    app = _new(app_env)
    _fill(app, app_env, motif="Autre")
    if label != "Autre motif de la demande":
        widget(app.text_input, "Autre motif de la demande").input("demande particulière")
    widget(app.checkbox, "Ce refus a eu un impact sur la prise en charge du patient").check()
    if label != "Description de l'impact":
        widget(app.text_area, "Description de l'impact").input("retard de prise en charge")
    widget(getattr(app, kind), label).input(text)
    app = click(app, "Enregistrer")
    assert not app.exception
    assert errors(app) == [NOT_SAVED, f"« {label} » : {reason}"]
    assert dossier_count(app_env) == 0
    # nothing typed is lost
    assert widget(getattr(app, kind), label).value == text
    assert widget(app.radio, "Tranche d'âge du patient *").value is AgeBand.SENIOR
    assert widget(app.selectbox, "Motif de la demande *").value == app_env.request_motif["Autre"]
    # corrected, it is saved
    widget(getattr(app, kind), label).input("texte clinique sans identité")
    app = click(app, "Enregistrer")
    assert not errors(app)
    assert dossier_count(app_env) == 1


def test_a_valid_form_creates_the_draft_and_shows_the_refusers_part(app_env, clock):
    world = app_env
    app = _new(world)
    _fill(app, world)
    widget(app.radio, "Sexe").set_value(Sex.FEMALE)
    clinical = "fracture ouverte de jambe, 45 ans, TC avec PC, appel à 02h15"
    widget(app.text_area, "Commentaires").input(clinical)
    app = click(app, "Enregistrer")
    assert not app.exception
    assert not errors(app)
    dossier_id = int(app.query_params["id"])
    assert app.query_params == {"id": str(dossier_id)}
    view = _view(world, dossier_id)
    assert view.state is DossierState.DRAFT
    assert (view.requesting_service_id, view.specialty_id) == (
        world.services["req"],
        world.specialty["Neurochirurgie"],
    )
    assert view.requested_at == clock.current
    assert (view.age_band, view.sex, view.urgency) == (AgeBand.SENIOR, Sex.FEMALE, Urgency.VITAL)
    assert view.comments == clinical
    assert [t.value for t in app.title] == [f"📝 Refus {view.number} — à compléter"]
    assert [s.value for s in app.success] == [
        f"Refus {view.number} enregistré. Ajoutez maintenant les établissements refuseurs."
    ]
    assert "Établissements refuseurs" in [h.value for h in app.header]
    assert widget(app.selectbox, "Etablissement refuseur *").value is None
    assert button(app, "Ajouter le refuseur")
    # the form now shows the saved dossier
    assert (
        next(t.value for t in app.text_area if t.label == "Commentaires" and t.key.startswith("d"))
        == clinical
    )


def test_ticking_impact_writes_the_mail_to_the_director(app_env):
    world = app_env
    app = _new(world)
    _fill(app, world)
    widget(app.checkbox, "Ce refus a eu un impact sur la prise en charge du patient").check()
    widget(app.text_area, "Description de l'impact").input("transfert retardé de deux heures")
    app = click(app, "Enregistrer")
    assert not errors(app)
    dossier_id = int(app.query_params["id"])
    with world.db.read() as session:
        mails = session.scalars(select(OutboxMail).where(OutboxMail.dossier_id == dossier_id)).all()
        assert [(m.kind, m.recipient) for m in mails] == [
            ("impact_directeur", "directeur-req@example.org")
        ]


def test_saving_a_draft_updates_it(app_env, clock):
    world = app_env
    draft = world.draft()
    app = open_page(REFUS, "declarant-req", id=str(draft.id))
    clock.advance(seconds=20)
    widget(app.radio, "Niveau d'urgence *").set_value(Urgency.DEFERRABLE)
    next(t for t in app.text_area if t.label == "Commentaires" and t.key.startswith("d")).input(
        "avis pris par téléphone"
    )
    app = click(app, "Enregistrer")
    assert not errors(app)
    assert [s.value for s in app.success] == ["Modifications enregistrées."]
    view = _view(world, draft.id)
    assert (view.urgency, view.comments) == (Urgency.DEFERRABLE, "avis pris par téléphone")
    assert widget(app.radio, "Niveau d'urgence *").value is Urgency.DEFERRABLE


def test_a_finalised_dossier_is_not_editable_here(app_env):
    final = app_env.finalised()
    app = open_page(REFUS, "declarant-req", id=str(final.id))
    assert [i.value for i in app.info] == [
        "Ce dossier n'est pas modifiable : il est affiché en lecture seule."
    ]
    assert [p.label for p in app.page_link] == ["Voir le dossier"]
    assert not app.main.text_area and not app.main.selectbox


@pytest.mark.parametrize(
    ("whose", "message"),
    [
        ("another establishment", "Ce dossier n'existe pas ou vous n'y avez pas accès."),
        ("nobody", "Ce dossier n'existe pas ou vous n'y avez pas accès."),
    ],
)
def test_a_dossier_out_of_reach_is_not_shown(app_env, whose, message):
    world = app_env
    draft = world.draft()
    ident = str(draft.id) if whose == "another establishment" else "999"
    app = open_page(REFUS, "declarant-ref", id=ident)
    assert not app.exception
    assert errors(app) == [message]
    assert not app.main.text_input and not app.main.selectbox
    assert draft.number not in page_text(app)


def test_a_refuser_never_gets_the_requester_form(app_env):
    world = app_env
    final = world.finalised(comments="commentaire Zanzibar")
    dossiers.reopen(world.db, world.actor("coordinateur_req"), final.id, "à compléter")
    app = open_page(REFUS, "coordinateur-ref", id=str(final.id))
    assert not app.exception
    assert [i.value for i in app.info] == [
        "Ce dossier n'est pas modifiable : il est affiché en lecture seule."
    ]
    assert not app.main.text_area and not app.main.selectbox
    assert "Zanzibar" not in page_text(app)


def test_errors_of_an_abandoned_new_form_do_not_show_on_the_next_one(app_env):
    app = click(open_page(REFUS, "declarant-req"), "Enregistrer")
    assert NOT_SAVED in errors(app)
    app.switch_page(REGISTRE)
    app.query_params.clear()
    app.run()
    widget(app.selectbox, "Spécialité PDS-ES").select(app_env.specialty["ORL"])
    app = click(app, "Nouveau refus")
    assert [t.value for t in app.title] == ["Ajouter un nouveau refus"]
    assert errors(app) == []


def test_errors_of_a_form_do_not_follow_to_another_dossier(app_env):
    draft = app_env.draft()
    app = click(open_page(REFUS, "declarant-req"), "Enregistrer")
    assert NOT_SAVED in errors(app)
    app.switch_page(REFUS)
    app.query_params.clear()
    app.query_params["id"] = str(draft.id)
    app.run()
    assert [t.value for t in app.title] == [f"📝 Refus {draft.number} — à compléter"]
    assert errors(app) == []


# --- the refusing establishments ------------------------------------------------------------


def _add_line(app, world, est: str | None, motif: str | None, other: str = "", comments: str = ""):
    if est is not None:
        widget(app.selectbox, "Etablissement refuseur *").select(world.est[est])
    if motif is not None:
        widget(app.selectbox, "Motif du refus *").select(world.refusal_motif[motif])
    widget(app.text_input, "Autre motif").input(other)
    [line_comments] = [  # the refuser's form: its keys start with "l"
        t for t in app.text_area if t.label == "Commentaires" and t.key.startswith("l")
    ]
    line_comments.input(comments)
    return click(app, "Ajouter le refuseur")


def test_add_a_refuser(app_env, clock):
    world = app_env
    draft = world.draft()
    app = open_page(REFUS, "declarant-req", id=str(draft.id))
    assert "Aucun établissement refuseur pour le moment" in app.info[0].value
    # Time passes, as it does between two clicks: the save changes the dossier's
    # updated_at, hence its version, hence the keys of the refuser's form.
    clock.advance(seconds=20)
    app = _add_line(app, world, "ref", "Bloc opératoire indisponible", comments="bloc occupé")
    assert not app.exception
    assert not errors(app)
    [line] = _view(world, draft.id).lines
    assert (line.refusing_establishment_id, line.refusal_motif, line.comments, line.state) == (
        world.est["ref"],
        "Bloc opératoire indisponible",
        "bloc occupé",
        LineState.PENDING,
    )
    text = markdown_text(app)
    assert "Hôpital Henri-Mondor (AP-HP)** — **titulaire de la ligne PDSES**" in text
    assert "Bloc opératoire indisponible" in text
    assert [s.value for s in app.success] == ["Établissement refuseur enregistré."]
    # a fresh form for the next one
    assert widget(app.selectbox, "Etablissement refuseur *").value is None


def test_the_requester_is_not_offered_as_refuser(app_env):
    draft = app_env.draft()
    app = open_page(REFUS, "declarant-req", id=str(draft.id))
    options = widget(app.selectbox, "Etablissement refuseur *").options
    assert not [o for o in options if o.startswith(REQUESTER)]
    assert "Hôpital Henri-Mondor (AP-HP) (94)" in options


@pytest.mark.parametrize(
    ("lines", "est", "motif", "other", "comments", "messages"),
    [
        (
            ("ref",),
            "ref",
            "Absence de lit disponible",
            "",
            "",
            ["Cet établissement figure déjà parmi les refuseurs de ce dossier."],
        ),
        ((), "other", "Autre", "", "", [_required("Autre motif")]),
        (
            (),
            None,
            None,
            "",
            "",
            [_required("Etablissement refuseur"), _required("Motif du refus")],
        ),
        (
            (),
            "other",
            "Absence de lit disponible",
            "",
            "refus du Dr Durand",
            [f"« Commentaires » : {pii.REASON_CIVILITY}"],
        ),
    ],
    ids=["twice the same", "autre without text", "nothing chosen", "nominative comment"],
)
def test_a_wrong_refuser_line_shows_its_errors(
    app_env, lines, est, motif, other, comments, messages
):
    world = app_env
    draft = world.draft(lines=lines)
    app = open_page(REFUS, "declarant-req", id=str(draft.id))
    app = _add_line(app, world, est, motif, other, comments)
    assert not app.exception
    assert errors(app) == messages
    assert len(_view(world, draft.id).lines) == len(lines)
    # what was chosen and typed is still there
    assert widget(app.selectbox, "Etablissement refuseur *").value == (
        world.est[est] if est else None
    )
    assert widget(app.selectbox, "Motif du refus *").value == (
        world.refusal_motif[motif] if motif else None
    )
    line_comments = [
        t for t in app.text_area if t.label == "Commentaires" and t.key.startswith("l")
    ]
    assert [t.value for t in line_comments] == [comments]


def test_modify_a_refuser_line(app_env):
    world = app_env
    draft = world.draft(lines=("ref",))
    line = line_id(world, draft.id)
    app = open_page(REFUS, "declarant-req", id=str(draft.id))
    app.button(key=f"modifier-{line}").click()
    app.run()
    assert "Modifier le refuseur" in [s.value for s in app.subheader]
    assert widget(app.selectbox, "Etablissement refuseur *").value == world.est["ref"]
    widget(app.selectbox, "Motif du refus *").select(world.refusal_motif["Autre"])
    widget(app.text_input, "Autre motif").input("grève du bloc")
    app = click(app, "Enregistrer les modifications")
    assert not app.exception
    assert not errors(app)
    [saved] = _view(world, draft.id).lines
    assert (saved.id, saved.refusal_motif, saved.other_motif) == (line, "Autre", "grève du bloc")
    assert "Ajouter un établissement refuseur" in [s.value for s in app.subheader]
    assert "Autre : grève du bloc" in markdown_text(app)


def test_cancel_a_modification(app_env):
    world = app_env
    draft = world.draft(lines=("ref",))
    app = open_page(REFUS, "declarant-req", id=str(draft.id))
    app.button(key=f"modifier-{line_id(world, draft.id)}").click()
    app = click(app.run(), "Annuler la modification")
    assert "Ajouter un établissement refuseur" in [s.value for s in app.subheader]
    assert _view(world, draft.id).lines[0].refusal_motif == "Absence de lit disponible"


def test_remove_a_refuser_line(app_env):
    world = app_env
    draft = world.draft(lines=("ref", "other"))
    app = open_page(REFUS, "declarant-req", id=str(draft.id))
    app.button(key=f"retirer-{line_id(world, draft.id, 'ref')}").click()
    app.run()
    assert not app.exception
    assert [ln.refusing_establishment_id for ln in _view(world, draft.id).lines] == [
        world.est["other"]
    ]
    assert [s.value for s in app.success] == ["Établissement refuseur retiré."]
    assert "Henri-Mondor" not in markdown_text(app)


def test_a_line_already_sent_can_be_modified_not_removed(app_env):
    world = app_env
    final = world.finalised()
    dossiers.reopen(world.db, world.actor("coordinateur_req"), final.id, "ajout d'un refuseur")
    line = line_id(world, final.id)
    app = open_page(REFUS, "declarant-req", id=str(final.id))
    assert not app.exception
    assert [b.key for b in app.button if (b.key or "").endswith(f"-{line}")] == [f"modifier-{line}"]
    assert "🔔 **Hôpital Henri-Mondor (AP-HP)**" in markdown_text(app)


# --- « Finaliser le dossier » ---------------------------------------------------------------


def _finalise(app, world, destination: str | None = None, establishment: str | None = None):
    if destination is not None:
        widget(app.selectbox, "Destination finale du patient").select(
            world.destination[destination]
        )
    if establishment is not None:
        widget(app.selectbox, "Établissement de destination").select(world.est[establishment])
    return click(app, "Finaliser le dossier")


@pytest.mark.parametrize(
    ("lines", "destination", "message"),
    [
        (("ref",), None, DESTINATION_REQUIRED),
        (
            ("ref",),
            "Transféré dans un autre établissement",
            _required("Établissement de destination"),
        ),
        (
            (),
            "Retour à domicile",
            "Ajoutez au moins un établissement refuseur avant de finaliser le dossier.",
        ),
    ],
    ids=["no destination", "transferred where", "no refuser"],
)
def test_finalise_shows_what_is_missing(app_env, lines, destination, message):
    world = app_env
    draft = world.draft(lines=lines)
    app = _finalise(open_page(REFUS, "declarant-req", id=str(draft.id)), world, destination)
    assert not app.exception
    assert errors(app) == [NOT_SAVED, message]  # nothing saved, not even the destination
    view = _view(world, draft.id)
    assert (view.state, view.final_destination) == (DossierState.DRAFT, None)
    assert app.query_params == {"id": str(draft.id)}
    if destination:  # the choice is still there
        assert (
            widget(app.selectbox, "Destination finale du patient").value
            == world.destination[destination]
        )


@pytest.mark.parametrize(
    ("destination", "establishment", "shown"),
    [
        ("Décédé", None, "Décédé"),
        (
            "Transféré dans un autre établissement",
            "paris",
            "Transféré dans un autre établissement (Hôpital Pitié-Salpêtrière (AP-HP))",
        ),
    ],
)
def test_finalise_with_destination_sends_and_returns_to_the_registry(
    app_env, destination, establishment, shown
):
    world = app_env
    draft = world.draft(lines=("ref",))
    app = open_page(REFUS, "declarant-req", id=str(draft.id))
    app = _finalise(app, world, destination, establishment)
    assert not app.exception
    view = _view(world, draft.id)
    assert view.state is DossierState.FINALISED
    label = view.final_destination
    if view.final_destination_establishment:
        label += f" ({view.final_destination_establishment})"
    assert label == shown
    assert [ln.state for ln in view.lines] == [LineState.AWAITING]
    assert app.query_params == {}
    assert app.title[0].value == "Registre des refus PDSES"
    assert [s.value for s in app.success] == [
        f"Dossier {draft.number} finalisé : les établissements refuseurs sont informés par mail."
    ]
    assert f"✅ {draft.number}" in [b.label for b in app.button]
    with world.db.read() as session:
        kinds = session.scalars(select(OutboxMail.kind).where(OutboxMail.dossier_id == draft.id))
        assert set(kinds) == {"refus_transmis"}


# --- « Abandonner ce brouillon » -----------------------------------------------------------


def test_abandon_a_draft(app_env):
    world = app_env
    draft = world.draft(lines=("ref",))
    app = open_page(REFUS, "declarant-req", id=str(draft.id))
    widget(app.text_input, "Motif de l'abandon").input("appel de Mme Durand en double")
    app = click(app, "Abandonner le brouillon")
    assert errors(app) == [f"« Motif de l'abandon » : {pii.REASON_CIVILITY}"]
    assert _view(world, draft.id).state is DossierState.DRAFT
    widget(app.text_input, "Motif de l'abandon").input("saisi en double")
    app = click(app, "Abandonner le brouillon")
    assert not app.exception
    assert _view(world, draft.id).state is DossierState.ABANDONED
    assert app.title[0].value == "Registre des refus PDSES"
    assert [s.value for s in app.success] == [
        f"Brouillon {draft.number} abandonné (il reste conservé et tracé)."
    ]
    assert f"📝 {draft.number}" not in [b.label for b in app.button]


def test_a_sent_dossier_cannot_be_abandoned(app_env):
    world = app_env
    final = world.finalised()
    dossiers.reopen(world.db, world.actor("coordinateur_req"), final.id, "correction")
    app = open_page(REFUS, "coordinateur-req", id=str(final.id))
    assert not [e for e in app.expander if e.label == "Abandonner ce brouillon"]
