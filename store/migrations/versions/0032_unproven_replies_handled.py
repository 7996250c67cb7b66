"""unproven_replies_handled: the inbound messages whose sender was not proven
(`reply_unproven` audit entries) that a supervisor has read and dealt with
(console/unproven_replies.py); the primary key closes each one once.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "unproven_replies_handled",
        sa.Column("entry_id", BigId, nullable=False),
        sa.Column("handled_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("handled_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["audit_entries.id"],
            name=op.f("fk_unproven_replies_handled_entry_id_audit_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["handled_by"], ["users.id"], name=op.f("fk_unproven_replies_handled_handled_by_users")
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_unproven_replies_handled")),
    )


def downgrade() -> None:
    op.drop_table("unproven_replies_handled")
