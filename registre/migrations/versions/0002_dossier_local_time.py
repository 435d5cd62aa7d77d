"""dossiers: the Paris day, weekday and hour of the request, for the statistics

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 05:45:00
"""

from collections.abc import Sequence
from datetime import UTC
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARIS = ZoneInfo("Europe/Paris")
COLUMNS = ("requested_day", "requested_weekday", "requested_hour")


def upgrade() -> None:
    with op.batch_alter_table("dossiers") as batch_op:
        batch_op.add_column(sa.Column("requested_day", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("requested_weekday", sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column("requested_hour", sa.SmallInteger(), nullable=True))

    # Existing dossiers: the same computation as ``registre.transitions.time_facts``
    # (``requested_at`` is stored as naive UTC).
    bind = op.get_bind()
    dossiers = sa.table(
        "dossiers",
        sa.column("id", sa.Integer()),
        sa.column("requested_at", sa.DateTime()),
        sa.column("requested_day", sa.Date()),
        sa.column("requested_weekday", sa.SmallInteger()),
        sa.column("requested_hour", sa.SmallInteger()),
    )
    rows = bind.execute(sa.select(dossiers.c.id, dossiers.c.requested_at)).all()
    for dossier_id, requested_at in rows:
        local = requested_at.replace(tzinfo=UTC).astimezone(PARIS)
        bind.execute(
            dossiers.update()
            .where(dossiers.c.id == dossier_id)
            .values(
                requested_day=local.date(),
                requested_weekday=local.weekday(),
                requested_hour=local.hour,
            )
        )

    with op.batch_alter_table("dossiers") as batch_op:
        for name in COLUMNS:
            batch_op.alter_column(
                name,
                existing_type=sa.Date() if name == "requested_day" else sa.SmallInteger(),
                nullable=False,
            )


def downgrade() -> None:
    with op.batch_alter_table("dossiers") as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
