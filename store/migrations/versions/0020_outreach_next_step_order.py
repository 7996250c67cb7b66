"""outreach_next_step_order: the scheduler reads never-planned accounts in id order and
due ones in next_step_at order; with id in the index both are index range scans
(before, the never-planned read walked the primary key past every planned account:
quadratic over a large portfolio).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 09:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_index("ix_accounts_next_step")
        batch.create_index("ix_accounts_next_step", ["campaign_id", "next_step_at", "id"])


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_index("ix_accounts_next_step")
        batch.create_index("ix_accounts_next_step", ["campaign_id", "next_step_at"])
