"""contact_opt_outs: a debtor's request to stop contact on a channel (a "BAJA" reply,
an agent's disposition, the portal), with its evidence, at one address or for the
whole account; phones.opted_out and accounts.opted_out (0017) hold what the checks
read, written in the same transaction.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 09:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.types import UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "contact_opt_outs",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("account_id", BigId, sa.ForeignKey(
            "accounts.id", ondelete="CASCADE", name="fk_contact_opt_outs_account_id_accounts"),
            nullable=False),
        sa.Column("channel", sa.String(12), nullable=False),
        sa.Column("address", sa.String(254), nullable=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("lifted_at", UTCDateTime(), nullable=True),
        sa.Column("lifted_by", sa.String(80), nullable=True),
        sa.Column("lift_evidence", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_contact_opt_outs"),
    )  # fmt: skip
    op.create_index("ix_contact_opt_outs_account", "contact_opt_outs", ["account_id", "channel"])
    op.create_index("ix_contact_opt_outs_address", "contact_opt_outs", ["address"])


def downgrade() -> None:
    op.drop_index("ix_contact_opt_outs_address", table_name="contact_opt_outs")
    op.drop_index("ix_contact_opt_outs_account", table_name="contact_opt_outs")
    op.drop_table("contact_opt_outs")
