"""The per-process model cache: API processes and workers serve from memory, with each
service's recommender settings beside its model."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import time

from tanktop.db import Database, utcnow
from tanktop.metrics import MODEL_AGE
from tanktop.recommendations import queries
from tanktop.recommendations.model import Model
from tanktop.recommendations.schemas import RecommenderVersion
from tanktop.recommendations.settings import DEFAULT, current_settings


class ModelCache:
    """Each process keeps the newest model and settings version of each service, looking for
    newer ones when they are announced (`queries.MODELS_CHANNEL`: a model or a settings
    version stored, in any process) and at the latest every `refresh` seconds (announcements
    can be missed while the listening connection is down); the old model serves until the new
    one is loaded."""

    def __init__(self, db: Database, refresh: float = 30.0) -> None:
        self._db = db
        self._refresh = refresh
        self._models: dict[int, tuple[int, Model, dt.datetime]] = {}
        """Service id -> (version, model, created at) of the newest model loaded."""
        self._settings: dict[int, RecommenderVersion] = {}
        self._checked: dict[int, float] = {}
        db.on_announcement(queries.MODELS_CHANNEL, self.announced)

    def announced(self, payload: str) -> None:
        """Something new for the service `payload` (""; for any): look at its next request."""
        if not payload:
            self._checked.clear()
        elif payload.isdigit():
            self._checked.pop(int(payload), None)

    async def settings(self, service_id: int) -> RecommenderVersion:
        """The service's settings version in use (`DEFAULT` when it stored none)."""
        await self._look(service_id)
        return self._settings.get(service_id, DEFAULT)

    async def get(self, service_id: int) -> Model | None:
        """The newest model, or None when there is none or it learnt no items (a history of
        nothing but removals): callers then serve as for a service not trained yet."""
        await self._look(service_id)
        found = self._models.get(service_id)
        if found is None:
            return None
        _, model, created = found
        MODEL_AGE.labels(str(service_id)).set((utcnow() - created).total_seconds())
        return model if model.items else None

    async def _look(self, service_id: int) -> None:
        """Load the service's newest model and settings when it is time to look."""
        now = time.monotonic()
        if now - self._checked.get(service_id, -1e9) >= self._refresh:
            self._checked[service_id] = now
            self._settings[service_id] = await current_settings(self._db, service_id)
            stored = None
            async with self._db.read() as conn:
                version = await queries.latest_version(conn, service_id)
                current = self._models.get(service_id)
                if version is not None and (current is None or current[0] != version):
                    stored = await queries.load(conn, service_id, version)
            if version is not None and stored is not None:
                # Decoded with the connection given back: a big model holds no pool slot, and
                # its decoding does not count against the database's time (`Database.read`).
                model = await asyncio.to_thread(Model.from_bytes, stored.arrays)
                self._models[service_id] = (version, model, stored.created_at)
                settle_long_lived()


def settle_long_lived() -> None:
    """One full collection now, and what survives it (a model just loaded, the catalog copy)
    kept out of later ones: else the process's first full pass after a load, 100-150 ms of
    CPU, falls on whichever request is running (a section page's p99 of a bench's run). Once
    per model version; objects kept are still freed when nothing refers to them."""
    gc.collect()
    gc.freeze()
