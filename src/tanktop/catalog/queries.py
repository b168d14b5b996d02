"""All catalog SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.catalog.tables import (
    catalog_change_cursors,
    catalog_changes,
    catalog_generation,
    catalog_items,
    offers,
    schedule_slots,
)
from tanktop.db import announce_work, chunks, dialect_insert, driver_of, one_of, select_in, utcnow

ItemKey = tuple[str, str]
ITEM_COLUMNS = (
    "title",
    "duration",
    "year",
    "genres",
    "sport",
    "teams",
    "programme_id",
    "season",
    "number",
    "updated_at",
)


async def upsert_items(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> set[ItemKey]:
    """Insert or replace items; returns the keys that did not exist before."""
    if not rows:
        return set()
    existing = await existing_keys(conn, [(r["item_type"], r["item_id"]) for r in rows])
    stmt = dialect_insert(conn, catalog_items)
    stmt = stmt.on_conflict_do_update(
        index_elements=[catalog_items.c.item_type, catalog_items.c.item_id],
        set_={name: stmt.excluded[name] for name in ITEM_COLUMNS},
    )
    await conn.execute(stmt, list(rows))
    await bump_generation(conn)
    return {(r["item_type"], r["item_id"]) for r in rows} - existing


async def bump_generation(conn: AsyncConnection) -> None:
    """Part of every item write's transaction (see `CatalogFacts`)."""
    await conn.execute(
        sa.update(catalog_generation)
        .where(catalog_generation.c.id == 1)
        .values(generation=catalog_generation.c.generation + 1)
    )


_GENERATION = sa.select(catalog_generation.c.generation).where(catalog_generation.c.id == 1)
PG_GENERATION = "SELECT generation FROM catalog_generation WHERE id = 1"
"""The catalog generation as PostgreSQL text: read straight through asyncpg, here and (as a
scalar subquery, through `catalog.facts.GENERATION_SQL`) in other domains' statements."""


async def select_generation(conn: AsyncConnection) -> int:
    """Read before every use of the per-process catalog copy: straight to the driver on
    PostgreSQL (a tenth of what the same statement costs through SQLAlchemy)."""
    if conn.dialect.name == "postgresql":
        driver = await driver_of(conn)
        generation = await driver.fetchval(PG_GENERATION)
    else:
        generation = await conn.scalar(_GENERATION)
    return int(generation or 0)


def ids_by_type(keys: Iterable[ItemKey]) -> dict[str, list[str]]:
    by_type: dict[str, list[str]] = {}
    for item_type, item_id in keys:
        by_type.setdefault(item_type, []).append(item_id)
    return by_type


async def existing_keys(conn: AsyncConnection, keys: Iterable[ItemKey]) -> set[ItemKey]:
    found: set[ItemKey] = set()
    for item_type, ids in ids_by_type(keys).items():
        for start in range(0, len(ids), 1000):
            query = sa.select(catalog_items.c.item_id).where(
                catalog_items.c.item_type == item_type,
                catalog_items.c.item_id.in_(ids[start : start + 1000]),
            )
            found |= {(item_type, row.item_id) for row in await conn.execute(query)}
    return found


async def select_item(conn: AsyncConnection, item_type: str, item_id: str) -> sa.Row[Any] | None:
    query = sa.select(catalog_items).where(
        catalog_items.c.item_type == item_type, catalog_items.c.item_id == item_id
    )
    return (await conn.execute(query)).first()


async def count_episodes(conn: AsyncConnection, programme_id: str) -> int:
    query = sa.select(sa.func.count()).where(
        catalog_items.c.item_type == "episode", catalog_items.c.programme_id == programme_id
    )
    return int(await conn.scalar(query) or 0)


async def delete_item(conn: AsyncConnection, item_type: str, item_id: str) -> bool:
    await conn.execute(
        sa.delete(offers).where(offers.c.item_type == item_type, offers.c.item_id == item_id)
    )
    result = await conn.execute(
        sa.delete(catalog_items).where(
            catalog_items.c.item_type == item_type, catalog_items.c.item_id == item_id
        )
    )
    if result.rowcount > 0:
        await bump_generation(conn)
    return result.rowcount > 0


