"""outreach_strategies: an account's stage has its entry time and the scheduler's next
look (accounts.stage_entered_at, next_step_at); each strategy step run for an account
is one row (outreach_steps, unique per account and key); the scheduler's cursors over
promises made or resolved.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.types import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("stage_entered_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("next_step_at", UTCDateTime(), nullable=True))
        batch.create_index("ix_accounts_next_step", ["campaign_id", "next_step_at"])
    op.create_index("ix_promises_created_at", "promises", ["created_at"])
    op.create_index("ix_promises_resolved_at", "promises", ["resolved_at"])
    op.create_table(
        "outreach_steps",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("account_id", BigId, sa.ForeignKey("accounts.id", ondelete="CASCADE",
                                                     name="fk_outreach_steps_account_id_accounts"),
                  nullable=False),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey(
            "campaigns.id", name="fk_outreach_steps_campaign_id_campaigns"), nullable=True),
        sa.Column("key", sa.String(80), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(12), nullable=False),
        sa.Column("template", sa.String(60), nullable=True),
        sa.Column("event", sa.String(20), nullable=True),
        sa.Column("promise_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("not_before", UTCDateTime(), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("decision_id", BigId, sa.ForeignKey(
            "decisions.id", name="fk_outreach_steps_decision_id_decisions"), nullable=True),
        sa.Column("attempt_id", BigId, sa.ForeignKey(
            "call_attempts.id", name="fk_outreach_steps_attempt_id_call_attempts"), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outreach_steps"),
        sa.UniqueConstraint("account_id", "key", name="uq_outreach_steps_account_key"),
    )  # fmt: skip
    op.create_index("ix_outreach_steps_attempt_id", "outreach_steps", ["attempt_id"])
    op.create_index(
        "ix_outreach_steps_campaign_decided", "outreach_steps", ["campaign_id", "decided_at"]
    )
    op.create_table(
        "outreach_cursors",
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_outreach_cursors"),
    )


def downgrade() -> None:
    op.drop_table("outreach_cursors")
    op.drop_index("ix_outreach_steps_campaign_decided", table_name="outreach_steps")
    op.drop_index("ix_outreach_steps_attempt_id", table_name="outreach_steps")
    op.drop_table("outreach_steps")
    op.drop_index("ix_promises_resolved_at", table_name="promises")
    op.drop_index("ix_promises_created_at", table_name="promises")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_index("ix_accounts_next_step")
        batch.drop_column("next_step_at")
        batch.drop_column("stage_entered_at")
