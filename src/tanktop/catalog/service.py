"""The catalog as other domains read it: what is available on which terms, item facts and
labels, episode guides, offers and what channels air.

The operator's writes are `admin.py`; the log of changes that consumers follow, `changes.py`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.catalog import queries
from tanktop.catalog.schemas import MAX_PRICE, Offer
from tanktop.db import Database, utcnow

ItemKey = tuple[str, str]


@dataclass(frozen=True)
class Availability:
    """Offer filters on catalog items (none set: every item counts as available)."""

    sources: Sequence[str] = ()
    hd: bool = False
    max_price: int | None = None

    @property
    def filters(self) -> bool:
        return bool(self.sources) or self.hd or self.max_price is not None


async def catalog_candidates(
    db: Database,
    *,
    item_type: str,
    availability: Availability,
    after: str | None,
    limit: int,
    among: Sequence[str] | None = None,
) -> list[str]:
    """Catalog ids of `item_type` (of `among`, if given) in id order after `after`,
    available as `availability` asks."""
    async with db.read() as conn:
        return await queries.select_candidates(
            conn,
            item_type,
            sources=availability.sources,
            hd=availability.hd,
            max_price=availability.max_price,
            now=utcnow(),
            after=after,
            limit=limit,
            filtered=availability.filters,
            among=among,
        )


async def keep_available(
    db: Database, *, keys: Sequence[ItemKey], availability: Availability
) -> list[ItemKey]:
    """`keys` in their order, less those not available as `availability` asks (all of them
    when it asks nothing)."""
    if not availability.filters or not keys:
        return list(keys)
    kept: set[ItemKey] = set()
    for item_type, ids in queries.ids_by_type(keys).items():
        found = await catalog_candidates(
            db,
            item_type=item_type,
            availability=availability,
            after=None,
            limit=len(ids),
            among=ids,
        )
        kept |= {(item_type, item_id) for item_id in found}
    return [key for key in keys if key in kept]


async def new_items(
    db: Database,
    *,
    item_types: Sequence[str],
    availability: Availability,
    since: dt.datetime,
    limit: int,
) -> list[ItemKey]:
    """Items that became available (on offers matching `availability`) since `since`, newest
    first; a programme counts when one of its episodes did."""
    async with db.read() as conn:
        rows = await queries.select_new(
            conn,
            item_types,
            since=since,
            now=utcnow(),
            sources=availability.sources,
            hd=availability.hd,
            max_price=availability.max_price,
            limit=limit,
        )
    return [(item_type, item_id) for item_type, item_id, _ in rows]


def demo_lines() -> list[str]:
    """The packaged demo catalog, one JSON object per line (for `make run` and demo users)."""
    path = resources.files("tanktop.catalog").joinpath("demo/catalog.jsonl")
    return path.read_text(encoding="utf-8").splitlines()


@dataclass(frozen=True)
class Content:
    """What other domains need to know of a catalog item."""

    item_type: str
    item_id: str
    programme_id: str | None
    sport: str | None
    teams: tuple[str, ...]
    duration: float | None = None
    season: int | None = None
    number: int | None = None


def _content(row: Any) -> Content:
    return Content(
        row.item_type,
        row.item_id,
        row.programme_id,
        row._mapping.get("sport"),
        tuple(row._mapping.get("teams") or ()),
        row.duration,
        row.season,
        row.number,
    )


async def contents(conn: AsyncConnection, *, keys: Sequence[ItemKey]) -> dict[ItemKey, Content]:
    """Catalog facts of the given items (absent ones are left out)."""
    return {key: _content(row) for key, row in (await queries.select_items(conn, keys)).items()}


async def item_genres(
    conn: AsyncConnection, *, item_types: Sequence[str]
) -> dict[ItemKey, tuple[str, ...]]:
    """Each item of `item_types` -> its genres (casefolded, sorted, no repeats), in key
    order."""
    return {
        (row.item_type, row.item_id): genre_names(row.genres or ())
        for row in await queries.select_genres(conn, item_types)
    }


async def item_years(conn: AsyncConnection, *, item_types: Sequence[str]) -> dict[ItemKey, int]:
    """Each item of `item_types` that has a release year -> it (the recommender's year part)."""
    return {
        (row.item_type, row.item_id): row.year
        for row in await queries.select_years(conn, item_types)
    }


def genre_names(genres: Iterable[object]) -> tuple[str, ...]:
    """Genres as the catalog compares them: casefolded, sorted, no repeats."""
    return tuple(sorted({str(g).casefold() for g in genres}))


async def labels(db: Database, *, keys: Sequence[ItemKey]) -> dict[ItemKey, str]:
    """How people name these items ("Alien (1979)", "Sherlock S1E2"); unknown ones left out."""
    async with db.read() as conn:
        return await labels_in(conn, keys=keys)


async def labels_in(conn: AsyncConnection, *, keys: Sequence[ItemKey]) -> dict[ItemKey, str]:
    """`labels`, read on `conn`."""
    keys = list(dict.fromkeys(keys))
    rows = await queries.select_items(conn, keys, queries.LABEL_COLUMNS)
    programmes = [("programme", r.programme_id) for r in rows.values() if r.programme_id]
    parents = await queries.select_items(conn, programmes, queries.LABEL_COLUMNS)
    result = {}
    for key, row in rows.items():
        label = row.title or row.item_id
        if row.year:
            label += f" ({row.year})"
        parent = parents.get(("programme", row.programme_id)) if row.programme_id else None
        if parent is not None:
            label = f"{parent.title} S{row.season}E{row.number}"
            if row.title and not row.title.startswith(parent.title):
                label += f" · {row.title}"
        result[key] = label
    return result


async def episode_guides(
    conn: AsyncConnection, *, programme_ids: Sequence[str]
) -> dict[str, list[Content]]:
    """Each programme's episodes in season/number order."""
    guides: dict[str, list[Content]] = {pid: [] for pid in programme_ids}
    for row in await queries.select_episodes(conn, programme_ids):
        guides[row.programme_id].append(_content(row))
    return guides


async def offers_of(
    conn: AsyncConnection, *, keys: Sequence[ItemKey]
) -> dict[ItemKey, list[Offer]]:
    """Each item's offers; a programme's include its episodes' offers."""
    found = await queries.select_offers(conn, keys)
    for item_type, item_id in keys:
        if item_type == "programme":
            found[(item_type, item_id)] += await queries.select_episode_offers(conn, item_id)
    return {key: [Offer.model_validate(o) for o in rows] for key, rows in found.items()}


@dataclass(frozen=True)
class Airing:
    start: dt.datetime
    end: dt.datetime
    item_type: str
    item_id: str


async def airings(
    conn: AsyncConnection, *, channel_id: str, start: dt.datetime, end: dt.datetime
) -> list[Airing]:
    """A channel's slots overlapping [start, end), in time order."""
    rows = await queries.select_slots(conn, channel_id, start, end)
    return [Airing(r.start, r.end, r.item_type, r.item_id) for r in rows]


async def airings_of(
    conn: AsyncConnection, *, ranges: Sequence[tuple[str, dt.datetime, dt.datetime]]
) -> dict[str, list[Airing]]:
    """`airings` of many (channel, start, end)s at once: each channel's slots overlapping any
    of its ranges, in time order."""
    found = await queries.select_slots_of(conn, ranges)
    return {channel: [Airing(*slot) for slot in slots] for channel, slots in found.items()}


@dataclass(frozen=True)
class ChannelAiring:
    channel_id: str
    airing: Airing


async def airing_between(
    db: Database, *, start: dt.datetime, end: dt.datetime, limit: int = 2000
) -> list[ChannelAiring]:
    """What every channel airs between `start` and `end`."""
    async with db.read() as conn:
        rows = await queries.select_airing(conn, start, end, limit)
    return [
        ChannelAiring(r.channel_id, Airing(r.start, r.end, r.item_type, r.item_id)) for r in rows
    ]


__all__ = [
    "MAX_PRICE",
    "demo_lines",
]  # for other domains, which reach the catalog through this module
