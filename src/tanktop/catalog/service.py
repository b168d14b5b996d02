"""Catalog rules: items, offers and schedules written together with their change rows.

Every write goes through `apply_entries`, whether it comes from the admin API (one entry) or
from `tanktop catalog import` (a thousand per transaction), so both follow the same rules.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.catalog import queries
from tanktop.catalog.models import MAX_PRICE, MODELS, Channel, Episode, ItemModel, Offer, Slot
from tanktop.db import Database, utcnow
from tanktop.errors import BadRequest, Conflict, NotFound
from tanktop.ids import json_id

ItemKey = tuple[str, str]


@dataclass
class Entry:
    """One line of an import, or one admin request: an item and/or its offers or schedule."""

    item_type: str
    item_id: str
    item: ItemModel | None = None
    offers: list[Offer] | None = None
    schedule: list[Slot] | None = None

    @property
    def key(self) -> ItemKey:
        return (self.item_type, self.item_id)


@dataclass
class Applied:
    created: set[ItemKey] = field(default_factory=set)
    changes: int = 0


def item_row(item_type: str, item_id: str, item: ItemModel, now: dt.datetime) -> dict[str, Any]:
    """Columns of an item; absent attributes are stored as nulls / empty lists."""
    row: dict[str, Any] = {
        "item_type": item_type,
        "item_id": item_id,
        "title": "",
        "duration": None,
        "year": None,
        "genres": [],
        "sport": None,
        "teams": [],
        "programme_id": None,
        "season": None,
        "number": None,
        "updated_at": now,
    }
    fields = item.model_dump()
    if isinstance(item, Channel):
        fields["title"] = fields.pop("name")
    row.update(fields)
    return row


def item_json(row: Any) -> dict[str, Any]:
    """An item as the admin API shows it (only the fields of its type)."""
    body: dict[str, Any] = {"item_type": row.item_type, "item_id": json_id(row.item_id)}
    if row.item_type == "channel":
        body["name"] = row.title
        return body
    for name in MODELS[row.item_type].model_fields:
        value = getattr(row, name)
        body[name] = json_id(value) if name == "programme_id" else value
    return body


def offer_json(offer: dict[str, Any]) -> dict[str, Any]:
    return {
        "source_id": json_id(offer["source_id"]),
        "price": offer["price"],
        "hd": offer["hd"],
        "available_from": _iso(offer["available_from"]),
        "available_until": _iso(offer["available_until"]),
    }


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


async def _check_references(conn: AsyncConnection, entries: Sequence[Entry]) -> None:
    """Episodes name an existing programme; offers and slots name existing items."""
    in_batch = {e.key for e in entries if e.item is not None}
    wanted: dict[ItemKey, str] = {}
    for e in entries:
        if isinstance(e.item, Episode):
            wanted.setdefault(
                ("programme", e.item.programme_id),
                f"episode {e.item_id} names programme {e.item.programme_id!r}",
            )
        if e.offers is not None:
            wanted.setdefault(e.key, f"offers for {e.item_type} {e.item_id!r}")
        if e.schedule is not None:
            wanted.setdefault(("channel", e.item_id), f"schedule of channel {e.item_id!r}")
            for slot in e.schedule:
                wanted.setdefault(
                    (slot.item_type, slot.item_id), f"a slot on channel {e.item_id!r}"
                )
    missing = set(wanted) - in_batch
    if missing:
        missing -= await queries.existing_keys(conn, missing)
    if missing:
        key = sorted(missing)[0]
        raise BadRequest(f"{wanted[key]}, but {key[0]} {key[1]!r} is not in the catalog.")


def _check_schedule(slots: Sequence[Slot]) -> None:
    ordered = sorted(slots, key=lambda s: s.start)
    for before, after in itertools.pairwise(ordered):
        if after.start < before.end:
            raise BadRequest(
                f"Slots overlap: {before.start.isoformat()}-{before.end.isoformat()} and "
                f"{after.start.isoformat()}-{after.end.isoformat()}."
            )


async def apply_entries(conn: AsyncConnection, *, entries: Sequence[Entry]) -> Applied:
    """Write entries in the caller's transaction, with a change row per offer change/new slot."""
    now = utcnow()
    for entry in entries:
        if entry.schedule is not None:
            _check_schedule(entry.schedule)
    await _check_references(conn, entries)
    applied = Applied()
    latest_items = {e.key: e for e in entries if e.item is not None}
    applied.created = await queries.upsert_items(
        conn, [item_row(*key, e.item, now) for key, e in latest_items.items() if e.item]
    )
    new_offers = {
        e.key: [o.model_dump() for o in e.offers] for e in entries if e.offers is not None
    }
    if new_offers:
        old_offers = await queries.select_offers(conn, list(new_offers))
        changed = {k: v for k, v in new_offers.items() if _normal(v) != _normal(old_offers[k])}
        listed = await queries.select_available_since(conn, list(changed))
        await queries.replace_offers(
            conn, {k: _with_since(v, listed[k], now) for k, v in changed.items()}
        )
        changes = [
            {"at": now, "kind": "offers", "item_type": k[0], "item_id": k[1]} for k in changed
        ]
        await queries.insert_changes(conn, changes)
        applied.changes += len(changes)
    for entry in entries:
        if entry.schedule is not None:
            applied.changes += await _replace_schedule(conn, entry.item_id, entry.schedule, now)
    return applied


