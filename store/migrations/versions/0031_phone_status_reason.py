"""phones.status_at/_reason/_evidence: since when and why a number has its status when
the system or a supervisor set it. A number the carrier twice said does not exist (two
`invalid_number` results at least 24 h apart, nothing answered between) is marked
invalid with the attempts that prove it; a supervisor's reactivation keeps its reason
(store/number_validity.py). The agent reads them on the account page.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 02:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("phones") as batch:
        batch.add_column(
            sa.Column("status_at", store.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("status_reason", sa.String(40), nullable=True))
        batch.add_column(sa.Column("status_evidence", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("phones") as batch:
        batch.drop_column("status_evidence")
        batch.drop_column("status_reason")
        batch.drop_column("status_at")
