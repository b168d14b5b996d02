"""Catalog items, offers, schedule slots and the catalog change log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tanktop.db import JSONDocument, UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "catalog_items",
        sa.Column("item_type", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("genres", JSONDocument, nullable=False),
        sa.Column("sport", sa.String(length=100), nullable=True),
        sa.Column("teams", JSONDocument, nullable=False),
        sa.Column("programme_id", sa.String(length=64), nullable=True),
        sa.Column("season", sa.Integer(), nullable=True),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("item_type", "item_id", name=op.f("pk_catalog_items")),
    )
    op.create_index(
        "ix_catalog_items_programme", "catalog_items", ["programme_id", "season", "number"]
    )
    op.create_table(
        "offers",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("item_type", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("hd", sa.Boolean(), nullable=False),
        sa.Column("available_from", UTCDateTime(), nullable=True),
        sa.Column("available_until", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_type", "item_id"],
            ["catalog_items.item_type", "catalog_items.item_id"],
            name=op.f("fk_offers_item_type_catalog_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
    )
    op.create_index("ix_offers_item", "offers", ["item_type", "item_id"])
    op.create_table(
        "schedule_slots",
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("start", UTCDateTime(), nullable=False),
        sa.Column("end", UTCDateTime(), nullable=False),
        sa.Column("item_type", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("channel_id", "start", name=op.f("pk_schedule_slots")),
    )
    op.create_index("ix_schedule_slots_item", "schedule_slots", ["item_type", "item_id"])
    op.create_table(
        "catalog_changes",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_type", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=True),
        sa.Column("slot_start", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_changes")),
    )


def downgrade() -> None:
    op.drop_table("catalog_changes")
    op.drop_index("ix_schedule_slots_item", table_name="schedule_slots")
    op.drop_table("schedule_slots")
    op.drop_index("ix_offers_item", table_name="offers")
    op.drop_table("offers")
    op.drop_index("ix_catalog_items_programme", table_name="catalog_items")
    op.drop_table("catalog_items")
