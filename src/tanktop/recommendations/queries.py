"""SQL of the recommendations domain: the recommender settings' versions and the stored models
per service, which services have one, and the announcement of a new one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.db import announce
from tanktop.recommendations.tables import rec_models, rec_settings, rec_tuning_reports

MODELS_CHANNEL: Final = "tanktop_models"
"""Where a stored model is announced, with its service id as the payload."""


async def _newest_first(
    conn: AsyncConnection, newest: sa.Column[Any], service_id: int, limit: int | None
) -> list[sa.Row[Any]]:
    """The service's rows of `newest`'s table, highest `newest` first (at most `limit`)."""
    table = newest.table
    query = (
        sa.select(table)
        .where(table.c.service_id == service_id)
        .order_by(newest.desc())
        .limit(limit)
    )
    return list((await conn.execute(query)).all())


async def select_settings(
    conn: AsyncConnection, service_id: int, *, limit: int | None = None
) -> list[sa.Row[Any]]:
    """The service's settings versions, newest first (at most `limit`)."""
    return await _newest_first(conn, rec_settings.c.version, service_id, limit)


async def insert_settings(
    conn: AsyncConnection,
    service_id: int,
    weights: dict[str, float],
    params: dict[str, Any],
    now: dt.datetime,
) -> int:
    """Store the next version (within the caller's write transaction, announced to every API
    process once it commits); returns its number.
    Two writers racing for one number: the loser's insert fails its primary key
    (`IntegrityError`), and it tries again in a new transaction."""
    latest = await conn.scalar(
        sa.select(sa.func.max(rec_settings.c.version)).where(
            rec_settings.c.service_id == service_id
        )
    )
    version = int(latest or 0) + 1
    await conn.execute(
        sa.insert(rec_settings).values(
            service_id=service_id,
            version=version,
            created_at=now,
            weights=weights,
            params=params,
        )
    )
    await announce(conn, MODELS_CHANNEL, str(service_id))
    return version


async def settings_stored_at(conn: AsyncConnection) -> dict[int, dt.datetime]:
    """Service id -> when its newest settings version was stored."""
    query = sa.select(
        rec_settings.c.service_id, sa.func.max(rec_settings.c.created_at).label("at")
    ).group_by(rec_settings.c.service_id)
    return {row.service_id: row.at for row in await conn.execute(query)}


async def select_models(
    conn: AsyncConnection, service_id: int, *, limit: int = 10
) -> list[sa.Row[Any, Any, Any]]:
    """The service's stored models (version, when, events seen), newest first, no arrays."""
    query = (
        sa.select(rec_models.c.version, rec_models.c.created_at, rec_models.c.events)
        .where(rec_models.c.service_id == service_id)
        .order_by(rec_models.c.version.desc())
        .limit(limit)
    )
    return list((await conn.execute(query)).all())


@dataclass(frozen=True)
class StoredModel:
    version: int
    created_at: dt.datetime
    arrays: bytes


async def latest_version(conn: AsyncConnection, service_id: int) -> int | None:
    """The newest stored model version of the service (None: never trained)."""
    version: int | None = await conn.scalar(
        sa.select(sa.func.max(rec_models.c.version)).where(rec_models.c.service_id == service_id)
    )
    return None if version is None else int(version)


async def load(conn: AsyncConnection, service_id: int, version: int) -> StoredModel:
    row = (
        await conn.execute(
            sa.select(rec_models.c.arrays, rec_models.c.created_at).where(
                rec_models.c.service_id == service_id, rec_models.c.version == version
            )
        )
    ).one()
    return StoredModel(version, row.created_at, row.arrays)


async def store(
    conn: AsyncConnection,
    service_id: int,
    *,
    version: int,
    created_at: dt.datetime,
    events: int,
    arrays: bytes,
    keep: int,
) -> None:
    """Insert a version (an IntegrityError if another training took it first), drop the
    versions older than the `keep` newest, and announce it to every API process (once the
    caller's transaction commits)."""
    await conn.execute(
        sa.insert(rec_models).values(
            service_id=service_id,
            version=version,
            created_at=created_at,
            events=events,
            arrays=arrays,
        )
    )
    await conn.execute(
        sa.delete(rec_models).where(
            rec_models.c.service_id == service_id, rec_models.c.version <= version - keep
        )
    )
    await announce(conn, MODELS_CHANNEL, str(service_id))


async def trained_so_far(conn: AsyncConnection) -> dict[int, tuple[dt.datetime, int]]:
    """Service id -> (created at, events counted) of each service's newest model."""
    return {
        row.service_id: (row.created_at, row.events)
        for row in await conn.execute(
            sa.select(
                rec_models.c.service_id, rec_models.c.created_at, rec_models.c.events
            ).order_by(rec_models.c.version)
        )
    }


async def insert_tuning_report(
    conn: AsyncConnection,
    service_id: int,
    *,
    trials: int,
    report: dict[str, Any],
    applied_version: int | None,
    now: dt.datetime,
) -> None:
    await conn.execute(
        sa.insert(rec_tuning_reports).values(
            service_id=service_id,
            created_at=now,
            trials=trials,
            report=report,
            applied_version=applied_version,
        )
    )


async def select_tuning_reports(
    conn: AsyncConnection, service_id: int, *, limit: int
) -> list[sa.Row[Any]]:
    """The service's tuning runs, newest first."""
    return await _newest_first(conn, rec_tuning_reports.c.id, service_id, limit)
