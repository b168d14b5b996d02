"""When to retrain: a worker task that retrains services whose model is old or behind, one
training at a time in a child process (`apart`), while the worker goes on with its other
tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from tanktop.config import Settings
from tanktop.db import Database, utcnow
from tanktop.events import service as events
from tanktop.recommendations import queries
from tanktop.recommendations.apart import train_apart
from tanktop.tenants.service import list_services

log = logging.getLogger("tanktop.recommendations")


class RetrainSchedule:
    """Worker task: retrain services whose model is old or behind by enough new events.

    Looks at most every `retrain_check_seconds` (each worker keeps its own schedule, so the
    history is not counted on every round). A due service's training starts in a child
    process and the round goes on; a later round collects it. Returns the trainings that
    finished since the last round.
    """

    __name__ = "retrain_due_models"

    def __init__(self) -> None:
        self._last_check = float("-inf")
        self._due: list[int] = []
        """Services found due, waiting their turn."""
        self._running: asyncio.Task[int] | None = None
        self._service: int | None = None

    async def __call__(self, db: Database, /, *, settings: Settings) -> int:
        finished = self._collect()
        now = time.monotonic()
        if now - self._last_check >= settings.retrain_check_seconds:
            self._last_check = now
            for service_id in await self._find_due(db, settings):
                if service_id != self._service and service_id not in self._due:
                    self._due.append(service_id)
        if self._running is None and self._due:
            self._service = self._due.pop(0)
            self._running = asyncio.create_task(train_apart(db, self._service))
        return finished

    def _collect(self) -> int:
        """1 if the running training has ended (a failure is logged), else 0."""
        if self._running is None or not self._running.done():
            return 0
        task, service_id = self._running, self._service
        self._running = self._service = None
        if task.cancelled():
            return 0
        error = task.exception()
        if error is not None:
            log.error("training service %s failed: %s", service_id, error)
        return 1

    async def _find_due(self, db: Database, settings: Settings) -> list[int]:
        async with db.read() as conn:
            latest = await queries.trained_so_far(conn)
        due = []
        for service in await list_services(db):
            created, seen = latest.get(service.id, (None, 0))
            total = await events.count_history(db, service.id)
            stale = created is not None and (utcnow() - created).total_seconds() > (
                settings.retrain_max_age_seconds
            )
            if total - seen >= settings.retrain_after_events or (stale and total > seen):
                due.append(service.id)
        return due

    async def idle(self) -> None:
        """Wait for the running training (if any) to end; it is collected next round."""
        if self._running is not None:
            await asyncio.wait([self._running])

    async def aclose(self) -> None:
        """The worker stops: end the running training (its child with it)."""
        if self._running is not None:
            self._running.cancel()
            with contextlib.suppress(BaseException):
                await self._running
        self._running = self._service = None
        self._due.clear()
