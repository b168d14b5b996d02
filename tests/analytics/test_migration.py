"""Migrations of the rollups: 0018 on a database with rollups (item rows kept under their new
key, the per-user counts filled from exactly the history the rollups had read), 0026's hour
sets, 0030's partial rank index agreeing with the code that reads it, and 0031's BRIN index
on PostgreSQL only."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command
from pyroaring import BitMap
from sqlalchemy.engine import Connection

from tanktop import migrations
from tanktop.analytics.tables import (
    LEADER_MIN,
    analytics_items,
    analytics_series,
    analytics_streams,
    analytics_user_events,
)
from tanktop.db import Database
from tanktop.events.tables import event_history
from tanktop.tenants.tables import services

AT = dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)


def history_row(
    row_id: int, user: str, event: str, minutes: int, removed: bool = False
) -> dict[str, object]:
    return {
        "id": row_id,
        "service_id": 1,
        "user_id": user,
        "event": event,
        "item_type": "movie",
        "item_id": "1",
        "value": None,
        "at": AT + dt.timedelta(minutes=minutes),
        "origin": "api",
        "removed": removed,
    }


async def test_0018_keeps_items_and_counts_what_was_rolled_up(empty_db: Database) -> None:
    await migrations.upgrade(empty_db, "0017")
    async with empty_db.write() as conn:
        await conn.execute(sa.insert(services), [{"id": 1, "name": "s", "created_at": AT}])
        await conn.execute(
            sa.insert(event_history),
            [
                history_row(1, "a", "seen", 0),
                history_row(2, "a", "seen", 5),
                history_row(3, "a", "seen", 9),  # a gap: not counted yet
                history_row(4, "a", "watchlist", 1, removed=True),  # a removal
                history_row(5, "b", "seen", 7),
                history_row(6, "b", "seen", 8),  # past the mark: not read yet
            ],
        )
        await conn.execute(
            sa.update(analytics_streams)
            .where(analytics_streams.c.name == "events")
            .values(hwm=5, gaps=[[3, 0.0, None]])
        )
        await conn.execute(
            sa.insert(analytics_items),
            [
                {
                    "service_id": 1,
                    "event": "seen",
                    "item_type": "movie",
                    "day": AT.replace(hour=0),
                    "item_id": "1",
                    "events": 3,
                    "members": b"x",
                }
            ],
        )
    await migrations.upgrade(empty_db)
    async with empty_db.read() as conn:
        counts = (
            await conn.execute(
                sa.select(analytics_user_events).order_by(
                    analytics_user_events.c.user_id, analytics_user_events.c.event
                )
            )
        ).all()
        items = (
            await conn.execute(sa.select(analytics_items.c.item_id, analytics_items.c.events))
        ).all()
    assert [(r.user_id, r.event, r.events, r.first_at, r.last_at) for r in counts] == [
        ("a", "seen", 2, AT, AT + dt.timedelta(minutes=5)),
        ("b", "seen", 1, AT + dt.timedelta(minutes=7), AT + dt.timedelta(minutes=7)),
    ]
    assert [tuple(r) for r in items] == [("1", 3)]


async def test_0026_splits_each_days_users_by_first_and_last_hour(empty_db: Database) -> None:
    """Hour rows kept before 0026 get their users of first and last activity in the day:
    user 1 in hours 1 and 5, user 2 in hour 5 only, user 3 in hour 5 and the next day."""
    await migrations.upgrade(empty_db, "0025")
    day = AT.replace(hour=0)
    hours = {day + dt.timedelta(hours=1): [1], day + dt.timedelta(hours=5): [1, 2, 3]}
    hours[day + dt.timedelta(days=1)] = [3]
    async with empty_db.write() as conn:
        await conn.execute(sa.insert(services), [{"id": 1, "name": "s", "created_at": AT}])
        await conn.execute(
            sa.insert(analytics_series),
            [
                {
                    "service_id": 1,
                    "grain": "h",
                    "event": "seen",
                    "item_type": "movie",
                    "start": start,
                    "events": len(users),
                    "users": len(users),
                    "members": BitMap(users).serialize(),
                    "new_users": 0,
                }
                for start, users in hours.items()
            ],
        )
    await migrations.upgrade(empty_db)
    async with empty_db.read() as conn:
        rows = (
            await conn.execute(sa.select(analytics_series).order_by(analytics_series.c.start))
        ).all()
    assert [
        (list(BitMap.deserialize(r.first_members)), list(BitMap.deserialize(r.last_members)))
        for r in rows
    ] == [([1], []), ([2, 3], [1, 2, 3]), ([3], [3])]


async def test_0030s_rank_index_holds_the_rows_top_lists_expect(empty_db: Database) -> None:
    """Top lists bound an item a day does not list by `LEADER_MIN` - 1 (`service._contenders`):
    the migrated index must leave out exactly the rows under `LEADER_MIN`, and schema
    comparison does not look at an index's predicate, so a change to one alone would pass."""
    await migrations.upgrade(empty_db)
    async with empty_db.read() as conn:
        if empty_db.is_sqlite:
            found = await conn.scalar(
                sa.text("SELECT sql FROM sqlite_master WHERE name = 'ix_analytics_items_rank'")
            )
        else:
            found = await conn.scalar(
                sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"),
                {"name": "ix_analytics_items_rank"},
            )
    assert found is not None
    assert f"events >= {LEADER_MIN}" in found.replace("(", "").replace(")", ""), found


