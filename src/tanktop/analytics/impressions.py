"""The impression recorder: what the server served, written in the background in batches.

Serving a recommendation or a section row must not wait for a row per item inside its
request, so requests only append to an in-memory buffer and a flusher inserts what has
gathered every `flush_seconds` (or as soon as a batch is full) in one multi-row insert. The
buffer is bounded: past `max_buffer` items new impressions are dropped and counted
(`tanktop_impressions_total{outcome="dropped"}`), never silently lost; a failed flush keeps its
rows for the next one while there is room. `close()` (the app's lifespan exit) writes what is
left.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections import deque
from typing import NamedTuple

from tanktop.analytics.tables import impressions
from tanktop.db import Database
from tanktop.faults import DatabaseFault
from tanktop.metrics import IMPRESSIONS

log = logging.getLogger("tanktop.analytics")


_COLUMNS = ("service_id", "user_id", "surface", "item_type", "item_id", "at")


class Impression(NamedTuple):
    """One buffered row (a tuple in `_COLUMNS` order: inserted as it is)."""

    service_id: int
    user_id: str
    surface: str
    item_type: str
    item_id: str
    at: dt.datetime


class ImpressionRecorder:
    """A bounded buffer of impressions and the task that inserts them."""

    def __init__(
        self,
        db: Database,
        *,
        max_buffer: int = 100_000,
        flush_seconds: float = 1.0,
        batch: int = 5000,
    ) -> None:
        self._db = db
        self._buffer: deque[Impression] = deque()
        self._max_buffer = max_buffer
        self._flush_seconds = flush_seconds
        self._batch = batch
        self._full = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()
        self._closed = False

    def add(self, rows: list[Impression]) -> None:
        """Buffer `rows` (no I/O); what does not fit is dropped and counted."""
        room = self._max_buffer - len(self._buffer)
        if self._closed:
            room = 0
        kept = rows[: max(room, 0)]
        self._buffer.extend(kept)
        if len(kept) < len(rows):
            IMPRESSIONS.labels("dropped").inc(len(rows) - len(kept))
        if len(self._buffer) >= self._batch:
            self._full.set()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def start(self) -> None:
        self._task = asyncio.create_task(self._flush_forever())

    async def close(self) -> None:
        """Stop the flusher and write everything still buffered."""
        self._closed = True
        self._full.set()
        if self._task is not None:
            await self._task
        while self._buffer:
            if not await self.flush():
                break

    async def flush(self) -> int:
        """Insert up to one batch of buffered impressions; returns how many were written."""
        async with self._flushing:
            rows = [self._buffer.popleft() for _ in range(min(self._batch, len(self._buffer)))]
            if not rows:
                return 0
            try:
                await self._db.append_rows(impressions, _COLUMNS, rows)
            except Exception as exc:
                if not isinstance(exc, DatabaseFault):  # (a fault is logged where it is raised)
                    log.exception("could not write %d impressions; keeping them", len(rows))
                room = self._max_buffer - len(self._buffer)
                self._buffer.extendleft(reversed(rows[:room]))
                if len(rows) > room:
                    IMPRESSIONS.labels("dropped").inc(len(rows) - room)
                return 0
            IMPRESSIONS.labels("stored").inc(len(rows))
            return len(rows)

    async def _flush_forever(self) -> None:
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self._flush_seconds)
            self._full.clear()
            while not self._closed and await self.flush() == self._batch:
                pass
