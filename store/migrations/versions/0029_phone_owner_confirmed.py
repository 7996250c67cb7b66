"""phones.owner_confirmed_ref/_at: the evidence that this account's debtor answers the
number as themself. A third-party mark on another account that lists the same number
does not bind this account's number then (compliance/service.py `_with_marked_numbers`;
the mother's own loan is reachable on her own number, her son's loans are not).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06 02:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("phones") as batch:
        batch.add_column(sa.Column("owner_confirmed_ref", sa.String(100), nullable=True))
        batch.add_column(
            sa.Column("owner_confirmed_at", store.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("phones") as batch:
        batch.drop_column("owner_confirmed_at")
        batch.drop_column("owner_confirmed_ref")
