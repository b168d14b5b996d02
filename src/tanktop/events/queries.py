"""All event SQL: applying ops (list state + history) and reading lists and history."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.catalog.facts import GENERATION_SQL
from tanktop.db import (
    BIND_CHUNK,
    Database,
    chunks,
    dialect_insert,
    driver_of,
    id_list,
    json_rows,
    select_in,
    utcnow,
)
from tanktop.events.rules import EventOp, JsonScalar
from tanktop.events.tables import event_history, history_cursors, list_items, stale_from
from tanktop.timestamps import EARLIEST

_KEY_COLUMNS = ("service_id", "user_id", "event", "item_type", "item_id")

_remove_item = sa.delete(list_items).where(
    *(list_items.c[name] == sa.bindparam(f"b_{name}") for name in _KEY_COLUMNS),
    list_items.c.updated_at <= sa.bindparam("b_at", type_=list_items.c.updated_at.type),
)


def _upsert_statement(dialect: str) -> sa.Insert:
    """Set an item's latest value; an older event (a backfill) never overwrites a newer one."""
    stmt = postgresql.insert(list_items) if dialect == "postgresql" else sqlite.insert(list_items)
    return stmt.on_conflict_do_update(
        index_elements=[list_items.c[name] for name in _KEY_COLUMNS],
        set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
        where=list_items.c.updated_at <= stmt.excluded.updated_at,
    )


_UPSERT = {dialect: _upsert_statement(dialect) for dialect in ("postgresql", "sqlite")}

# PostgreSQL: the whole flush in one statement and one round trip (the ops in, as one JSON
# document of the decisive ops and one of all of them; list upserts and removals and history
# rows out). As arrays, one per column, every element went through asyncpg's per-element
# encoding (ABC checks); orjson writes the ops (dataclasses) in a few microseconds.
_PG_APPLY = """
WITH latest AS (
    SELECT * FROM json_to_recordset($1::json)
        AS t(service_id int, user_id text, event text, item_type text, item_id text,
             value jsonb, at timestamptz, removed bool)
), upserted AS (
    INSERT INTO list_items (service_id, user_id, event, item_type, item_id, value, updated_at)
    SELECT service_id, user_id, event, item_type, item_id, coalesce(value, 'null'), at
    FROM latest WHERE NOT removed
    ON CONFLICT (service_id, user_id, event, item_type, item_id) DO UPDATE
    SET value = excluded.value, updated_at = excluded.updated_at
    WHERE list_items.updated_at <= excluded.updated_at
), deleted AS (
    DELETE FROM list_items AS l USING latest AS d
    WHERE d.removed AND l.service_id = d.service_id AND l.user_id = d.user_id
      AND l.event = d.event AND l.item_type = d.item_type AND l.item_id = d.item_id
      AND l.updated_at <= d.at
)
INSERT INTO event_history (service_id, user_id, event, item_type, item_id, value, at, origin,
                           removed, received_at)
SELECT service_id, user_id, event, item_type, item_id, coalesce(value, 'null'), at, origin,
       removed, $3::timestamptz
FROM json_to_recordset($2::json)
    AS h(service_id int, user_id text, event text, item_type text, item_id text, value jsonb,
         at timestamptz, origin text, removed bool)
"""
"""(A JSON null comes out of `json_to_recordset` as SQL NULL: `coalesce` stores it as the JSON
`null` every valueless event has.)"""


def latest_per_item(ops: Sequence[EventOp]) -> list[EventOp]:
    """The op that decides each item's state: the latest, later submissions winning ties.

    In key order: every transaction then locks list rows in the same order, so concurrent
    flushes touching the same items wait for each other instead of deadlocking."""
    latest: dict[tuple[int, str, str, str, str], EventOp] = {}
    for op in ops:
        current = latest.get(op.key)
        if current is None or op.at >= current.at:
            latest[op.key] = op
    return [latest[key] for key in sorted(latest)]


async def apply_ops_pg(
    driver: asyncpg.Connection, ops: Sequence[EventOp], received: dt.datetime | None = None
) -> None:
    """`apply_ops` on PostgreSQL: one statement (in the driver's transaction, if any, else
    committed by itself)."""
    if not ops:
        return
    await driver.execute(
        _PG_APPLY, json_rows(latest_per_item(ops)), json_rows(ops), received or utcnow()
    )


async def apply_ops(
    conn: AsyncConnection, ops: Sequence[EventOp], received: dt.datetime | None = None
) -> None:
    """Write `ops` (any services, any order) to the list state and the history, as received
    at `received` (now)."""
    if not ops:
        return
    if conn.dialect.name == "postgresql":
        await apply_ops_pg(await driver_of(conn), ops, received)
        return
    received = received or utcnow()
    decisive = latest_per_item(ops)
    sets = [
        {
            "service_id": op.service_id,
            "user_id": op.user_id,
            "event": op.event,
            "item_type": op.item_type,
            "item_id": op.item_id,
            "value": op.value,
            "updated_at": op.at,
        }
        for op in decisive
        if not op.removed
    ]
    removes = [
        {
            **{f"b_{name}": value for name, value in zip(_KEY_COLUMNS, op.key, strict=True)},
            "b_at": op.at,
        }
        for op in decisive
        if op.removed
    ]
    if sets:
        await conn.execute(_UPSERT[conn.dialect.name], sets)
    if removes:
        await conn.execute(_remove_item, removes)
    await conn.execute(
        sa.insert(event_history),
        [
            {
                "service_id": op.service_id,
                "user_id": op.user_id,
                "event": op.event,
                "item_type": op.item_type,
                "item_id": op.item_id,
                "value": op.value,
                "at": op.at,
                "origin": op.origin,
                "removed": op.removed,
                "received_at": received,
            }
            for op in ops
        ],
    )


