"""AppTest of « Administration — Référentiels »: only the Administrateur reaches it; the
lists (add, duplicate refused, edit, deactivate), the establishments (FINESS checked), their
services, the PDSES lines and the import of establishments (preview, import, idempotent)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registre import finess, queries
from registre.models import Establishment, LineKind, PdsesLine, RefusalMotif, Service
from registre.referentials import ListKind

from . import apptest_helpers
from .apptest_helpers import (
    ADMIN_REFERENTIELS,
    DENIED,
    button,
    errors,
    logged_in,
    open_page,
    page_text,
    run_directly,
    widget,
)

app_env = apptest_helpers.app_env  # the fixture
fresh_server_env = apptest_helpers.fresh_server_env  # the fixture

OTHER_ROLES = ["declarant-req", "referent-ref", "coordinateur-req", "directeur-req", "ars"]
MOTIF = "Équipement d'imagerie en panne"


def valid_finess(first_eight: str) -> str:
    return first_eight + finess.check_digit(first_eight)


def _successes(at) -> list[str]:
    return [s.value for s in at.success]


def _count(world, model, *where) -> int:
    with world.db.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _establishment(world, number: str) -> Establishment | None:
    with world.db.read() as session:
        est = session.scalars(select(Establishment).where(Establishment.finess == number)).first()
        if est is not None:
            session.expunge(est)
        return est


def _refusal_motifs(world, actor: str = "declarant_req") -> list[str]:
    options = queries.form_options(world.db, world.actor(actor))
    return [c.label for c in options.refusal_motifs]


def _motif_id(world, label: str) -> int:
    with world.db.read() as session:
        return session.scalars(select(RefusalMotif.id).where(RefusalMotif.label == label)).one()


# --- who reaches the page -------------------------------------------------------------------


@pytest.mark.parametrize("username", OTHER_ROLES)
def test_other_roles_are_refused_when_the_page_runs_alone(fresh_server_env, username):
    at = run_directly(ADMIN_REFERENTIELS, username)
    assert not at.exception
    assert errors(at) == [DENIED]
    assert "Référentiels" not in [t.value for t in at.title]
    assert not at.tabs
    assert not at.main.text_input and not at.main.button and not at.main.text_area
    text = page_text(at)
    for secret in ("Hôpital Foch", "Absence de lit disponible", "Import FINESS"):
        assert secret not in text


@pytest.mark.parametrize("username", OTHER_ROLES)
def test_the_menu_of_other_roles_lacks_the_page(app_env, username):
    at = logged_in(username).run()
    assert not at.exception
    with pytest.raises(ValueError):
        at.switch_page(ADMIN_REFERENTIELS)


def test_the_administrateur_sees_the_five_tabs(app_env):
    at = open_page(ADMIN_REFERENTIELS, "admin")
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Référentiels"]
    assert [t.label for t in at.tabs] == [
        "Établissements",
        "Services",
        "Listes",
        "Lignes PDSES",
        "Import FINESS",
    ]
    assert "Hôpital Foch" in page_text(at.tabs[0])


# --- lists ----------------------------------------------------------------------------------


def _lists_tab(kind: ListKind = ListKind.REFUSAL_MOTIF):
    at = open_page(ADMIN_REFERENTIELS, "admin")
    at.radio(key="liste-choisie").set_value(kind)
    at = at.run()
    assert not at.exception, at.exception
    return at


def _add_item(at, label: str):
    tab = at.tabs[2]
    [added] = [t for t in tab.text_input if t.label == "Libellé" and t.key is None]
    added.input(label)
    return button(tab, "Ajouter").click().run()


def test_add_a_refusal_motif(app_env):
    world = app_env
    at = _add_item(_lists_tab(), MOTIF)
    assert not at.exception, at.exception
    assert _successes(at) == [f"« {MOTIF} » ajouté."]
    assert MOTIF in _refusal_motifs(world)
    item = _motif_id(world, MOTIF)
    assert at.text_input(key=f"liste-motifs-refus-{item}-libelle").value == MOTIF
    assert at.button(key=f"liste-motifs-refus-{item}-actif").label == "Désactiver"


def test_a_duplicate_label_is_refused(app_env):
    world = app_env
    before = _count(world, RefusalMotif)
    at = _add_item(_lists_tab(), "absence de LIT disponible")  # whatever the case
    assert not at.exception
    assert errors(at) == ["Ce libellé existe déjà dans la liste."]
    assert not at.success
    assert _count(world, RefusalMotif) == before


def test_an_empty_label_is_refused(app_env):
    before = _count(app_env, RefusalMotif)
    at = _add_item(_lists_tab(), "   ")
    assert errors(at) == ["Le libellé est obligatoire."]
    assert _count(app_env, RefusalMotif) == before


def test_edit_a_label(app_env):
    world = app_env
    item = world.refusal_motif["Absence de lit disponible"]
    at = _lists_tab()
    at.text_input(key=f"liste-motifs-refus-{item}-libelle").input("Aucun lit disponible")
    at.button(key=f"liste-motifs-refus-{item}-enregistrer").click()
    at = at.run()
    assert not at.exception, at.exception
    assert _successes(at) == ["Libellé enregistré."]
    labels = _refusal_motifs(world)
    assert "Aucun lit disponible" in labels and "Absence de lit disponible" not in labels


def test_renaming_to_an_existing_label_is_refused_next_to_the_item(app_env):
    world = app_env
    item = world.refusal_motif["Absence de lit disponible"]
    at = _lists_tab()
    at.text_input(key=f"liste-motifs-refus-{item}-libelle").input("Absence de praticien disponible")
    at.button(key=f"liste-motifs-refus-{item}-enregistrer").click()
    at = at.run()
    assert not at.exception
    assert errors(at) == ["Ce libellé existe déjà dans la liste."]
    assert "Absence de lit disponible" in _refusal_motifs(world)


def test_deactivate_then_reactivate_an_item(app_env):
    world = app_env
    item = world.refusal_motif["Absence de lit disponible"]
    at = _lists_tab()
    at.button(key=f"liste-motifs-refus-{item}-actif").click()
    at = at.run()
    assert not at.exception, at.exception
    assert _successes(at) == ["Désactivé."]
    assert at.button(key=f"liste-motifs-refus-{item}-actif").label == "Réactiver"
    assert "Absence de lit disponible" not in _refusal_motifs(world)
    # still listed on the administration page, to be reactivated
    assert at.text_input(key=f"liste-motifs-refus-{item}-libelle").value == (
        "Absence de lit disponible"
    )
    at.button(key=f"liste-motifs-refus-{item}-actif").click()
    at = at.run()
    assert _successes(at) == ["Réactivé."]
    assert at.button(key=f"liste-motifs-refus-{item}-actif").label == "Désactiver"
    assert "Absence de lit disponible" in _refusal_motifs(world)


def test_add_a_destination_that_asks_for_the_establishment(app_env):
    world = app_env
    at = _lists_tab(ListKind.DESTINATION)
    tab = at.tabs[2]
    flag = "Demande l'établissement de destination"
    [checkbox] = [c for c in tab.checkbox if c.label == flag and c.key is None]
    checkbox.check()
    at = _add_item(at, "Transfert vers un centre de rééducation")
    assert not at.exception, at.exception
    assert _successes(at) == ["« Transfert vers un centre de rééducation » ajouté."]
    options = queries.form_options(world.db, world.actor("declarant_req"))
    [added] = [c for c in options.destinations if c.label.startswith("Transfert vers un centre")]
    assert added.requires_establishment


# --- establishments -------------------------------------------------------------------------


def _establishment_form(at, **values: str):
    tab = at.tabs[0]
    for label, value in values.items():
        widget(tab.text_input, label).input(value)
    return button(tab, "Enregistrer l'établissement").click().run()


def test_an_invalid_finess_is_refused(app_env):
    world = app_env
    before = _count(world, Establishment)
    at = _establishment_form(
        open_page(ADMIN_REFERENTIELS, "admin"), FINESS="910000001", Nom="Clinique du test"
    )
    assert not at.exception, at.exception
    assert "Le numéro FINESS est invalide (clé de contrôle incorrecte)." in errors(at)
    assert _count(world, Establishment) == before
    at = _establishment_form(at, FINESS="12345")
    assert "Le numéro FINESS doit comporter 9 caractères." in errors(at)
    at = _establishment_form(at, FINESS=valid_finess("94010002"))  # Henri-Mondor's
    assert "Un établissement porte déjà ce numéro FINESS." in errors(at)
    assert _count(world, Establishment) == before


def test_add_then_edit_then_deactivate_an_establishment(app_env):
    world = app_env
    number = valid_finess("91001234")
    assert finess.is_valid(number)
    at = _establishment_form(
        open_page(ADMIN_REFERENTIELS, "admin"),
        FINESS=number,
        Nom="Clinique de l'Essonne",
        **{"E-mail de la direction": "direction@clinique-essonne.fr"},
    )
    assert not at.exception, at.exception
    assert _successes(at) == ["Établissement « Clinique de l'Essonne » enregistré."]
    est = _establishment(world, number)
    assert est is not None
    assert est.name == "Clinique de l'Essonne"
    assert est.departement == "91"  # from the FINESS number
    assert est.director_email == "direction@clinique-essonne.fr"
    assert est.active
    # the form now edits it
    assert "Modifier « Clinique de l'Essonne »" in [s.value.replace("\\", "") for s in at.subheader]
    assert at.button(key=f"etab-{est.id}").label == number

    at = _establishment_form(at, Nom="Clinique de l'Essonne Sud", **{"Territoire / GHT": "GHT 91"})
    assert not at.exception, at.exception
    assert _successes(at) == ["Établissement « Clinique de l'Essonne Sud » enregistré."]
    edited = _establishment(world, number)
    assert edited is not None and edited.id == est.id
    assert edited.name == "Clinique de l'Essonne Sud" and edited.territory == "GHT 91"

    deactivate = at.button(key=f"etab-actif-{est.id}")
    assert deactivate.label == "Désactiver l'établissement"
    at = deactivate.click().run()
    assert not at.exception
    assert _successes(at) == ["Désactivé."]
    edited = _establishment(world, number)
    assert edited is not None and not edited.active
    assert at.button(key=f"etab-actif-{est.id}").label == "Réactiver l'établissement"


def test_edit_an_existing_establishment_from_its_row(app_env):
    world = app_env
    at = open_page(ADMIN_REFERENTIELS, "admin")
    at = at.button(key=f"etab-{world.est['other']}").click().run()
    assert not at.exception
    tab = at.tabs[0]
    assert widget(tab.text_input, "Nom").value == "Hôpital Foch"
    at = _establishment_form(at, **{"E-mail de la direction": "pas-une-adresse"})
    assert "Adresse e-mail de la direction invalide." in errors(at)
    at = _establishment_form(at, **{"E-mail de la direction": "direction@foch.fr"})
    assert _successes(at) == ["Établissement « Hôpital Foch » enregistré."]
    est = _establishment(world, "920000650")
    assert est is not None and est.director_email == "direction@foch.fr"
    # « Nouvel établissement » empties the form
    at = at.button(key="etab-nouveau").click().run()
    assert "Ajouter un établissement" in [s.value for s in at.subheader]
    assert widget(at.tabs[0].text_input, "Nom").value == ""


def test_search_an_establishment(app_env):
    at = open_page(ADMIN_REFERENTIELS, "admin")
    at.text_input(key="etab-recherche").input("foch")
    at = at.run()
    rows = [b.label for b in at.tabs[0].button if (b.key or "").startswith("etab-")]
    assert rows == ["920000650"]


# --- services -------------------------------------------------------------------------------


def _services_tab(world, est: str = "req"):
    at = open_page(ADMIN_REFERENTIELS, "admin")
    at.selectbox(key="services-etab").set_value(world.est[est])
    at = at.run()
    assert not at.exception, at.exception
    return at


def _add_service(at, name: str):
    tab = at.tabs[1]
    widget(tab.text_input, "Nouveau service").input(name)
    return button(tab, "Ajouter le service").click().run()


def _services(world, est: str = "req") -> dict[str, bool]:
    with world.db.read() as session:
        return {
            s.name: s.active
            for s in session.scalars(
                select(Service).where(Service.establishment_id == world.est[est])
            )
        }


def test_add_a_service_and_refuse_a_duplicate(app_env):
    world = app_env
    at = _add_service(_services_tab(world), "Neurologie")
    assert not at.exception, at.exception
    assert _successes(at) == ["Service « Neurologie » ajouté."]
    assert _services(world)["Neurologie"] is True
    assert "Neurologie" in [t.value for t in at.tabs[1].text_input]

    before = _services(world)
    at = _add_service(at, "NEUROLOGIE")
    assert not at.exception
    assert errors(at) == ["Ce service existe déjà dans l'établissement."]
    assert _services(world) == before


def test_rename_and_deactivate_a_service(app_env):
    world = app_env
    service = world.services["req"]
    at = _services_tab(world)
    at.text_input(key=f"service-nom-{service}").input("Urgences adultes")
    at = at.button(key=f"service-renommer-{service}").click().run()
    assert not at.exception, at.exception
    assert _successes(at) == ["Service renommé."]
    assert "Urgences adultes" in _services(world)

    at = at.button(key=f"service-actif-{service}").click().run()
    assert _successes(at) == ["Désactivé."]
    assert _services(world)["Urgences adultes"] is False
    assert at.button(key=f"service-actif-{service}").label == "Réactiver"
    options = queries.form_options(world.db, world.actor("declarant_req"))
    assert "Urgences adultes" not in [c.label for c in options.services]


def test_renaming_a_service_to_an_empty_name_is_refused(app_env):
    world = app_env
    service = world.services["req"]
    before = _services(world)
    at = _services_tab(world)
    at.text_input(key=f"service-nom-{service}").input(" ")
    at = at.button(key=f"service-renommer-{service}").click().run()
    assert not at.exception
    assert errors(at) == ["Le libellé est obligatoire."]
    assert _services(world) == before


# --- PDSES lines ----------------------------------------------------------------------------


def _line_form(at, specialty: int | None, establishment: int | None, kind=LineKind.GARDE):
    if specialty is not None:
        at.selectbox(key="ligne-form-0-specialite").set_value(specialty)
    if establishment is not None:
        at.selectbox(key="ligne-form-0-etab").set_value(establishment)
    at.radio(key="ligne-form-0-type").set_value(kind)
    at.text_input(key="ligne-form-0-territoire").input("Essonne")
    return at.button(key="ligne-form-0-enregistrer").click().run()


def _lines(world) -> list[tuple[int, int, LineKind, str | None, bool]]:
    with world.db.read() as session:
        return [
            (ln.specialty_id, ln.establishment_id, ln.kind, ln.territory, ln.active)
            for ln in session.scalars(select(PdsesLine).order_by(PdsesLine.id))
        ]


def test_add_a_line_refuse_a_duplicate_then_deactivate(app_env):
    world = app_env
    orl = world.specialty["ORL"]
    at = _line_form(
        open_page(ADMIN_REFERENTIELS, "admin"), orl, world.est["req"], LineKind.ASTREINTE
    )
    assert not at.exception, at.exception
    assert _successes(at) == ["Ligne PDSES enregistrée."]
    assert (orl, world.est["req"], LineKind.ASTREINTE, "Essonne", True) in _lines(world)
    with world.db.read() as session:
        line = session.scalars(
            select(PdsesLine.id).where(
                PdsesLine.specialty_id == orl, PdsesLine.establishment_id == world.est["req"]
            )
        ).one()
    assert at.button(key=f"ligne-{line}").label == "ORL"

    before = _lines(world)
    at = _line_form(at, orl, world.est["req"])
    assert not at.exception
    assert errors(at) == ["Cet établissement a déjà une ligne pour cette spécialité."]
    assert _lines(world) == before

    at = at.button(key=f"ligne-actif-{line}").click().run()
    assert not at.exception
    assert _successes(at) == ["Désactivé."]
    assert (orl, world.est["req"], LineKind.ASTREINTE, "Essonne", False) in _lines(world)
    assert at.button(key=f"ligne-actif-{line}").label == "Réactiver"


def test_edit_a_line_from_its_row(app_env):
    world = app_env
    neuro, ref, other = world.specialty["Neurochirurgie"], world.est["ref"], world.est["other"]
    with world.db.read() as session:
        line = session.scalars(select(PdsesLine.id)).one()
    at = open_page(ADMIN_REFERENTIELS, "admin")
    at = at.button(key=f"ligne-{line}").click().run()
    assert not at.exception
    assert "Modifier la ligne" in [s.value for s in at.subheader]
    scope = f"ligne-form-{line}"
    assert at.selectbox(key=f"{scope}-specialite").value == neuro
    assert at.selectbox(key=f"{scope}-etab").value == ref
    assert at.radio(key=f"{scope}-type").value is LineKind.GARDE
    assert at.text_input(key=f"{scope}-territoire").value == "Est francilien"
    at.selectbox(key=f"{scope}-etab").set_value(other)
    at.radio(key=f"{scope}-type").set_value(LineKind.ASTREINTE)
    at = at.button(key=f"{scope}-enregistrer").click().run()
    assert not at.exception, at.exception
    assert _successes(at) == ["Ligne PDSES enregistrée."]
    assert _lines(world) == [(neuro, other, LineKind.ASTREINTE, "Est francilien", True)]
    assert "Ajouter une ligne PDSES" in [s.value for s in at.subheader]  # back to a new one


def test_a_line_needs_a_specialty_and_an_establishment(app_env):
    world = app_env
    before = _lines(world)
    at = _line_form(open_page(ADMIN_REFERENTIELS, "admin"), None, None)
    assert not at.exception
    assert set(errors(at)) == {"Choisissez la spécialité.", "Choisissez l'établissement titulaire."}
    assert _lines(world) == before


# --- import ---------------------------------------------------------------------------------

NEW_NUMBER = valid_finess("92001234")
IMPORTED = (
    "finess;nom;departement\n"
    f"{NEW_NUMBER};Clinique des Hauts-de-Seine;92\n"
    "910000001;Clinique à la clé fausse;91\n"
    f"{NEW_NUMBER};Clinique en double;92\n"
)


def _import_tab(text: str = IMPORTED):
    at = open_page(ADMIN_REFERENTIELS, "admin")
    assert at.button(key="import-previsualiser").disabled  # nothing to read yet
    at.text_area(key="import-texte").input(text)
    at = at.run()
    assert not at.button(key="import-previsualiser").disabled
    return at


def test_preview_then_import_then_import_again(app_env):
    world = app_env
    before = _count(world, Establishment)
    at = _import_tab().button(key="import-previsualiser").click().run()
    assert not at.exception, at.exception
    assert _successes(at) == [
        "Aperçu (rien n'est encore enregistré) — Fichier simple finess;nom;departement : "
        "1 ajout(s), 0 mise(s) à jour, 0 inchangé(s), 2 ligne(s) rejetée(s)."
    ]
    assert "Lignes rejetées :" in [w.value for w in at.warning]
    changed, rejected = (f.value for f in at.tabs[4].dataframe)
    assert changed.to_dict("records") == [
        {
            "Ligne": 2,
            "Changement": "Ajout",
            "FINESS": NEW_NUMBER,
            "Nom": "Clinique des Hauts-de-Seine",
            "Département": "92",
        }
    ]
    assert rejected[["Ligne", "Raison"]].to_dict("records") == [
        {"Ligne": 3, "Raison": "Le numéro FINESS est invalide (clé de contrôle incorrecte)."},
        {"Ligne": 4, "Raison": "FINESS déjà présent à la ligne 2 du fichier."},
    ]
    assert _count(world, Establishment) == before  # the preview writes nothing
    assert _establishment(world, NEW_NUMBER) is None

    at = at.button(key="import-appliquer").click().run()
    assert not at.exception, at.exception
    assert _successes(at) == [
        "Import terminé — Fichier simple finess;nom;departement : "
        "1 ajout(s), 0 mise(s) à jour, 0 inchangé(s), 2 ligne(s) rejetée(s)."
    ]
    assert _count(world, Establishment) == before + 1
    est = _establishment(world, NEW_NUMBER)
    assert est is not None and est.name == "Clinique des Hauts-de-Seine" and est.active

    at = at.button(key="import-appliquer").click().run()
    assert not at.exception
    assert _successes(at) == [
        "Import terminé — Fichier simple finess;nom;departement : "
        "0 ajout(s), 0 mise(s) à jour, 1 inchangé(s), 2 ligne(s) rejetée(s)."
    ]
    assert _count(world, Establishment) == before + 1


def test_importing_nothing_usable_says_so(app_env):
    before = _count(app_env, Establishment)
    at = _import_tab("finess;nom;departement\n").button(key="import-appliquer").click().run()
    assert not at.exception
    assert errors(at) == ["Le fichier ne contient aucun établissement."]
    assert not at.success
    assert _count(app_env, Establishment) == before
