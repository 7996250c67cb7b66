"""unproven_reply_texts: what an unproven inbound message said, kept where retention
applies (console/unproven_replies.py purge_texts) instead of in its `reply_unproven`
audit entry, which from now on keeps a SHA-256 and the length of the subject and text.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "unproven_reply_texts",
        sa.Column("entry_id", BigId, nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["audit_entries.id"],
            name=op.f("fk_unproven_reply_texts_entry_id_audit_entries"),
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_unproven_reply_texts")),
    )


def downgrade() -> None:
    op.drop_table("unproven_reply_texts")
