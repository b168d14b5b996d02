"""Services (tenants): their API keys and webhook signing secrets.

A key is shown once, when created; only its SHA-256 is stored (keys are long random strings,
so a fast hash is enough and keeps the per-request lookup cheap). Logs show `key_label()`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.db import Database, utcnow
from tanktop.errors import BadRequest, NotFound
from tanktop.redaction import KEY_PREFIX, SECRET_PREFIX, key_label
from tanktop.tenants import queries


@dataclass(frozen=True, slots=True)
class Service:
    """The tenant a request acts for; every per-service query takes its `id`."""

    id: int
    name: str
    webhook_url: str | None


@dataclass(frozen=True, slots=True)
class KeyInfo:
    service: str
    label: str
    created_at: dt.datetime
    revoked: bool
    key_hash: str
    """What the console names a key by (the key itself is never stored)."""


@dataclass(frozen=True, slots=True)
class SecretInfo:
    secret: str
    created_at: dt.datetime
    expires_at: dt.datetime | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_signing_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


async def create_key(db: Database, *, name: str, webhook_url: str | None = None) -> str:
    """Create service `name` (or add a key to it); return the new key, shown only this once."""
    name = name.strip()
    if not name or len(name) > 100:
        raise BadRequest("service name must be 1-100 characters")
    key = KEY_PREFIX + secrets.token_urlsafe(24)
    now = utcnow()
    async with db.write() as conn:
        service_id = await queries.service_id(conn, name)
        if service_id is None:
            service_id = await queries.insert_service(conn, name, webhook_url, now)
            await queries.insert_secret(conn, service_id, new_signing_secret(), now)
        elif webhook_url is not None:
            await queries.update_webhook_url(conn, service_id, webhook_url)
        await queries.insert_key(conn, service_id, hash_key(key), key_label(key), now)
    return key


async def list_services(db: Database) -> list[Service]:
    async with db.read() as conn:
        return [Service(r.id, r.name, r.webhook_url) for r in await queries.select_services(conn)]


async def list_keys(db: Database, *, service_id: int | None = None) -> list[KeyInfo]:
    """Every key's service, label, creation time and state (of one service when `service_id`
    is given); the keys themselves are not kept."""
    async with db.read() as conn:
        rows = await queries.select_keys(conn, service_id)
    return [
        KeyInfo(r.name, r.label, r.created_at, r.revoked_at is not None, r.key_hash) for r in rows
    ]


async def revoke_key(db: Database, *, key: str) -> bool:
    """Revoke a key; False when no active key matches."""
    return await revoke_key_hash(db, key_hash=hash_key(key))


async def revoke_key_hash(db: Database, *, key_hash: str) -> bool:
    """Revoke the key with this hash (the console knows keys only by hash)."""
    async with db.write() as conn:
        return await queries.revoke_key(conn, key_hash, utcnow())


async def find_service(db: Database, *, key: str) -> Service | None:
    """The service an active key belongs to."""
    return await find_service_by_hash(db, key_hash=hash_key(key))


async def find_service_by_hash(db: Database, *, key_hash: str) -> Service | None:
    """The service of the active key with this hash (a console session holds only the hash)."""
    async with db.read() as conn:
        row = await queries.select_service_by_key(conn, key_hash)
    return Service(row.id, row.name, row.webhook_url) if row else None


async def service_by_name(db: Database, *, name: str) -> Service | None:
    async with db.read() as conn:
        row = await queries.select_service(conn, name=name)
    return Service(row.id, row.name, row.webhook_url) if row else None


async def service_by_id(db: Database, *, service_id: int) -> Service | None:
    async with db.read() as conn:
        row = await queries.select_service(conn, service_id=service_id)
    return Service(row.id, row.name, row.webhook_url) if row else None


async def valid_secrets(db: Database, *, service_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each service's signing secrets still valid now, newest first."""
    result: dict[int, list[str]] = {}
    async with db.read() as conn:
        for row in await queries.select_valid_secrets(conn, service_ids, utcnow()):
            result.setdefault(row.service_id, []).append(row.secret)
    return result


async def secrets_of(db: Database, service_id: int) -> list[SecretInfo]:
    """The service's signing secrets still valid now, newest first, with their expiry."""
    async with db.read() as conn:
        rows = await queries.select_valid_secrets(conn, [service_id], utcnow())
    return [SecretInfo(r.secret, r.created_at, r.expires_at) for r in rows]


async def _named(conn: AsyncConnection, name: str) -> int:
    service_id = await queries.service_id(conn, name)
    if service_id is None:
        raise NotFound(f"no service named {name!r}")
    return service_id


async def rotate_secret(db: Database, *, name: str, overlap: dt.timedelta) -> str:
    """A new signing secret for service `name`; the current ones stay valid for `overlap`."""
    now = utcnow()
    secret = new_signing_secret()
    async with db.write() as conn:
        service_id = await _named(conn, name)
        await queries.expire_secrets(conn, service_id, now + overlap)
        await queries.insert_secret(conn, service_id, secret, now)
    return secret


async def show_secrets(db: Database, *, name: str) -> list[str]:
    """The signing secrets of service `name` still valid, newest first."""
    async with db.read() as conn:
        service_id = await _named(conn, name)
    return (await valid_secrets(db, service_ids=[service_id])).get(service_id, [])


async def set_webhook_url(db: Database, *, name: str, url: str | None) -> None:
    """The default webhook URL of service `name` (None: no default)."""
    async with db.write() as conn:
        await queries.update_webhook_url(conn, await _named(conn, name), url)


class KeyCache:
    """Per-process memory of key (and service id) lookups for `ttl` seconds, so most requests
    skip the query.

    A revoked key stops working within `ttl` seconds in every process.
    """

    def __init__(self, db: Database, ttl: float) -> None:
        self._db = db
        self._ttl = ttl
        self._entries: dict[str, tuple[float, Service | None]] = {}

    async def lookup(self, key: str) -> Service | None:
        return await self._remembered(key, lambda: find_service(self._db, key=key))

    async def by_id(self, service_id: int) -> Service | None:
        """The service an OAuth token names (ids are never reused)."""
        return await self._remembered(
            f"#{service_id}", lambda: service_by_id(self._db, service_id=service_id)
        )

    async def _remembered(
        self, key: str, load: Callable[[], Awaitable[Service | None]]
    ) -> Service | None:
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        service = await load()
        if self._ttl > 0:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (now + self._ttl, service)
        return service
