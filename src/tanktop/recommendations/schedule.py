"""When to retrain: a worker task that retrains services whose model is old or behind."""

from __future__ import annotations

import time

from tanktop.config import Settings
from tanktop.db import Database, utcnow
from tanktop.events import service as events
from tanktop.recommendations import queries
from tanktop.recommendations.training import train_service
from tanktop.tenants.service import list_services


class RetrainSchedule:
    """Worker task: retrain services whose model is old or behind by enough new events.

    Looks at most every `retrain_check_seconds` (each worker keeps its own schedule, so the
    history is not counted on every round); returns models trained.
    """

    __name__ = "retrain_due_models"

    def __init__(self) -> None:
        self._last_check = float("-inf")

    async def __call__(self, db: Database, /, *, settings: Settings) -> int:
        now = time.monotonic()
        if now - self._last_check < settings.retrain_check_seconds:
            return 0
        self._last_check = now
        async with db.read() as conn:
            latest = await queries.trained_so_far(conn)
        trained = 0
        for service in await list_services(db):
            created, seen = latest.get(service.id, (None, 0))
            total = await events.count_history(db, service.id)
            stale = created is not None and (utcnow() - created).total_seconds() > (
                settings.retrain_max_age_seconds
            )
            if total - seen >= settings.retrain_after_events or (stale and total > seen):
                await train_service(db, service.id)
                trained += 1
        return trained
