"""audit_merkle_log: the audit entries become the leaves of an RFC 9162 Merkle
tree with signed checkpoints; existing entries are queued for the tree as they
are (no entry is rewritten: their chained hashes stay part of their leaves)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_pending",
        sa.Column("entry_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["audit_entries.id"], name=op.f("fk_audit_pending_entry_id_audit_entries")
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_audit_pending")),
    )
    op.create_table(
        "audit_leaves",
        sa.Column("leaf_index", BigId, nullable=False),
        sa.Column("entry_id", BigId, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["audit_entries.id"], name=op.f("fk_audit_leaves_entry_id_audit_entries")
        ),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_audit_leaves")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_audit_leaves_entry_id")),
    )
    op.create_table(
        "audit_nodes",
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("idx", BigId, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_audit_nodes")),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", BigId, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("signed_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_checkpoints")),
    )
    op.create_table(
        "audit_witness_state",
        sa.Column("witness", sa.String(length=200), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=True),
        sa.Column("last_ok_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("last_error_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("witness", name=op.f("pk_audit_witness_state")),
    )
    # Every entry already written waits for the integrator, in id order (the
    # order the old chain proved); nothing in audit_entries changes.
    op.execute("INSERT INTO audit_pending (entry_id) SELECT id FROM audit_entries")


def downgrade() -> None:
    op.drop_table("audit_witness_state")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_nodes")
    op.drop_table("audit_leaves")
    op.drop_table("audit_pending")