_LIST_FILTER = (
    list_items.c.service_id == sa.bindparam("service_id"),
    list_items.c.user_id == sa.bindparam("user_id"),
    list_items.c.event == sa.bindparam("event"),
    list_items.c.item_type == sa.bindparam("item_type"),
)

VALUES_QUERY = sa.select(list_items.c.item_id, list_items.c.value).where(
    *_LIST_FILTER, list_items.c.item_id.in_(sa.bindparam("item_ids", expanding=True))
)
"""Values of those `item_ids` that are in a list: primary-key lookups, one per id asked.

Built once: this is a hot read, and building SQLAlchemy expressions costs more than running them.
"""


_PG_VALUES = (
    "SELECT item_id, value::text FROM list_items WHERE service_id = $1 AND user_id = $2 "
    "AND event = $3 AND item_type = $4 AND item_id = ANY($5::text[])"
)


async def select_values(
    db: Database,
    service_id: int,
    user_id: str,
    event: str,
    item_type: str,
    item_ids: Sequence[str],
) -> dict[str, JsonScalar]:
    if not db.is_sqlite:
        # The hottest read: straight to the driver (one prepared statement, no SQL building).
        async with db.driver() as driver:
            rows = await driver.fetch(_PG_VALUES, service_id, user_id, event, item_type, item_ids)
        return {row[0]: json_scalar(row[1]) for row in rows}
    params = {
        "service_id": service_id,
        "user_id": user_id,
        "event": event,
        "item_type": item_type,
        "item_ids": list(item_ids),
    }
    async with db.read() as conn:
        return {row.item_id: row.value for row in await conn.execute(VALUES_QUERY, params)}


_RECENT = (
    sa.select(list_items.c.item_id, list_items.c.value, list_items.c.updated_at)
    .where(*_LIST_FILTER)
    .order_by(list_items.c.updated_at.desc(), list_items.c.item_id.desc())
    .limit(sa.bindparam("limit"))
)
_RECENT_AFTER = _RECENT.where(
    sa.tuple_(list_items.c.updated_at, list_items.c.item_id)
    < sa.tuple_(
        sa.bindparam("after_at", type_=list_items.c.updated_at.type),
        sa.bindparam("after_id", type_=list_items.c.item_id.type),
    )
)


async def select_recent(
    conn: AsyncConnection,
    service_id: int,
    user_id: str,
    event: str,
    item_type: str,
    limit: int,
    after: tuple[dt.datetime, str] | None,
) -> list[tuple[str, JsonScalar, dt.datetime]]:
    """A page of the list, most recent first, strictly after the `after` position."""
    params: dict[str, Any] = {
        "service_id": service_id,
        "user_id": user_id,
        "event": event,
        "item_type": item_type,
        "limit": limit,
    }
    if after is not None:
        params.update(after_at=after[0], after_id=after[1])
    query = _RECENT if after is None else _RECENT_AFTER
    return [(row.item_id, row.value, row.updated_at) for row in await conn.execute(query, params)]


async def select_memberships(
    conn: AsyncConnection,
    service_id: int,
    user_id: str,
    item_type: str,
    events: Sequence[str],
    item_ids: Sequence[str] | None,
) -> list[tuple[str, str, dt.datetime]]:
    """(item_id, event, updated_at) of the user's items in `events`, optionally only `item_ids`."""
    query = sa.select(list_items.c.item_id, list_items.c.event, list_items.c.updated_at).where(
        list_items.c.service_id == service_id,
        list_items.c.user_id == user_id,
        list_items.c.item_type == item_type,
        list_items.c.event.in_(events),
    )
    if item_ids is not None:
        query = query.where(list_items.c.item_id.in_(item_ids))
    return [(row.item_id, row.event, row.updated_at) for row in await conn.execute(query)]


async def select_history_page(
    conn: AsyncConnection,
    service_id: int,
    after: tuple[dt.datetime, int] | None,
    limit: int,
    user_id: str | None = None,
) -> list[sa.Row[Any]]:
    """History rows of a service (or one user) in time order, strictly after `after` (at, id)."""
    query = sa.select(event_history).where(event_history.c.service_id == service_id)
    if user_id is not None:
        query = query.where(event_history.c.user_id == user_id)
    if after is not None:
        query = query.where(
            sa.tuple_(event_history.c.at, event_history.c.id)
            > sa.tuple_(sa.literal(after[0], event_history.c.at.type), sa.literal(after[1]))
        )
    query = query.order_by(event_history.c.at, event_history.c.id).limit(limit)
    return list((await conn.execute(query)).all())


async def select_user_history(
    conn: AsyncConnection,
    service_id: int,
    user_id: str,
    before: tuple[dt.datetime, int] | None,
    limit: int,
) -> list[sa.Row[Any]]:
    """One user's history, newest first, strictly before `before` (at, id)."""
    h = event_history
    query = sa.select(h).where(h.c.service_id == service_id, h.c.user_id == user_id)
    if before is not None:
        query = query.where(
            sa.tuple_(h.c.at, h.c.id)
            < sa.tuple_(sa.literal(before[0], h.c.at.type), sa.literal(before[1]))
        )
    query = query.order_by(h.c.at.desc(), h.c.id.desc()).limit(limit)
    return list((await conn.execute(query)).all())


async def select_recent_users(
    conn: AsyncConnection, service_id: int, scan: int
) -> list[tuple[str, dt.datetime]]:
    """(user, time) of the service's latest `scan` history rows, newest first (by the index on
    service and time, so the cost is bounded whatever the history's size)."""
    h = event_history
    query = (
        sa.select(h.c.user_id, h.c.at)
        .where(h.c.service_id == service_id)
        .order_by(h.c.at.desc(), h.c.id.desc())
        .limit(scan)
    )
    return [(row.user_id, row.at) for row in await conn.execute(query)]


