"""protected_persons: accounts say whether the debtor is a protected person (deceased,
a minor, in an insolvency proceeding), with its evidence and when it was set; every
channel's compliance check blocks such an account (compliance/protection.py). A
phone's status may now be `third_party` (the number reaches someone who is not the
debtor): a status string, no schema change.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("protection", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("protection_ref", sa.String(length=100), nullable=True))
        batch.add_column(
            sa.Column("protection_at", store.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        for column in ("protection_at", "protection_ref", "protection"):
            batch.drop_column(column)
