"""payments.refunded: how much of a provider's payment has been reversed so far. A
partial refund (Mercado Pago keeps the payment `approved` and raises
`transaction_amount_refunded`) undoes only its part, once per amount; a payment already
reversed in full (reversed_at) counts as refunded in full.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 15:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("refunded", sa.Numeric(precision=14, scale=2),
                                   nullable=False, server_default="0"))  # fmt: skip
    op.execute("UPDATE payments SET refunded = amount WHERE reversed_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("refunded")
