"""The catalog's change log, followed by its consumers: notifications match offer changes
against requests, live TV re-derives viewing when a slot is written for a time already past.

A consumer claims what it has not handled, inside its own transaction, and marks it handled in
that same transaction, so a crash loses nothing and repeats nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.catalog import queries


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
