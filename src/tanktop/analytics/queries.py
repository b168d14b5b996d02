"""All analytics SQL: impressions, the followed streams' rows, rollup rows in and out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, JSON
from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.analytics.tables import (
    LEADER_MIN,
    analytics_engagement,
    analytics_items,
    analytics_series,
    analytics_user_events,
    analytics_users,
    analytics_zones,
    impressions,
)
from tanktop.db import (
    ARRAY_CHUNK,
    Insert,
    UTCDateTime,
    chunks,
    dialect_insert,
    driver_of,
    id_list,
    insert_many,
    json_rows,
    select_in,
)
from tanktop.events import service as events


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
    return await select_joined(conn, query, impressions.c.user_id, user_ids)


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
    return await select_joined(conn, query, analytics_users.c.user_id, user_ids)


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


async def select_joined(
    conn: AsyncConnection, query: sa.Select[Any], column: sa.Column[Any], values: Sequence[Any]
) -> list[sa.Row[Any]]:
    """The rows of `query` (from `column`'s table) whose `column` is one of `values`.

    On PostgreSQL the values are joined as a set (`unnest`), not matched with `= ANY(array)`
    (`select_in`): when the planner reads many rows by the other conditions, `ANY` compares
    each of them with every value asked. Item rows: 10,000 ids against a day of 25,000 rows
    took 3.3 s, where the join hashes them: 37 ms. Users: after five executions PostgreSQL
    may keep a generic plan, and on a table its statistics still think small that plan scans
    every user of the service: a round's 400 new users took 280 ms among 6,000, and more as
    the table grew; joined, a few ms."""
    if conn.dialect.name != "postgresql":
        return await select_in(conn, query, column, values)
    rows: list[sa.Row[Any]] = []
    for chunk in chunks(list(dict.fromkeys(values)), ARRAY_CHUNK):  # a value asked twice: once
        asked = (
            sa.func.unnest(sa.literal(chunk, ARRAY(column.type)))
            .table_valued("value")
            .render_derived()
        )
        rows += await _all(conn, query.join_from(column.table, asked, column == asked.c.value))
    return rows


ItemKey = tuple[str, str, dt.datetime, str]
"""(event, item_type, day, item_id) of an item row."""
_PG_ITEMS_AT = (
    "SELECT asked.item_id, i.events, i.members FROM unnest($5::text[]) AS asked(item_id) "
    "CROSS JOIN LATERAL (SELECT events, members FROM analytics_items "
    "WHERE service_id = $1 AND event = $2 AND item_type = $3 AND item_id = asked.item_id "
    "AND day = $4 OFFSET 0) AS i"
)


async def select_items_at(
    conn: AsyncConnection, service_id: int, keys: Sequence[ItemKey]
) -> dict[ItemKey, tuple[int, bytes]]:
    """(events, members) of the item rows there are of these keys: per (event, item type,
    day), the item ids asked (a row-value IN list plans badly on PostgreSQL). On PostgreSQL
    each id is looked up by the key (a LATERAL subquery PostgreSQL cannot flatten), so a
    round's read costs its ids, not the day: joined as a set, without statistics the plan
    hashed the day's every row (3,000 ids against a day of 45,000 rows: 52-56 ms, by key
    27-29 ms, and the day grows). Straight through asyncpg: a round reads up to one row per
    event, and SQLAlchemy's per-row work (a Row, the day's and the set's processing) was a
    tenth of the worker's CPU.

    The lookup is prepared anew each round, not kept in the connection's statement cache:
    PostgreSQL keeps the generic plan it makes after five executions, and one made in the
    first round, the table empty, scanned it for every id asked in the rounds after
    (`bench.analytics`, 300,000 events over 30 days: 10 ms an id, the catch-up at 1,000
    rows/s against 14,000-16,000)."""
    table = analytics_items
    groups: dict[tuple[str, str, dt.datetime], list[str]] = {}
    for event, item_type, day, item_id in keys:
        groups.setdefault((event, item_type, day), []).append(item_id)
    found: dict[ItemKey, tuple[int, bytes]] = {}
    lookup = None
    if conn.dialect.name == "postgresql" and groups:
        lookup = await (await driver_of(conn)).prepare(_PG_ITEMS_AT)  # planned anew each round
    for (event, item_type, day), item_ids in groups.items():
        if lookup is not None:
            for chunk in chunks(list(dict.fromkeys(item_ids)), ARRAY_CHUNK):
                rows = await lookup.fetch(service_id, event, item_type, day, chunk)
                for item_id, events, members in rows:
                    found[(event, item_type, day, item_id)] = (events, members)
            continue
        query = sa.select(table.c.item_id, table.c.events, table.c.members).where(
            table.c.service_id == service_id,
            table.c.event == event,
            table.c.item_type == item_type,
            table.c.day == day,
        )
        for row in await select_in(conn, query, table.c.item_id, item_ids):
            found[(event, item_type, day, row.item_id)] = (row.events, row.members)
    return found


ItemRow = tuple[str, str, dt.datetime, str, int, bytes]
"""(event, item_type, day, item_id, events, members) of an item row to write."""
_ITEM_COLUMNS = ("service_id", "event", "item_type", "day", "item_id", "events", "members")
_PG_ITEMS_FOUND = (
    "INSERT INTO analytics_items (service_id, event, item_type, day, item_id, events, members) "
    "SELECT $1, * FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::text[], "
    "$6::bigint[], $7::bytea[]) "
    "ON CONFLICT (service_id, event, item_type, item_id, day) "
    "DO UPDATE SET events = excluded.events, members = excluded.members"
)


async def write_items(
    conn: AsyncConnection, service_id: int, found: Sequence[ItemRow], new: Sequence[ItemRow]
) -> None:
    """Write a round's item rows: `found`, rows its read found (their new events and
    members), and `new`, rows it found none of (the lease keeps any other worker from
    writing them meanwhile).

    On PostgreSQL in binary, straight through asyncpg: the new rows by COPY, the found ones
    as typed arrays whose `ON CONFLICT` finds each row by the key (an UPDATE joined to them
    is planned by statistics, and without them hashed the day's every row). As one JSON
    document (`merge`) PostgreSQL parsed every row's text and its set's hex: 60,000 new
    rows in batches of 3,000, the backend's CPU 17.3 us a row as JSON against 12.0 by COPY
    (psql-side, load 1.0-1.1). SQLite: `merge` and `upsert`, as any rollup table."""
    if conn.dialect.name != "postgresql":
        await upsert(conn, analytics_items, _item_dicts(service_id, found))
        await merge(conn, analytics_items, _item_dicts(service_id, new))
        return
    driver = await driver_of(conn)
    if new:
        records = [(service_id, *row) for row in new]
        await driver.copy_records_to_table(
            "analytics_items", records=records, columns=list(_ITEM_COLUMNS)
        )
    for chunk in chunks(found, ARRAY_CHUNK):
        await driver.execute(_PG_ITEMS_FOUND, service_id, *map(list, zip(*chunk, strict=True)))


def _item_dicts(service_id: int, rows: Sequence[ItemRow]) -> list[dict[str, Any]]:
    return [dict(zip(_ITEM_COLUMNS, (service_id, *row), strict=True)) for row in rows]


# -- a round's history rows, counted by the database -------------------------------------------


@dataclass(frozen=True)
class Round:
    """The history rows a round counts: ids in (`after`, `upto`] less `skipped` (not visible
    when the round read them: gaps, counted when they appear), and `filled` (earlier gaps
    visible now). What a round counts of a row (removed, supersedes) never changes once it
    is visible, so the database counts the rows the round read in Python."""

    after: int
    upto: int
    skipped: Sequence[int] = ()
    filled: Sequence[int] = ()


async def add_round_user_events(
    conn: AsyncConnection, rows: Round, service_ids: Sequence[int]
) -> None:
    """Add a round's per-user counts of these services to their rows, counted by the database
    from the round's rows (no read, nothing per event in Python: counts add, first and last
    widen). One statement for all the round's services: each statement scans the round's
    whole id range (one per service took 0.66-0.87 s for 20 services, one 0.17-0.21 s)."""
    found = events.counted_history(  # the events domain's SQL over its history
        conn, after=rows.after, upto=rows.upto, skipped=rows.skipped, filled=rows.filled
    )
    keys = [found.c.service_id, found.c.user_id, found.c.event, found.c.item_type]
    source = (
        sa.select(
            *keys,
            sa.func.sum(found.c.step),
            sa.func.min(found.c.at),
            sa.func.max(found.c.at),
        )
        .where(found.c.service_id.in_(id_list(conn, service_ids)))
        .group_by(*keys)
        .order_by(*keys)
    )
    await merge_from(
        conn,
        analytics_user_events,
        ["service_id", "user_id", "event", "item_type", "events", "first_at", "last_at"],
        source,
        adding("events"),
        widening("first_at", "last_at"),
    )


def _json_value(value: object) -> str:
    """What orjson does not write itself: bytea's input format."""
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    raise TypeError(f"no JSON for {type(value).__name__}")


