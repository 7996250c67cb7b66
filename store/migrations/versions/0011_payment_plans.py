"""payment_plans: settlements and instalment plans agreed on a call (a plan above
the agent's limits waits for a supervisor); promises learn which plan and which
instalment they are, and the open ones past their date are found by an index

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "payment_plans",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("attempt_id", BIG_ID, nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("balance", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("total", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("discount", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("interval", sa.String(length=20), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("approval_reasons", sa.JSON(), nullable=False),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_payment_plans_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["call_attempts.id"],
            name=op.f("fk_payment_plans_attempt_id_call_attempts"),
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_payment_plans_agent_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_payment_plans_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_payment_plans_decided_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_plans")),
    )
    with op.batch_alter_table("payment_plans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_plans_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            "ix_payment_plans_status_campaign", ["status", "campaign_id"], unique=False
        )
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.add_column(sa.Column("plan_id", BIG_ID, nullable=True))
        batch_op.add_column(sa.Column("instalment", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_promises_plan_id_payment_plans"), "payment_plans", ["plan_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_promises_plan_id"), ["plan_id"], unique=False)
        batch_op.create_index(
            "ix_promises_open_due",
            ["due_date"],
            unique=False,
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.drop_index("ix_promises_open_due")
        batch_op.drop_index(batch_op.f("ix_promises_plan_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_promises_plan_id_payment_plans"), type_="foreignkey"
        )
        batch_op.drop_column("instalment")
        batch_op.drop_column("plan_id")
    with op.batch_alter_table("payment_plans", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_plans_status_campaign")
        batch_op.drop_index(batch_op.f("ix_payment_plans_account_id"))
    op.drop_table("payment_plans")
