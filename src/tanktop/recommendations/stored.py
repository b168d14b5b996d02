"""What a service has trained and tuned: its stored models and its tuning runs' reports,
newest first, as the console lists them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from tanktop.db import Database, utcnow
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


@dataclass(frozen=True)
class TuningReport:
    created_at: dt.datetime
    trials: int
    applied_version: int | None
    """The settings version `--apply` stored (None: only shown)."""
    measured: dict[str, Any]
    """`current` and `tuned`: each metric's mean and bootstrap spread; `users` tested;
    `changes`: what the tuned version sets differently."""


async def save_tuning_report(
    db: Database,
    service_id: int,
    *,
    trials: int,
    measured: dict[str, Any],
    applied_version: int | None,
) -> None:
    async with db.write() as conn:
        await queries.insert_tuning_report(
            conn,
            service_id,
            trials=trials,
            report=measured,
            applied_version=applied_version,
            now=utcnow(),
        )


async def tuning_reports(db: Database, service_id: int, *, limit: int = 5) -> list[TuningReport]:
    async with db.read() as conn:
        rows = await queries.select_tuning_reports(conn, service_id, limit=limit)
    return [
        TuningReport(row.created_at, row.trials, row.applied_version, row.report) for row in rows
    ]
