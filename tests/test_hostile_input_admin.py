"""Hostile input on the administration and account actions (issue « Hostile input »),
property-based: account creation and edition (identifier, name, e-mail, départements), the
reference lists (labels, order), establishments (FINESS, name, département, territory,
director's e-mail), services, PDSES lines (territory), documents (title, order, file name),
the password (change, reset, login), and the look-ups a page does with what is typed or put
in its address (a dossier or report number, a search, the audit log's filters).

What is asserted is said in ``tests/test_hostile_input_dossiers.py``: a ``ValidationError``
with exactly the expected French messages and nothing written, or the value read back through
the functions the pages use exactly in its stored normal form (one-line fields: NFC, blanks
collapsed); never another exception, on SQLite and PostgreSQL alike. A login never raises: it
answers « Identifiant ou mot de passe incorrect. ».
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import re
from dataclasses import replace

from email_validator import EmailNotValidError, validate_email
from hypothesis import event, example, given
from hypothesis import strategies as st
from sqlalchemy import select

from registre import (
    administration,
    audit_log,
    auth,
    documents,
    finess,
    finess_import,
    queries,
    referentials,
    report_queries,
)
from registre.accounts import INVALID_EMAIL, AccountFields, AccountInput, create_account
from registre.errors import NotFound, PermissionDenied, ValidationError
from registre.models import Account, Establishment, LineKind, Role
from registre.referentials import EstablishmentFields, ListKind
from registre.validation import characters_message, format_count

from .factories import PASSWORD
from .hostile_input import (
    FEW,
    HOSTILE,
    HUGE_INT,
    NASTY,
    TEXT,
    Line,
    forbidden,
    issue_samples,
    normal_line,
    outcome,
    snapshot,
)

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
LABEL = Line("label", "Le libellé", 200)
NAME = Line("name", "Le libellé", 200)
DISPLAY_NAME = Line("display_name", "Le nom affiché", 200)
TITLE = Line("title", "Le titre", 200)
TERRITORY = Line("territory", "Le territoire", 120, required=False)
ORDER_MESSAGE = (
    "« Ordre » doit être un nombre entier compris entre "
    f"{format_count(-1_000_000)} et {format_count(1_000_000)}."
)
USERNAME_MESSAGE = (
    "L'identifiant doit comporter de 3 à 80 caractères : lettres minuscules, chiffres, "
    "point, tiret."
)
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,79}")
_serial = itertools.count(1)


def _record(ok: bool) -> None:
    event("accepted" if ok else "refused")


def admin(world):
    return world.actor("admin")


def _order_errors(order: int) -> list[str]:
    return [] if -1_000_000 <= order <= 1_000_000 else [ORDER_MESSAGE]


ORDER = st.one_of(st.integers(-5, 200), HUGE_INT)

# --------------------------------------------------------------------------- accounts


def _email(value: str) -> tuple[str | None, list[str]]:
    """The stored address, or the error (the wording's prefix is what the pages show)."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized, []
    except EmailNotValidError:
        return None, ["email"]


def _usernames(world) -> dict[str, int]:
    with world.db.read() as s:
        return {name: ident for ident, name in s.execute(select(Account.id, Account.username))}


def _account_expected(world, data: AccountFields, own_id: int | None) -> dict[str, list[str]]:
    expected: dict[str, list[str]] = {}
    username = (data.username or "").strip().lower()
    if not _USERNAME.fullmatch(username):
        expected["username"] = [USERNAME_MESSAGE]
    elif _usernames(world).get(username, own_id) != own_id:
        expected["username"] = ["Cet identifiant est déjà utilisé."]
    expected["display_name"] = DISPLAY_NAME.errors(data.display_name)
    return expected


def _check_account_outcome(world, action, data: AccountFields, own_id: int | None):
    expected = _account_expected(world, data, own_id)
    email, email_errors = _email(data.email)
    before = snapshot(world.db)
    try:
        saved = action()
    except ValidationError as exc:
        _record(False)
        got = exc.by_field()
        assert snapshot(world.db) == before
        email_messages = got.pop("email", [])
        assert bool(email_messages) == bool(email_errors), (got, email_messages)
        for message in email_messages:
            assert message.startswith("Adresse e-mail invalide : "), message
            assert message == INVALID_EMAIL  # French, never quoting what was typed
        assert {f: sorted(m) for f, m in got.items()} == {
            f: sorted(m) for f, m in expected.items() if m
        }
        return
    _record(True)
    assert not any(expected.values()) and not email_errors, expected
    detail = administration.get_account(world.db, admin(world), saved.id)
    assert detail.fields.username == data.username.strip().lower()
    assert detail.fields.display_name == normal_line(data.display_name)
    assert detail.fields.email == email
    assert detail.row.display_name == normal_line(data.display_name)


# Each field valid about half of the time, so that some examples are saved.
USERNAME = st.one_of(
    st.builds(lambda n: f"compte.{n}", st.integers(0, 10**6)),
    st.sampled_from(["jean.martin", " Urgences-2 ", "a.b_c-d", "declarant-req"]),
    TEXT,
)
DISPLAY_NAME_TEXT = st.one_of(
    st.sampled_from(
        ["Secrétariat des urgences", "  Équipe \t PDSES  ", "مكتب الطوارئ", "צוות 🚑", "<b>x</b>"]
    ),
    TEXT,
)
EMAIL = st.one_of(
    st.sampled_from(["pdses@hopital.fr", "  urgences@chu-exemple.fr ", "été@hôpital.fr"]),
    st.builds(lambda local, text: f"{local}{text}@hopital.fr", st.just("pdses"), TEXT),
    TEXT,
)


@HOSTILE
@example(username=" Urgences-2 ", display_name="  Équipe \t PDSES  ", email="été@hôpital.fr")
@example(username="compte.1", display_name="<img src=x onerror=alert(1)>", email="pdses@chu.fr")
@example(username="compte.2", display_name="Nom\x00", email="pdses\x00@chu.fr")
@example(username="\ud800", display_name="\u202eemmoc", email="'; DROP TABLE accounts; --")
@given(username=USERNAME, display_name=DISPLAY_NAME_TEXT, email=EMAIL)
def test_create_account(world, username, display_name, email):
    data = AccountFields(
        username=username,
        display_name=display_name,
        email=email,
        role=Role.DECLARANT,
        establishment_id=world.est["req"],
        service_id=world.services["req"],
    )
    _check_account_outcome(
        world,
        lambda: administration.create(world.db, admin(world), data, "mot-de-passe-provisoire"),
        data,
        None,
    )


@HOSTILE
@example(username="compte.3", display_name="مكتب الطوارئ", email="  urgences@chu-exemple.fr ")
@example(username="compte.4", display_name="a" * 100_000, email="\x00@chu.fr")
@given(username=USERNAME, display_name=DISPLAY_NAME_TEXT, email=EMAIL)
def test_update_account(world, username, display_name, email):
    account = world.actor("declarant_ref")
    current = administration.get_account(world.db, admin(world), account.id).fields
    data = replace(current, username=username, display_name=display_name, email=email)
    _check_account_outcome(
        world,
        lambda: administration.update(world.db, admin(world), account.id, data),
        data,
        account.id,
    )


@FEW
@example(departements=["\x00"])
@example(departements=["75", "\ud800", "2A"])
@example(departements=["92", "A" * 100_000])
@given(departements=st.lists(st.one_of(TEXT, st.sampled_from(["75", " 92 ", "2a"])), max_size=3))
def test_departements_of_a_regional_account(world, departements):
    """A regional account's départements: known codes are kept, anything else is refused
    without echoing what was typed."""
    account = world.actor("ars_75")
    current = administration.get_account(world.db, admin(world), account.id).fields
    data = replace(current, departements=departements)
    with world.db.read() as s:
        known = set(s.scalars(select(Establishment.departement)))
    wanted = sorted({d.strip().upper() for d in departements if d.strip()})
    before = snapshot(world.db)
    try:
        administration.update(world.db, admin(world), account.id, data)
    except ValidationError as exc:
        _record(False)
        assert list(exc.by_field()) == ["departements"]
        assert not set(wanted) <= known
        for message in exc.by_field()["departements"]:
            assert forbidden(message) is None
            assert all(d in known or d not in message for d in wanted if len(d) > 3)
        assert snapshot(world.db) == before
        return
    _record(True)
    assert set(wanted) <= known
    detail = administration.get_account(world.db, admin(world), account.id)
    assert list(detail.fields.departements) == wanted


# --------------------------------------------------------------------------- passwords


def _password_errors(password: str) -> list[str]:
    errors = []
    if len(password) < 12:
        errors.append("Le mot de passe doit comporter au moins 12 caractères.")
    code = forbidden(password)
    if code:
        errors.append(characters_message("Le mot de passe", code))
    elif len(password.encode("utf-8")) > 72:
        errors.append(
            "Le mot de passe ne doit pas dépasser 72 octets (les caractères accentués en "
            "comptent deux)."
        )
    if password.strip() != password:
        errors.append("Le mot de passe ne doit ni commencer ni finir par une espace.")
    return errors


PASSWORDS = st.one_of(
    TEXT,
    st.builds(lambda a, b: f"phrase-{a}-secrète-{b}", TEXT, TEXT),
    st.sampled_from(["mot de passe très long 🔐", "كلمة-سر-طويلة-جدا", "'; DROP TABLE x; --"]),
)


def _new_account(world) -> tuple[str, int]:
    username = f"hostile-{next(_serial)}"
    with world.db.transaction() as s:
        account = create_account(
            s,
            AccountInput(
                username=username,
                display_name=username,
                email=f"{username}@example.org",
                role=Role.REFERENT,
                password=PASSWORD,
                establishment_finess=s.get(Establishment, world.est["req"]).finess,
            ),
        )
        return username, account.id


def _works(world, account_id: int, password: str) -> bool:
    """Whether ``password`` opens the account (its stored hash; a login would also count
    failures against the address)."""
    with world.db.read() as s:
        stored = s.get(Account, account_id).password_hash
    return auth.check_password(password, stored)


@HOSTILE
@issue_samples("new")
@given(new=PASSWORDS)
def test_change_password(world, new):
    username, account_id = _new_account(world)
    actor = auth.load_actor(world.db, username)
    expected = _password_errors(new)
    if new == PASSWORD:
        expected = ["Le nouveau mot de passe doit être différent de l'actuel."]
    key = "new_password" if new == PASSWORD else "password"
    ok, _ = outcome(
        world.db,
        lambda: auth.change_password(world.db, actor, PASSWORD, new),
        {key: expected},
    )
    _record(ok)
    assert _works(world, account_id, new) is ok
    assert _works(world, account_id, PASSWORD) is not ok


@HOSTILE
@given(current=TEXT)
def test_change_password_with_any_current_password(world, current):
    username, _ = _new_account(world)
    actor = auth.load_actor(world.db, username)
    ok, _ = outcome(
        world.db,
        lambda: auth.change_password(world.db, actor, current, "un-autre-mot-de-passe-2026"),
        {"current_password": ["Le mot de passe actuel est incorrect."]},
    )
    assert not ok


@HOSTILE
@issue_samples("temporary")
@given(temporary=PASSWORDS)
def test_reset_password(world, temporary):
    _, account_id = _new_account(world)
    ok, _ = outcome(
        world.db,
        lambda: administration.reset_password(world.db, admin(world), account_id, temporary),
        {"password": _password_errors(temporary)},
    )
    _record(ok)
    assert _works(world, account_id, temporary) is ok


@HOSTILE
@issue_samples("username", "password")
@issue_samples("password", username="declarant-req")
@given(username=st.one_of(TEXT, st.just("declarant-req")), password=st.one_of(TEXT, PASSWORDS))
def test_login_never_raises(world, username, password):
    result = auth.authenticate(world.db, username, password)
    assert not result.ok
    assert result.message in {
        auth.LOGIN_FAILED_MESSAGE,
        "Saisissez votre identifiant et votre mot de passe.",
        getattr(auth, "ADDRESS_BLOCKED_MESSAGE", auth.LOGIN_FAILED_MESSAGE),
    }


# --------------------------------------------------------------------------- reference data


def _labels(world, kind: ListKind) -> dict[int, str]:
    return {i.id: i.label for i in referentials.list_items(world.db, admin(world), kind)}


@HOSTILE
@issue_samples("label", kind=ListKind.SPECIALTY, order=1, edit=False)
@given(
    kind=st.sampled_from(list(ListKind)),
    label=st.one_of(TEXT, st.just("Autre"), st.just(" neurochirurgie ")),
    order=ORDER,
    edit=st.booleans(),
)
def test_list_item(world, kind, label, order, edit):
    existing = _labels(world, kind)
    item_id = next(iter(existing)) if edit else None
    expected = LABEL.errors(label)
    clean = normal_line(label)
    if clean and any(
        other.casefold() == clean.casefold() and ident != item_id
        for ident, other in existing.items()
    ):
        expected.append("Ce libellé existe déjà dans la liste.")
    ok, saved = outcome(
        world.db,
        lambda: referentials.save_item(world.db, admin(world), kind, item_id, label, order),
        {"label": expected, "sort_order": _order_errors(order)},
    )
    _record(ok)
    if ok:
        item = next(
            i for i in referentials.list_items(world.db, admin(world), kind) if i.id == saved
        )
        assert (item.label, item.sort_order) == (clean, order)


EXAMPLE_FINESS = "77009999" + finess.check_digit("77009999")


def _fresh_finess() -> str:
    first_eight = f"77{next(_serial) % 1_000_000:06d}"
    return first_eight + finess.check_digit(first_eight)


DEPARTEMENT_MESSAGES = {
    "Le département est obligatoire (2 ou 3 caractères).",
    "Le département doit être un code de département (75, 2A, 971…).",
}


@HOSTILE
@issue_samples("name", "territory", number=EXAMPLE_FINESS, departement="", director="")
@issue_samples("departement", "director", number="770099995", name="Clinique", territory="")
@given(
    number=st.one_of(st.builds(_fresh_finess), TEXT),
    name=st.one_of(st.just("Clinique de l'Yvette — site 🏥"), TEXT),
    departement=st.one_of(st.just(""), st.sampled_from([" 2a ", "971", "7777", "ab"]), TEXT),
    territory=st.one_of(st.just(""), st.just("Sud Essonne"), TEXT),
    director=st.one_of(st.just(""), st.just("direction@chu-exemple.fr"), TEXT),
)
def test_establishment(world, number, name, departement, territory, director):
    data = EstablishmentFields(number, name, departement, territory, director)
    with world.db.read() as s:
        taken = set(s.scalars(select(Establishment.finess)))
    expected: dict[str, list[str]] = {"name": NAME.errors(name)}
    problem = finess.error_message(number)
    if problem is None and finess.normalise(number) in taken:
        problem = "Un établissement porte déjà ce numéro FINESS."
    expected["finess"] = [problem] if problem else []
    expected["territory"] = TERRITORY.errors(territory)
    director_ok = True
    if director.strip():
        try:
            validate_email(director.strip(), check_deliverability=False)
        except EmailNotValidError:
            director_ok = False
    expected["director_email"] = [] if director_ok else ["Adresse e-mail de la direction invalide."]
    before = snapshot(world.db)
    try:
        est_id = referentials.save_establishment(world.db, admin(world), None, data)
    except ValidationError as exc:
        _record(False)
        assert snapshot(world.db) == before
        got = exc.by_field()
        assert set(got.pop("departement", [])) <= DEPARTEMENT_MESSAGES
        assert {f: sorted(m) for f, m in got.items()} == {
            f: sorted(m) for f, m in expected.items() if m
        }
        return
    _record(True)
    assert not any(expected.values()), expected
    row = referentials.get_establishment(world.db, admin(world), est_id)
    assert re.fullmatch(r"(?:[0-9]{2}|2[AB])[0-9]{7}", row.finess)
    assert row.finess == finess.normalise(number)
    assert row.name == normal_line(name)
    assert row.territory == (normal_line(territory) or None)
    assert re.fullmatch(r"[0-9]{2,3}|2[AB]", row.departement)
    if departement.strip():
        assert row.departement == departement.strip().upper()


@HOSTILE
@issue_samples("name", edit=False)
@given(name=st.one_of(TEXT, st.just("Urgences")), edit=st.booleans())
def test_service(world, name, edit):
    est_id = world.est["other"]
    services = referentials.list_services(world.db, admin(world), est_id)
    service_id = services[0].id if edit else None
    expected = NAME.errors(name)
    clean = normal_line(name)
    if clean and any(
        s.name.casefold() == clean.casefold() and s.id != service_id for s in services
    ):
        expected.append("Ce service existe déjà dans l'établissement.")
    ok, saved = outcome(
        world.db,
        lambda: referentials.save_service(world.db, admin(world), est_id, service_id, name),
        {"name": expected},
    )
    _record(ok)
    if ok:
        (row,) = [
            s for s in referentials.list_services(world.db, admin(world), est_id) if s.id == saved
        ]
        assert row.name == clean


@HOSTILE
@issue_samples("territory")
@given(territory=TEXT)
def test_pdses_line_territory(world, territory):
    lines = referentials.list_lines(world.db, admin(world))
    line = lines[0]
    ok, _ = outcome(
        world.db,
        lambda: referentials.save_line(
            world.db,
            admin(world),
            line.id,
            line.establishment_id,
            line.specialty_id,
            LineKind.ASTREINTE,
            territory,
        ),
        {"territory": TERRITORY.errors(territory)},
    )
    _record(ok)
    (after,) = [ln for ln in referentials.list_lines(world.db, admin(world)) if ln.id == line.id]
    assert after.territory == ((normal_line(territory) or None) if ok else line.territory)


# --------------------------------------------------------------------------- documents


def _uploaded(world) -> dict[str, documents.Document]:
    return {d.key: d for d in documents.list_documents(world.db, admin(world)) if not d.builtin}


@HOSTILE
@issue_samples("title", order=2**31)
@issue_samples("title", order=3)
@given(title=TEXT, order=ORDER)
def test_upload_document(world, title, order):
    ok, doc_id = outcome(
        world.db,
        lambda: documents.upload(world.db, admin(world), title, "guide.pdf", PDF, order),
        {"title": TITLE.errors(title), "sort_order": _order_errors(order)},
    )
    _record(ok)
    if ok:
        doc = _uploaded(world)[str(doc_id)]
        assert (doc.title, doc.sort_order) == (normal_line(title), order)


@HOSTILE
@issue_samples("title", order=-1)
@given(title=TEXT, order=ORDER)
def test_edit_document(world, title, order):
    doc_id = documents.upload(world.db, admin(world), "Guide", "guide.pdf", PDF, 1)
    ok, _ = outcome(
        world.db,
        lambda: documents.update(world.db, admin(world), doc_id, title, order),
        {"title": TITLE.errors(title), "sort_order": _order_errors(order)},
    )
    _record(ok)
    doc = _uploaded(world)[str(doc_id)]
    assert (doc.title, doc.sort_order) == ((normal_line(title), order) if ok else ("Guide", 1))


@FEW
@given(name=st.one_of(TEXT, st.builds(lambda t: f"{t}.pdf", TEXT)))
def test_document_file_name(world, name):
    """The file name is made safe (documented: ``documents._safe_filename``); it never holds
    a forbidden character, a path, nor more than 200 characters."""
    before = snapshot(world.db)
    try:
        doc_id = documents.upload(world.db, admin(world), "Guide", name, PDF)
    except ValidationError as exc:
        _record(False)
        assert list(exc.by_field()) == ["file"]
        assert snapshot(world.db) == before
        return
    _record(True)
    stored = _uploaded(world)[str(doc_id)].filename
    assert forbidden(stored) is None
    assert "/" not in stored and "\\" not in stored and len(stored) <= 200
    assert stored.lower().endswith(".pdf")


# --------------------------------------------------------------------------- look-ups

LOOKUP = st.one_of(TEXT, st.sampled_from(NASTY), st.just("R-2026-000001"), st.just("F-2026-000001"))


@HOSTILE
@example(typed="\x00")
@example(typed="\ud800")
@example(typed="R-2026-000001\x00")
@example(typed="%" * 100_000)
@given(typed=LOOKUP)
def test_lookups_by_what_is_typed(world, typed):
    """A dossier or report number from the address bar (``?numero=``), the searches and the
    audit log's filters: found, not found, or a French error — never a database error."""
    if not queries.list_establishment_dossiers(world.db, world.actor("coordinateur_req")).items:
        world.draft()  # R-2026-000001
        world.report()  # F-2026-000001
    actor = world.actor("coordinateur_req")
    for lookup in (
        lambda: queries.get_dossier(world.db, actor, number=typed),
        lambda: report_queries.get_report(world.db, actor, number=typed),
    ):
        with contextlib.suppress(NotFound, PermissionDenied):
            lookup()
    administration.list_accounts(world.db, admin(world), search=typed)
    referentials.list_establishments(world.db, admin(world), search=typed)
    for filters in (
        audit_log.AuditFilters(username=typed),
        audit_log.AuditFilters(dossier_number=typed),
    ):
        try:
            audit_log.list_entries(world.db, admin(world), filters)
        except ValidationError as exc:
            assert set(exc.by_field()) <= {"username", "dossier_number"}


# --------------------------------------------------------------------------- FINESS import


@FEW
@issue_samples("name")
@given(name=TEXT)
def test_finess_import_names(world, name):
    """A name from an imported file: the line is rejected with its French reason, or the
    establishment is stored with the name in its normal form. (A file holds bytes: no lone
    surrogate; a line break would make another CSV line.)"""
    name = re.sub("[\r\n\ud800-\udfff]", "", name)
    number = _fresh_finess()
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows(
        [["finess", "nom", "departement"], [number, name, "77"]]
    )
    report = finess_import.apply(world.db, admin(world), out.getvalue().encode("utf-8"))
    clean = normal_line(name)
    if forbidden(name) or not clean or len(clean) > 200:
        _record(False)
        (rejected,) = report.rejected
        assert rejected.reason.startswith("Le nom "), rejected.reason
        assert report.lines == ()
        return
    _record(True)
    assert report.rejected == ()
    (row,) = referentials.list_establishments(world.db, admin(world), search=number).items
    assert row.name == clean
