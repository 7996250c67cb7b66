"""registered caller IDs: the numbers a despacho may show, per country (CONDUSEF/REDECO)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registered_caller_ids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registered_caller_ids")),
        sa.UniqueConstraint("number", name=op.f("uq_registered_caller_ids_number")),
    )
    with op.batch_alter_table("registered_caller_ids", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registered_caller_ids_country"), ["country"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("registered_caller_ids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registered_caller_ids_country"))
    op.drop_table("registered_caller_ids")
