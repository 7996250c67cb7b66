"""agent_breaks: the supervisors' break plan (an agent's scheduled breaks, by local
start time, weekdays, length, pause reason and IANA zone) and agent_breaks_taken (one
row per break and local day once the console asked for it, so a restart never asks
twice).

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_breaks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("weekdays", sa.String(length=27), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "start_minute >= 0 AND start_minute < 1440",
            name=op.f("ck_agent_breaks_start_minute"),
        ),
        sa.CheckConstraint("minutes > 0", name=op.f("ck_agent_breaks_minutes")),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_agent_breaks_agent_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_agent_breaks_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_breaks")),
    )
    op.create_index(op.f("ix_agent_breaks_agent_id"), "agent_breaks", ["agent_id"])
    op.create_table(
        "agent_breaks_taken",
        sa.Column("break_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("taken_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["break_id"],
            ["agent_breaks.id"],
            name=op.f("fk_agent_breaks_taken_break_id_agent_breaks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("break_id", "day", name=op.f("pk_agent_breaks_taken")),
    )


def downgrade() -> None:
    op.drop_table("agent_breaks_taken")
    op.drop_index(op.f("ix_agent_breaks_agent_id"), table_name="agent_breaks")
    op.drop_table("agent_breaks")
