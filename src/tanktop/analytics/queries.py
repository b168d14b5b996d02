"""All analytics SQL: impressions, the followed streams' rows, rollup rows in and out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.analytics.tables import (
    analytics_engagement,
    analytics_items,
    analytics_series,
    analytics_users,
    impressions,
)
from tanktop.db import chunks, dialect_insert, select_in


async def _all(conn: AsyncConnection, query: sa.Select[Any]) -> list[sa.Row[Any]]:
    return list((await conn.execute(query)).all())


# -- impressions ------------------------------------------------------------------------------


async def select_impressions_after(
    conn: AsyncConnection, after_id: int, limit: int, service_id: int | None = None
) -> list[sa.Row[Any]]:
    query = sa.select(impressions).where(impressions.c.id > after_id)
    if service_id is not None:
        query = query.where(impressions.c.service_id == service_id)
    return await _all(conn, query.order_by(impressions.c.id).limit(limit))


async def select_impressions_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[sa.Row[Any]]:
    return await select_in(conn, sa.select(impressions), impressions.c.id, ids)


async def select_user_impressions(
    conn: AsyncConnection,
    service_id: int,
    user_ids: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
) -> list[sa.Row[Any]]:
    query = sa.select(impressions).where(
        impressions.c.service_id == service_id,
        impressions.c.at >= start,
        impressions.c.at <= end,
    )
    return await select_in(conn, query, impressions.c.user_id, user_ids)


async def flag_impressions(
    conn: AsyncConnection, flag: str, ids: Sequence[int]
) -> list[sa.Row[Any]]:
    """Set `flag` (engaged, clicked) on those of `ids` that lack it; returns the rows changed,
    so each impression counts once however many workers or events reach it."""
    column = impressions.c[flag]
    rows: list[sa.Row[Any]] = []
    for chunk in chunks(ids):
        result = await conn.execute(
            sa.update(impressions)
            .where(impressions.c.id.in_(chunk), column.is_(False))
            .values({flag: True})
            .returning(impressions.c.service_id, impressions.c.surface, impressions.c.at)
        )
        rows += result.all()
    return rows


# -- users and rollups, for the roller ---------------------------------------------------------


async def select_users(
    conn: AsyncConnection, service_id: int, user_ids: Sequence[str]
) -> list[sa.Row[Any]]:
    query = sa.select(analytics_users).where(analytics_users.c.service_id == service_id)
    return await select_in(conn, query, analytics_users.c.user_id, user_ids)


async def max_uid(conn: AsyncConnection, service_id: int) -> int:
    query = sa.select(sa.func.max(analytics_users.c.uid)).where(
        analytics_users.c.service_id == service_id
    )
    return int(await conn.scalar(query) or 0)


async def select_series_at(
    conn: AsyncConnection, service_id: int, grain: str, starts: Sequence[dt.datetime]
) -> list[sa.Row[Any]]:
    table = analytics_series
    query = sa.select(table).where(table.c.service_id == service_id, table.c.grain == grain)
    return await select_in(conn, query, table.c.start, starts)


async def select_items_at(
    conn: AsyncConnection, service_id: int, keys: Sequence[tuple[str, str, dt.datetime, str]]
) -> list[sa.Row[Any]]:
    """Item rows of (event, item_type, day, item_id) keys: per (event, item type, day), the
    item ids asked (primary-key lookups; a row-value IN list plans badly on PostgreSQL)."""
    table = analytics_items
    groups: dict[tuple[str, str, dt.datetime], list[str]] = {}
    for event, item_type, day, item_id in keys:
        groups.setdefault((event, item_type, day), []).append(item_id)
    rows: list[sa.Row[Any]] = []
    for (event, item_type, day), item_ids in groups.items():
        query = sa.select(table).where(
            table.c.service_id == service_id,
            table.c.event == event,
            table.c.item_type == item_type,
            table.c.day == day,
        )
        rows += await select_in(conn, query, table.c.item_id, item_ids)
    return rows


async def upsert(conn: AsyncConnection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows, replacing the non-key columns of rows already there."""
    if not rows:
        return
    stmt = dialect_insert(conn, table)
    keys = [c.name for c in table.primary_key.columns]
    stmt = stmt.on_conflict_do_update(
        index_elements=keys,
        set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys},
    )
    for chunk in chunks(rows, 5000):
        await conn.execute(stmt, chunk)


