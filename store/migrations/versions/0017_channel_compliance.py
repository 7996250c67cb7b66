"""channel_compliance: what the compliance checks of every channel read. Accounts
gain the debtor's e-mail with its consent and status, a visit authorisation (CO) and
account-wide opt-outs; phones gain the channels the debtor authorised on the number
(a consented number is authorised for calls only until told otherwise) and the
channels opted out of; decisions say their channel and, for e-mail, the address.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch.add_column(
            sa.Column("email_consent", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column("email_consent_ref", sa.String(length=100), nullable=True))
        batch.add_column(
            sa.Column("email_consent_at", store.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("email_status", sa.String(length=20), server_default="active", nullable=False)
        )
        batch.add_column(sa.Column("visit_authorisation_ref", sa.String(length=100), nullable=True))
        batch.add_column(
            sa.Column("opted_out", sa.String(length=60), server_default="", nullable=False)
        )
    with op.batch_alter_table("phones") as batch:
        # Every existing number was dialed under its consent: authorised for calls.
        batch.add_column(
            sa.Column("channels", sa.String(length=60), server_default="call", nullable=False)
        )
        batch.add_column(
            sa.Column("opted_out", sa.String(length=60), server_default="", nullable=False)
        )
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(
            sa.Column("channel", sa.String(length=12), server_default="call", nullable=False)
        )
        batch.add_column(sa.Column("address", sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("address")
        batch.drop_column("channel")
    with op.batch_alter_table("phones") as batch:
        batch.drop_column("opted_out")
        batch.drop_column("channels")
    with op.batch_alter_table("accounts") as batch:
        for column in ("opted_out", "visit_authorisation_ref", "email_status",
                       "email_consent_at", "email_consent_ref", "email_consent", "email"):  # fmt: skip
            batch.drop_column(column)
