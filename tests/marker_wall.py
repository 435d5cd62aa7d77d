"""The confidentiality wall as a table (issue 14, « How this is proven »; SPEC « Mutual
blindness »): a world with a unique marker in every free-text field of each side, in every
state, and the rule that says which account may read which marker. ``test_marker_wall.py``
reads every marker back through every read path and checks it against ``may_see``;
``docs/droits.md`` shows the table (``markdown_lines``).

The world (``tests/factories.py``): ``req`` (CHSF, 91) asks; ``ref`` (Henri-Mondor, 94) and
``other`` (Foch, 92) refuse; ``paris`` (75) is only a pending line's refuser. The dossiers and
reports are in Neurochirurgie, outside the ORL referent's specialties.
"""

from __future__ import annotations

from dataclasses import dataclass

from registre import dossiers, reports
from registre.models import Account, Role

from .apptest_helpers import answer, line_id
from .factories import ACTOR_NAMES, World

OTHER_COORDINATOR = "coordinateur_other"
PROBED_ACCOUNTS = [*ACTOR_NAMES, OTHER_COORDINATOR]
OPERATOR = "exploitant"  # the CLI: whoever runs ``registre`` on the server


@dataclass(frozen=True)
class Marker:
    """A text typed by ``owner``'s side in ``field`` of a record in the state ``state``."""

    record: str  # D1…D6, R1…R3, or « compte »
    state: str
    field: str
    owner: str  # req, ref, other
    # what a field of the requester's (declarer's) side is, for the others:
    transmitted: bool = True  # False: a draft or a line never sent (the requester's own work)
    concerned_reads: bool = False  # a report's description: the concerned side reads it
    admin_reads: bool = False  # an account's display name: the administrator manages it
    current: bool = True  # False: replaced by an edit (kept in the audit trail only)

    @property
    def text(self) -> str:
        return f"marqueur-{self.record.lower()}-{self.field}"


def _markers() -> list[Marker]:
    requester_fields = ("autre-motif-demande", "impact", "commentaires")
    line_fields = ("ligne-autre-motif", "ligne-commentaires")
    out: list[Marker] = []
    for record, state, transmitted in (
        ("D1", "brouillon", False),
        ("D2", "transmis, sans réponse", True),
        ("D3", "répondu par les deux refuseurs", True),
        ("D4", "rouvert, ligne modifiée, retransmis", True),
        ("D5", "abandonné (jamais transmis)", False),
        ("D6", "répondu, rouvert, ligne vers le 75 non transmise", True),
    ):
        out += [Marker(record, state, f, "req", transmitted) for f in requester_fields]
        out += [
            Marker(record, state, f"{f}-ref", "req", transmitted, current=record != "D4")
            for f in line_fields
        ]
    out += [
        Marker("D3", "répondu", "reponse-autre-motif-ref", "ref"),
        Marker("D3", "répondu", "reponse-commentaires-ref", "ref"),
        Marker("D3", "répondu", "reponse-commentaires-other", "other"),
        Marker("D4", "rouvert", "ligne-commentaires-modifiee", "req"),
        Marker("D4", "rouvert", "motif-reouverture", "req"),
        Marker("D4", "répondu avant réouverture", "reponse-commentaires-ref", "ref"),
        Marker("D5", "abandonné", "motif-abandon", "req", transmitted=False),
        Marker("D6", "répondu avant réouverture", "reponse-commentaires-ref", "ref"),
        Marker("D6", "ligne en attente", "ligne-commentaires-paris", "req", transmitted=False),
        Marker("D6", "rouvert", "motif-reouverture", "req"),
        Marker("R1", "répondu", "description", "req", concerned_reads=True),
        Marker("R1", "répondu", "impact", "req"),
        Marker("R1", "répondu", "analyse", "ref"),
        Marker("R1", "répondu", "mesures", "ref"),
        Marker("R2", "en attente", "description", "req", concerned_reads=True),
        Marker("R2", "en attente", "impact", "req"),
        Marker("R3", "retiré", "impact", "req"),
        Marker("R3", "retiré", "motif-retrait", "req"),
        *DISPLAY_NAMES.values(),
    ]
    return out