def _with_since(
    offers: list[dict[str, Any]], listed: dict[str, dt.datetime | None], now: dt.datetime
) -> list[dict[str, Any]]:
    """Each offer with `available_since`: its `available_from`, else when the item was first
    offered on that source (`listed`: a replaced offer set keeps it; null if that predates
    tracking), else now."""

    def since(offer: dict[str, Any]) -> dt.datetime | None:
        if offer["available_from"] is not None:
            return offer["available_from"]  # type: ignore[no-any-return]
        before = listed.get(offer["source_id"], now)
        return None if before is None else min(before, now)

    return [{**o, "available_since": since(o)} for o in offers]


def _normal(offers: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        (o["source_id"], o["price"], o["hd"], o["available_from"], o["available_until"])
        for o in offers
    )


async def _replace_schedule(
    conn: AsyncConnection, channel_id: str, slots: Sequence[Slot], now: dt.datetime
) -> int:
    if not slots:
        return 0
    start = min(s.start for s in slots)
    end = max(s.end for s in slots)
    old = {
        (r.start, r.end, r.item_type, r.item_id)
        for r in await queries.select_slots(conn, channel_id, start, end)
    }
    rows = [s.model_dump() for s in slots]
    await queries.replace_slots(conn, channel_id, start, end, rows)
    fresh = [s for s in slots if (s.start, s.end, s.item_type, s.item_id) not in old]
    await queries.insert_changes(
        conn,
        [
            {
                "at": now,
                "kind": "slot",
                "item_type": s.item_type,
                "item_id": s.item_id,
                "channel_id": channel_id,
                "slot_start": s.start,
            }
            for s in fresh
        ],
    )
    return len(fresh)


async def put_item(db: Database, *, entry: Entry) -> tuple[dict[str, Any], bool]:
    async with db.write() as conn:
        applied = await apply_entries(conn, entries=[entry])
        row = await queries.select_item(conn, entry.item_type, entry.item_id)
    assert row is not None
    return item_json(row), entry.key in applied.created


async def get_item(db: Database, *, item_type: str, item_id: str) -> dict[str, Any]:
    async with db.read(snapshot=True) as conn:
        row = await queries.select_item(conn, item_type, item_id)
        if row is None:
            raise NotFound(f"No {item_type} {item_id!r} in the catalog.")
        item_offers = (await queries.select_offers(conn, [(item_type, item_id)]))[
            (item_type, item_id)
        ]
    return {**item_json(row), "offers": [offer_json(o) for o in item_offers]}


