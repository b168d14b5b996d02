"""What a service has trained: its stored models, newest first, as the console lists them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tanktop.db import Database
from tanktop.recommendations import queries


@dataclass(frozen=True)
class StoredModel:
    version: int
    created_at: dt.datetime
    events: int
    """Events in the history it was trained on."""


async def stored_models(db: Database, service_id: int, *, limit: int = 10) -> list[StoredModel]:
    async with db.read() as conn:
        rows = await queries.select_models(conn, service_id, limit=limit)
    return [StoredModel(row.version, row.created_at, row.events) for row in rows]
