"""The per-process model cache: API processes and workers serve from memory."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from tanktop.db import Database, utcnow
from tanktop.metrics import MODEL_AGE
from tanktop.recommendations import queries
from tanktop.recommendations.model import Model


class ModelCache:
    """Each process keeps the newest model of each service, checking for a newer one every
    `refresh` seconds; the old model serves until the new one is loaded."""

    def __init__(self, db: Database, refresh: float = 30.0) -> None:
        self._db = db
        self._refresh = refresh
        self._models: dict[int, tuple[int, Model, dt.datetime]] = {}
        """Service id -> (version, model, created at) of the newest model loaded."""
        self._checked: dict[int, float] = {}

    async def get(self, service_id: int) -> Model | None:
        """The newest model, or None when there is none or it learnt no items (a history of
        nothing but removals): callers then serve as for a service not trained yet."""
        now = time.monotonic()
        if now - self._checked.get(service_id, -1e9) >= self._refresh:
            self._checked[service_id] = now
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
        found = self._models.get(service_id)
        if found is None:
            return None
        _, model, created = found
        MODEL_AGE.labels(str(service_id)).set((utcnow() - created).total_seconds())
        return model if model.items else None
