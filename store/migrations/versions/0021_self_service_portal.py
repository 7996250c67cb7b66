"""self_service_portal: the debtor's portal (selfservice/). The identity check's keyed
hash on each account; the portal's gates (a link, a reference, a client address) with
their failures and locks; disputes, supervisor tasks and the documents an operator
attaches to an account; `portal` as a contact channel (what a debtor does there is a
debtor-initiated entry of the contact ledger).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.types import UTCDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BEFORE = ("call", "sms", "whatsapp", "email", "visit", "chat", "letter")
AFTER = (*BEFORE, "portal")


def _check(channels: tuple[str, ...]) -> str:
    return "channel IN (" + ", ".join(f"'{c}'" for c in channels) + ")"


def _fk(table: str, column: str, target: str, **kw: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}", **kw)


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("identity_hash", sa.String(64), nullable=True))
    with op.batch_alter_table("call_attempts") as batch:
        batch.drop_constraint(op.f("ck_call_attempts_contact_channel"), type_="check")
        batch.create_check_constraint(op.f("ck_call_attempts_contact_channel"), _check(AFTER))
    op.create_table(
        "portal_gates",
        sa.Column("key", sa.String(90), nullable=False),
        sa.Column("account_id", BigId, _fk("portal_gates", "account_id", "accounts",
                                            ondelete="CASCADE"), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", UTCDateTime(), nullable=True),
        sa.Column("locked_at", UTCDateTime(), nullable=True),
        sa.Column("verified_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_portal_gates"),
    )  # fmt: skip
    op.create_table(
        "disputes",
        sa.Column("id", BigId, nullable=False),
        sa.Column("account_id", BigId, _fk("disputes", "account_id", "accounts"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_by", sa.Integer(), _fk("disputes", "resolved_by", "users"),
                  nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_disputes"),
    )  # fmt: skip
    op.create_index("ix_disputes_account_id", "disputes", ["account_id"])
    op.create_table(
        "supervisor_tasks",
        sa.Column("id", BigId, nullable=False),
        sa.Column("account_id", BigId, _fk("supervisor_tasks", "account_id", "accounts"),
                  nullable=False),
        sa.Column("campaign_id", sa.Integer(), _fk("supervisor_tasks", "campaign_id",
                                                    "campaigns"), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("ref_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("done_by", sa.Integer(), _fk("supervisor_tasks", "done_by", "users"),
                  nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_supervisor_tasks"),
    )  # fmt: skip
    op.create_index("ix_supervisor_tasks_account_id", "supervisor_tasks", ["account_id"])
    op.create_index("ix_supervisor_tasks_open", "supervisor_tasks", ["status", "campaign_id"])
    op.create_table(
        "account_documents",
        sa.Column("id", BigId, nullable=False),
        sa.Column("account_id", BigId, _fk("account_documents", "account_id", "accounts"),
                  nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("attached_by", sa.String(100), nullable=False),
        sa.Column("attached_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_account_documents"),
    )  # fmt: skip
    op.create_index("ix_account_documents_account_id", "account_documents", ["account_id"])


def downgrade() -> None:
    op.drop_table("account_documents")
    op.drop_table("supervisor_tasks")
    op.drop_table("disputes")
    op.drop_table("portal_gates")
    # Refused while portal entries exist: their attempt rows are evidence, never dropped.
    with op.batch_alter_table("call_attempts") as batch:
        batch.drop_constraint(op.f("ck_call_attempts_contact_channel"), type_="check")
        batch.create_check_constraint(op.f("ck_call_attempts_contact_channel"), _check(BEFORE))
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("identity_hash")