async def select_all_user_items(
    conn: AsyncConnection, service_id: int, user_id: str, limit: int
) -> list[sa.Row[Any]]:
    """The user's list entries of every event and type, most recently changed first."""
    query = (
        sa.select(list_items)
        .where(list_items.c.service_id == service_id, list_items.c.user_id == user_id)
        .order_by(list_items.c.updated_at.desc())
        .limit(limit)
    )
    return list((await conn.execute(query)).all())


HISTORY_COLUMNS = (
    "id",
    "user_id",
    "event",
    "item_type",
    "item_id",
    "value",
    "at",
    "origin",
    "removed",
    "service_id",
    "received_at",
    "superseded_at",
    "supersedes",
)
"""A history row as `select_history_after` gives it (HistoryEvent's fields, in order)."""
_PG_HISTORY_AFTER = (
    "SELECT id, user_id, event, item_type, item_id, value::text, at, origin, removed, "
    "service_id, received_at, superseded_at, supersedes "
    "FROM event_history WHERE id > $1 {}ORDER BY id LIMIT $2"
)


async def select_history_after(
    conn: AsyncConnection, after_id: int, limit: int, service_ids: Sequence[int] | None = None
) -> list[tuple[Any, ...]]:
    """History rows of every service (or of `service_ids`: a rebuild reads only the rows it
    counts) with ids above `after_id`, in id order, as tuples of HISTORY_COLUMNS (analytics
    reads the whole history this way: on PostgreSQL straight through asyncpg, which costs a
    fraction of SQLAlchemy's per-row work)."""
    if conn.dialect.name == "postgresql":
        driver = await driver_of(conn)
        if service_ids is None:
            found = await driver.fetch(_PG_HISTORY_AFTER.format(""), after_id, limit)
        else:
            only = _PG_HISTORY_AFTER.format("AND service_id = ANY($3::bigint[]) ")
            found = await driver.fetch(only, after_id, limit, list(service_ids))
        return [(*r[:5], json_scalar(r[5]), *r[6:]) for r in found]
    columns = [event_history.c[name] for name in HISTORY_COLUMNS]
    query = sa.select(*columns).where(event_history.c.id > after_id).order_by(event_history.c.id)
    if service_ids is not None:
        query = query.where(event_history.c.service_id.in_(service_ids))
    return [tuple(row) for row in await conn.execute(query.limit(limit))]


_PG_SERVICE_HISTORY = (
    "SELECT id, user_id, event, item_type, item_id, value::text, at, origin, removed, "
    "service_id, received_at, superseded_at, supersedes "
    "FROM event_history WHERE service_id = $1 AND (at, id) > ($2, $3) ORDER BY at, id LIMIT $4"
)
_EPOCH = dt.datetime(1, 1, 1, tzinfo=dt.UTC)


async def select_service_history_page(
    conn: AsyncConnection, service_id: int, after: tuple[dt.datetime, int] | None, limit: int
) -> list[tuple[Any, ...]]:
    """A service's history rows in time order, strictly after `after` (at, id), as tuples of
    HISTORY_COLUMNS (training reads a whole history this way: on PostgreSQL straight through
    asyncpg, as `select_history_after`)."""
    if conn.dialect.name != "postgresql":
        rows = await select_history_page(conn, service_id, after, limit)
        return [tuple(getattr(row, name) for name in HISTORY_COLUMNS) for row in rows]
    start, start_id = after or (_EPOCH, 0)
    driver = await driver_of(conn)
    rows = await driver.fetch(_PG_SERVICE_HISTORY, service_id, start, start_id, limit)
    return [(*r[:5], json_scalar(r[5]), *r[6:]) for r in rows]


async def select_history_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[sa.Row[Any]]:
    return await select_in(conn, sa.select(event_history), event_history.c.id, ids)


async def select_users_history(
    conn: AsyncConnection,
    service_id: int,
    user_ids: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
) -> list[sa.Row[Any]]:
    """Events (not removals) of some users of a service between `start` and `end`."""
    query = sa.select(event_history).where(
        event_history.c.service_id == service_id,
        event_history.c.at >= start,
        event_history.c.at <= end,
        event_history.c.removed.is_(False),
    )
    return await select_in(conn, query, event_history.c.user_id, user_ids)


UserItem = tuple[str, str, str, JsonScalar, dt.datetime]
"""(event, item type, item id, value, updated at) of a list entry."""

_PG_ALL_USER_ITEMS = (
    "SELECT event, item_type, item_id, value::text, updated_at FROM list_items "
    "WHERE service_id = $1 AND user_id = $2"
)
_PG_LISTS_OF_TYPES = "AND event = ANY($3::text[]) AND item_type = ANY($4::text[])"
_PG_USER_ITEMS = f"{_PG_ALL_USER_ITEMS} {_PG_LISTS_OF_TYPES}"