Rule = Callable[[sa.Table, Any], dict[str, Any]]
"""An upsert's update: the SET of a row already there (`table`'s columns) from the one
arriving (`excluded`), one expression for both dialects."""


def replacing(*names: str) -> Rule:
    """The arriving values replace these columns."""
    return lambda table, new: {name: new[name] for name in names}


def adding(*names: str) -> Rule:
    """The arriving counts add to these columns."""
    return lambda table, new: {name: table.c[name] + new[name] for name in names}


def widening(first: str, last: str) -> Rule:
    """The arriving span widens the one there: the earlier first, the later last."""

    def rule(table: sa.Table, new: Any) -> dict[str, Any]:
        old_first, new_first = table.c[first], new[first]
        old_last, new_last = table.c[last], new[last]
        return {
            first: sa.case((new_first < old_first, new_first), else_=old_first),
            last: sa.case((new_last > old_last, new_last), else_=old_last),
        }

    return rule


async def merge(
    conn: AsyncConnection, table: sa.Table, rows: Sequence[dict[str, Any]], *rules: Rule
) -> None:
    """INSERT rows (dicts with the same keys); on a key already there, `ON CONFLICT DO UPDATE`
    by `rules`. No rules: a plain INSERT, for rows known to be new (PostgreSQL inserts them
    without the speculative insertion an `ON CONFLICT` takes per row).

    On PostgreSQL the rows go as one JSON document (`json_populate_recordset` gives each value
    its column's type). The rollups write tens of thousands of rows a round: as arrays, one
    per column, every value went through SQLAlchemy's and asyncpg's per-element encoding (an
    ABC check per element), a third of the worker's CPU; orjson writes a row in a microsecond
    or two."""
    if not rows:
        return
    on_conflict = _on_conflict(table, rules)
    if conn.dialect.name != "postgresql":
        await insert_many(conn, table, rows, on_conflict)
        return
    names = list(rows[0])
    source = sa.func.json_populate_recordset(
        sa.literal_column(f"NULL::{table.name}"), sa.cast(sa.bindparam("rows", type_=sa.Text), JSON)
    ).table_valued(*(table.c[name] for name in names))
    statement = on_conflict(postgresql.insert(table).from_select(names, sa.select(*source.c)))
    for chunk in chunks(rows, ARRAY_CHUNK):
        await conn.execute(statement, {"rows": json_rows(chunk, _json_value)})