async def add_engagement(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Add impressions, clicks and engaged counts to their (service, surface, hour) rows."""
    if not rows:
        return
    table = analytics_engagement
    stmt = dialect_insert(conn, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["service_id", "surface", "start"],
        set_={
            name: table.c[name] + stmt.excluded[name]
            for name in ("impressions", "clicks", "engaged")
        },
    )
    await conn.execute(stmt, list(rows))


async def delete_rollups(conn: AsyncConnection, service_id: int) -> None:
    """Forget a service's rollups and engagement marks (a rebuild starts from nothing)."""
    for table in (analytics_series, analytics_items, analytics_engagement, analytics_users):
        await conn.execute(sa.delete(table).where(table.c.service_id == service_id))
    await conn.execute(
        sa.update(impressions)
        .where(
            impressions.c.service_id == service_id,
            sa.or_(impressions.c.engaged.is_(True), impressions.c.clicked.is_(True)),
        )
        .values(engaged=False, clicked=False)
    )


# -- reading rollups, for the endpoints ---------------------------------------------------------


async def select_series(
    conn: AsyncConnection,
    service_id: int,
    grain: str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    event: str | None,
    item_type: str | None,
    members: bool,
    new_members: bool = False,
) -> list[sa.Row[Any]]:
    """Rollup rows of one grain with `start <= row start < end`; `event`/`item_type` None: every
    real series (not the `*` one); "*": the any-event row."""
    table = analytics_series
    columns = [
        table.c.event,
        table.c.item_type,
        table.c.start,
        table.c.events,
        table.c.users,
        table.c.new_users,
    ]
    if members:
        columns.append(table.c.members)
    if new_members:
        columns.append(table.c.new_members)
    query = sa.select(*columns).where(
        table.c.service_id == service_id,
        table.c.grain == grain,
        table.c.start >= start,
        table.c.start < end,
    )
    if event is not None:
        query = query.where(table.c.event == event)
    else:
        query = query.where(table.c.event != "*")
    if item_type is not None:
        query = query.where(table.c.item_type == item_type)
    return await _all(conn, query)


async def top_items(
    conn: AsyncConnection,
    service_id: int,
    event: str,
    item_type: str,
    start: dt.datetime,
    end: dt.datetime,
    n: int,
) -> list[tuple[str, int]]:
    table = analytics_items
    total = sa.func.sum(table.c.events).label("total")
    query = (
        sa.select(table.c.item_id, total)
        .where(
            table.c.service_id == service_id,
            table.c.event == event,
            table.c.item_type == item_type,
            table.c.day >= start,
            table.c.day < end,
        )
        .group_by(table.c.item_id)
        .order_by(total.desc(), table.c.item_id)
        .limit(n)
    )
    return [(row.item_id, int(row.total)) for row in await conn.execute(query)]


async def item_members(
    conn: AsyncConnection,
    service_id: int,
    event: str,
    item_type: str,
    item_ids: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
) -> list[tuple[str, bytes]]:
    table = analytics_items
    query = sa.select(table.c.item_id, table.c.members).where(
        table.c.service_id == service_id,
        table.c.event == event,
        table.c.item_type == item_type,
        table.c.item_id.in_(list(item_ids)),
        table.c.day >= start,
        table.c.day < end,
    )
    return [(row.item_id, row.members) for row in await conn.execute(query)]


async def engagement_totals(
    conn: AsyncConnection, service_id: int, start: dt.datetime, end: dt.datetime
) -> list[sa.Row[Any]]:
    table = analytics_engagement
    query = (
        sa.select(
            table.c.surface,
            sa.func.sum(table.c.impressions).label("impressions"),
            sa.func.sum(table.c.clicks).label("clicks"),
            sa.func.sum(table.c.engaged).label("engaged"),
        )
        .where(table.c.service_id == service_id, table.c.start >= start, table.c.start < end)
        .group_by(table.c.surface)
        .order_by(table.c.surface)
    )
    return await _all(conn, query)


async def select_user(conn: AsyncConnection, service_id: int, user_id: str) -> sa.Row[Any] | None:
    query = sa.select(analytics_users).where(
        analytics_users.c.service_id == service_id, analytics_users.c.user_id == user_id
    )
    return (await conn.execute(query)).first()
