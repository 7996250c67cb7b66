"""recordings_open: the open-recordings ledger moves from Redis to SQL, so a
recording asked for before a crash or a Redis loss is still finalized

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recordings_open",
        sa.Column(
            "attempt_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("campaign", sa.String(length=100), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("pbx_path", sa.String(length=500), nullable=False),
        sa.Column("started_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("failure", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["call_attempts.id"],
            name=op.f("fk_recordings_open_attempt_id_call_attempts"),
        ),
        sa.PrimaryKeyConstraint("attempt_id", name=op.f("pk_recordings_open")),
    )
    with op.batch_alter_table("recordings_open", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recordings_open_campaign"), ["campaign"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("recordings_open", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recordings_open_campaign"))
    op.drop_table("recordings_open")