# What a per-process memo of something derived from a user's entries checks on every request:
# how many there are, the sum of a 64-bit hash of each whole entry (any write, removal or
# restore of an entry changes it, but for a 2^-63 chance), and the catalog generation, in the
# one statement (a scalar subquery: the row the catalog bumps with every item write).
_PG_ENTRY_HASH = "hash_record_extended((event, item_type, item_id, value, updated_at), 0)"
_PG_GENERATION = f"({GENERATION_SQL})"
_PG_OF_USER_LISTS = f"FROM list_items WHERE service_id = $1 AND user_id = $2 {_PG_LISTS_OF_TYPES}"
# One round trip whether the memo holds or not: the stamp, and the entries only when it
# differs from the remembered one ($5-$7; NULLs: none remembered). The entries' subquery is
# kept apart (OFFSET 0) so that test is a one-time filter: an equal stamp reads no entries. Both
# scans are of the statement's one snapshot, so the stamp is the entries'. The hash sum is
# taken modulo 2^63 - 1 into a bigint: each entry row repeats the stamp, and 500 numerics to
# decode cost more than the round trip saved.
_PG_USER_ITEMS_UNLESS = (
    "SELECT s.n, s.h, s.g, e.event, e.item_type, e.item_id, e.value, e.updated_at FROM "  # noqa: S608 (constants only)
    f"(SELECT count(*) AS n, (coalesce(sum({_PG_ENTRY_HASH}), 0) % 9223372036854775807)::bigint"
    f" AS h, {_PG_GENERATION} AS g {_PG_OF_USER_LISTS}) s LEFT JOIN LATERAL (SELECT event, "
    f"item_type, item_id, value::text AS value, updated_at {_PG_OF_USER_LISTS} AND "
    "(s.n, s.h, s.g) IS DISTINCT FROM ($5::bigint, $6::bigint, $7::bigint) OFFSET 0) e ON true"
)

Stamp = tuple[int, int, int]
"""(entries, sum of their hashes, catalog generation): equal stamps, equal entries and catalog."""


def json_scalar(text: str | None) -> JsonScalar:
    """A list value read as JSON text (PostgreSQL's `value::text`)."""
    if text is None:
        return None
    value: JsonScalar = orjson.loads(text)
    return value


async def select_user_items(
    db: Database,
    service_id: int,
    user_id: str,
    events: Sequence[str] | None,
    item_types: Sequence[str] | None,
) -> list[UserItem]:
    """The user's entries in those lists, of those types (None and None: all of them; a hot
    read: bookmarks, sections, recommendations)."""
    if not db.is_sqlite:
        async with db.driver() as driver:
            if events is None or item_types is None:
                rows = await driver.fetch(_PG_ALL_USER_ITEMS, service_id, user_id)
            else:
                rows = await driver.fetch(
                    _PG_USER_ITEMS, service_id, user_id, list(events), list(item_types)
                )
        return [(r[0], r[1], r[2], json_scalar(r[3]), r[4]) for r in rows]
    c = list_items.c
    query = sa.select(c.event, c.item_type, c.item_id, c.value, c.updated_at).where(
        c.service_id == service_id, c.user_id == user_id
    )
    if events is not None and item_types is not None:
        query = query.where(c.event.in_(list(events)), c.item_type.in_(list(item_types)))
    async with db.read() as conn:
        return [(r[0], r[1], r[2], r[3], r[4]) for r in await conn.execute(query)]


async def select_user_items_unless(
    db: Database,
    service_id: int,
    user_id: str,
    events: Sequence[str],
    item_types: Sequence[str],
    known: Stamp | None,
) -> tuple[list[UserItem] | None, Stamp]:
    """PostgreSQL, one statement: the stamp of the user's entries in those lists, of those
    types, now, and the entries themselves unless that stamp is `known` (then None)."""
    async with db.driver() as driver:
        rows = await driver.fetch(
            _PG_USER_ITEMS_UNLESS,
            service_id,
            user_id,
            list(events),
            list(item_types),
            *(known or (None, None, None)),
        )
    first = rows[0]
    stamp = (int(first[0]), int(first[1]), int(first[2] or 0))
    if stamp == known:
        return None, stamp
    items: list[UserItem] = [
        (r[3], r[4], r[5], json_scalar(r[6]), r[7]) for r in rows if r[3] is not None
    ]
    return items, stamp


async def count_user_values(
    conn: AsyncConnection,
    service_id: int,
    user_id: str,
    events: Sequence[str],
    item_types: Sequence[str],
) -> list[sa.Row[Any]]:
    """(event, item_type, value, n): how many of the user's list items hold each value."""
    query = (
        sa.select(
            list_items.c.event,
            list_items.c.item_type,
            list_items.c.value,
            sa.func.count().label("n"),
        )
        .where(
            list_items.c.service_id == service_id,
            list_items.c.user_id == user_id,
            list_items.c.event.in_(list(events)),
            list_items.c.item_type.in_(list(item_types)),
        )
        .group_by(list_items.c.event, list_items.c.item_type, list_items.c.value)
    )
    return list((await conn.execute(query)).all())


_CHANNEL = sa.literal("channel", literal_execute=True)
"""Inline in the SQL (not a parameter): what lets the history's channel-only index serve."""

_POSTED_CHANNEL = (
    event_history.c.item_type == _CHANNEL,
    event_history.c.event.in_(["start", "end"]),
    event_history.c.origin != "derived",
    event_history.c.removed.is_(False),
)
"""Channel starts and ends the user sent (what live TV derives from; its own ends are not)."""


def _received(h: sa.TableClause) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(h.c.received_at, h.c.at)


async def select_channel_events(
    conn: AsyncConnection, service_id: int, user_id: str, start: dt.datetime, end: dt.datetime
) -> list[tuple[str, str, dt.datetime, dt.datetime]]:
    """(event, channel, at, received) of the channel starts and ends the user sent that
    happened in [start, end] (a channel event's `at` is the time it carries)."""
    h = event_history
    query = sa.select(
        h.c.event, h.c.item_id, h.c.at, sa.type_coerce(_received(h), h.c.at.type).label("received")
    ).where(
        h.c.service_id == service_id,
        h.c.user_id == user_id,
        h.c.at >= start,
        h.c.at <= end,
        *_POSTED_CHANNEL,
    )
    return [(r.event, r.item_id, r.at, r.received) for r in await conn.execute(query)]


