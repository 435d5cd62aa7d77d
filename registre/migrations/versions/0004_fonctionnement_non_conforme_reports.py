"""fonctionnement non conforme reports

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 08:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "report_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_report_counters")),
    )
    op.create_table(
        "report_types",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("sort_order", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_types")),
        sa.UniqueConstraint("label", name=op.f("uq_report_types_label")),
    )
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "reponse_attendue",
                "repondu",
                "retire",
                name="report_state",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("declaring_establishment_id", sa.Integer(), nullable=False),
        sa.Column("concerned_establishment_id", sa.Integer(), nullable=False),
        sa.Column("specialty_id", sa.Integer(), nullable=False),
        sa.Column("report_type_id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("in_pdses_hours", sa.Boolean(), nullable=False),
        sa.Column("occurred_day", sa.Date(), nullable=False),
        sa.Column("occurred_weekday", sa.SmallInteger(), nullable=False),
        sa.Column("occurred_hour", sa.SmallInteger(), nullable=False),
        sa.Column("is_line_holder", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("impact", sa.Boolean(), nullable=False),
        sa.Column("impact_description", sa.Text(), nullable=True),
        sa.Column("analysis", sa.Text(), nullable=True),
        sa.Column("corrective_measures", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("reminded_at", sa.DateTime(), nullable=True),
        sa.Column("impact_notified_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("creation_token", sa.String(length=64), nullable=True),
        sa.CheckConstraint("version >= 1", name=op.f("ck_reports_version_positive")),
        sa.ForeignKeyConstraint(
            ["answered_by_id"], ["accounts.id"], name=op.f("fk_reports_answered_by_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["concerned_establishment_id"],
            ["establishments.id"],
            name=op.f("fk_reports_concerned_establishment_id_establishments"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["accounts.id"], name=op.f("fk_reports_created_by_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["declaring_establishment_id"],
            ["establishments.id"],
            name=op.f("fk_reports_declaring_establishment_id_establishments"),
        ),
        sa.ForeignKeyConstraint(
            ["report_type_id"],
            ["report_types.id"],
            name=op.f("fk_reports_report_type_id_report_types"),
        ),
        sa.ForeignKeyConstraint(
            ["specialty_id"], ["specialties.id"], name=op.f("fk_reports_specialty_id_specialties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("creation_token", name=op.f("uq_reports_creation_token")),
        sa.UniqueConstraint("number", name=op.f("uq_reports_number")),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reports_concerned_state",
            ["concerned_establishment_id", "state", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_reports_declaring_latest",
            ["declaring_establishment_id", "occurred_at"],
            unique=False,
        )
        batch_op.create_index("ix_reports_occurred_at", ["occurred_at"], unique=False)

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_entity", ["entity", "entity_id", "at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_entity")

    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_occurred_at")
        batch_op.drop_index("ix_reports_declaring_latest")
        batch_op.drop_index("ix_reports_concerned_state")

    op.drop_table("reports")
    op.drop_table("report_types")
    op.drop_table("report_counters")
