"""Import of establishments from a CSV file (issue 5, SPEC §4): the public FINESS extraction
(``structureet`` lines) and a simple ``finess;nom;departement`` file. A preview writes
nothing; the import inserts or updates and is idempotent; a malformed line is rejected with
its reason and never stops the others; the Administrateur only.

Every sample file is built here, with FINESS numbers made valid by ``finess.check_digit``.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registre import finess, finess_import
from registre.errors import PermissionDenied, ValidationError
from registre.finess_import import Change, ImportFormat
from registre.models import AuditEntry, Establishment

from .factories import NON_ADMINS


def number(first_eight: str) -> str:
    return first_eight + finess.check_digit(first_eight)


def bad_luhn(first_eight: str) -> str:
    good = number(first_eight)
    return good[:8] + str((int(good[8]) + 1) % 10)


A = number("77001001")  # Seine-et-Marne
B = number("78002002")  # Yvelines, no long name
C = number("2A000301")  # Corse-du-Sud
D = number("95004004")  # its département column is empty
E = number("93005005")  # no name at all
F = number("60006006")  # a line cut short
BAD = bad_luhn("77007007")
FOCH = "920000650"  # in the test world as « Hôpital Foch »
PITIE = "750100125"  # in the test world as « Hôpital Pitié-Salpêtrière (AP-HP) »


def structure(
    nofinesset: str, rs: str, rslongue: str, departement: str, ej: str = "770000000"
) -> str:
    """One ``structureet`` line of the extraction, with its 32 columns."""
    cells = [
        "structureet",
        nofinesset,
        ej,
        rs,
        rslongue,
        "",  # complrs
        "",  # compldistrib
        "12",  # numvoie
        "R",  # typvoie
        "DE LA PAIX",  # voie
        "",  # compvoie
        "",  # lieuditbp
        "056",  # commune
        departement,
        "DEPARTEMENT",  # libdepartement
        "77000 VILLE",  # ligneacheminement
        "0160000000",
        "",
        "355",
        "Centre Hospitalier (C.H.)",
        "1102",
        "Centres Hospitaliers",
        "26770000000000",
        "8610Z",
        "03",
        "ARS établissements Publics de santé dotation globale",
        "1",
        "Etablissement public de santé",
        "1979-02-13",
        "1979-02-13",
        "2020-02-04",
        "",
    ]
    return ";".join(cells)


def geolocation(nofinesset: str) -> str:
    return (
        f"geolocalisation;{nofinesset};652000.5;6860000.1;"
        "1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93;2026-05-12"
    )


EXTRACTION_LINES = [
    "finess;etalab;111;2026-05-12",  # 1 header: skipped
    structure(A, "CLINIQUE A", "CLINIQUE  DU   PARC", "77"),  # 2 added, spaces squeezed
    structure(B, "CH DE B", "", "78"),  # 3 added under its short name
    structure(C, "HOPITAL C", "HOPITAL D'AJACCIO", "2A"),  # 4 added in 2A
    structure(D, "CLINIQUE D", "CLINIQUE D", ""),  # 5 added, département from the FINESS
    structure(PITIE, "PITIE", "Hôpital Pitié-Salpêtrière (AP-HP)", "75"),  # 6 unchanged
    structure(FOCH, "FOCH", "HOPITAL FOCH", "92"),  # 7 updated (new name)
    f"structureet;{F};600000000;COURTE;COURTE;;;;",  # 8 rejected: too few columns
    structure(BAD, "CLINIQUE BAD", "CLINIQUE BAD", "77"),  # 9 rejected: check digit
    structure(E, "", "", "93"),  # 10 rejected: no name
    structure(A, "DOUBLON", "DOUBLON", "77"),  # 11 rejected: twice in the file
    geolocation(A),  # 12 skipped, not rejected
    geolocation(PITIE),  # 13 skipped, not rejected
    "",  # 14 blank
]
EXTRACTION = ("\n".join(EXTRACTION_LINES) + "\n").encode("utf-8")
EXPECTED_LINES = [
    (2, A, "CLINIQUE DU PARC", "77", Change.ADD),
    (3, B, "CH DE B", "78", Change.ADD),
    (4, C, "HOPITAL D'AJACCIO", "2A", Change.ADD),
    (5, D, "CLINIQUE D", "95", Change.ADD),
    (6, PITIE, "Hôpital Pitié-Salpêtrière (AP-HP)", "75", Change.SAME),
    (7, FOCH, "HOPITAL FOCH", "92", Change.UPDATE),
]
EXPECTED_REJECTED = [
    (8, "Ligne incomplète (moins de 14 colonnes)."),
    (9, "Le numéro FINESS est invalide (clé de contrôle incorrecte)."),
    (10, "Le nom de l'établissement est vide."),
    (11, "FINESS déjà présent à la ligne 2 du fichier."),
]


def admin(world):
    return world.actor("admin")


def lines_of(report) -> list[tuple]:
    return [(ln.line_no, ln.finess, ln.name, ln.departement, ln.change) for ln in report.lines]


def rejected_of(report) -> list[tuple[int, str]]:
    return [(r.line_no, r.reason) for r in report.rejected]


def establishments(world) -> dict[str, tuple[str, str, bool]]:
    with world.db.read() as s:
        return {
            e.finess: (e.name, e.departement, e.active)
            for e in s.scalars(select(Establishment).order_by(Establishment.id))
        }


def imports(world) -> list[AuditEntry]:
    with world.db.read() as s:
        return list(
            s.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "establishments_imported")
                .order_by(AuditEntry.id)
            )
        )


def audit_count(world) -> int:
    with world.db.read() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry)) or 0


# --- the extraction -------------------------------------------------------------------------


def test_the_preview_of_an_extraction_writes_nothing(world):
    before = (establishments(world), audit_count(world))
    report = finess_import.preview(world.db, admin(world), EXTRACTION)
    assert report.format is ImportFormat.EXTRACTION
    assert report.applied is False
    assert lines_of(report) == EXPECTED_LINES
    assert rejected_of(report) == EXPECTED_REJECTED
    assert (report.count(Change.ADD), report.count(Change.UPDATE), report.count(Change.SAME)) == (
        4,
        1,
        1,
    )
    assert (establishments(world), audit_count(world)) == before


def test_a_rejected_line_shows_its_content(world):
    report = finess_import.preview(world.db, admin(world), EXTRACTION)
    by_line = {r.line_no: r.content for r in report.rejected}
    assert by_line[9].startswith(f"structureet;{BAD};")
    assert by_line[8] == f"structureet;{F};600000000;COURTE;COURTE;;;;"
    assert all(len(content) <= 160 for content in by_line.values())


def test_the_import_inserts_and_updates_then_reports(world):
    known = establishments(world)
    report = finess_import.apply(world.db, admin(world), EXTRACTION, "etalab-cs1100502.csv")
    assert report.applied is True
    assert lines_of(report) == EXPECTED_LINES
    assert rejected_of(report) == EXPECTED_REJECTED
    after = establishments(world)
    assert len(after) == len(known) + 4
    assert after[A] == ("CLINIQUE DU PARC", "77", True)
    assert after[B] == ("CH DE B", "78", True)
    assert after[C] == ("HOPITAL D'AJACCIO", "2A", True)
    assert after[D] == ("CLINIQUE D", "95", True)
    assert after[FOCH] == ("HOPITAL FOCH", "92", True)
    assert after[PITIE] == known[PITIE]
    assert BAD not in after and E not in after and F not in after
    with world.db.read() as s:
        added = s.scalars(select(Establishment).where(Establishment.finess == A)).one()
        assert added.finess_demo is False and added.territory is None
    [entry] = imports(world)
    assert entry.actor_id == admin(world).id
    assert entry.details == {
        "file": "etalab-cs1100502.csv",
        "format": ImportFormat.EXTRACTION.value,
        "added": 4,
        "updated": 1,
        "unchanged": 1,
        "rejected": 4,
    }


def test_importing_the_same_file_again_changes_nothing(world):
    finess_import.apply(world.db, admin(world), EXTRACTION, "extraction.csv")
    first = establishments(world)
    report = finess_import.apply(world.db, admin(world), EXTRACTION, "extraction.csv")
    assert {ln.change for ln in report.lines} == {Change.SAME}
    assert len(report.lines) == len(EXPECTED_LINES)
    assert rejected_of(report) == EXPECTED_REJECTED
    assert establishments(world) == first
    second = imports(world)[-1]
    assert (second.details["added"], second.details["updated"], second.details["unchanged"]) == (
        0,
        0,
        6,
    )
    preview = finess_import.preview(world.db, admin(world), EXTRACTION)
    assert {ln.change for ln in preview.lines} == {Change.SAME}


def test_a_deactivated_establishment_stays_deactivated_after_an_import(world):
    from registre import referentials

    referentials.set_establishment_active(world.db, admin(world), world.est["other"], False)
    finess_import.apply(world.db, admin(world), EXTRACTION)
    assert establishments(world)[FOCH] == ("HOPITAL FOCH", "92", False)


@pytest.mark.parametrize(
    ("nofinesset", "code", "departement"),
    [
        # lines of the real extraction (etalab, 2026-05-12): overseas FINESS numbers start
        # with 970x/980x and the département column holds 9A, 9C, 9D, 9F
        ("970100012", "9A", "971"),  # Polyclinique de la Guadeloupe
        ("970300026", "9C", "973"),  # Centre hospitalier de Cayenne
        ("970400024", "9D", "974"),  # CHU Félix Guyon, Saint-Denis de La Réunion
        ("980502199", "9F", "976"),  # Mayotte
    ],
)
def test_an_overseas_line_gets_its_real_departement(world, nofinesset, code, departement):
    content = structure(nofinesset, "CH", "CENTRE HOSPITALIER", code).encode("utf-8")
    [line] = finess_import.preview(world.db, admin(world), content).lines
    assert (line.finess, line.departement) == (nofinesset, departement)


def test_a_quoted_name_is_read_whole(world):
    line = structure(A, "X", '"LIEU DE VIE ""LES PINS""; ANNEXE"', "77")
    [parsed] = finess_import.preview(world.db, admin(world), line.encode("utf-8")).lines
    assert parsed.name == 'LIEU DE VIE "LES PINS"; ANNEXE'


def test_a_name_longer_than_200_characters_is_rejected(world):
    content = "\n".join(
        [structure(A, "X", "N" * 201, "77"), structure(B, "Y", "CH DE B", "78")]
    ).encode("utf-8")
    report = finess_import.preview(world.db, admin(world), content)
    assert rejected_of(report) == [(1, "Le nom dépasse 200 caractères.")]
    assert [ln.finess for ln in report.lines] == [B]


# --- the simple file ----------------------------------------------------------------------


def test_a_simple_file_with_a_header(world):
    content = "\n".join(
        [
            "FINESS;Nom;Département",
            f"{A};Clinique du Parc;77",
            f"{B};Centre hospitalier de B",  # no département column
            f"{D};Clinique D;",  # an empty département
            f"{C};Hôpital d'Ajaccio;XX",  # not a département: from the FINESS
            f" {FOCH[:3]} {FOCH[3:6]} {FOCH[6:]} ;Hôpital Foch;92",  # spaces in the number
            f"{BAD};Clinique au mauvais numéro;77",
            f"{E};   ;93",
            "une ligne sans séparateur",
            "",
        ]
    ).encode("utf-8")
    report = finess_import.apply(world.db, admin(world), content, "simple.csv")
    assert report.format is ImportFormat.SIMPLE
    assert lines_of(report) == [
        (2, A, "Clinique du Parc", "77", Change.ADD),
        (3, B, "Centre hospitalier de B", "78", Change.ADD),
        (4, D, "Clinique D", "95", Change.ADD),
        (5, C, "Hôpital d'Ajaccio", "2A", Change.ADD),
        (6, FOCH, "Hôpital Foch", "92", Change.SAME),
    ]
    assert rejected_of(report) == [
        (7, "Le numéro FINESS est invalide (clé de contrôle incorrecte)."),
        (8, "Le nom de l'établissement est vide."),
        (9, "Format attendu : finess;nom;departement."),
    ]
    assert establishments(world)[C] == ("Hôpital d'Ajaccio", "2A", True)


def test_a_simple_file_without_a_header(world):
    content = f"{A};Clinique du Parc;77\r\n{FOCH};Hôpital Foch - Suresnes\r\n".encode()
    report = finess_import.apply(world.db, admin(world), content)
    assert lines_of(report) == [
        (1, A, "Clinique du Parc", "77", Change.ADD),
        (2, FOCH, "Hôpital Foch - Suresnes", "92", Change.UPDATE),
    ]
    assert rejected_of(report) == []
    assert establishments(world)[FOCH] == ("Hôpital Foch - Suresnes", "92", True)


def test_a_change_of_departement_alone_is_an_update(world):
    content = f"{FOCH};Hôpital Foch;93\n".encode()
    [line] = finess_import.apply(world.db, admin(world), content).lines
    assert line.change is Change.UPDATE
    assert establishments(world)[FOCH] == ("Hôpital Foch", "93", True)


def test_a_cp1252_file_keeps_its_accents(world):
    content = (
        "finess;nom;departement\r\n"
        f"{A};Clinique Sainte-Thérèse – Pôle Santé;77\r\n"
        f"{B};Hôpital Privé de l'Œuf;78\r\n"
    ).encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")
    report = finess_import.apply(world.db, admin(world), content)
    assert [ln.name for ln in report.lines] == [
        "Clinique Sainte-Thérèse – Pôle Santé",
        "Hôpital Privé de l'Œuf",
    ]
    assert establishments(world)[A][0] == "Clinique Sainte-Thérèse – Pôle Santé"


def test_a_utf8_file_with_a_byte_order_mark(world):
    content = (f"\ufefffiness;nom;departement\n{A};Clinique Été;77\n").encode()
    report = finess_import.preview(world.db, admin(world), content)
    assert lines_of(report) == [(2, A, "Clinique Été", "77", Change.ADD)]
    assert rejected_of(report) == []


# --- files that hold nothing ----------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"", b"\n\n", b"finess;nom;departement\n", b"finess;etalab;111;2026-05-12\n"],
)
def test_a_file_without_any_establishment_is_refused(world, content):
    before = audit_count(world)
    for action in (finess_import.preview, finess_import.apply):
        with pytest.raises(ValidationError) as exc:
            action(world.db, admin(world), content)
        assert exc.value.by_field() == {"file": ["Le fichier ne contient aucun établissement."]}
    assert audit_count(world) == before


def test_a_file_too_large_is_refused(world, monkeypatch):
    monkeypatch.setattr(finess_import, "MAX_BYTES", 100)
    with pytest.raises(ValidationError) as exc:
        finess_import.preview(world.db, admin(world), EXTRACTION)
    assert set(exc.value.by_field()) == {"file"}


# --- only the Administrateur ----------------------------------------------------------------


@pytest.mark.parametrize("action", ["preview", "apply"])
@pytest.mark.parametrize("name", NON_ADMINS)
def test_the_import_is_refused_to_every_other_role(world, name, action):
    before = (establishments(world), audit_count(world))
    with pytest.raises(PermissionDenied):
        getattr(finess_import, action)(world.db, world.actor(name), EXTRACTION)
    assert (establishments(world), audit_count(world)) == before