async def delete_item(db: Database, *, item_type: str, item_id: str) -> None:
    async with db.write() as conn:
        if item_type == "programme" and await queries.count_episodes(conn, item_id):
            raise Conflict(f"Programme {item_id!r} still has episodes; delete them first.")
        if not await queries.delete_item(conn, item_type, item_id):
            raise NotFound(f"No {item_type} {item_id!r} in the catalog.")


async def put_offers(db: Database, *, entry: Entry) -> list[dict[str, Any]]:
    async with db.write() as conn:
        if not await queries.existing_keys(conn, [entry.key]):
            raise NotFound(f"No {entry.item_type} {entry.item_id!r} in the catalog.")
        await apply_entries(conn, entries=[entry])
    return [offer_json(o.model_dump()) for o in entry.offers or []]


async def put_schedule(db: Database, *, channel_id: str, slots: list[Slot]) -> list[dict[str, Any]]:
    entry = Entry("channel", channel_id, schedule=slots)
    async with db.write() as conn:
        if not await queries.existing_keys(conn, [entry.key]):
            raise NotFound(f"No channel {channel_id!r} in the catalog.")
        await apply_entries(conn, entries=[entry])
    return [slot_json(s.model_dump()) for s in sorted(slots, key=lambda s: s.start)]


def slot_json(slot: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "start": slot["start"].isoformat(),
        "end": slot["end"].isoformat(),
        "item_type": slot["item_type"],
        "item_id": json_id(slot["item_id"]),
    }


async def get_schedule(
    db: Database, *, channel_id: str, start: dt.datetime, end: dt.datetime
) -> list[dict[str, Any]]:
    if end <= start:
        raise BadRequest("`to` must be after `from`.")
    async with db.read() as conn:
        rows = await queries.select_slots(conn, channel_id, start, end)
    return [slot_json(row._mapping) for row in rows]


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


async def is_empty(db: Database) -> bool:
    async with db.read() as conn:
        return await queries.count_items(conn) == 0


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


async def labels(db: Database, *, keys: Sequence[ItemKey]) -> dict[ItemKey, str]:
    """How people name these items ("Alien (1979)", "Sherlock S1E2"); unknown ones left out."""
    keys = list(dict.fromkeys(keys))
    async with db.read() as conn:
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
) -> dict[ItemKey, list[dict[str, Any]]]:
    """Each item's offers; a programme's include its episodes' offers."""
    result = await queries.select_offers(conn, keys)
    for item_type, item_id in keys:
        if item_type == "programme":
            result[(item_type, item_id)] += await queries.select_episode_offers(conn, item_id)
    return result


@dataclass(frozen=True, slots=True)
class CatalogChange:
    """A change row: an item's offers changed (`offers`), or a slot was scheduled (`slot`)."""

    id: int
    at: dt.datetime
    kind: str
    item_type: str
    item_id: str
    channel_id: str | None
    slot_start: dt.datetime | None


async def claim_changes(
    conn: AsyncConnection,
    *,
    consumer: str,
    now: dt.datetime,
    limit: int,
    kind: str | None = None,
) -> list[CatalogChange]:
    """Change rows `consumer` has not handled yet, locked for the caller's transaction."""
    rows = await queries.claim_changes(conn, consumer, now, limit, kind)
    return [
        CatalogChange(r.id, r.at, r.kind, r.item_type, r.item_id, r.channel_id, r.slot_start)
        for r in rows
    ]


async def mark_changes_handled(
    conn: AsyncConnection, *, consumer: str, ids: Sequence[int], now: dt.datetime
) -> None:
    """In the transaction that handled them: `consumer` is done with these change rows."""
    await queries.mark_handled(conn, consumer, ids, now)


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
