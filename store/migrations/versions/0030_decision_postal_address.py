"""decisions.address holds a letter's postal address too (up to 300 characters, the
accounts' column), not only an e-mail address (254): widened to 320, as
call_attempts.address. An auditor sees where a letter was allowed or refused to go.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.alter_column(
            "address", existing_type=sa.String(length=254), type_=sa.String(length=320)
        )


def downgrade() -> None:
    # A postal address longer than an e-mail's bound is cut to it (its decision's audit
    # entry keeps it whole).
    op.execute("UPDATE decisions SET address = substr(address, 1, 254) WHERE length(address) > 254")
    with op.batch_alter_table("decisions") as batch:
        batch.alter_column(
            "address", existing_type=sa.String(length=320), type_=sa.String(length=254)
        )