async def select_offers(
    conn: AsyncConnection, keys: Sequence[ItemKey]
) -> dict[ItemKey, list[dict[str, Any]]]:
    """Offers of each item, as comparable dicts (source_id, price, hd, window)."""
    result: dict[ItemKey, list[dict[str, Any]]] = {key: [] for key in keys}
    for item_type, ids in ids_by_type(keys).items():
        for start in range(0, len(ids), 1000):
            query = (
                sa.select(offers)
                .where(
                    offers.c.item_type == item_type, offers.c.item_id.in_(ids[start : start + 1000])
                )
                .order_by(offers.c.id)
            )
            for row in await conn.execute(query):
                result[(item_type, row.item_id)].append(offer_dict(row))
    return result


def offer_dict(row: Any) -> dict[str, Any]:
    return {
        "source_id": row.source_id,
        "price": row.price,
        "hd": row.hd,
        "available_from": row.available_from,
        "available_until": row.available_until,
    }


async def select_available_since(
    conn: AsyncConnection, keys: Sequence[ItemKey]
) -> dict[ItemKey, dict[str, dt.datetime | None]]:
    """Each item's sources with when it became available there (see `offers.available_since`)."""
    result: dict[ItemKey, dict[str, dt.datetime | None]] = {key: {} for key in keys}
    for item_type, ids in ids_by_type(keys).items():
        for start in range(0, len(ids), 1000):
            query = sa.select(offers.c.item_id, offers.c.source_id, offers.c.available_since).where(
                offers.c.item_type == item_type, offers.c.item_id.in_(ids[start : start + 1000])
            )
            for row in await conn.execute(query):
                result[(item_type, row.item_id)][row.source_id] = row.available_since
    return result


async def replace_offers(conn: AsyncConnection, new: dict[ItemKey, list[dict[str, Any]]]) -> None:
    # One statement per item type and thousand ids, not one per item: a prepared per-row
    # DELETE can keep a plan made while the table was empty and scan it once per row.
    for item_type, ids in ids_by_type(new).items():
        for start in range(0, len(ids), 1000):
            await conn.execute(
                sa.delete(offers).where(
                    offers.c.item_type == item_type,
                    offers.c.item_id.in_(ids[start : start + 1000]),
                )
            )
    rows = [
        {"item_type": key[0], "item_id": key[1], **offer}
        for key, item_offers in new.items()
        for offer in item_offers
    ]
    if rows:
        await conn.execute(sa.insert(offers), rows)


async def insert_changes(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Log changes for the worker's consumers (notifications, live TV), waking it on commit.

    Consumers keep a cursor (the last id they handled), so ids must become visible in order:
    on PostgreSQL concurrent writers take turns from their first change row to their commit
    (an id taken later commits later); SQLite has one writer at a time anyway.
    """
    if rows:
        if conn.dialect.name == "postgresql":
            await conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _FEED_WRITERS}
            )
        await conn.execute(sa.insert(catalog_changes), list(rows))
        await announce_work(conn)


async def select_slots(
    conn: AsyncConnection, channel_id: str, start: dt.datetime, end: dt.datetime
) -> list[sa.Row[Any]]:
    """Slots of a channel overlapping [start, end), in time order."""
    query = (
        sa.select(schedule_slots)
        .where(
            schedule_slots.c.channel_id == channel_id,
            schedule_slots.c.start < end,
            schedule_slots.c.end > start,
        )
        .order_by(schedule_slots.c.start)
    )
    return list((await conn.execute(query)).all())


async def select_slots_of(
    conn: AsyncConnection, ranges: Sequence[tuple[str, dt.datetime, dt.datetime]]
) -> dict[str, list[tuple[dt.datetime, dt.datetime, str, str]]]:
    """(start, end, item type, item id) of the slots overlapping each (channel, start, end),
    each channel's in time order: PostgreSQL in one statement (LATERAL: by the primary key
    whatever the statistics), SQLite in one per hundred ranges."""
    found: dict[str, dict[dt.datetime, tuple[dt.datetime, dt.datetime, str, str]]] = {}
    for channel_id, _, _ in ranges:
        found.setdefault(channel_id, {})
    if conn.dialect.name == "postgresql":
        driver = await driver_of(conn)
        rows: list[Any] = await driver.fetch(
            'SELECT w.c, s.start, s."end", s.item_type, s.item_id '
            "FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS w(c, lo, hi) "
            'CROSS JOIN LATERAL (SELECT start, "end", item_type, item_id FROM schedule_slots '
            'WHERE channel_id = w.c AND start < w.hi AND "end" > w.lo OFFSET 0) s',
            *[[r[index] for r in ranges] for index in range(3)],
        )
    else:
        rows = []
        s = schedule_slots
        for some in chunks(list(ranges), 100):
            overlapping = sa.or_(
                *(sa.and_(s.c.channel_id == c, s.c.start < hi, s.c.end > lo) for c, lo, hi in some)
            )
            query = sa.select(s.c.channel_id, s.c.start, s.c.end, s.c.item_type, s.c.item_id)
            rows += list((await conn.execute(query.where(overlapping))).all())
    for channel_id, start, end, item_type, item_id in rows:
        found[channel_id][start] = (start, end, item_type, item_id)
    return {channel: [slots[at] for at in sorted(slots)] for channel, slots in found.items()}


async def replace_slots(
    conn: AsyncConnection,
    channel_id: str,
    start: dt.datetime,
    end: dt.datetime,
    slots: Sequence[dict[str, Any]],
) -> None:
    """Drop the channel's slots overlapping [start, end) and store `slots` instead."""
    await conn.execute(
        sa.delete(schedule_slots).where(
            schedule_slots.c.channel_id == channel_id,
            schedule_slots.c.start < end,
            schedule_slots.c.end > start,
        )
    )
    if slots:
        await conn.execute(
            sa.insert(schedule_slots), [{"channel_id": channel_id, **slot} for slot in slots]
        )


