"""conversations + conversation_messages: the debtor's written conversations (portal
chat, SMS, WhatsApp) with the assistant and, once handed over, with an agent of the
chat queue (selfservice/conversations.py).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 12:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.types import UTCDateTime

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("account_id", BigId, sa.ForeignKey(
            "accounts.id", name="fk_conversations_account_id_accounts"), nullable=True),
        sa.Column("channel", sa.String(12), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("dialogue", sa.JSON(), nullable=False),
        sa.Column("handover_reason", sa.String(40), nullable=True),
        sa.Column("skill_group_id", sa.Integer(), sa.ForeignKey(
            "skill_groups.id", name="fk_conversations_skill_group_id_skill_groups"),
            nullable=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey(
            "campaigns.id", name="fk_conversations_campaign_id_campaigns"), nullable=True),
        sa.Column("queued_at", UTCDateTime(), nullable=True),
        sa.Column("agent_id", sa.Integer(), sa.ForeignKey(
            "users.id", name="fk_conversations_agent_id_users"), nullable=True),
        sa.Column("attempt_id", BigId, sa.ForeignKey(
            "call_attempts.id", name="fk_conversations_attempt_id_call_attempts"),
            nullable=True),
        sa.Column("assigned_at", UTCDateTime(), nullable=True),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_message_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("close_reason", sa.String(20), nullable=True),
        sa.CheckConstraint("state IN ('bot', 'queued', 'agent', 'closed')",
                           name="ck_conversations_state"),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
    )  # fmt: skip
    op.create_index("ix_conversations_account_id", "conversations", ["account_id"])
    op.create_index("ix_conversations_address", "conversations", ["channel", "address", "state"])
    op.create_index("ix_conversations_queued", "conversations", ["queued_at"],
                    postgresql_where=sa.text("state = 'queued'"),
                    sqlite_where=sa.text("state = 'queued'"))  # fmt: skip
    op.create_table(
        "conversation_messages",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("conversation_id", BigId, sa.ForeignKey(
            "conversations.id", ondelete="CASCADE",
            name="fk_conversation_messages_conversation_id_conversations"), nullable=False),
        sa.Column("sender", sa.String(10), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("agent_id", sa.Integer(), sa.ForeignKey(
            "users.id", name="fk_conversation_messages_agent_id_users"), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("detail", sa.String(200), nullable=True),
        sa.Column("provider_id", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_conversation_messages"),
    )  # fmt: skip
    op.create_index("ix_conversation_messages_conv", "conversation_messages",
                    ["conversation_id", "id"])  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_conversation_messages_conv", table_name="conversation_messages")
    op.drop_table("conversation_messages")
    op.drop_index("ix_conversations_queued", table_name="conversations")
    op.drop_index("ix_conversations_address", table_name="conversations")
    op.drop_index("ix_conversations_account_id", table_name="conversations")
    op.drop_table("conversations")
