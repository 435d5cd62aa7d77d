"""Detection of nominative (patient-identifying) data in free text.

The registry is pseudonymous: no free-text field may hold data that identifies a patient.
``findings(text)`` returns one French, user-facing reason per *kind* of nominative data
found (stable order, no duplicates, empty list when the text is clean). A reason never
echoes the detected value, so it can be shown and logged safely.

Kinds and choices (precision matters both ways: a clinician typing at 3 a.m. must not be
blocked by ordinary clinical text, and real identifiers must not get through):

* **NIR** (social-security number). Digit groups separated by one space, dot or dash
  (``2A``/``2B`` allowed for Corsica) are split into tokens; any run of whole tokens
  totalling 13 to 15 characters is a candidate. A 15-character candidate whose key is
  valid (``stdnum.fr.nir``) is always caught, however it is grouped. Without a valid key
  (13 digits without key, 14 digits, or a 15-digit number whose key is wrong — a typo
  still identifies the person) the candidate is caught only if it is NIR-shaped — sex
  1 or 2, month 01–12, département two digits or 2A/2B — *and* written either in one
  block or cut only at the usual NIR group boundaries (1-2-2-2-3-3-2), so that lists of
  small numbers (constants, scores) do not combine into a false NIR. A number introduced
  by ``NIR``, ``NSS``, ``INS`` or ``sécu``/``sécurité sociale`` and having at least seven
  digits is caught whatever its key.
* **Telephone**: French national numbers (``0X`` + four pairs, the same separator
  throughout, so that ``12.03.2026 10h`` is not a phone), ``+33``/``0033`` forms with an
  optional ``(0)``, and other ``+``-prefixed international numbers of 9 to 17 digits.
  Extensions (``poste 4512``) are not phone numbers.
* **E-mail**: ``local@domain.tld``.
* **Birth date**: a birth keyword (``né``, ``née``, ``né(e)``, unaccented ``ne``/``nee``,
  ``DDN``, ``date de naissance``, ``naissance``), optionally followed by ``:``, ``le`` or
  ``en``, then a day and month (with or without year, numeric or ``3 mars 1954``) or a
  month and year (``né en mars 1954``, ``née en 03/1954``). A *year alone* (``né en
  1954``) is **not** flagged: it carries the same information as the age (``70 ans``),
  which the registry needs. Dates without a birth keyword (``bilan du 12/03/2026``) are
  clinical and never flagged; ``nouveau-né``/``mort-né`` are not keywords.
* **Civility or title followed by a name**: ``M.``, ``Mr``, ``Mme``, ``Mlle``, ``Melle``,
  ``Dr``, ``Pr`` (case-sensitive abbreviations: ``PR``/``MR`` are clinical acronyms) and
  ``Monsieur``, ``Madame``, ``Mademoiselle``, ``Docteur``, ``Professeur`` (any case),
  followed by a capitalised word of at least two letters (accented capitals included,
  particles ``Le Gall``, ``de Sousa``, ``D'Artagnan`` handled). Not flagged: a lowercase
  word (``Dr de garde``), a single initial or ``X`` (``Mme X``, already pseudonymous), a
  bare article (``M. Le patient``) and a few non-name words (``Dr Junior``,
  ``Dr SAMU``, ``Sexe : M. Âge``…). ``M.`` requires its dot, so ``M1`` is fine; titles
  never match inside words or acronyms (``S.M.U.R.``). A maiden or married name
  (``née Durand``, ``épouse Martin``) is reported under the same reason.
* **Hospital patient identifiers**: ``IPP``, ``IEP``, ``NDA``, ``NIP``, ``n°``/``numéro``
  (de) ``dossier``/``séjour``/``venue``/``admission``/``passage``/``patient``,
  ``identifiant patient`` followed (optionally after ``:`` or ``n°``) by a number of at
  least four digits, possibly prefixed by up to three capitals; a bare
  ``dossier``/``séjour`` followed by six or more digits. The registry's own dossier
  numbers (``R-2026-000042``) are not patient identifiers.

The text is normalised with NFKC first (non-breaking and narrow spaces become spaces,
full-width digits become ASCII, ``nº`` becomes ``no``) and zero-width characters are
removed. All regexes are compiled once and written without nested ambiguous
quantifiers; they run in linear time: 100 kB of clinical text takes about 50 ms, and
about 150 ms for adversarial input such as 100 kB of space-separated digits.
Detected spans of one kind are masked before looking for the next kinds, so that an
e-mail or a NIR is not reported a second time as a phone number.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from stdnum.fr import nir as _stdnum_nir

__all__ = [
    "REASONS",
    "REASON_BIRTH_DATE",
    "REASON_CIVILITY",
    "REASON_EMAIL",
    "REASON_NIR",
    "REASON_PATIENT_ID",
    "REASON_PHONE",
    "findings",
]

_SUFFIX = " : aucune donnée nominative ne doit être saisie."
REASON_NIR = "Numéro de sécurité sociale (NIR) détecté" + _SUFFIX
REASON_PHONE = "Numéro de téléphone détecté" + _SUFFIX
REASON_EMAIL = "Adresse e-mail détectée" + _SUFFIX
REASON_BIRTH_DATE = "Date de naissance détectée" + _SUFFIX
REASON_CIVILITY = "Civilité ou titre suivi d'un nom détecté (ex. « M. Dupont »)" + _SUFFIX
REASON_PATIENT_ID = "Identifiant patient (IPP, IEP, NDA…) détecté" + _SUFFIX

#: Every reason, in the order ``findings`` reports them.
REASONS: tuple[str, ...] = (
    REASON_NIR,
    REASON_PHONE,
    REASON_EMAIL,
    REASON_BIRTH_DATE,
    REASON_CIVILITY,
    REASON_PATIENT_ID,
)

# --------------------------------------------------------------------------- helpers

_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")
# One separator between digit groups (NFKC already turned U+00A0/U+202F into spaces;
# they stay listed for callers passing non-normalised text to the patterns).
_SEP = "[ .\\-\u00a0\u202f\u2009\u2010-\u2015]"
_MASK = "\x00"  # neither a word character, a digit nor a separator
_Span = tuple[int, int]


def _normalise(text: str) -> str:
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))


def _mask(text: str, spans: list[_Span]) -> str:
    if not spans:
        return text
    parts: list[str] = []
    last = 0
    for start, end in spans:
        parts.append(text[last:start])
        parts.append(_MASK * (end - start))
        last = end
    parts.append(text[last:])
    return "".join(parts)


def _regex_spans(pattern: re.Pattern[str]) -> Callable[[str], list[_Span]]:
    def spans(text: str) -> list[_Span]:
        return [m.span() for m in pattern.finditer(text)]

    return spans


# --------------------------------------------------------------------------- e-mail

_EMAIL = re.compile(r"(?<![\w.%+\-])[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[^\W\d_]{2,}(?![\w\-])")

# --------------------------------------------------------------------------- NIR

# A maximal run of digit groups (one may contain 2A/2B) separated by one separator.
_NIR_TOKEN = re.compile(r"[0-9]+(?:[AB][0-9]*)?")
_NIR_RUN = re.compile(rf"(?<![0-9])[0-9]+(?:[AB][0-9]*)?(?:{_SEP}[0-9]+(?:[AB][0-9]*)?)*")
_NIR_SHAPE = re.compile(r"[12][0-9]{2}(?:0[1-9]|1[0-2])(?:[0-9]{2}|2[AB])[0-9]{6,8}")
_NIR_CANONICAL_CUTS = frozenset({1, 3, 5, 7, 10, 13})
_NIR_MAX_CANONICAL_GROUPS = len(_NIR_CANONICAL_CUTS) + 1
_NIR_LENGTHS = (13, 14, 15)

_NIR_KEYWORD = re.compile(
    r"(?<!\w)(?:(?i:nir|nss|ins|s[ée]cu(?:rit[ée])?(?:\s+sociale)?)|(?i:n[o°])\.?\s*SS)"
    rf"(?!\w)[\s:=#°.\-]*(?:(?i:n[o°]|num[ée]ro)\.?[\s:=#]*)?[0-9](?:{_SEP}?[0-9AB]){{6,}}"
)


def _nir_key_valid(candidate: str) -> bool:
    """15 characters with a valid NIR key. A cheap modulo-97 pre-check spares the
    ``stdnum`` call (a few microseconds) on the vast majority of candidates, which keeps
    long digit lists fast; ``stdnum`` has the final word."""
    body = candidate[:13]
    if body[5:7] == "2A":
        body = body[:5] + "19" + body[7:]
    elif body[5:7] == "2B":
        body = body[:5] + "18" + body[7:]
    if not (body.isdigit() and candidate[13:].isdigit()):
        return False
    if 97 - int(body) % 97 != int(candidate[13:]):
        return False
    return _stdnum_nir.is_valid(candidate)


def _nir_spans(text: str) -> list[_Span]:
    spans: list[_Span] = [m.span() for m in _NIR_KEYWORD.finditer(text)]
    for run in _NIR_RUN.finditer(text):
        if run.end() - run.start() < 13:
            continue
        tokens = list(_NIR_TOKEN.finditer(text, run.start(), run.end()))
        compact = "".join(token.group() for token in tokens)
        if len(compact) < 13:
            continue
        # prefix[k] = characters in tokens[:k]; strictly increasing, hence the index map.
        prefix = [0]
        for token in tokens:
            prefix.append(prefix[-1] + len(token.group()))
        where = {total: k for k, total in enumerate(prefix)}
        for i, begin in enumerate(prefix[:-1]):
            # 15 characters with a valid key: caught however they are grouped
            j = where.get(begin + 15)
            if j is not None and _nir_key_valid(compact[begin : begin + 15]):
                spans.append((tokens[i].start(), tokens[j - 1].end()))
                continue
            # otherwise NIR-shaped (sex 1 or 2 first), cut only at NIR group boundaries
            if compact[begin] not in "12":
                continue
            for length in _NIR_LENGTHS:
                j = where.get(begin + length)
                if (
                    j is not None
                    and j - i <= _NIR_MAX_CANONICAL_GROUPS
                    and _NIR_SHAPE.fullmatch(compact, begin, begin + length) is not None
                    and all(prefix[k] - begin in _NIR_CANONICAL_CUTS for k in range(i + 1, j))
                ):
                    spans.append((tokens[i].start(), tokens[j - 1].end()))
                    break
    return spans


def _merge(spans: list[_Span]) -> list[_Span]:
    merged: list[_Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


# --------------------------------------------------------------------------- patient ids

_ID_VALUE = rf"(?:[A-Z]{{1,3}}-?)?[0-9](?:{_SEP}?[0-9]){{3,}}"
_ID_OBJECT = r"(?i:dossier|s[ée]jour|venue|admission|passage|patient|entr[ée]e)"
_PATIENT_ID = re.compile(
    r"(?<!\w)(?:"
    r"(?i:ipp|iep|nda|nip)"
    rf"|(?i:n[o°]|num(?:[ée]ro)?)\.?\s*(?:(?i:de|du)\s+|(?i:d)['’]\s*)?{_ID_OBJECT}"
    r"|(?i:identifiant|id)\s+(?:(?i:du)\s+)?(?i:patient)"
    r"|(?i:dossier|s[ée]jour|venue)(?:\s+(?i:patient))?\s*(?i:n°|no|num(?:[ée]ro)?)"
    r")(?![^\W\d_])[\s:=#°.\-]*"
    r"(?:(?i:n°|no|num(?:[ée]ro)?)(?![^\W\d_])[\s:=#°.\-]*)?"
    rf"(?!R-?[0-9]{{4}}-[0-9]{{6}})"  # the registry's own dossier number
    rf"{_ID_VALUE}"
    r"|(?<!\w)(?i:dossier|s[ée]jour)\s*[:=#]?\s*[0-9]{6,}(?![0-9/\-])"
)

# --------------------------------------------------------------------------- phone

_PHONE = re.compile(
    # national: 0X + four pairs, one separator used throughout
    rf"(?<![0-9])0[1-9](?P<sep>{_SEP}?)[0-9]{{2}}(?:(?P=sep)[0-9]{{2}}){{3}}(?![0-9])"
    # +33 / 0033, optional (0)
    rf"|(?<![\w+])(?:\+|00)\s?33{_SEP}?(?:\(0\){_SEP}?)?[1-9](?:{_SEP}?[0-9]{{2}}){{4}}(?![0-9])"
    # other international numbers (digit count checked below)
    rf"|(?<![\w+])\+\s?[1-9][0-9]{{0,2}}(?:{_SEP}?\(?[0-9]{{1,4}}\)?){{2,6}}"
)
_DIGIT = re.compile(r"[0-9]")


def _phone_spans(text: str) -> list[_Span]:
    return [m.span() for m in _PHONE.finditer(text) if 9 <= len(_DIGIT.findall(m.group())) <= 17]


# --------------------------------------------------------------------------- birth date

_MONTH = (
    r"(?:janv(?:ier)?|f[ée]vr?(?:ier)?|mars|avr(?:il)?|mai|juin|juil(?:let)?|ao[uû]t"
    r"|sept(?:embre)?|oct(?:obre)?|nov(?:embre)?|d[ée]c(?:embre)?)\.?(?!\w)"
)
_BIRTH = re.compile(
    r"(?:(?<![\w\-])n[ée]e?(?:\s?\(e\))?"  # not "nouveau-né", "mort-né"
    r"|(?<!\w)(?:d\.?\s?d\.?\s?n\.?|date\s+(?:de\s+)?naiss?(?:ance|\.)?|naiss?ance))"
    r"(?!\w)\s*[:=\-]?\s*(?:(?:le|en)(?!\w)\s*)?"
    r"(?:"
    r"[0-3]?[0-9]\s?[/.\-]\s?[01]?[0-9](?:\s?[/.\-]\s?[0-9]{2}(?:[0-9]{2})?)?(?![0-9])"  # 12/03(/1954)
    r"|[01]?[0-9]\s?[/.\-]\s?(?:19|20)[0-9]{2}(?![0-9])"  # 03/1954
    r"|[0-3]?[0-9]\s[01]?[0-9]\s(?:19|20)?[0-9]{2}(?![0-9])"  # 12 03 1954
    r"|[0-3][0-9][01][0-9](?:19|20)?[0-9]{2}(?![0-9])"  # 120354, 12031954
    rf"|(?:[0-3]?[0-9]|1er|premier)\s*{_MONTH}"  # 3 mars (1954)
    rf"|{_MONTH}\s*[0-9]{{2}}(?:[0-9]{{2}})?(?![0-9])"  # mars 1954
    r")",
    re.IGNORECASE,
)

# --------------------------------------------------------------------------- civility

_CAP = "A-ZÀ-ÖØ-ÞŒŸ"
_CIVILITY = re.compile(
    # not inside a word nor an acronym ("S.M.U.R."), but "stable.M. Dupont" is caught
    r"(?<!\w)(?<!(?<!\w)[^\W\d_]\.)"
    r"(?:(?:M|Mr|Mme|MME|Mlle|MLLE|Melle|Dr|DR|Pr)\.\s*"
    r"|(?:Mr|Mme|MME|Mlle|MLLE|Melle|Dr|DR|Pr)\s+"
    r"|(?i:mme|mlle|melle|monsieur|madame|mademoiselle|docteur|professeur)\s+"
    r"|(?:[Nn][ée]e|[ÉéEe]pouse|[ÉéEe]p\.)\s*)"  # maiden / married name
    rf"(?:[{_CAP}]\.\s?(?:-?[{_CAP}]\.\s?)?)?"  # first-name initials: « Mme J. Martin »
    rf"(?:(?:Le|La|De|Du|Des|Van|Von|Di|Da)\s+(?=[{_CAP}])"
    rf"|(?:O|Mc|Mac)['’]?\s?(?=[{_CAP}][a-zß-ÿœ])"
    rf"|[DL]['’]\s?(?=[{_CAP}])"
    rf"|(?:le|la|de|van|von)\s+(?=[{_CAP}][a-zß-ÿœ])|d['’]\s?(?=[{_CAP}][a-zß-ÿœ]))?"
    r"(?!(?:Le|La|Les|De|Du|Des|Un|Une)(?![\w'’]))"
    rf"(?P<name>[{_CAP}][^\W\d_]+)"
)
# Capitalised words that follow a title without being a name: placeholders, roles and
# services or specialties ("Dr SAMU", "Dr Junior", "avis Pr Neuro"), form labels ("Sexe : M. Âge : 45 ans") and common
# sentence starters after a sentence ending with a stray "M." ("stade M. Pas de…").
# fmt: off
_NOT_NAMES = frozenset({
    "xx", "xxx", "yy", "zz", "junior", "senior", "interne", "externe", "inconnu", "inconnue",
    "anonyme", "anonymisé", "samu", "smur", "sau", "sos", "urgences", "urgentiste",
    "régulateur", "régulatrice", "garde", "astreinte", "patient", "patiente",
    "âge", "age", "poids", "taille", "sexe",
    "neuro", "neurochir", "cardio", "chir", "réa", "pédia", "ortho", "uro", "gastro", "pneumo",
    "néphro", "onco", "hémato", "psy", "gériatre", "anesthésiste", "réanimateur",
    "pas", "il", "elle", "ils", "elles", "on", "et", "ou", "puis", "avec", "sans", "pour",
    "par", "sur", "sous", "dans", "chez", "vers", "en", "au", "aux", "ce", "cette", "ces",
    "son", "sa", "ses", "mais", "donc", "car", "ni",
})
# fmt: on


def _has_civility(text: str) -> bool:
    return any(m.group("name").casefold() not in _NOT_NAMES for m in _CIVILITY.finditer(text))


# --------------------------------------------------------------------------- entry point

# Detectors whose matches are masked before running the next ones, in that order.
_MASKING_DETECTORS: tuple[tuple[str, Callable[[str], list[_Span]]], ...] = (
    (REASON_EMAIL, _regex_spans(_EMAIL)),
    (REASON_NIR, _nir_spans),
    (REASON_PATIENT_ID, _regex_spans(_PATIENT_ID)),
    (REASON_PHONE, _phone_spans),
)


def findings(text: str) -> list[str]:
    """French reasons, one per kind of nominative data found in ``text`` (``[]`` if clean).

    The reasons never contain the detected value.
    """
    if not text or text.isspace():
        return []
    work = _normalise(text)
    found: set[str] = set()
    for reason, detector in _MASKING_DETECTORS:
        spans = _merge(detector(work))
        if spans:
            found.add(reason)
            work = _mask(work, spans)
    if _BIRTH.search(work):
        found.add(REASON_BIRTH_DATE)
    if _has_civility(work):
        found.add(REASON_CIVILITY)
    return [reason for reason in REASONS if reason in found]