def _offer_available(
    item_type: Any,
    item_id: Any,
    *,
    sources: Sequence[str],
    hd: bool,
    max_price: int | None,
    now: dt.datetime,
) -> sa.ColumnElement[bool]:
    conditions: list[Any] = [
        offers.c.item_type == item_type,
        offers.c.item_id == item_id,
        sa.or_(offers.c.available_from.is_(None), offers.c.available_from <= now),
        sa.or_(offers.c.available_until.is_(None), offers.c.available_until > now),
    ]
    if sources:
        conditions.append(offers.c.source_id.in_(sources))
    if hd:
        conditions.append(offers.c.hd.is_(True))
    if max_price is not None:
        conditions.append(offers.c.price <= max_price)
    return sa.exists().where(*conditions)


async def select_candidates(
    conn: AsyncConnection,
    item_type: str,
    *,
    sources: Sequence[str],
    hd: bool,
    max_price: int | None,
    now: dt.datetime,
    after: str | None,
    limit: int,
    filtered: bool,
    among: Sequence[str] | None = None,
) -> list[str]:
    """Ids of items of `item_type` (of `among`, if given) in id order after `after`,
    available when `filtered`.

    A programme is available when it or any of its episodes has a matching offer.
    """
    query = sa.select(catalog_items.c.item_id).where(catalog_items.c.item_type == item_type)
    if filtered:
        available = _offer_available(
            item_type,
            catalog_items.c.item_id,
            sources=sources,
            hd=hd,
            max_price=max_price,
            now=now,
        )
        if item_type == "programme":
            episodes = catalog_items.alias("episodes")
            episode_available = sa.exists().where(
                episodes.c.item_type == "episode",
                episodes.c.programme_id == catalog_items.c.item_id,
                _offer_available(
                    "episode",
                    episodes.c.item_id,
                    sources=sources,
                    hd=hd,
                    max_price=max_price,
                    now=now,
                ),
            )
            available = sa.or_(available, episode_available)
        query = query.where(available)
    if among is not None:
        query = query.where(one_of(conn, catalog_items.c.item_id, among))
    if after is not None:
        query = query.where(catalog_items.c.item_id > after)
    query = query.order_by(catalog_items.c.item_id).limit(limit)
    return [row.item_id for row in await conn.execute(query)]


async def count_items(conn: AsyncConnection) -> int:
    return int(await conn.scalar(sa.select(sa.func.count()).select_from(catalog_items)) or 0)


