"""All profile SQL; the service id is always an argument."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.bodies import JsonObject
from tanktop.db import dialect_insert
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
