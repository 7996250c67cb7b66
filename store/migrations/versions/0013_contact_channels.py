"""contact_channels: every attempt row says its contact channel (call, sms,
whatsapp, email, visit, chat); the existing attempts are calls. The call's Asterisk
channel name moves to `pbx_channel`; channel-specific details go in `details`.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

CHANNELS = ("call", "sms", "whatsapp", "email", "visit", "chat")
CHECK = "channel IN (" + ", ".join(f"'{c}'" for c in CHANNELS) + ")"


def upgrade() -> None:
    with op.batch_alter_table("call_attempts") as batch:
        batch.alter_column("channel", new_column_name="pbx_channel",
                           existing_type=sa.String(length=120), existing_nullable=True)  # fmt: skip
    with op.batch_alter_table("call_attempts") as batch:
        # Every existing attempt is a call: the server default fills them.
        batch.add_column(
            sa.Column("channel", sa.String(length=12), server_default="call", nullable=False)
        )
        batch.add_column(sa.Column("details", sa.JSON(), nullable=True))
        batch.create_check_constraint(op.f("ck_call_attempts_contact_channel"), CHECK)


def downgrade() -> None:
    with op.batch_alter_table("call_attempts") as batch:
        batch.drop_constraint(op.f("ck_call_attempts_contact_channel"), type_="check")
        batch.drop_column("details")
        batch.drop_column("channel")
    with op.batch_alter_table("call_attempts") as batch:
        batch.alter_column("pbx_channel", new_column_name="channel",
                           existing_type=sa.String(length=120), existing_nullable=True)  # fmt: skip