async def merge_from(
    conn: AsyncConnection, table: sa.Table, names: list[str], source: sa.Select[Any], *rules: Rule
) -> None:
    """`merge` of the rows a SELECT gives (their columns `names`), all in the database."""
    insert = dialect_insert(conn, table).from_select(names, source)
    await conn.execute(_on_conflict(table, rules)(insert))


def _on_conflict(table: sa.Table, rules: Sequence[Rule]) -> Callable[[Insert], Insert]:
    """The `ON CONFLICT (key) DO UPDATE` that `rules` make (none: a plain INSERT)."""
    keys = [c.name for c in table.primary_key.columns]

    def on_conflict(insert: Insert) -> Insert:
        if not rules:
            return insert
        update: dict[str, Any] = {}
        for rule in rules:
            update.update(rule(table, insert.excluded))
        return insert.on_conflict_do_update(index_elements=keys, set_=update)

    return on_conflict


async def upsert(conn: AsyncConnection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows, replacing the columns they carry of rows already there."""
    if rows:
        keys = {c.name for c in table.primary_key.columns}
        await merge(conn, table, rows, replacing(*(n for n in rows[0] if n not in keys)))


async def add_engagement(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Add impressions, clicks and engaged counts to their (service, surface, hour) rows."""
    await merge(conn, analytics_engagement, rows, adding("impressions", "clicks", "engaged"))


async def delete_rollups(conn: AsyncConnection, service_id: int) -> None:
    """Forget a service's rollups and engagement marks (a rebuild starts from nothing)."""
    for table in (
        analytics_series,
        analytics_items,
        analytics_user_events,
        analytics_engagement,
        analytics_users,
    ):
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


def set_columns(grain: str, members: bool, new_members: bool) -> list[str]:
    """The users' sets `select_series` reads of a row of `grain` (`members`: an hour's first and
    last activity too)."""
    found = []
    if members:
        found.append("members")
        if grain == "h":
            found += ["first_members", "last_members"]
    if new_members:
        found.append("new_members")
    return found


async def select_series(
    conn: AsyncConnection,
    service_id: int,
    grain: str,
    starts: Sequence[dt.datetime],
    *,
    event: str | None,
    item_type: str | None,
    members: bool,
    new_members: bool = False,
    digests: bool = False,
) -> list[sa.Row[Any]]:
    """Rollup rows of one grain starting at `starts`; `event`/`item_type` None: every real
    series (not the `*` one); "*": the any-event row. `members`: with the users' sets (an
    hour's of first and last activity too) and their digest; `digests`: the digest only
    (`tanktop.analytics.sets`)."""
    table = analytics_series
    columns: list[sa.ColumnElement[Any]] = [
        table.c.event,
        table.c.item_type,
        table.c.start,
        table.c.events,
        table.c.users,
        table.c.new_users,
    ]
    if members or new_members:
        columns.append(table.c.digest)
    if not digests:
        columns += [table.c[name] for name in set_columns(grain, members, new_members)]
    query = sa.select(*columns).where(table.c.service_id == service_id, table.c.grain == grain)
    if event is not None:
        query = query.where(table.c.event == event)
    else:
        query = query.where(table.c.event != "*")
    if item_type is not None:
        query = query.where(table.c.item_type == item_type)
    return await select_in(conn, query, table.c.start, starts)


async def day_leaders(
    conn: AsyncConnection,
    service_id: int,
    event: str,
    item_type: str,
    days: Sequence[dt.datetime],
    depth: int,
) -> list[sa.Row[Any]]:
    """(day, item_id, events) of each day's `depth` items with the most events, of those with
    at least `LEADER_MIN` (the rank index, partial, read from its top down, a short scan per
    day): a day listing fewer has every other item at under `LEADER_MIN` there. On
    PostgreSQL one statement over an array of days (LATERAL); SQLite, which has no LATERAL,
    gets a UNION ALL of one SELECT a day (a statement of 31 parts costs PostgreSQL more to
    plan than to run)."""
    table = analytics_items
    ranked = table.c.events >= sa.literal_column(str(LEADER_MIN))  # the index's predicate
    if conn.dialect.name == "postgresql":
        each = (
            sa.func.unnest(sa.literal(list(days), ARRAY(UTCDateTime())))
            .table_valued("day")
            .render_derived()
        )
        leaders = (
            sa.select(table.c.item_id, table.c.events)
            .where(
                table.c.service_id == service_id,
                table.c.event == event,
                table.c.item_type == item_type,
                table.c.day == each.c.day,
                ranked,
            )
            .order_by(table.c.events.desc())
            .limit(depth)
            .lateral()
        )
        lateral = sa.select(
            each.c.day.label("day"), leaders.c.item_id, leaders.c.events
        ).select_from(each.join(leaders, sa.true()))
        return await _all(conn, lateral)
    rows: list[sa.Row[Any]] = []
    for chunk in chunks(days, 31):
        per_day = [
            sa.select(table.c.day, table.c.item_id, table.c.events)
            .where(
                table.c.service_id == service_id,
                table.c.event == event,
                table.c.item_type == item_type,
                table.c.day == day,
                ranked,
            )
            .order_by(table.c.events.desc())
            .limit(depth)
            .subquery()
            .select()
            for day in chunk
        ]
        query = per_day[0] if len(per_day) == 1 else sa.union_all(*per_day)
        rows += (await conn.execute(query)).all()
    return rows


def _item_days(
    service_id: int, event: str, item_type: str, start: dt.datetime, end: dt.datetime
) -> list[sa.ColumnElement[bool]]:
    """The item rows of one event and item type over the days in [start, end)."""
    table = analytics_items
    return [
        table.c.service_id == service_id,
        table.c.event == event,
        table.c.item_type == item_type,
        table.c.day >= start,
        table.c.day < end,
    ]


async def item_totals(
    conn: AsyncConnection,
    service_id: int,
    event: str,
    item_type: str,
    item_ids: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
) -> list[tuple[str, int]]:
    """(item_id, events) of these items over the days in [start, end)."""
    table = analytics_items
    total = sa.func.sum(table.c.events).label("total")
    query = (
        sa.select(table.c.item_id, total)
        .where(*_item_days(service_id, event, item_type, start, end))
        .group_by(table.c.item_id)
        .having(total > 0)  # corrections can take an item's events back to none
    )
    rows = await select_in(conn, query, table.c.item_id, item_ids)
    return [(row.item_id, int(row.total)) for row in rows]


async def top_totals(
    conn: AsyncConnection,
    service_id: int,
    event: str,
    item_type: str,
    start: dt.datetime,
    end: dt.datetime,
    n: int,
) -> list[tuple[str, int]]:
    """(item_id, events) over the days in [start, end) of the items whose total ranks in the
    first `n` (ties at the n-th all), every item summed: for when the days' leaders cannot
    settle a top list. PostgreSQL finds the range's rows by the BRIN index on `day` (the
    key leads with the item, so by the key it would read every day's rows)."""
    query = top_totals_query(service_id, event, item_type, start, end, n)
    return [(row.item_id, int(row.total)) for row in await conn.execute(query)]


def top_totals_query(
    service_id: int, event: str, item_type: str, start: dt.datetime, end: dt.datetime, n: int
) -> sa.Select[Any]:
    """The statement `top_totals` sends (a plan test explains it)."""
    table = analytics_items
    total = sa.func.sum(table.c.events)
    totals = (
        sa.select(
            table.c.item_id,
            total.label("total"),
            sa.func.rank().over(order_by=total.desc()).label("rank"),
        )
        .where(*_item_days(service_id, event, item_type, start, end))
        .group_by(table.c.item_id)
        .having(total > 0)
        .subquery()
    )
    return sa.select(totals.c.item_id, totals.c.total).where(totals.c.rank <= n)


async def summarise_item_days(conn: AsyncConnection) -> int:
    """PostgreSQL: summarise the block ranges of `ix_analytics_items_day` not summarised yet
    (how many). Skipped (0) while VACUUM or anyone else holds the table's lock for it: a
    wait would cancel an autovacuum doing the same work, or wait out a manual VACUUM."""
    summarised = await conn.scalar(
        sa.text(
            "SELECT brin_summarize_new_values('ix_analytics_items_day') WHERE NOT EXISTS ("
            "SELECT 1 FROM pg_locks WHERE relation = 'analytics_items'::regclass "
            "AND mode = 'ShareUpdateExclusiveLock')"
        )
    )
    return int(summarised or 0)


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


async def select_zones(
    conn: AsyncConnection, service_id: int | None = None
) -> dict[int, list[str]]:
    """Report zones by service (of one service, or all)."""
    table = analytics_zones
    query = sa.select(table.c.service_id, table.c.zone).order_by(table.c.zone)
    if service_id is not None:
        query = query.where(table.c.service_id == service_id)
    found: dict[int, list[str]] = {}
    for row in await conn.execute(query):
        found.setdefault(row.service_id, []).append(row.zone)
    return found


async def add_zone(conn: AsyncConnection, service_id: int, zone: str) -> None:
    await conn.execute(sa.insert(analytics_zones).values(service_id=service_id, zone=zone))


async def delete_zone(conn: AsyncConnection, service_id: int, grain: str, zone: str) -> bool:
    """Forget a report zone and its rows; False if the service had no such zone."""
    series = analytics_series
    await conn.execute(
        sa.delete(series).where(series.c.service_id == service_id, series.c.grain == grain)
    )
    table = analytics_zones
    result = await conn.execute(
        sa.delete(table).where(table.c.service_id == service_id, table.c.zone == zone)
    )
    return bool(result.rowcount)


async def select_hour_rows(
    conn: AsyncConnection, service_id: int, start: dt.datetime, end: dt.datetime
) -> list[sa.Row[Any]]:
    """A service's hour rows with `start <= row start < end` (every series, members too)."""
    table = analytics_series
    query = sa.select(table).where(
        table.c.service_id == service_id,
        table.c.grain == "h",
        table.c.start >= start,
        table.c.start < end,
    )
    return await _all(conn, query)


async def hour_span(
    conn: AsyncConnection, service_id: int
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The first and last hour a service has rows of."""
    table = analytics_series
    query = sa.select(sa.func.min(table.c.start), sa.func.max(table.c.start)).where(
        table.c.service_id == service_id, table.c.grain == "h"
    )
    first, last = (await conn.execute(query)).one()
    return first, last


async def select_user_events(
    conn: AsyncConnection, service_id: int, user_id: str
) -> list[sa.Row[Any]]:
    table = analytics_user_events
    query = (
        sa.select(table)
        .where(
            table.c.service_id == service_id,
            table.c.user_id == user_id,
            table.c.events > 0,  # corrections can take a kind's events back to none
        )
        .order_by(table.c.event, table.c.item_type)
    )
    return await _all(conn, query)


async def select_user(conn: AsyncConnection, service_id: int, user_id: str) -> sa.Row[Any] | None:
    query = sa.select(analytics_users).where(
        analytics_users.c.service_id == service_id, analytics_users.c.user_id == user_id
    )
    return (await conn.execute(query)).first()
