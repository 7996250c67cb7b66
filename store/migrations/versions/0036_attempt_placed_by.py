"""call_attempts.placed_by/placed_via: the dialer process that wrote an outbound
attempt (its hopper-lease owner id) and the Asterisk it dials through. When that
dialer dies, a survivor on the same Asterisk finds its open attempts here, in SQL,
and settles them, also after Redis lost the leases and the heartbeat members that
named it (dialer/loop/reconcile.py). Rows written before are found as before.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-07 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call_attempts") as batch:
        batch.add_column(sa.Column("placed_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("placed_via", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_attempts") as batch:
        batch.drop_column("placed_via")
        batch.drop_column("placed_by")
