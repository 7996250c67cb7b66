"""accounts.hopper_since: an account held in a Redis hopper says so in SQL, so a
hopper lost with Redis gives its accounts back instead of leaving them asleep

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hopper_since", store.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_accounts_in_hopper",
            ["campaign_id", "id"],
            unique=False,
            postgresql_where=sa.text("hopper_since IS NOT NULL"),
            sqlite_where=sa.text("hopper_since IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_accounts_in_hopper")
        batch_op.drop_column("hopper_since")