async def day_index(db: Database) -> str | None:
    async with db.read() as conn:
        if db.is_sqlite:
            query = "SELECT sql FROM sqlite_master WHERE name = :name"
        else:
            query = "SELECT indexdef FROM pg_indexes WHERE indexname = :name"
        found = await conn.scalar(sa.text(query), {"name": "ix_analytics_items_day"})
    return None if found is None else str(found)


async def test_0031s_day_index_is_brin_on_postgresql_and_downgrades(empty_db: Database) -> None:
    """Top lists no day settles read the item rows by day through a BRIN index: PostgreSQL
    only (schema comparison does not look at the access method), gone after a downgrade."""

    def downgrade(connection: Connection) -> None:
        command.downgrade(migrations.alembic_config(connection), "0030")

    await migrations.upgrade(empty_db)
    found = await day_index(empty_db)
    if empty_db.is_sqlite:
        assert found is None
    else:
        assert found is not None
        assert "USING brin (day)" in found, found
        assert "pages_per_range='32'" in found, found
        assert "autosummarize='on'" in found, found
    async with empty_db.write() as conn:
        await conn.run_sync(downgrade)
    assert await day_index(empty_db) is None
    await migrations.upgrade(empty_db)
    assert (await day_index(empty_db) is None) == empty_db.is_sqlite


async def test_0030_downgrades_with_rows_of_no_service(empty_db: Database) -> None:
    """0030 dropped the item rows' foreign key; going back puts it back, leaving out rows whose
    service is not there (written meanwhile without the check), which nothing could read."""

    def downgrade(connection: Connection) -> None:
        command.downgrade(migrations.alembic_config(connection), "0029")

    await migrations.upgrade(empty_db)
    row = {"event": "seen", "item_type": "movie", "day": AT, "item_id": "1", "events": 1}
    async with empty_db.write() as conn:
        await conn.execute(sa.insert(services), [{"id": 1, "name": "s", "created_at": AT}])
        await conn.execute(
            sa.insert(analytics_items),
            [
                {**row, "service_id": 1, "members": BitMap([1]).serialize()},
                {**row, "service_id": 999, "members": BitMap([1]).serialize()},
            ],
        )
    async with empty_db.write() as conn:
        await conn.run_sync(downgrade)
    async with empty_db.read() as conn:
        kept = await conn.scalars(sa.select(analytics_items.c.service_id))
        assert list(kept) == [1]
