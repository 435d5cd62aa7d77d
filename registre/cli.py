"""The ``registre`` command: ``init [--demo]``, ``create-user``, ``send-mail``, ``remind``,
``outbox``, ``demo-accounts``."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence

from registre import dossiers, mailer, reports
from registre.accounts import (
    PERSONAL_EMAIL_WARNING,
    AccountInput,
    create_account,
    email_looks_personal,
)
from registre.config import load_settings
from registre.db import get_database
from registre.demo import DEMO_ACCOUNTS, load_demo
from registre.errors import RegistreError, ValidationError
from registre.migrate import upgrade
from registre.models import OutboxStatus, Role
from registre.refdata import load_reference_lists
from registre.timeutil import format_datetime


def _print_demo_accounts(password: str) -> None:
    print(f"Comptes de démonstration (mot de passe : {password}) :")
    for spec in DEMO_ACCOUNTS:
        print(f"  {spec.username:<20} {spec.role.label}")


def cmd_init(args: argparse.Namespace) -> int:
    settings = load_settings()
    upgrade(settings.database_url)
    db = get_database(settings.database_url)
    with db.transaction() as session:
        added = load_reference_lists(session)
    print(
        f"Base de données à jour ({_safe_url(settings.database_url)}) ; "
        f"{added} entrée(s) de référence ajoutée(s)."
    )
    if args.demo:
        counts = load_demo(db, settings.demo_password)
        print(
            f"Données de démonstration : {counts['reference']} référence(s), "
            f"{counts['accounts']} compte(s), {counts['dossiers']} dossier(s), "
            f"{counts['reports']} fonctionnement(s) non conforme(s) ajoutés."
        )
        _print_demo_accounts(settings.demo_password)
    db.optimize()
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_demo_accounts(_args: argparse.Namespace) -> int:
    _print_demo_accounts(load_settings().demo_password)
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    settings = load_settings()
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    if password is None:
        password = getpass.getpass("Mot de passe : ")
        if getpass.getpass("Confirmez le mot de passe : ") != password:
            print("Les deux mots de passe diffèrent.", file=sys.stderr)
            return 2
    db = get_database(settings.database_url)
    data = AccountInput(
        username=args.username,
        display_name=args.name,
        email=args.email,
        role=Role(args.role),
        password=password,
        establishment_finess=args.establishment,
        service_name=args.service,
        specialty_labels=args.specialty or [],
        departements=args.departement or [],
        must_change_password=args.must_change,
    )
    with db.transaction() as session:
        account = create_account(session, data)
        print(f"Compte « {account.username} » créé ({account.role.label}).")
    if email_looks_personal(args.email):
        print(f"Attention : {PERSONAL_EMAIL_WARNING}")
    return 0


def cmd_send_mail(args: argparse.Namespace) -> int:
    settings = load_settings()
    db = get_database(settings.database_url)
    if settings.smtp is None:
        print(
            "Aucun serveur SMTP configuré (REGISTRE_SMTP_HOST) : les mails restent dans la "
            "file d'envoi (voir `registre outbox`)."
        )
    report = mailer.deliver_pending(db, settings, limit=args.limit)
    print(
        f"Envoyés : {report.sent} ; à réessayer : {report.retried} ; en échec : "
        f"{report.failed} ; non traités : {report.skipped}."
    )
    return 0


def cmd_remind(args: argparse.Namespace) -> int:
    settings = load_settings()
    db = get_database(settings.database_url)
    days = args.days if args.days is not None else settings.reminder_days
    count = dossiers.send_reminders(db, days)
    report_count = reports.send_reminders(db, days)
    print(
        f"{count} relance(s) mise(s) en file d'envoi (refus sans réponse depuis plus de "
        f"{days} jours)."
    )
    print(f"{report_count} relance(s) de fonctionnement non conforme mise(s) en file d'envoi.")
    count += report_count
    if args.send and count:
        return cmd_send_mail(argparse.Namespace(limit=500))
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    settings = load_settings()
    db = get_database(settings.database_url)
    if args.show is not None:
        row = mailer.outbox_mail(db, args.show)
        if row is None:
            print("Mail introuvable.", file=sys.stderr)
            return 1
        print(f"À : {row.recipient}\nObjet : {row.subject}\nÉtat : {row.status.value}\n")
        print(row.body)
        return 0
    if args.retry:
        print(f"{mailer.retry_failed(db)} mail(s) en échec remis en file d'envoi.")
        return 0
    status = OutboxStatus(args.status) if args.status else None
    rows = mailer.outbox_rows(db, status=status, limit=args.limit)
    if not rows:
        print("Aucun mail.")
    for r in rows:
        error = f" — {r.last_error}" if r.last_error else ""
        print(
            f"#{r.id:<6} {r.status.value:<10} {format_datetime(r.created_at)}  {r.recipient:<40} "
            f"{r.subject}{error}"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="registre", description="Registre des refus PDSES")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="crée ou met à jour la base (migrations, listes de référence)")
    p.add_argument("--demo", action="store_true", help="ajoute les données de démonstration")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("demo-accounts", help="affiche les comptes de démonstration")
    p.set_defaults(func=cmd_demo_accounts)

    p = sub.add_parser("create-user", help="crée un compte")
    p.add_argument("--username", required=True)
    p.add_argument("--name", required=True, help="nom affiché")
    p.add_argument("--email", required=True, help="une seule adresse, générique de préférence")
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--establishment", help="FINESS de l'établissement")
    p.add_argument("--service", help="nom du service")
    p.add_argument("--specialty", action="append", help="spécialité (Référent PDSES limité)")
    p.add_argument("--departement", action="append", help="département (ARS limité)")
    p.add_argument("--must-change", action="store_true", help="changement de mot de passe imposé")
    p.add_argument("--password-stdin", action="store_true", help="lit le mot de passe sur stdin")
    p.set_defaults(func=cmd_create_user)

    p = sub.add_parser("send-mail", help="envoie les mails en attente")
    p.add_argument("--limit", type=int, default=500)
    p.set_defaults(func=cmd_send_mail)

    p = sub.add_parser("remind", help="relance les refus sans réponse")
    p.add_argument("--days", type=int, default=None)
    p.add_argument("--send", action="store_true", help="envoie aussitôt les relances")
    p.set_defaults(func=cmd_remind)

    p = sub.add_parser("outbox", help="liste les mails de la file d'envoi")
    p.add_argument("--status", choices=[s.value for s in OutboxStatus])
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--show", type=int, metavar="ID", help="affiche un mail")
    p.add_argument("--retry", action="store_true", help="remet en file les mails en échec")
    p.set_defaults(func=cmd_outbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ValidationError as exc:
        for err in exc.errors:
            print(f"Erreur ({err.field}) : {err.message}", file=sys.stderr)
        return 2
    except RegistreError as exc:
        print(f"Erreur : {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
