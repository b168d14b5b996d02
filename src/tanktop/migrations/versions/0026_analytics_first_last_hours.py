"""Analytics hour rows keep the users whose first and whose last activity of the UTC day falls
in the hour, so a day in a zone that is not a report zone reads a few rows, not 24 hours'
users (`tanktop.analytics.partitions`); counted here from the hour rows already kept.

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-30
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pyroaring import BitMap

from tanktop.analytics.partitions import first_and_last
from tanktop.db import UTCDateTime

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

series = sa.table(
    "analytics_series",
    sa.column("service_id", sa.Integer),
    sa.column("grain", sa.String),
    sa.column("event", sa.String),
    sa.column("item_type", sa.String),
    sa.column("start", UTCDateTime()),
    sa.column("members", sa.LargeBinary),
    sa.column("first_members", sa.LargeBinary),
    sa.column("last_members", sa.LargeBinary),
)


def _backfill() -> None:
    """Per series of hour rows, day by day: split each day's users by first and last hour."""
    bind = op.get_bind()
    keys = bind.execute(
        sa.select(series.c.service_id, series.c.event, series.c.item_type)
        .where(series.c.grain == "h")
        .distinct()
    ).all()
    update = (
        sa.update(series)
        .where(
            series.c.service_id == sa.bindparam("k_service_id"),
            series.c.grain == "h",
            series.c.event == sa.bindparam("k_event"),
            series.c.item_type == sa.bindparam("k_item_type"),
            series.c.start == sa.bindparam("k_start"),
        )
        .values(first_members=sa.bindparam("f"), last_members=sa.bindparam("l"))
    )
    for service_id, event, item_type in keys:
        rows = bind.execute(
            sa.select(series.c.start, series.c.members)
            .where(
                series.c.service_id == service_id,
                series.c.grain == "h",
                series.c.event == event,
                series.c.item_type == item_type,
            )
            .order_by(series.c.start)
        ).all()
        days: dict[dt.date, list[tuple[dt.datetime, BitMap]]] = {}
        for start, members in rows:
            days.setdefault(start.date(), []).append((start, BitMap.deserialize(members)))
        changes = []
        for hours in days.values():
            first, last = first_and_last([users for _, users in hours])
            changes += [
                {
                    "k_service_id": service_id,
                    "k_event": event,
                    "k_item_type": item_type,
                    "k_start": start,
                    "f": f.serialize(),
                    "l": ends.serialize(),
                }
                for (start, _), f, ends in zip(hours, first, last, strict=True)
            ]
        if changes:
            bind.execute(update, changes)


def upgrade() -> None:
    op.add_column("analytics_series", sa.Column("first_members", sa.LargeBinary(), nullable=True))
    op.add_column("analytics_series", sa.Column("last_members", sa.LargeBinary(), nullable=True))
    _backfill()


def downgrade() -> None:
    with op.batch_alter_table("analytics_series") as batch:
        batch.drop_column("last_members")
        batch.drop_column("first_members")
