"""payments.applied (what recording a payment changed: the balance it took, the
status before, each promise's share), reversed_at and reversal (the provider's status
that reversed it: refunded, charged_back): a refund or charge-back undoes the payment
once, from what it did.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.types import UTCDateTime

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("applied", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("reversed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("reversal", sa.String(20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("reversal")
        batch.drop_column("reversed_at")
        batch.drop_column("applied")
