"""Group commit for event writes: concurrent requests share one transaction.

Each request hands its ops to the writer and waits; a flusher takes everything queued, applies
it in one transaction and wakes the waiters only after the commit, so a 204 still means
"durable". Under load a commit carries many requests, which is what lets one process ingest
far more events than it could with a transaction per request. A unit (one request's ops) is
all or nothing; if a shared transaction fails, its units are retried one by one so a single
bad unit cannot fail its neighbours.

A database fault (`tanktop.faults`) is no bad unit: every unit of the batch gets it (a `503`
for its request) and the next batch starts on a fresh connection. The queue is bounded
(`max_queued` ops): past it a write is refused at once with an `overloaded` fault rather than
waiting behind a database that cannot keep up.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop import faults
from tanktop.db import Database
from tanktop.events import queries
from tanktop.events.rules import EventOp
from tanktop.metrics import EVENTS

log = logging.getLogger("tanktop.events")

_Unit = tuple[Sequence[EventOp], "asyncio.Future[None]"]


@dataclass(frozen=True, slots=True)
class Deriver:
    """Writes the events that ops cause (live viewing → progress/seen)."""

    causes: Callable[[EventOp], bool]
    """Whether an op causes anything: a flush of ops none of which does needs no transaction
    (on PostgreSQL one statement, committed by itself)."""
    derive: Callable[[AsyncConnection, Sequence[EventOp]], Awaitable[None]]
    """Runs in the ops' transaction, before they are applied (so it can lock what it derives
    from first); the ops are not in the history yet when it runs."""


async def write_ops(
    conn: AsyncConnection, *, ops: Sequence[EventOp], derive: Deriver | None = None
) -> None:
    """Apply ops and the events they cause, in the caller's transaction."""
    if derive is not None:
        await derive.derive(conn, ops)
    await queries.apply_ops(conn, ops)


class EventWriter:
    """Queue of pending units and the flusher tasks that commit them."""

    def __init__(
        self,
        db: Database,
        *,
        derive: Deriver | None = None,
        flushers: int | None = None,
        max_ops: int = 5000,
        max_queued: int = 20_000,
    ) -> None:
        self._db = db
        self._derive = derive
        self._pending: deque[_Unit] = deque()
        self._wakeup = asyncio.Event()
        self._max_ops = max_ops
        self._max_queued = max_queued
        self._queued = 0
        # SQLite has one writer; PostgreSQL commits several transactions at once.
        self._flusher_count = flushers or (1 if db.is_sqlite else 4)
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    @property
    def queued(self) -> int:
        """Ops waiting for a flusher."""
        return self._queued

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._flush_forever()) for _ in range(self._flusher_count)
        ]

    async def close(self) -> None:
        """Commit what is queued, then stop."""
        self._closing = True
        self._wakeup.set()
        await asyncio.gather(*self._tasks)

    async def write(self, ops: Sequence[EventOp]) -> None:
        """Apply `ops` atomically; returns once they are committed (raises if they were not)."""
        if self._closing:
            raise RuntimeError("event writer is shutting down")
        if self._queued + len(ops) > self._max_queued and self._queued:
            raise faults.new_fault(faults.Kind.OVERLOADED)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((ops, future))
        self._queued += len(ops)
        self._wakeup.set()
        await future

    def _take(self) -> list[_Unit]:
        units: list[_Unit] = []
        count = 0
        while self._pending and (not units or count + len(self._pending[0][0]) <= self._max_ops):
            unit = self._pending.popleft()
            units.append(unit)
            count += len(unit[0])
        self._queued -= count
        return units

    async def _flush_forever(self) -> None:
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            units = self._take()
            await self._commit(units)

    async def _apply(self, ops: list[EventOp]) -> None:
        """On PostgreSQL, ops that cause nothing go as one statement straight to the driver
        (its own transaction: one round trip); otherwise a transaction with what they cause."""
        derive = self._derive
        if not self._db.is_sqlite and (derive is None or not any(map(derive.causes, ops))):
            async with self._db.driver() as driver:
                await queries.apply_ops_pg(driver, ops)
            return
        async with self._db.write() as conn:
            await write_ops(conn, ops=ops, derive=derive)

    async def _commit(self, units: list[_Unit]) -> None:
        try:
            await self._apply([op for ops, _ in units for op in ops])
        except faults.DatabaseFault as fault:
            # On PostgreSQL the batch is one statement, which commits by itself when it runs
            # outside a transaction: a connection lost during it leaves the outcome unknown.
            lost = fault.kind is faults.Kind.CONNECTION_LOST
            for _, future in units:
                if not future.done():
                    future.set_exception(fault.again(committing=fault.committing or lost))
        except Exception as exc:
            if len(units) > 1:
                for unit in units:
                    await self._commit([unit])
                return
            log.exception("event write failed")
            _settle(units, exc)
        else:
            for ops, _ in units:
                for op in ops:
                    EVENTS.labels(op.origin).inc()
            _settle(units, None)


def _settle(units: list[_Unit], error: BaseException | None) -> None:
    for _, future in units:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