async def exists_channel_ending(
    conn: AsyncConnection,
    service_id: int,
    user_id: str,
    channel_id: str | None,
    after: dt.datetime,
    before: dt.datetime | None,
) -> bool:
    """Whether the user sent, for a time after `after` (and before `before`), a start (any
    channel) or an end of `channel_id`: something that ends a viewing of that channel (no
    `channel_id`: any channel start or end)."""
    h = event_history
    query = (
        sa.select(h.c.id)
        .where(h.c.service_id == service_id, h.c.user_id == user_id, h.c.at > after)
        .where(*_POSTED_CHANNEL)
        .limit(1)
    )
    if channel_id is not None:
        query = query.where(sa.or_(h.c.event == "start", h.c.item_id == channel_id))
    if before is not None:
        query = query.where(h.c.at < before)
    return (await conn.scalar(query)) is not None


Window = tuple[int, str, dt.datetime, dt.datetime]
"""(service id, user id, from, to): a user's span of time, both ends included."""
UserKey = tuple[int, str]

# PostgreSQL: many users' windows as arrays (`unnest`), each joined to its rows of the history
# (by the (service, user, time) index): one statement, whatever the number of users. LATERAL
# with OFFSET 0 (not flattened into a join) keeps that plan whatever the statistics say: a join
# planned on stale ones scanned the whole table for each window.
_PG_CHANNEL_EVENTS_OF = """
SELECT w.s, w.u, h.event, h.item_id, h.at, h.received
FROM unnest($1::int[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS w(s, u, lo, hi)
CROSS JOIN LATERAL (
    SELECT event, item_id, at, coalesce(received_at, at) AS received FROM event_history
    WHERE service_id = w.s AND user_id = w.u AND at >= w.lo AND at <= w.hi
      AND item_type = 'channel' AND event IN ('start', 'end') AND origin <> 'derived'
      AND NOT removed
    OFFSET 0
) h
"""
_PG_DERIVED_OF = """
SELECT w.s, w.u, h.id, h.event, h.item_type, h.item_id, h.value::text, h.at
FROM unnest($1::int[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS w(s, u, lo, hi)
CROSS JOIN LATERAL (
    SELECT id, event, item_type, item_id, value, at FROM event_history
    WHERE service_id = w.s AND user_id = w.u AND at >= w.lo AND at <= w.hi
      AND origin = 'derived' AND NOT removed AND superseded_at IS NULL
    OFFSET 0
) h
ORDER BY h.id
"""
_PG_EDGES = """
SELECT w.s, w.u, l.item_id, l.at,
    EXISTS (SELECT 1 FROM event_history e WHERE e.service_id = w.s AND e.user_id = w.u
            AND e.at > l.at AND e.at < w.lo AND e.item_type = 'channel'
            AND (e.event = 'start' OR (e.event = 'end' AND e.item_id = l.item_id))
            AND e.origin <> 'derived' AND NOT e.removed),
    EXISTS (SELECT 1 FROM event_history e WHERE e.service_id = w.s AND e.user_id = w.u
            AND e.at > w.hi AND e.item_type = 'channel' AND e.event IN ('start', 'end')
            AND e.origin <> 'derived' AND NOT e.removed)
FROM unnest($1::int[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS w(s, u, lo, hi)
LEFT JOIN LATERAL (
    SELECT h.item_id, h.at FROM event_history h
    WHERE h.service_id = w.s AND h.user_id = w.u AND h.at < w.lo AND h.item_type = 'channel'
      AND h.event = 'start' AND h.origin <> 'derived' AND NOT h.removed
    ORDER BY h.at DESC, h.item_id DESC LIMIT 1
) l ON true
"""


def _window_columns(windows: Sequence[Window]) -> list[list[Any]]:
    return [[w[index] for w in windows] for index in range(4)]


async def select_channel_events_of(
    conn: AsyncConnection, windows: Sequence[Window]
) -> dict[UserKey, list[tuple[str, str, dt.datetime, dt.datetime]]]:
    """`select_channel_events` for many users (one window each) at once: PostgreSQL in one
    statement, SQLite (in process, no round trips) a query per user."""
    found: dict[UserKey, list[tuple[str, str, dt.datetime, dt.datetime]]] = {
        (w[0], w[1]): [] for w in windows
    }
    if conn.dialect.name != "postgresql":
        h = event_history
        columns = (h.c.service_id, h.c.user_id, h.c.event, h.c.item_id, h.c.at)
        received = sa.type_coerce(_received(h), h.c.at.type)
        for arms in _sqlite_arms(windows, lambda lo, hi: (h.c.at >= lo, h.c.at <= hi)):
            query = sa.select(*columns, received).where(arms, *_POSTED_CHANNEL)
            for row in await conn.execute(query):
                found[(row[0], row[1])].append((row[2], row[3], row[4], row[5]))
        return found
    driver = await driver_of(conn)
    rows = await driver.fetch(_PG_CHANNEL_EVENTS_OF, *_window_columns(windows))
    for row in rows:
        found[(row[0], row[1])].append((row[2], row[3], row[4], row[5]))
    return found


DerivedTuple = tuple[int, str, str, str, JsonScalar, dt.datetime]
"""(id, event, item type, item id, value, at) of a derived row."""