DISPLAY_NAMES = {
    "declarant_req": Marker("compte", "actif", "nom-declarant-req", "req", admin_reads=True),
    "coordinateur_ref": Marker("compte", "actif", "nom-coordinateur-ref", "ref", admin_reads=True),
}
MARKERS = _markers()
TEXT = {m: m.text for m in MARKERS}
assert len(set(TEXT.values())) == len(MARKERS), "each marker is unique"

# Who may read what: an account's side, and whether it is regional.
SIDE = {
    **{name: "req" for name in ACTOR_NAMES if name.endswith("_req")},
    **{name: "ref" for name in ACTOR_NAMES if name.endswith("_ref")},
    OTHER_COORDINATOR: "other",
}
OUT_OF_SCOPE = {"referent_ref_orl", "ars_75", "admin", OPERATOR}  # Neurochirurgie, 91/94/92


def may_see(account: str, marker: Marker) -> bool:
    """The wall, in one place: a side reads its own texts; the requester never reads a
    refuser's; a refuser reads of the requester's only a report's description (never its
    impact, nor the dossier's texts); the whole-region ARS reads both sides of what was
    transmitted; the ORL referent, the Paris ARS and the CLI read none, the administrator
    only the display names of the accounts it manages."""
    if account == "admin" and marker.admin_reads:
        return True
    if account in OUT_OF_SCOPE:
        return False
    if account == "ars":
        return marker.transmitted
    side = SIDE[account]
    if side == marker.owner:
        return True
    if marker.owner == "req":
        return marker.concerned_reads and side == "ref"
    return False


def build(world: World) -> dict[str, object]:
    """Every marker typed through the core, as each side would; returns the records."""
    other = world.add_account("coordinateur-other", Role.COORDINATEUR, "other")
    with world.db.transaction() as s:
        for name, marker in DISPLAY_NAMES.items():
            account = s.get(Account, world.actor(name).id)
            assert account is not None
            account.display_name = marker.text
    requester = world.actor("declarant_req")
    autre_req = world.request_motif["Autre"]
    autre_ref = world.refusal_motif["Autre"]

    def dossier(record: str, lines: tuple[str, ...] = ("ref", "other")):
        ref = dossiers.create_draft(
            world.db,
            requester,
            world.dossier_input(
                comments=f"marqueur-{record.lower()}-commentaires",
                request_motif_id=autre_req,
                request_other_motif=f"marqueur-{record.lower()}-autre-motif-demande",
                impact=True,
                impact_description=f"marqueur-{record.lower()}-impact",
                final_destination_id=world.destination["Retour à domicile"],
            ),
        )
        record = record.lower()
        for est in lines:
            line = (
                world.line_input(
                    est,
                    refusal_motif_id=autre_ref,
                    other_motif=f"marqueur-{record}-ligne-autre-motif-ref",
                    comments=f"marqueur-{record}-ligne-commentaires-ref",
                )
                if est == "ref"
                else world.line_input(est)
            )
            dossiers.add_line(world.db, requester, ref.id, line)
        return ref

    d1 = dossier("D1")
    d2 = dossier("D2")
    dossiers.finalise(world.db, requester, d2.id)
    d3 = dossier("D3")
    dossiers.finalise(world.db, requester, d3.id)
    answer(
        world,
        d3.id,
        refusal_motif_id=autre_ref,
        other_motif="marqueur-d3-reponse-autre-motif-ref",
        comments="marqueur-d3-reponse-commentaires-ref",
    )
    other_answer = dossiers.AnswerInput(
        understood_motif_id=world.request_motif["Avis spécialisé"],
        refusal_motif_id=world.refusal_motif["Absence de praticien disponible"],
        comments="marqueur-d3-reponse-commentaires-other",
    )
    dossiers.answer(world.db, other, d3.id, line_id(world, d3.id, "other"), other_answer)
    d4 = dossier("D4")
    dossiers.finalise(world.db, requester, d4.id)
    answer(world, d4.id, comments="marqueur-d4-reponse-commentaires-ref")
    coordinator = world.actor("coordinateur_req")
    dossiers.reopen(world.db, coordinator, d4.id, "marqueur-d4-motif-reouverture")
    dossiers.edit_line(
        world.db,
        requester,
        d4.id,
        line_id(world, d4.id, "ref"),
        world.line_input("ref", comments="marqueur-d4-ligne-commentaires-modifiee"),
    )
    dossiers.finalise(world.db, requester, d4.id)
    d5 = dossier("D5")
    dossiers.abandon(world.db, requester, d5.id, "marqueur-d5-motif-abandon")
    d6 = dossier("D6")  # issue 14 § 1: answered by both, then a line to the 75 not yet sent
    dossiers.finalise(world.db, requester, d6.id)
    answer(world, d6.id, comments="marqueur-d6-reponse-commentaires-ref")
    dossiers.answer(world.db, other, d6.id, line_id(world, d6.id, "other"), other_answer)
    dossiers.reopen(world.db, coordinator, d6.id, "marqueur-d6-motif-reouverture")
    dossiers.add_line(
        world.db,
        requester,
        d6.id,
        world.line_input("paris", comments="marqueur-d6-ligne-commentaires-paris"),
    )
    r1 = world.report(
        description="marqueur-r1-description", impact=True, impact_description="marqueur-r1-impact"
    )
    reports.answer(
        world.db,
        world.actor("coordinateur_ref"),
        r1.id,
        reports.ReportAnswerInput(
            analysis="marqueur-r1-analyse", corrective_measures="marqueur-r1-mesures"
        ),
    )
    r2 = world.report(
        description="marqueur-r2-description", impact=True, impact_description="marqueur-r2-impact"
    )
    r3 = world.report(impact=True, impact_description="marqueur-r3-impact")
    reports.withdraw(world.db, requester, r3.id, "marqueur-r3-motif-retrait")
    return {
        "dossiers": [d1, d2, d3, d4, d5, d6],
        "reports": [r1, r2, r3],
    }


