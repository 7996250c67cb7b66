"""skill groups: agents who take a campaign's inbound calls first

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "skill_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skill_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_skill_groups_name")),
    )
    op.create_table(
        "skill_group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("added_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["skill_groups.id"],
                                name=op.f("fk_skill_group_members_group_id_skill_groups")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_skill_group_members_user_id_users")),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_skill_group_members")),
    )  # fmt: skip
    with op.batch_alter_table("skill_group_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_skill_group_members_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("skill_group_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_skill_group_members_user_id"))
    op.drop_table("skill_group_members")
    op.drop_table("skill_groups")
