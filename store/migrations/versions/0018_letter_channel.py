"""letter_channel: an attempt may be a letter (a formal notice by post, with the
carrier's tracking number and acknowledgement of receipt in its details).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BEFORE = ("call", "sms", "whatsapp", "email", "visit", "chat")
AFTER = (*BEFORE, "letter")


def _check(channels: tuple[str, ...]) -> str:
    return "channel IN (" + ", ".join(f"'{c}'" for c in channels) + ")"


def upgrade() -> None:
    with op.batch_alter_table("call_attempts") as batch:
        batch.drop_constraint(op.f("ck_call_attempts_contact_channel"), type_="check")
        batch.create_check_constraint(op.f("ck_call_attempts_contact_channel"), _check(AFTER))


def downgrade() -> None:
    # Refused while letters exist: their attempt rows are evidence, never dropped here.
    with op.batch_alter_table("call_attempts") as batch:
        batch.drop_constraint(op.f("ck_call_attempts_contact_channel"), type_="check")
        batch.create_check_constraint(op.f("ck_call_attempts_contact_channel"), _check(BEFORE))
