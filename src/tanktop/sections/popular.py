"""Per process: what a service's users engaged with most lately, for `popular` rows.

The ranking (distinct users per item over a row's days) is a GROUP BY over those days of the
whole service's history: far too much to redo for every page. Each process keeps the ranking
per (service, item types, days) and recomputes it in the background once it is `refresh`
seconds old, serving the previous one meanwhile; concurrent requests share one computation.
It is a service-wide figure: the user's own events still act at once (what they hid, saw or
finished leaves the row as the page is built).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Sequence

from tanktop.db import Database, utcnow
from tanktop.events import service as events
from tanktop.tenants.service import Service

DEPTH = 1000
"""Items kept per ranking (a row asks its source for at most this many)."""

log = logging.getLogger("tanktop.sections")

Key = tuple[int, tuple[str, ...], int]
Ranking = list[tuple[str, str, int]]


class PopularCopy:
    """Rankings of the service's most engaged-with items, `refresh` seconds at most old
    (0: none kept, every call counts afresh)."""

    def __init__(self, refresh: float) -> None:
        self._refresh = refresh
        self._found: dict[Key, tuple[float, Ranking]] = {}
        self._pending: dict[Key, asyncio.Task[tuple[float, Ranking]]] = {}

    async def ranked(
        self,
        db: Database,
        service: Service,
        *,
        item_types: Sequence[str],
        days: int,
        limit: int,
    ) -> Ranking:
        """(item type, item id, users) of the most engaged-with items, most first."""
        if self._refresh <= 0:
            return await _count(db, service, item_types, days, limit)
        key = (service.id, tuple(item_types), days)
        found = self._found.get(key)
        if found is None or time.monotonic() - found[0] >= self._refresh:
            task = self._pending.get(key)
            if task is None:
                task = asyncio.create_task(self._recount(db, service, key))
                self._pending[key] = task
                task.add_done_callback(lambda done: self._settled(key, done))
            if found is None:
                found = await asyncio.shield(task)
        return found[1][:limit]

    async def _recount(self, db: Database, service: Service, key: Key) -> tuple[float, Ranking]:
        found = (time.monotonic(), await _count(db, service, key[1], key[2], DEPTH))
        self._found[key] = found
        return found

    def _settled(self, key: Key, task: asyncio.Task[tuple[float, Ranking]]) -> None:
        self._pending.pop(key, None)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.warning("popular ranking not refreshed: %s", error)  # the old one serves on


async def _count(
    db: Database, service: Service, item_types: Sequence[str], days: int, limit: int
) -> Ranking:
    return await events.popular(
        db,
        service,
        item_types=item_types,
        since=utcnow() - dt.timedelta(days=days),
        limit=limit,
    )
