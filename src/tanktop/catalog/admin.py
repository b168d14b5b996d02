"""The operator's writes to the catalog: items, offers and schedules written together with
their change rows, and what the admin API reads back.

Every write goes through `apply_entries`, whether it comes from the admin API (one entry) or
from `tanktop catalog import` (a thousand per transaction), so both follow the same rules.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.catalog import queries
from tanktop.catalog.schemas import (
    MODELS,
    STORED,
    Channel,
    Episode,
    ItemModel,
    Offer,
    Slot,
    StoredItem,
)
from tanktop.catalog.service import ItemKey
from tanktop.db import Database, utcnow
from tanktop.errors import BadRequest, Conflict, NotFound


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


def _item_row(item_type: str, item_id: str, item: ItemModel, now: dt.datetime) -> dict[str, Any]:
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


def _stored(row: Row[Any], offers: list[Offer] | None = None) -> StoredItem:
    """An item row as the admin API answers it: only the fields of its type."""
    columns = row._mapping
    fields: dict[str, Any] = {"item_type": row.item_type, "item_id": row.item_id}
    if row.item_type == "channel":
        fields["name"] = row.title
    else:
        fields |= {name: columns[name] for name in MODELS[row.item_type].model_fields}
    if offers is not None:
        fields["offers"] = offers
    return STORED[row.item_type].model_validate(fields)


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
        conn, [_item_row(*key, e.item, now) for key, e in latest_items.items() if e.item]
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
    """Replace the channel's slots over the time `slots` cover; log each new slot (`slot`)
    and each old one gone (`unslot`: live TV re-derives who watched it, whatever replaced it)."""
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
    new = {(s.start, s.end, s.item_type, s.item_id) for s in slots}
    changes = [("slot", slot) for slot in sorted(new - old)]
    changes += [("unslot", slot) for slot in sorted(old - new)]
    await queries.insert_changes(
        conn,
        [
            {
                "at": now,
                "kind": kind,
                "item_type": item_type,
                "item_id": item_id,
                "channel_id": channel_id,
                "slot_start": slot_start,
                "slot_end": slot_end,
            }
            for kind, (slot_start, slot_end, item_type, item_id) in changes
        ],
    )
    return len(changes)


async def put_item(db: Database, *, entry: Entry) -> tuple[StoredItem, bool]:
    """Write an item; returns it as stored and whether it was created."""
    async with db.write() as conn:
        applied = await apply_entries(conn, entries=[entry])
        row = await queries.select_item(conn, entry.item_type, entry.item_id)
    assert row is not None
    return _stored(row), entry.key in applied.created


async def get_item(db: Database, *, item_type: str, item_id: str) -> StoredItem:
    """An item with its offers, read in one snapshot."""
    async with db.read(snapshot=True) as conn:
        row = await queries.select_item(conn, item_type, item_id)
        if row is None:
            raise NotFound(f"No {item_type} {item_id!r} in the catalog.")
        found = (await queries.select_offers(conn, [(item_type, item_id)]))[(item_type, item_id)]
    return _stored(row, [Offer.model_validate(o) for o in found])


async def delete_item(db: Database, *, item_type: str, item_id: str) -> None:
    async with db.write() as conn:
        if item_type == "programme" and await queries.count_episodes(conn, item_id):
            raise Conflict(f"Programme {item_id!r} still has episodes; delete them first.")
        if not await queries.delete_item(conn, item_type, item_id):
            raise NotFound(f"No {item_type} {item_id!r} in the catalog.")


async def put_offers(db: Database, *, entry: Entry) -> list[Offer]:
    """Replace an item's offers; returns them as stored."""
    async with db.write() as conn:
        if not await queries.existing_keys(conn, [entry.key]):
            raise NotFound(f"No {entry.item_type} {entry.item_id!r} in the catalog.")
        await apply_entries(conn, entries=[entry])
    return list(entry.offers or [])


async def put_schedule(db: Database, *, channel_id: str, slots: list[Slot]) -> list[Slot]:
    """Replace a channel's slots over the time they cover; returns them in time order."""
    entry = Entry("channel", channel_id, schedule=slots)
    async with db.write() as conn:
        if not await queries.existing_keys(conn, [entry.key]):
            raise NotFound(f"No channel {channel_id!r} in the catalog.")
        await apply_entries(conn, entries=[entry])
    return sorted(slots, key=lambda s: s.start)


async def get_schedule(
    db: Database, *, channel_id: str, start: dt.datetime, end: dt.datetime
) -> list[Slot]:
    if end <= start:
        raise BadRequest("`to` must be after `from`.")
    async with db.read() as conn:
        rows = await queries.select_slots(conn, channel_id, start, end)
    return [Slot(start=r.start, end=r.end, item_type=r.item_type, item_id=r.item_id) for r in rows]


async def is_empty(db: Database) -> bool:
    async with db.read() as conn:
        return await queries.count_items(conn) == 0