async def select_derived_of(
    conn: AsyncConnection, windows: Sequence[Window]
) -> dict[UserKey, list[DerivedTuple]]:
    """`select_derived` for many users (one window each) at once, in id order."""
    found: dict[UserKey, list[DerivedTuple]] = {(w[0], w[1]): [] for w in windows}
    if conn.dialect.name != "postgresql":
        h = event_history
        columns = (h.c.service_id, h.c.user_id, h.c.id, h.c.event, h.c.item_type, h.c.item_id)
        for arms in _sqlite_arms(windows, lambda lo, hi: (h.c.at >= lo, h.c.at <= hi)):
            query = sa.select(*columns, h.c.value, h.c.at).where(
                arms,
                h.c.origin == "derived",
                h.c.removed.is_(False),
                h.c.superseded_at.is_(None),
            )
            for row in await conn.execute(query.order_by(h.c.id)):
                found[(row[0], row[1])].append((row[2], row[3], row[4], row[5], row[6], row[7]))
        return found
    driver = await driver_of(conn)
    rows = await driver.fetch(_PG_DERIVED_OF, *_window_columns(windows))
    for row in rows:
        found[(row[0], row[1])].append(
            (row[2], row[3], row[4], row[5], json_scalar(row[6]), row[7])
        )
    return found


Edges = tuple[tuple[str, dt.datetime] | None, bool, bool]
"""Around a user's window: (channel, at) of the latest channel start before it, whether a
start or an end of that channel follows that start before the window, and whether any
channel start or end follows the window."""


async def select_channel_edges(
    conn: AsyncConnection, windows: Sequence[Window]
) -> dict[UserKey, Edges]:
    """What lies just outside each user's window (`Edges`), for many users at once."""
    if conn.dialect.name == "postgresql":
        driver = await driver_of(conn)
        rows = await driver.fetch(_PG_EDGES, *_window_columns(windows))
        return {(r[0], r[1]): (None if r[2] is None else (r[2], r[3]), r[4], r[5]) for r in rows}
    h = event_history
    users = (h.c.service_id, h.c.user_id)
    latest: dict[UserKey, tuple[str, dt.datetime]] = {}
    ended: set[UserKey] = set()
    later: set[UserKey] = set()
    for arms in _sqlite_arms(windows, lambda lo, _: (h.c.at < lo,)):
        # SQLite only (in process): a user's channel starts before the window, latest first.
        starts = sa.select(*users, h.c.item_id, h.c.at).where(
            arms, h.c.event == "start", *_POSTED_CHANNEL
        )
        for row in await conn.execute(starts.order_by(h.c.at, h.c.item_id)):
            latest[(row[0], row[1])] = (row[2], row[3])
    for arms in _sqlite_arms(windows, lambda _, hi: (h.c.at > hi,)):
        query = sa.select(*users).where(arms, *_POSTED_CHANNEL).distinct()
        later.update((row[0], row[1]) for row in await conn.execute(query))
    outside = [(s, u, lo, latest[(s, u)]) for s, u, lo, _ in windows if (s, u) in latest]
    for some in chunks(outside, 100):
        ending = sa.or_(
            *(
                sa.and_(
                    h.c.service_id == service_id,
                    h.c.user_id == user_id,
                    h.c.at > at,
                    h.c.at < lo,
                    sa.or_(h.c.event == "start", h.c.item_id == channel),
                )
                for service_id, user_id, lo, (channel, at) in some
            )
        )
        query = sa.select(*users).where(ending, *_POSTED_CHANNEL).distinct()
        ended.update((row[0], row[1]) for row in await conn.execute(query))
    return {
        (s, u): (latest.get((s, u)), (s, u) in ended, (s, u) in later) for s, u, _, _ in windows
    }


def _sqlite_arms(
    windows: Sequence[Window],
    within: Callable[[dt.datetime, dt.datetime], tuple[sa.ColumnElement[bool], ...]],
) -> list[sa.ColumnElement[bool]]:
    """SQLite: the windows as ORs of (service, user, `within` its times) terms, a hundred a
    statement (each term served by the (service, user, time) index)."""
    h = event_history
    return [
        sa.or_(
            *(
                sa.and_(h.c.service_id == s, h.c.user_id == u, *within(lo, hi))
                for s, u, lo, hi in some
            )
        )
        for some in chunks(list(windows), 100)
    ]


async def select_last_channel_start(
    conn: AsyncConnection, service_id: int, user_id: str, before: dt.datetime
) -> tuple[str, dt.datetime] | None:
    """(channel, at) of the user's latest channel start sent for a time before `before`."""
    h = event_history
    query = (
        sa.select(h.c.item_id, h.c.at)
        .where(
            h.c.service_id == service_id,
            h.c.user_id == user_id,
            h.c.at < before,
            h.c.event == "start",
            *_POSTED_CHANNEL,
        )
        .order_by(h.c.at.desc(), h.c.item_id.desc())
        .limit(1)
    )
    row = (await conn.execute(query)).first()
    return None if row is None else (row.item_id, row.at)


async def select_channel_starts(
    conn: AsyncConnection, channel_id: str, start: dt.datetime, end: dt.datetime
) -> list[tuple[int, str, dt.datetime]]:
    """(service, user, at) of every start of a channel sent for a time in [start, end]."""
    h = event_history
    query = sa.select(h.c.service_id, h.c.user_id, h.c.at).where(
        h.c.item_id == channel_id,
        h.c.at >= start,
        h.c.at <= end,
        h.c.event == "start",
        *_POSTED_CHANNEL,
    )
    return [(r.service_id, r.user_id, r.at) for r in await conn.execute(query)]


_CLOSER = "live-stale-close"


