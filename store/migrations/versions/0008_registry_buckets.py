"""registry buckets: the numbers of every registry import, durable in SQL, so
Redis is reloaded from them after a restart or a loss

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 03:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_buckets",
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("numbers", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["registry_imports.id"],
            name=op.f("fk_registry_buckets_import_id_registry_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("import_id", "bucket", name=op.f("pk_registry_buckets")),
    )


def downgrade() -> None:
    op.drop_table("registry_buckets")
