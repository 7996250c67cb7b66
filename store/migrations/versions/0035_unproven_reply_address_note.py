"""unproven_reply_texts.address and unproven_replies_handled.note / words_purged_at:
the sender's address of an unproven inbound message and the supervisor's note on it,
kept where retention applies (console/unproven_replies.py purge_texts) instead of in
their `reply_unproven` and `reply_unproven_handled` audit entries, which from now on
keep a SHA-256 and the length of each. Entries written before stay as they are (the
audit log is append-only); the notes of mails already handled are copied here from
their entries so the handled list shows them until the retention deletes them.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-07 19:40:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("unproven_reply_texts") as batch:
        batch.add_column(sa.Column("address", sa.String(254), nullable=True))
    with op.batch_alter_table("unproven_replies_handled") as batch:
        batch.add_column(sa.Column("note", sa.String(500), nullable=True))
        batch.add_column(
            sa.Column("words_purged_at", store.types.UTCDateTime(timezone=True), nullable=True)
        )
    bind = op.get_bind()
    handled = sa.table(
        "unproven_replies_handled", sa.column("entry_id", sa.Integer), sa.column("note", sa.String)
    )
    entries = bind.execute(
        sa.text("SELECT payload FROM audit_entries WHERE kind = 'reply_unproven_handled'")
    )
    for (payload,) in entries:
        try:
            said = json.loads(payload)
        except ValueError:
            continue
        if isinstance(said, dict) and isinstance(said.get("entry_id"), int):
            note = said.get("note")
            bind.execute(
                handled.update()
                .where(handled.c.entry_id == said["entry_id"])
                .values(note=note[:500] if isinstance(note, str) else "")
            )


def downgrade() -> None:
    with op.batch_alter_table("unproven_replies_handled") as batch:
        batch.drop_column("words_purged_at")
        batch.drop_column("note")
    with op.batch_alter_table("unproven_reply_texts") as batch:
        batch.drop_column("address")
