"""open attempts index: the reconciliations of dead dialers find open attempts
without scanning the call history

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_call_attempts_open",
            ["started_at"],
            unique=False,
            postgresql_where=sa.text("result IS NULL"),
            sqlite_where=sa.text("result IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_call_attempts_open")
