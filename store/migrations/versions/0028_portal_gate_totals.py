"""portal_gates.total_failures: wrong answers on a reference since its last success or
unlock, never reset by time; at REFERENCE_HOLD_FAILURES the reference stays locked
until a person unlocks it (selfservice/identity.py).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("portal_gates") as batch:
        batch.add_column(sa.Column("total_failures", sa.Integer(), nullable=False,
                                   server_default="0"))  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("portal_gates") as batch:
        batch.drop_column("total_failures")
