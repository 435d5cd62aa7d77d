"""Reading the database back in the action tests (the outcome, never the code's word)."""

from __future__ import annotations

from sqlalchemy import func, select

from registre.models import AuditEntry, Dossier, OutboxMail, RefuserLine


def counts(world) -> dict[str, int]:
    """Rows of the tables an action may write: a refused action leaves them unchanged."""
    with world.db.read() as s:
        return {
            model.__tablename__: s.scalar(select(func.count()).select_from(model)) or 0
            for model in (Dossier, RefuserLine, AuditEntry, OutboxMail)
        }


def load(world, dossier_id: int) -> Dossier:
    with world.db.read() as s:
        dossier = s.get(Dossier, dossier_id)
        assert dossier is not None
        list(dossier.lines)
        return dossier


def lines_of(world, dossier_id: int) -> list[RefuserLine]:
    with world.db.read() as s:
        return list(
            s.scalars(
                select(RefuserLine)
                .where(RefuserLine.dossier_id == dossier_id)
                .order_by(RefuserLine.id)
            )
        )


def get_line(world, line_id: int) -> RefuserLine:
    with world.db.read() as s:
        line = s.get(RefuserLine, line_id)
        assert line is not None
        return line