PATHS = {
    "pages": "chaque page de son menu (AppTest), dont chaque dossier, brouillon et signalement",
    "exports": "exports CSV de chaque perspective de statistiques (refus, dossiers, non conformes)",
    "statistiques": "chiffres de chaque perspective (refus et non conformes)",
    "mails": "objet et corps de chaque mail de la file d'envoi adressé au compte",
    "journal": "« Journal d'audit » : toutes les entrées et son export CSV",
    "cli": "`registre outbox` (liste de la file d'envoi)",
}
PROBED = {
    "pages": PROBED_ACCOUNTS,
    "exports": PROBED_ACCOUNTS,
    "statistiques": PROBED_ACCOUNTS,
    "mails": PROBED_ACCOUNTS,
    "journal": ["admin"],
    "cli": [OPERATOR],
}


def markdown_lines() -> list[str]:
    """The table in ``docs/droits.md``: for each account, the markers it may read (✅) and
    may not (—), and the read paths where each marker is looked for."""
    lines = [
        "",
        "## Le mur de confidentialité, marqueur par marqueur",
        "",
        "`tests/test_marker_wall.py` tape un marqueur unique dans chaque texte libre de chaque "
        "côté, dans chaque état, puis le cherche par chaque chemin de lecture, pour chaque "
        "compte. ✅ : le compte peut lire ce marqueur ; — : il ne doit le trouver nulle part.",
        "",
        "Chemins de lecture :",
        "",
        *(
            f"- `{key}` : {label} — comptes : {', '.join(PROBED[key])}"
            for key, label in PATHS.items()
        ),
        "",
    ]
    accounts = PROBED_ACCOUNTS
    lines.append("| marqueur | état | côté | " + " | ".join(f"`{a}`" for a in accounts) + " |")
    lines.append("|---|---|---|" + "---|" * len(accounts))
    for m in MARKERS:
        cells = ["✅" if may_see(a, m) else "—" for a in accounts]
        lines.append(f"| `{m.text}` | {m.state} | {m.owner} | " + " | ".join(cells) + " |")
    probes = sum(len(PROBED[p]) for p in PATHS) * len(MARKERS)
    lines += [
        "",
        f"{len(MARKERS)} marqueurs × ({' + '.join(str(len(PROBED[p])) for p in PATHS)}) "
        f"couples compte × chemin = {probes} sondes. Le journal d'audit et la ligne de "
        "commande ne montrent aucun marqueur ; `registre outbox --show N` affiche un mail tel "
        "qu'il est parti : l'exploitant qui le lance a déjà la base en main.",
    ]
    return lines
