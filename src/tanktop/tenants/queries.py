"""All tenant SQL: services, API keys, signing secrets, rate-limit windows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.db import dialect_insert
from tanktop.tenants.tables import api_keys, rate_windows, services, signing_secrets

_SERVICE_COLUMNS = (services.c.id, services.c.name, services.c.webhook_url)


async def service_id(conn: AsyncConnection, name: str) -> int | None:
    found = await conn.scalar(sa.select(services.c.id).where(services.c.name == name))
    return None if found is None else int(found)


async def select_service(
    conn: AsyncConnection, *, name: str | None = None, service_id: int | None = None
) -> sa.Row[Any, Any, Any] | None:
    """The service with this name, or this id."""
    condition = services.c.name == name if service_id is None else services.c.id == service_id
    return (await conn.execute(sa.select(*_SERVICE_COLUMNS).where(condition))).first()


async def insert_service(
    conn: AsyncConnection, name: str, webhook_url: str | None, now: dt.datetime
) -> int:
    return int(
        await conn.scalar(
            sa.insert(services)
            .values(name=name, webhook_url=webhook_url, created_at=now)
            .returning(services.c.id)
        )
    )


async def update_webhook_url(conn: AsyncConnection, service_id: int, url: str | None) -> None:
    await conn.execute(
        sa.update(services).where(services.c.id == service_id).values(webhook_url=url)
    )


async def select_services(conn: AsyncConnection) -> list[sa.Row[Any, Any, Any]]:
    return list((await conn.execute(sa.select(*_SERVICE_COLUMNS).order_by(services.c.id))).all())


async def insert_key(
    conn: AsyncConnection, service_id: int, key_hash: str, label: str, now: dt.datetime
) -> None:
    await conn.execute(
        sa.insert(api_keys).values(
            key_hash=key_hash, service_id=service_id, label=label, created_at=now
        )
    )


async def select_keys(
    conn: AsyncConnection, service_id: int | None
) -> list[sa.Row[Any, Any, Any, Any, Any]]:
    """Every key (of one service, when given), by service name and creation."""
    query = (
        sa.select(
            services.c.name,
            api_keys.c.label,
            api_keys.c.created_at,
            api_keys.c.revoked_at,
            api_keys.c.key_hash,
        )
        .join(services, services.c.id == api_keys.c.service_id)
        .order_by(services.c.name, api_keys.c.created_at)
    )
    if service_id is not None:
        query = query.where(api_keys.c.service_id == service_id)
    return list((await conn.execute(query)).all())


async def revoke_key(conn: AsyncConnection, key_hash: str, now: dt.datetime) -> bool:
    """Revoke an active key; False when none has this hash."""
    result = await conn.execute(
        sa.update(api_keys)
        .where(api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount > 0


async def select_service_by_key(
    conn: AsyncConnection, key_hash: str
) -> sa.Row[Any, Any, Any] | None:
    query = (
        sa.select(*_SERVICE_COLUMNS)
        .join(api_keys, api_keys.c.service_id == services.c.id)
        .where(api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None))
    )
    return (await conn.execute(query)).first()


async def insert_secret(
    conn: AsyncConnection, service_id: int, secret: str, now: dt.datetime
) -> None:
    await conn.execute(
        sa.insert(signing_secrets).values(service_id=service_id, secret=secret, created_at=now)
    )


async def expire_secrets(conn: AsyncConnection, service_id: int, at: dt.datetime) -> None:
    """Secrets of the service valid beyond `at` expire at `at`."""
    await conn.execute(
        sa.update(signing_secrets)
        .where(
            signing_secrets.c.service_id == service_id,
            sa.or_(signing_secrets.c.expires_at.is_(None), signing_secrets.c.expires_at > at),
        )
        .values(expires_at=at)
    )


async def select_valid_secrets(
    conn: AsyncConnection, service_ids: Sequence[int], now: dt.datetime
) -> list[sa.Row[Any]]:
    """The secrets of these services valid at `now`, newest first."""
    query = (
        sa.select(signing_secrets)
        .where(
            signing_secrets.c.service_id.in_(list(service_ids)),
            sa.or_(signing_secrets.c.expires_at.is_(None), signing_secrets.c.expires_at > now),
        )
        .order_by(signing_secrets.c.id.desc())
    )
    return list((await conn.execute(query)).all())


async def take_tokens(
    conn: AsyncConnection, service_id: int, kind: str, window: int, want: int, limit: int
) -> int:
    """Grant up to `want` of the window's `limit` (row-locked while it counts)."""
    key = {"service_id": service_id, "kind": kind, "window": window}
    where = [rate_windows.c[name] == value for name, value in key.items()]
    await conn.execute(
        dialect_insert(conn, rate_windows).values(**key, used=0).on_conflict_do_nothing()
    )
    used = await conn.scalar(sa.select(rate_windows.c.used).where(*where).with_for_update())
    granted = max(0, min(want, limit - int(used or 0)))
    if granted:
        await conn.execute(
            sa.update(rate_windows).where(*where).values(used=rate_windows.c.used + granted)
        )
    return granted


async def sweep_windows(conn: AsyncConnection, before: int) -> None:
    """Forget the budgets of windows before `before`."""
    await conn.execute(sa.delete(rate_windows).where(rate_windows.c.window < before))
