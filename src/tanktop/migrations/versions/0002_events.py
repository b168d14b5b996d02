"""Event lists and history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tanktop.db import JSONDocument, UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "list_items",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("item_type", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("value", JSONDocument, nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_list_items_service_id_services")
        ),
        sa.PrimaryKeyConstraint(
            "service_id", "user_id", "event", "item_type", "item_id", name=op.f("pk_list_items")
        ),
    )
    op.create_index(
        "ix_list_items_recent",
        "list_items",
        ["service_id", "user_id", "event", "item_type", "updated_at", "item_id"],
    )
    op.create_table(
        "event_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("item_type", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("value", JSONDocument, nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("origin", sa.String(length=8), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_event_history_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_history")),
    )
    op.create_index("ix_event_history_service_time", "event_history", ["service_id", "at", "id"])
    op.create_index("ix_event_history_user_time", "event_history", ["service_id", "user_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_event_history_user_time", table_name="event_history")
    op.drop_index("ix_event_history_service_time", table_name="event_history")
    op.drop_table("event_history")
    op.drop_index("ix_list_items_recent", table_name="list_items")
    op.drop_table("list_items")
