"""When to train: worker tasks for a service's first model and for retraining one that is
old, behind or trained under older settings, one training at a time in a child process
(`apart`), while the worker goes on with its other tasks.

A service's first model trains within seconds of its first events, debounced: once they have
stopped coming for `TANKTOP_FIRST_MODEL_QUIET_SECONDS`, so a first import of thousands of
events trains once, when it ends (a steady stream still gets its model from the schedule,
after `TANKTOP_RETRAIN_AFTER_EVENTS`). Every stored model is announced (`queries.store`), so
API processes load it at their next request for the service, not at their next poll."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection
from typing import Final

from tanktop.config import Settings
from tanktop.db import Database, utcnow
from tanktop.events import service as events
from tanktop.recommendations import queries
from tanktop.recommendations.apart import train_apart
from tanktop.tenants.service import Service, list_services

log = logging.getLogger("tanktop.recommendations")

FIRST_CHECK_SECONDS: Final = 1.0
"""How often a worker looks for services without a model (at most; more often when the quiet
time is short, so it is measured to within a quarter)."""


class RetrainSchedule:
    """Worker task: train the first model of a service whose events have been quiet for
    `first_model_quiet_seconds` (looked for every second), and retrain services whose model is
    old, behind by enough new events, or older than the service's settings version in use.

    Looks at most every `retrain_check_seconds` (each worker keeps its own schedule, so the
    history is not counted on every round). A due service's training starts in a child
    process and the round goes on; a later round collects it. Returns the trainings that
    finished since the last round.
    """

    __name__ = "retrain_due_models"

    def __init__(self, *, services: Collection[int] | None = None) -> None:
        self._services = None if services is None else frozenset(services)
        """The services this schedule trains (None: all)."""
        self._last_check = float("-inf")
        self._due: list[int] = []
        """Services found due, waiting their turn."""
        self._running: asyncio.Task[int] | None = None
        self._service: int | None = None
        self._last_first_check = float("-inf")
        self._quiet_since: dict[int, tuple[int, float]] = {}
        """Service without a model -> (its newest history id, when that was first seen)."""

    async def __call__(self, db: Database, /, *, settings: Settings) -> int:
        finished = self._collect()
        now = time.monotonic()
        due: list[int] = []
        quiet = settings.first_model_quiet_seconds
        if now - self._last_first_check >= min(FIRST_CHECK_SECONDS, quiet / 4):
            self._last_first_check = now
            due += await self._find_quiet(db, quiet, now)
        if now - self._last_check >= settings.retrain_check_seconds:
            self._last_check = now
            due += await self._find_due(db, settings)
        for service_id in due:
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
            tuned = await queries.settings_stored_at(conn)
        due = []
        for service in await self._scheduled(db):
            created, seen = latest.get(service.id, (None, 0))
            total = await events.count_history(db, service.id)
            stale = created is not None and (utcnow() - created).total_seconds() > (
                settings.retrain_max_age_seconds
            )
            retuned = created is not None and tuned.get(service.id, created) > created
            if total - seen >= settings.retrain_after_events or (stale and total > seen) or retuned:
                due.append(service.id)
        return due

    async def _find_quiet(self, db: Database, quiet: float, now: float) -> list[int]:
        """Services without a model whose newest event has not changed for `quiet` seconds."""
        async with db.read() as conn:
            trained = await queries.trained_so_far(conn)
        waiting = [s.id for s in await self._scheduled(db) if s.id not in trained]
        newest = await events.newest_history_ids(db, service_ids=waiting)
        self._quiet_since = {
            service_id: since
            for service_id, since in self._quiet_since.items()
            if newest.get(service_id) == since[0]
        }
        for service_id, latest in newest.items():
            self._quiet_since.setdefault(service_id, (latest, now))
        return [
            service_id
            for service_id, (_, since) in self._quiet_since.items()
            if now - since >= quiet
        ]

    async def _scheduled(self, db: Database) -> list[Service]:
        return [
            s for s in await list_services(db) if self._services is None or s.id in self._services
        ]

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