async def claim_stale_starts(
    conn: AsyncConnection, before: dt.datetime, limit: int
) -> list[tuple[int, str, dt.datetime]]:
    """(service, user, at) of up to `limit` channel starts that became stale (`stale_from`
    before `before`) since the last claim, in that order, and the closer's cursor moved past
    them, in the caller's transaction (on PostgreSQL another claimer waits for it to end). A
    range scan of the starts index from the cursor on: its cost is what went stale since."""
    cursors = history_cursors
    position = sa.select(cursors.c.at, cursors.c.last_id).where(cursors.c.name == _CLOSER)
    row = (await conn.execute(position.with_for_update())).first()
    if row is None:  # the first pass starts at the beginning
        start = {"name": _CLOSER, "at": EARLIEST, "last_id": 0, "updated_at": utcnow()}
        await conn.execute(dialect_insert(conn, cursors).values(start).on_conflict_do_nothing())
        row = (await conn.execute(position.with_for_update())).one()
    h = event_history
    key = sa.type_coerce(stale_from(h), h.c.at.type)
    query = (
        sa.select(h.c.service_id, h.c.user_id, h.c.at, h.c.id, key.label("key"))
        .where(
            h.c.item_type == _CHANNEL,
            h.c.event == sa.literal("start", literal_execute=True),
            sa.tuple_(key, h.c.id) > sa.tuple_(row.at, row.last_id),
            key < before,
            h.c.origin != "derived",
            h.c.removed.is_(False),
        )
        .order_by(key, h.c.id)
        .limit(limit)
    )
    found = (await conn.execute(query)).all()
    if found:
        moved = {"at": found[-1].key, "last_id": found[-1].id, "updated_at": utcnow()}
        await conn.execute(sa.update(cursors).where(cursors.c.name == _CLOSER).values(moved))
    return [(r.service_id, r.user_id, r.at) for r in found]


async def select_derived(
    conn: AsyncConnection, service_id: int, user_id: str, start: dt.datetime, end: dt.datetime
) -> list[sa.Row[Any]]:
    """The user's derived rows in force (not superseded) for times in [start, end]."""
    h = event_history
    query = sa.select(h).where(
        h.c.service_id == service_id,
        h.c.user_id == user_id,
        h.c.at >= start,
        h.c.at <= end,
        h.c.origin == "derived",
        h.c.removed.is_(False),
        h.c.superseded_at.is_(None),
    )
    return list((await conn.execute(query.order_by(h.c.id))).all())


async def supersede(conn: AsyncConnection, ids: Sequence[int], now: dt.datetime) -> None:
    """Mark history rows superseded, append their corrections, and set each list item they
    were in to what the history still holds for it (the latest row in force, or nothing). A
    few statements whatever the number of rows."""
    if not ids:
        return
    h = event_history
    rows = await select_in(
        conn, sa.select(h.c.id, *(h.c[name] for name in _KEY_COLUMNS), h.c.at), h.c.id, ids
    )
    for chunk in chunks(list(ids), BIND_CHUNK):
        await conn.execute(sa.update(h).where(h.c.id.in_(chunk)).values(superseded_at=now))
    await conn.execute(
        sa.insert(h),
        [
            {
                **{name: row._mapping[name] for name in _KEY_COLUMNS},
                "value": None,
                "at": row.at,
                "origin": "derived",
                "removed": True,
                "received_at": now,
                "supersedes": row.id,
            }
            for row in rows
        ],
    )
    keys: list[tuple[Any, ...]] = sorted(
        {tuple(row._mapping[name] for name in _KEY_COLUMNS) for row in rows}
    )
    if conn.dialect.name == "postgresql":
        await _restore_lists_pg(conn, keys)
        return
    key_columns = sa.tuple_(*(list_items.c[name] for name in _KEY_COLUMNS))
    history_key = sa.tuple_(*(h.c[name] for name in _KEY_COLUMNS))
    latest: dict[tuple[Any, ...], Any] = {}
    for some in chunks(keys, 200):
        in_force = sa.select(*(h.c[name] for name in _KEY_COLUMNS), h.c.value, h.c.at, h.c.removed)
        in_force = in_force.where(
            history_key.in_(some), h.c.superseded_at.is_(None), h.c.supersedes.is_(None)
        ).order_by(h.c.at, h.c.id)
        for found in await conn.execute(in_force):
            latest[tuple(found._mapping[name] for name in _KEY_COLUMNS)] = found  # last wins
        await conn.execute(sa.delete(list_items).where(key_columns.in_(some)))
    restored = [
        {
            **{name: row._mapping[name] for name in _KEY_COLUMNS},
            "value": row.value,
            "updated_at": row.at,
        }
        for row in latest.values()
        if not row.removed
    ]
    if restored:
        await conn.execute(sa.insert(list_items), restored)


_PG_KEYS = "unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[]) AS k(s, u, e, t, i)"
_PG_LATEST_IN_FORCE = f"""
SELECT k.s, k.u, k.e, k.t, k.i, h.value::text, h.at FROM {_PG_KEYS}
CROSS JOIN LATERAL (
    SELECT value, at, removed FROM event_history
    WHERE service_id = k.s AND user_id = k.u AND event = k.e AND item_type = k.t
      AND item_id = k.i AND superseded_at IS NULL AND supersedes IS NULL
    ORDER BY at DESC, id DESC LIMIT 1
) h
WHERE NOT h.removed
"""  # noqa: S608 (constants only)
_PG_DELETE_ITEMS = f"""
DELETE FROM list_items l USING {_PG_KEYS}
WHERE l.service_id = k.s AND l.user_id = k.u AND l.event = k.e AND l.item_type = k.t
  AND l.item_id = k.i
"""  # noqa: S608 (constants only)


async def _restore_lists_pg(conn: AsyncConnection, keys: Sequence[tuple[Any, ...]]) -> None:
    """PostgreSQL: each key's list item set to its latest history row in force, in three
    statements (arrays in; per key an index lookup, whatever the statistics say)."""
    driver = await driver_of(conn)
    columns = [[key[index] for key in keys] for index in range(len(_KEY_COLUMNS))]
    latest = await driver.fetch(_PG_LATEST_IN_FORCE, *columns)
    await driver.execute(_PG_DELETE_ITEMS, *columns)
    if latest:
        restored = [
            {
                **dict(zip(_KEY_COLUMNS, row[:5], strict=True)),
                "value": json_scalar(row[5]),
                "updated_at": row[6],
            }
            for row in latest
        ]
        await conn.execute(sa.insert(list_items), restored)


