"""attempt_address: an attempt on a channel that reaches no phone (e-mail, a field
visit, a chat) has no number: `phone_e164` becomes optional, required still for the
phone channels (call, sms, whatsapp) by a check, and `address` holds the e-mail or
street address such an attempt went to.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

PHONE_CHANNELS = ("call", "sms", "whatsapp")
CHECK = (
    "phone_e164 IS NOT NULL OR channel NOT IN (" + ", ".join(f"'{c}'" for c in PHONE_CHANNELS) + ")"
)


def upgrade() -> None:
    with op.batch_alter_table("call_attempts") as batch:
        batch.alter_column("phone_e164", existing_type=sa.String(length=20), nullable=True)
        batch.add_column(sa.Column("address", sa.String(length=320), nullable=True))
        batch.create_check_constraint(op.f("ck_call_attempts_phone_channel_has_number"), CHECK)


def downgrade() -> None:
    with op.batch_alter_table("call_attempts") as batch:
        batch.drop_constraint(op.f("ck_call_attempts_phone_channel_has_number"), type_="check")
        batch.drop_column("address")
        batch.alter_column("phone_e164", existing_type=sa.String(length=20), nullable=False)
