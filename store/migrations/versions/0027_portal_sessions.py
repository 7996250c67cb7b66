"""portal_sessions: the debtor's verified portal sessions kept server-side, so that
"Salir" (or the end of the session) makes every copy of the cookie worthless at once.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05 20:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.types import UTCDateTime

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("account_id", BigId, sa.ForeignKey(
            "accounts.id", name="fk_portal_sessions_account_id_accounts", ondelete="CASCADE"),
            nullable=False),
        sa.Column("verified_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_portal_sessions"),
    )  # fmt: skip
    op.create_index("ix_portal_sessions_account_id", "portal_sessions", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_portal_sessions_account_id", table_name="portal_sessions")
    op.drop_table("portal_sessions")
