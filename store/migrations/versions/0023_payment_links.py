"""payment_links: links where a debtor pays at a provider (Mercado Pago Checkout Pro);
payments.provider + provider_payment_id: a provider's payment is recorded once, however
many notifications report it.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 12:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.types import UTCDateTime

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Money = sa.Numeric(14, 2)


def upgrade() -> None:
    op.create_table(
        "payment_links",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("account_id", BigId, sa.ForeignKey(
            "accounts.id", name="fk_payment_links_account_id_accounts"), nullable=False),
        sa.Column("reference", sa.String(40), nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("provider_ref", sa.String(120), nullable=True),
        sa.Column("url", sa.String(500), nullable=True),
        sa.Column("amount", Money, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("paid_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_payment_links"),
        sa.UniqueConstraint("reference", name="uq_payment_links_reference"),
    )  # fmt: skip
    op.create_index("ix_payment_links_account_id", "payment_links", ["account_id"])
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("provider", sa.String(20), nullable=True))
        batch.add_column(sa.Column("provider_payment_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("payment_link_id", BigId, nullable=True))
        batch.create_foreign_key("fk_payments_payment_link_id_payment_links", "payment_links",
                                 ["payment_link_id"], ["id"])  # fmt: skip
        batch.create_unique_constraint("uq_payments_provider_payment",
                                       ["provider", "provider_payment_id"])  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_constraint("uq_payments_provider_payment", type_="unique")
        batch.drop_constraint("fk_payments_payment_link_id_payment_links", type_="foreignkey")
        batch.drop_column("payment_link_id")
        batch.drop_column("provider_payment_id")
        batch.drop_column("provider")
    op.drop_index("ix_payment_links_account_id", table_name="payment_links")
    op.drop_table("payment_links")
