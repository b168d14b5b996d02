"""Analytics rollups: followed streams, numbered users, series, items, engagement.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tanktop.db import JSONDocument, UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _service_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["service_id"], ["services.id"], name=op.f(f"fk_{table}_service_id_services")
    )


def upgrade() -> None:
    streams = op.create_table(
        "analytics_streams",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("hwm", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("gaps", JSONDocument, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("lease_owner", sa.String(36), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_analytics_streams")),
    )
    op.bulk_insert(
        streams,
        [{"name": name, "hwm": 0, "gaps": [], "version": 0} for name in ("events", "impressions")],
    )
    op.create_table(
        "analytics_users",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("uid", sa.Integer(), nullable=False),
        sa.Column("first_at", UTCDateTime(), nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        _service_fk("analytics_users"),
        sa.PrimaryKeyConstraint("service_id", "user_id", name=op.f("pk_analytics_users")),
        sa.UniqueConstraint("service_id", "uid", name="uq_analytics_users_service_uid"),
    )
    op.create_table(
        "analytics_series",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("grain", sa.String(1), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("item_type", sa.String(64), nullable=False),
        sa.Column("start", UTCDateTime(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("users", sa.Integer(), nullable=False),
        sa.Column("members", sa.LargeBinary(), nullable=False),
        sa.Column("new_users", sa.Integer(), nullable=False),
        sa.Column("new_members", sa.LargeBinary(), nullable=True),
        _service_fk("analytics_series"),
        sa.PrimaryKeyConstraint(
            "service_id", "grain", "event", "item_type", "start", name=op.f("pk_analytics_series")
        ),
    )
    op.create_table(
        "analytics_items",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("item_type", sa.String(64), nullable=False),
        sa.Column("day", UTCDateTime(), nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("members", sa.LargeBinary(), nullable=False),
        _service_fk("analytics_items"),
        sa.PrimaryKeyConstraint(
            "service_id", "event", "item_type", "day", "item_id", name=op.f("pk_analytics_items")
        ),
    )
    op.create_table(
        "analytics_engagement",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("surface", sa.String(80), nullable=False),
        sa.Column("start", UTCDateTime(), nullable=False),
        sa.Column("impressions", sa.BigInteger(), nullable=False),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("engaged", sa.BigInteger(), nullable=False),
        _service_fk("analytics_engagement"),
        sa.PrimaryKeyConstraint(
            "service_id", "surface", "start", name=op.f("pk_analytics_engagement")
        ),
    )


def downgrade() -> None:
    for table in (
        "analytics_engagement",
        "analytics_items",
        "analytics_series",
        "analytics_users",
        "analytics_streams",
    ):
        op.drop_table(table)