async def refresh_statistics(conn: AsyncConnection) -> None:
    """Let PostgreSQL re-plan catalog queries after a bulk load grew the tables.

    Plans cached while a table was empty go on scanning it as it grows; ANALYZE updates the
    statistics and invalidates those plans.
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text("ANALYZE catalog_items, offers"))


_FEED_WRITERS = 0x7461_6E6B_6665_6564  # "tankfeed": PostgreSQL advisory lock of change writers


async def _last_handled(conn: AsyncConnection, consumer: str, *, lock: bool) -> int | None:
    query = sa.select(catalog_change_cursors.c.last_id).where(
        catalog_change_cursors.c.consumer == consumer
    )
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    last = await conn.scalar(query)
    return None if last is None else int(last)


async def claim_changes(
    conn: AsyncConnection, consumer: str, limit: int, kinds: Sequence[str] | None = None
) -> list[sa.Row[Any]]:
    """Change rows after `consumer`'s cursor, in id order (of `kinds`, if given), with the
    cursor locked for this transaction; none when another worker holds it. An idle look is
    one read and takes no lock."""
    after = await _last_handled(conn, consumer, lock=False)
    if after is None:  # a consumer's first look: it starts at the beginning of the log
        await conn.execute(
            dialect_insert(conn, catalog_change_cursors)
            .values(consumer=consumer, last_id=0, updated_at=utcnow())
            .on_conflict_do_nothing()
        )
        after = 0
    newer = sa.select(catalog_changes).where(catalog_changes.c.id > sa.bindparam("after"))
    if kinds is not None:
        newer = newer.where(catalog_changes.c.kind.in_(list(kinds)))
    newer = newer.order_by(catalog_changes.c.id)
    if await conn.scalar(sa.select(newer.limit(1).exists()), {"after": after}) is not True:
        return []
    after = await _last_handled(conn, consumer, lock=True)
    if after is None:
        return []
    return list((await conn.execute(newer.limit(limit), {"after": after})).all())


async def advance_cursor(
    conn: AsyncConnection, consumer: str, last_id: int, now: dt.datetime
) -> None:
    """`consumer` has handled every change row up to `last_id` (in the claiming transaction)."""
    await conn.execute(
        sa.update(catalog_change_cursors)
        .where(
            catalog_change_cursors.c.consumer == consumer,
            catalog_change_cursors.c.last_id < last_id,
        )
        .values(last_id=last_id, updated_at=now)
    )


FACT_COLUMNS = (
    catalog_items.c.item_type,
    catalog_items.c.item_id,
    catalog_items.c.programme_id,
    catalog_items.c.sport,
    catalog_items.c.teams,
    catalog_items.c.duration,
    catalog_items.c.season,
    catalog_items.c.number,
)
"""What other domains read of items (not titles or genres: decoding JSON costs)."""
GUIDE_COLUMNS = tuple(c for c in FACT_COLUMNS if c.name not in ("sport", "teams"))
"""What an episode guide needs: ids, order and durations."""


LABEL_COLUMNS = (
    catalog_items.c.item_type,
    catalog_items.c.item_id,
    catalog_items.c.title,
    catalog_items.c.year,
    catalog_items.c.programme_id,
    catalog_items.c.season,
    catalog_items.c.number,
)
"""What a person needs to recognise an item."""


async def select_items(
    conn: AsyncConnection, keys: Sequence[ItemKey], columns: Sequence[Any] = FACT_COLUMNS
) -> dict[ItemKey, Any]:
    found: dict[ItemKey, Any] = {}
    for item_type, ids in ids_by_type(keys).items():
        query = sa.select(*columns).where(catalog_items.c.item_type == item_type)
        rows = await select_in(conn, query, catalog_items.c.item_id, ids)
        found |= {(item_type, row.item_id): row for row in rows}
    return found


async def select_episode_offers(conn: AsyncConnection, programme_id: str) -> list[dict[str, Any]]:
    query = (
        sa.select(offers)
        .join(
            catalog_items,
            sa.and_(
                catalog_items.c.item_type == offers.c.item_type,
                catalog_items.c.item_id == offers.c.item_id,
            ),
        )
        .where(offers.c.item_type == "episode", catalog_items.c.programme_id == programme_id)
    )
    return [offer_dict(row) for row in await conn.execute(query)]


async def select_episodes(conn: AsyncConnection, programme_ids: Sequence[str]) -> list[sa.Row[Any]]:
    if not programme_ids:
        return []
    query = (
        sa.select(*GUIDE_COLUMNS)
        .where(catalog_items.c.item_type == "episode")
        .order_by(catalog_items.c.programme_id, catalog_items.c.season, catalog_items.c.number)
    )
    return await select_in(conn, query, catalog_items.c.programme_id, programme_ids)


_AIRING = (
    sa.select(schedule_slots)
    .where(
        schedule_slots.c.start < sa.bindparam("end"), schedule_slots.c.end > sa.bindparam("start")
    )
    .order_by(schedule_slots.c.start, schedule_slots.c.channel_id)
    .limit(sa.bindparam("limit"))
)


async def select_airing(
    conn: AsyncConnection, start: dt.datetime, end: dt.datetime, limit: int
) -> list[sa.Row[Any]]:
    """Slots of every channel overlapping [start, end), by start time."""
    return list((await conn.execute(_AIRING, {"start": start, "end": end, "limit": limit})).all())


async def select_titles(conn: AsyncConnection, keys: Sequence[ItemKey]) -> dict[ItemKey, str]:
    found: dict[ItemKey, str] = {}
    for item_type, ids in ids_by_type(keys).items():
        for start in range(0, len(ids), 1000):
            query = sa.select(catalog_items.c.item_id, catalog_items.c.title).where(
                catalog_items.c.item_type == item_type,
                catalog_items.c.item_id.in_(ids[start : start + 1000]),
            )
            found |= {(item_type, row.item_id): row.title for row in await conn.execute(query)}
    return found


async def select_genres(conn: AsyncConnection, item_types: Sequence[str]) -> list[Any]:
    """(item_type, item_id, genres) of every item of `item_types`, in key order."""
    query = (
        sa.select(catalog_items.c.item_type, catalog_items.c.item_id, catalog_items.c.genres)
        .where(catalog_items.c.item_type.in_(list(item_types)))
        .order_by(catalog_items.c.item_type, catalog_items.c.item_id)
    )
    return [row for row in await conn.execute(query)]


async def select_years(conn: AsyncConnection, item_types: Sequence[str]) -> list[Any]:
    """(item_type, item_id, year) of every item of `item_types` with a year, in key order."""
    query = (
        sa.select(catalog_items.c.item_type, catalog_items.c.item_id, catalog_items.c.year)
        .where(catalog_items.c.item_type.in_(list(item_types)), catalog_items.c.year.is_not(None))
        .order_by(catalog_items.c.item_type, catalog_items.c.item_id)
    )
    return [row for row in await conn.execute(query)]


_EPISODES = catalog_items.alias("episodes")
_IS_EPISODE = offers.c.item_type == "episode"
_NEW_KEY_ID = sa.case((_IS_EPISODE, _EPISODES.c.programme_id), else_=offers.c.item_id)
_NEW_OFFERS = (
    sa.select(
        sa.case((_IS_EPISODE, sa.literal("programme")), else_=offers.c.item_type),
        _NEW_KEY_ID,
        offers.c.available_since,
    )
    .select_from(
        offers.outerjoin(
            _EPISODES,
            sa.and_(
                _IS_EPISODE,
                _EPISODES.c.item_type == "episode",
                _EPISODES.c.item_id == offers.c.item_id,
            ),
        )
    )
    .where(
        offers.c.available_since >= sa.bindparam("since"),
        offers.c.available_since <= sa.bindparam("now"),
        sa.or_(offers.c.available_until.is_(None), offers.c.available_until > sa.bindparam("now")),
        _NEW_KEY_ID.is_not(None),
    )
    .order_by(offers.c.available_since.desc())
    .limit(sa.bindparam("ask"))
)
"""`select_new`'s offers, newest first: built once (a page asks for them each time; building
the statement cost more of the process's CPU than reading its answer)."""


