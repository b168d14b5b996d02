"""All profile SQL; the service id is always an argument."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.bodies import JsonObject
from tanktop.db import Database, dialect_insert
from tanktop.profiles.tables import profiles

_ACTIVE = sa.select(profiles.c.data).where(
    profiles.c.service_id == sa.bindparam("service_id"),
    profiles.c.user_id == sa.bindparam("user_id"),
    profiles.c.active.is_(True),
)
_ACTIVE_FOR_UPDATE = _ACTIVE.with_for_update()


async def select_active(
    conn: AsyncConnection, service_id: int, user_id: str, *, for_update: bool = False
) -> JsonObject | None:
    """The active profile's data, optionally row-locked for a read-modify-write."""
    query = _ACTIVE_FOR_UPDATE if for_update else _ACTIVE
    data: JsonObject | None = await conn.scalar(
        query, {"service_id": service_id, "user_id": user_id}
    )
    return data


_PG_ACTIVE = "SELECT data::text FROM profiles WHERE service_id = $1 AND user_id = $2 AND active"


async def get_active(db: Database, service_id: int, user_id: str) -> JsonObject | None:
    """The active profile's data (a hot read: straight to the driver on PostgreSQL)."""
    if db.is_sqlite:
        async with db.read() as conn:
            return await select_active(conn, service_id, user_id)
    async with db.driver() as driver:
        text: str | None = await driver.fetchval(_PG_ACTIVE, service_id, user_id)
    data: JsonObject | None = None if text is None else json.loads(text)  # (big numbers too)
    return data


_PG_PUT = """
WITH before AS (
    SELECT active FROM profiles WHERE service_id = $1 AND user_id = $2
), written AS (
    INSERT INTO profiles (service_id, user_id, data, active, created_at, updated_at)
    VALUES ($1, $2, $3::text::jsonb, true, $4, $4)
    ON CONFLICT (service_id, user_id) DO UPDATE
    SET data = excluded.data, active = true, updated_at = excluded.updated_at
)
SELECT NOT EXISTS (SELECT FROM before WHERE active)
"""


async def put(
    db: Database, service_id: int, user_id: str, data: JsonObject, now: dt.datetime
) -> bool:
    """Write an active profile (creating the row or reviving a deactivated one), committed;
    True when there was no active profile before.

    On PostgreSQL one statement (one round trip, its own transaction), which tells what was
    there when it started: a deactivation committed while it waits for the row counts as
    after it."""
    if db.is_sqlite:
        async with db.write() as conn:
            existing = await select_active(conn, service_id, user_id, for_update=True)
            await upsert(conn, service_id, user_id, data, now)
        return existing is None
    async with db.driver() as driver:
        created: bool = await driver.fetchval(_PG_PUT, service_id, user_id, json.dumps(data), now)
    return created


async def upsert(
    conn: AsyncConnection, service_id: int, user_id: str, data: JsonObject, now: dt.datetime
) -> None:
    """Write an active profile, creating the row or reviving a deactivated one."""
    stmt = dialect_insert(conn, profiles).values(
        service_id=service_id,
        user_id=user_id,
        data=data,
        active=True,
        created_at=now,
        updated_at=now,
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[profiles.c.service_id, profiles.c.user_id],
            set_={"data": data, "active": True, "updated_at": now},
        )
    )


async def insert_new(
    conn: AsyncConnection, service_id: int, user_id: str, data: JsonObject, now: dt.datetime
) -> bool:
    """Insert a profile under a fresh id; False if the id is taken (active or not)."""
    stmt = dialect_insert(conn, profiles).values(
        service_id=service_id,
        user_id=user_id,
        data=data,
        active=True,
        created_at=now,
        updated_at=now,
    )
    result = await conn.execute(stmt.on_conflict_do_nothing())
    return result.rowcount > 0


async def update_data(
    conn: AsyncConnection, service_id: int, user_id: str, data: JsonObject, now: dt.datetime
) -> None:
    await conn.execute(
        sa.update(profiles)
        .where(profiles.c.service_id == service_id, profiles.c.user_id == user_id)
        .values(data=data, updated_at=now)
    )


async def deactivate(
    conn: AsyncConnection, service_id: int, user_id: str, now: dt.datetime
) -> bool:
    """Deactivate and forget the profile's data; False if there was no active profile."""
    result = await conn.execute(
        sa.update(profiles)
        .where(
            profiles.c.service_id == service_id,
            profiles.c.user_id == user_id,
            profiles.c.active.is_(True),
        )
        .values(active=False, data={}, updated_at=now)
    )
    return result.rowcount > 0
