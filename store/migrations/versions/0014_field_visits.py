"""field_visits: accounts gain an address and its coordinates, users a territory
(field agents, role `field`); visits planned per agent and day, the keys of the
field app's synced operations, shifts and the positions reported during them

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INSTANT = store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("address", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch.add_column(sa.Column("longitude", sa.Float(), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("territory", sa.String(length=64), nullable=True))

    op.create_table(
        "field_shifts",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("started_at", INSTANT, nullable=False),
        sa.Column("ended_at", INSTANT, nullable=True),
        sa.Column("consent_at", INSTANT, nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name=op.f("fk_field_shifts_agent_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_shifts")),
    )  # fmt: skip
    op.create_index(op.f("ix_field_shifts_agent_id"), "field_shifts", ["agent_id"], unique=False)
    op.create_table(
        "field_positions",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("shift_id", BIG_ID, nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("at", INSTANT, nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("battery", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name=op.f("fk_field_positions_agent_id_users")),
        sa.ForeignKeyConstraint(["shift_id"], ["field_shifts.id"], name=op.f("fk_field_positions_shift_id_field_shifts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_positions")),
    )  # fmt: skip
    op.create_index("ix_field_positions_agent_at", "field_positions", ["agent_id", "at"], unique=False)  # fmt: skip
    op.create_index(op.f("ix_field_positions_at"), "field_positions", ["at"], unique=False)
    op.create_table(
        "field_visits",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("route_position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("planned_by", sa.Integer(), nullable=True),
        sa.Column("plan_decision_id", BIG_ID, nullable=True),
        sa.Column("attempt_id", BIG_ID, nullable=True),
        sa.Column("checked_in_at", INSTANT, nullable=True),
        sa.Column("ended_at", INSTANT, nullable=True),
        sa.Column("answers", sa.JSON(), nullable=True),
        sa.Column("photo", sa.LargeBinary(), nullable=True),
        sa.Column("photo_type", sa.String(length=20), nullable=True),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_field_visits_account_id_accounts")),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name=op.f("fk_field_visits_agent_id_users")),
        sa.ForeignKeyConstraint(["attempt_id"], ["call_attempts.id"], name=op.f("fk_field_visits_attempt_id_call_attempts")),
        sa.ForeignKeyConstraint(["plan_decision_id"], ["decisions.id"], name=op.f("fk_field_visits_plan_decision_id_decisions")),
        sa.ForeignKeyConstraint(["planned_by"], ["users.id"], name=op.f("fk_field_visits_planned_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_visits")),
    )  # fmt: skip
    op.create_index(op.f("ix_field_visits_account_id"), "field_visits", ["account_id"], unique=False)  # fmt: skip
    op.create_index("ix_field_visits_agent_day", "field_visits", ["agent_id", "day"], unique=False)
    op.create_index("ix_field_visits_day_status", "field_visits", ["day", "status"], unique=False)
    op.create_table(
        "field_sync_keys",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name=op.f("fk_field_sync_keys_agent_id_users")),
        sa.ForeignKeyConstraint(["visit_id"], ["field_visits.id"], name=op.f("fk_field_sync_keys_visit_id_field_visits")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_field_sync_keys")),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("field_sync_keys")
    op.drop_index("ix_field_visits_day_status", table_name="field_visits")
    op.drop_index("ix_field_visits_agent_day", table_name="field_visits")
    op.drop_index(op.f("ix_field_visits_account_id"), table_name="field_visits")
    op.drop_table("field_visits")
    op.drop_index(op.f("ix_field_positions_at"), table_name="field_positions")
    op.drop_index("ix_field_positions_agent_at", table_name="field_positions")
    op.drop_table("field_positions")
    op.drop_index(op.f("ix_field_shifts_agent_id"), table_name="field_shifts")
    op.drop_table("field_shifts")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("territory")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("longitude")
        batch.drop_column("latitude")
        batch.drop_column("address")