_LOCK_USERS = sa.text(
    "SELECT i FROM unnest(:keys) WITH ORDINALITY AS t(k, i) "
    "WHERE NOT pg_try_advisory_xact_lock(hashtextextended(k, 20)) LIMIT 1"
).bindparams(sa.bindparam("keys", type_=postgresql.ARRAY(sa.Text)))
"""Takes the keys' locks in the array's order up to the first another transaction holds
(LIMIT 1 stops the scan there); answers that key's position, or nothing once all are held."""


async def lock_users(conn: AsyncConnection, users: Sequence[tuple[int, str]]) -> None:
    """Until the transaction ends, be the only one deriving from these users' events
    (PostgreSQL; SQLite has one writer at a time anyway).

    In one order, so no deadlock; without blocking: a statement takes every lock it can in
    that order, and one held elsewhere is asked for again shortly after. Waiting for another
    flush of the same users (an offline sync sent as several batches at once) is then many
    short statements, not one the statement timeout would cut at 5 s. Through SQLAlchemy:
    the first statement opens the transaction, so the locks last to its end."""
    if conn.dialect.name != "postgresql" or not users:
        return
    keys = [f"{service_id}:{user_id}" for service_id, user_id in sorted(set(users))]
    while keys:
        held_elsewhere = await conn.scalar(_LOCK_USERS, {"keys": keys})
        if held_elsewhere is None:
            return
        keys = keys[int(held_elsewhere) - 1 :]
        await asyncio.sleep(0.02)


_USER_EVENT_COUNTS = (
    sa.select(event_history.c.item_id, sa.func.count())
    .where(
        event_history.c.service_id == sa.bindparam("service_id"),
        event_history.c.user_id == sa.bindparam("user_id"),
        event_history.c.at >= sa.bindparam("since"),
        event_history.c.event == sa.bindparam("event"),
        event_history.c.item_type == sa.bindparam("item_type"),
        event_history.c.removed.is_(False),
        event_history.c.superseded_at.is_(None),
    )
    .group_by(event_history.c.item_id)
)
"""Built once: a section page asks it each time (the user's clicks on sections)."""


async def count_user_events(
    conn: AsyncConnection,
    service_id: int,
    user_id: str,
    event: str,
    item_type: str,
    since: dt.datetime,
) -> dict[str, int]:
    """How many `event`s the user sent on each item of `item_type` since `since`."""
    params = {
        "service_id": service_id,
        "user_id": user_id,
        "since": since,
        "event": event,
        "item_type": item_type,
    }
    return {item_id: int(n) for item_id, n in await conn.execute(_USER_EVENT_COUNTS, params)}


async def select_popular(
    conn: AsyncConnection,
    service_id: int,
    *,
    events: Sequence[str],
    item_types: Sequence[str],
    since: dt.datetime,
    limit: int,
) -> list[tuple[str, str, int]]:
    """(item type, item id, distinct users) of the items most users sent `events` on since
    `since`, most first."""
    users = sa.func.count(sa.distinct(event_history.c.user_id)).label("users")
    query = (
        sa.select(event_history.c.item_type, event_history.c.item_id, users)
        .where(
            event_history.c.service_id == service_id,
            event_history.c.at >= since,
            event_history.c.event.in_(list(events)),
            event_history.c.item_type.in_(list(item_types)),
            event_history.c.removed.is_(False),
            event_history.c.superseded_at.is_(None),
        )
        .group_by(event_history.c.item_type, event_history.c.item_id)
        .order_by(users.desc(), event_history.c.item_type, event_history.c.item_id)
        .limit(limit)
    )
    return [(row.item_type, row.item_id, int(row.users)) for row in await conn.execute(query)]


async def count_history(conn: AsyncConnection, service_id: int) -> int:
    query = sa.select(sa.func.count()).where(event_history.c.service_id == service_id)
    return int(await conn.scalar(query) or 0)


async def newest_history_ids(conn: AsyncConnection, service_ids: Sequence[int]) -> dict[int, int]:
    """Each of these services' newest history id (services with no events left out)."""
    query = sa.select(event_history.c.service_id, sa.func.max(event_history.c.id).label("newest"))
    rows = await select_in(
        conn, query.group_by(event_history.c.service_id), event_history.c.service_id, service_ids
    )
    return {row.service_id: int(row.newest) for row in rows}


def counted_history(
    conn: AsyncConnection,
    *,
    after: int,
    upto: int,
    skipped: Sequence[int],
    filled: Sequence[int],
) -> sa.Subquery:
    """History rows with ids in (`after`, `upto`] less `skipped`, plus `filled`, that count
    (events, not removals, and corrections), with `step`: +1 for an event, -1 for a correction
    (it takes back the event it withdraws). For another domain's statement to count from."""
    table = event_history
    counted = sa.or_(table.c.removed.is_(False), table.c.supersedes.is_not(None))
    step = sa.case((table.c.supersedes.is_(None), 1), else_=-1).label("step")
    columns = [*table.c, step]
    ranged = sa.select(*columns).where(table.c.id > after, table.c.id <= upto, counted)
    if skipped:
        ranged = ranged.where(table.c.id.not_in(id_list(conn, skipped)))
    parts = [ranged]
    if filled:
        parts.append(sa.select(*columns).where(table.c.id.in_(id_list(conn, filled)), counted))
    return (parts[0] if len(parts) == 1 else sa.union_all(*parts)).subquery("round")
