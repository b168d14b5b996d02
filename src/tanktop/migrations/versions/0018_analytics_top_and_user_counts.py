"""Analytics: item rows keyed item before day, ranked per day (top lists read each day's
leaders, then a few items' exact totals); per-user event counts kept as rollups, counted here
from the history the rollups have already read.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tanktop.db import UTCDateTime

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ITEMS_KEY = ["service_id", "event", "item_type", "day", "item_id"]
NEW_ITEMS_KEY = ["service_id", "event", "item_type", "item_id", "day"]
USER_EVENTS_COLUMNS = [
    "service_id",
    "user_id",
    "event",
    "item_type",
    "events",
    "first_at",
    "last_at",
]


def _backfill_user_events() -> None:
    """Count the history rows the rollups have counted: ids up to the stream's mark, less
    its gaps."""
    bind = op.get_bind()
    stream = bind.execute(
        sa.text("SELECT hwm, gaps FROM analytics_streams WHERE name = 'events'")
    ).first()
    if stream is None:
        return
    raw = stream.gaps
    gaps = [int(g[0]) for g in (raw if isinstance(raw, list) else json.loads(raw or "[]"))]
    history = sa.table(
        "event_history",
        *(sa.column(c) for c in ("id", "service_id", "user_id", "event", "item_type")),
        sa.column("at"),
        sa.column("removed", sa.Boolean),
    )
    target = sa.table(
        "analytics_user_events",
        *(sa.column(c) for c in USER_EVENTS_COLUMNS),
    )
    keys = [history.c.service_id, history.c.user_id, history.c.event, history.c.item_type]
    counted = (
        sa.select(*keys, sa.func.count(), sa.func.min(history.c.at), sa.func.max(history.c.at))
        .where(history.c.removed.is_(False), history.c.id <= int(stream.hwm))
        .group_by(*keys)
    )
    if gaps:
        counted = counted.where(history.c.id.not_in(gaps))
    bind.execute(sa.insert(target).from_select(USER_EVENTS_COLUMNS, counted))


def upgrade() -> None:
    with op.batch_alter_table("analytics_items", recreate="auto") as batch:
        batch.drop_constraint("pk_analytics_items", type_="primary")
        batch.create_primary_key("pk_analytics_items", NEW_ITEMS_KEY)
    op.create_index(
        "ix_analytics_items_rank",
        "analytics_items",
        ["service_id", "event", "item_type", "day", "events"],
    )
    op.create_table(
        "analytics_user_events",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("item_type", sa.String(64), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("first_at", UTCDateTime(), nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_analytics_user_events_service_id_services"),
        ),
        sa.PrimaryKeyConstraint(
            "service_id", "user_id", "event", "item_type", name=op.f("pk_analytics_user_events")
        ),
    )
    _backfill_user_events()


def downgrade() -> None:
    op.drop_table("analytics_user_events")
    op.drop_index("ix_analytics_items_rank", table_name="analytics_items")
    with op.batch_alter_table("analytics_items", recreate="auto") as batch:
        batch.drop_constraint("pk_analytics_items", type_="primary")
        batch.create_primary_key("pk_analytics_items", ITEMS_KEY)
