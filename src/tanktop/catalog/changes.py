"""The catalog's change log, followed by its consumers: notifications match offer changes
against requests, live TV re-derives viewing when a slot is written for a time already past.

Each consumer has a cursor (a row of `catalog_change_cursors`: the last change it handled). It
claims the changes after it, inside its own transaction, and moves it past them in that same
transaction, so a crash loses nothing and repeats nothing; workers of one consumer take turns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.catalog import queries


@dataclass(frozen=True, slots=True)
class CatalogChange:
    """A change row: an item's offers changed (`offers`), a slot was scheduled (`slot`), or
    one was removed with nothing in its place (`unslot`)."""

    id: int
    at: dt.datetime
    kind: str
    item_type: str
    item_id: str
    channel_id: str | None
    slot_start: dt.datetime | None
    slot_end: dt.datetime | None


async def claim_changes(
    conn: AsyncConnection, *, consumer: str, limit: int, kinds: Sequence[str] | None = None
) -> list[CatalogChange]:
    """Up to `limit` changes `consumer` has not handled yet (of `kinds`, if given), oldest
    first; none while another worker of the same consumer is handling its own."""
    rows = await queries.claim_changes(conn, consumer, limit, kinds)
    return [
        CatalogChange(
            r.id, r.at, r.kind, r.item_type, r.item_id, r.channel_id, r.slot_start, r.slot_end
        )
        for r in rows
    ]


async def mark_changes_handled(
    conn: AsyncConnection, *, consumer: str, ids: Sequence[int], now: dt.datetime
) -> None:
    """In the transaction that claimed them: `consumer` is done with these changes (and with
    every earlier one: it handles them in order)."""
    if ids:
        await queries.advance_cursor(conn, consumer, max(ids), now)