async def select_new(
    conn: AsyncConnection,
    item_types: Sequence[str],
    *,
    since: dt.datetime,
    now: dt.datetime,
    sources: Sequence[str],
    hd: bool,
    max_price: int | None,
    limit: int,
) -> list[tuple[str, str, dt.datetime]]:
    """(item type, item id, when) of items that became available on an offer (matching the
    filters, available now) since `since`, newest first; an episode's offer counts for its
    programme.

    Offers are read newest first along `ix_offers_available_since` (an item's first offer in
    that order is its newest) until `limit` items are known, where grouping every offer of the
    window by item cost the whole window (thousands of offers) per call. Item types and the
    order among equal times are applied here: in SQL, a condition on the offer's type makes
    SQLite choose the index on it, and a second sort key makes it sort the whole window."""
    query = _NEW_OFFERS
    if sources:
        query = query.where(offers.c.source_id.in_(list(sources)))
    if hd:
        query = query.where(offers.c.hd.is_(True))
    if max_price is not None:
        query = query.where(offers.c.price <= max_price)
    types = set(item_types)
    ask = 2 * limit + 8  # an item has an offer or two on most catalogs
    while True:
        rows = (await conn.execute(query, {"since": since, "now": now, "ask": ask})).all()
        newest: dict[tuple[str, str], dt.datetime] = {}
        for key_type, key_id, became in rows:
            if key_type in types:
                newest.setdefault((key_type, key_id), became)
        if len(rows) == ask:  # more may share the last time read: only earlier ones are known
            last = rows[-1][2]
            newest = {key: at for key, at in newest.items() if at > last}
        if len(newest) >= limit or len(rows) < ask:
            ranked = sorted(newest.items(), key=lambda found: (-found[1].timestamp(), found[0]))
            return [(t, i, at) for (t, i), at in ranked[:limit]]
        ask *= 4
