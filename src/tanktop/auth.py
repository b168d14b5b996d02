"""Services (tenants), their API keys and webhook signing secrets, and the `ServiceDep`.

A key is shown once, when created; only its SHA-256 is stored (keys are long random strings,
so a fast hash is enough and keeps the per-request lookup cheap). Logs show `key_label()`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.db import Database, UTCDateTime, metadata, utcnow
from tanktop.errors import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from tanktop.ratelimit import RateLimiter

KEY_PREFIX = "tt_"
KEY_PATTERN = re.compile(r"tt_[A-Za-z0-9_\-]{8,64}")

services = sa.Table(
    "services",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("webhook_url", sa.String(2000)),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_hash", sa.String(64), primary_key=True),
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), nullable=False, index=True),
    sa.Column("label", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
)

signing_secrets = sa.Table(
    "signing_secrets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), nullable=False, index=True),
    sa.Column("secret", sa.String(100), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime),
)


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
    created_at: str
    revoked: bool
    key_hash: str = ""
    """What the console names a key by (the key itself is never stored)."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_label(key: str) -> str:
    """What logs and listings show of a key: enough to tell keys apart, useless to an attacker."""
    return key[:7] + "…"


SECRET_PATTERN = re.compile(r"whsec_[A-Za-z0-9+/=]{8,}")
OAUTH_SECRET_PATTERN = re.compile(r"\b(tt[acdrs]_)[A-Za-z0-9_\-]{8,}")
"""OAuth tokens, codes and client secrets (`tanktop.oauth.models.TOKEN_PREFIXES`)."""


def redact_keys(text: str) -> str:
    """Replace every API key in `text` (a path, a log line) with its label, and every webhook
    signing secret, OAuth token, code and client secret with a placeholder."""
    text = KEY_PATTERN.sub(lambda m: key_label(m.group(0)), text)
    text = OAUTH_SECRET_PATTERN.sub(lambda m: m.group(1) + "…", text)
    return SECRET_PATTERN.sub("whsec_…", text)


def new_signing_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def create_key(db: Database, name: str, webhook_url: str | None = None) -> str:
    """Create service `name` (or add a key to it); return the new key, shown only this once."""
    name = name.strip()
    if not name or len(name) > 100:
        raise BadRequest("service name must be 1-100 characters")
    key = KEY_PREFIX + secrets.token_urlsafe(24)
    now = utcnow()
    async with db.write() as conn:
        service_id = await conn.scalar(sa.select(services.c.id).where(services.c.name == name))
        if service_id is None:
            service_id = await conn.scalar(
                sa.insert(services)
                .values(name=name, webhook_url=webhook_url, created_at=now)
                .returning(services.c.id)
            )
            await conn.execute(
                sa.insert(signing_secrets).values(
                    service_id=service_id, secret=new_signing_secret(), created_at=now
                )
            )
        elif webhook_url is not None:
            await conn.execute(
                sa.update(services)
                .where(services.c.id == service_id)
                .values(webhook_url=webhook_url)
            )
        await conn.execute(
            sa.insert(api_keys).values(
                key_hash=hash_key(key), service_id=service_id, label=key_label(key), created_at=now
            )
        )
    return key


async def list_services(db: Database) -> list[Service]:
    async with db.read() as conn:
        rows = await conn.execute(
            sa.select(services.c.id, services.c.name, services.c.webhook_url).order_by(
                services.c.id
            )
        )
        return [Service(r.id, r.name, r.webhook_url) for r in rows]


async def list_keys(db: Database, service_id: int | None = None) -> list[KeyInfo]:
    """Every key's label and state (of one service when `service_id` is given)."""
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
    async with db.read() as conn:
        rows = (await conn.execute(query)).all()
    return [
        KeyInfo(r.name, r.label, r.created_at.isoformat(), r.revoked_at is not None, r.key_hash)
        for r in rows
    ]


async def revoke_key(db: Database, key: str) -> bool:
    """Revoke a key; False when no active key matches."""
    return await revoke_key_hash(db, hash_key(key))


async def revoke_key_hash(db: Database, key_hash: str) -> bool:
    """Revoke the key with this hash (the console knows keys only by hash)."""
    async with db.write() as conn:
        result = await conn.execute(
            sa.update(api_keys)
            .where(api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    return result.rowcount > 0


async def find_service(db: Database, key: str) -> Service | None:
    return await find_service_by_hash(db, hash_key(key))


async def find_service_by_hash(db: Database, key_hash: str) -> Service | None:
    """The service of the active key with this hash (a console session holds only the hash)."""
    query = (
        sa.select(services.c.id, services.c.name, services.c.webhook_url)
        .join(api_keys, api_keys.c.service_id == services.c.id)
        .where(api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None))
    )
    async with db.read() as conn:
        row = (await conn.execute(query)).first()
    return Service(row.id, row.name, row.webhook_url) if row else None


async def service_by_name(db: Database, name: str) -> Service | None:
    return await _service_where(db, services.c.name == name)


async def service_by_id(db: Database, service_id: int) -> Service | None:
    return await _service_where(db, services.c.id == service_id)


async def _service_where(db: Database, condition: sa.ColumnElement[bool]) -> Service | None:
    query = sa.select(services.c.id, services.c.name, services.c.webhook_url).where(condition)
    async with db.read() as conn:
        row = (await conn.execute(query)).first()
    return Service(row.id, row.name, row.webhook_url) if row else None


async def valid_secrets(db: Database, service_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each service's signing secrets still valid now, newest first."""
    now = utcnow()
    query = (
        sa.select(signing_secrets.c.service_id, signing_secrets.c.secret)
        .where(
            signing_secrets.c.service_id.in_(list(service_ids)),
            sa.or_(signing_secrets.c.expires_at.is_(None), signing_secrets.c.expires_at > now),
        )
        .order_by(signing_secrets.c.id.desc())
    )
    result: dict[int, list[str]] = {}
    async with db.read() as conn:
        for row in await conn.execute(query):
            result.setdefault(row.service_id, []).append(row.secret)
    return result


async def _service_id(conn: AsyncConnection, name: str) -> int:
    service_id = await conn.scalar(sa.select(services.c.id).where(services.c.name == name))
    if service_id is None:
        raise NotFound(f"no service named {name!r}")
    return int(service_id)


async def rotate_secret(db: Database, name: str, overlap: dt.timedelta) -> str:
    """A new signing secret for service `name`; the current ones stay valid for `overlap`."""
    now = utcnow()
    secret = new_signing_secret()
    async with db.write() as conn:
        service_id = await _service_id(conn, name)
        await conn.execute(
            sa.update(signing_secrets)
            .where(
                signing_secrets.c.service_id == service_id,
                sa.or_(
                    signing_secrets.c.expires_at.is_(None),
                    signing_secrets.c.expires_at > now + overlap,
                ),
            )
            .values(expires_at=now + overlap)
        )
        await conn.execute(
            sa.insert(signing_secrets).values(service_id=service_id, secret=secret, created_at=now)
        )
    return secret


@dataclass(frozen=True, slots=True)
class SecretInfo:
    secret: str
    created_at: dt.datetime
    expires_at: dt.datetime | None


async def secrets_of(db: Database, service_id: int) -> list[SecretInfo]:
    """The service's signing secrets still valid now, newest first, with their expiry."""
    query = (
        sa.select(signing_secrets)
        .where(
            signing_secrets.c.service_id == service_id,
            sa.or_(signing_secrets.c.expires_at.is_(None), signing_secrets.c.expires_at > utcnow()),
        )
        .order_by(signing_secrets.c.id.desc())
    )
    async with db.read() as conn:
        rows = (await conn.execute(query)).all()
    return [SecretInfo(r.secret, r.created_at, r.expires_at) for r in rows]


async def show_secrets(db: Database, name: str) -> list[str]:
    async with db.read() as conn:
        service_id = await _service_id(conn, name)
    return [info.secret for info in await secrets_of(db, service_id)]


async def set_webhook_url(db: Database, name: str, url: str | None) -> None:
    async with db.write() as conn:
        service_id = await _service_id(conn, name)
        await conn.execute(
            sa.update(services).where(services.c.id == service_id).values(webhook_url=url)
        )


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
        return await self._remembered(key, lambda: find_service(self._db, key))

    async def by_id(self, service_id: int) -> Service | None:
        """The service an OAuth token names (ids are never reused)."""
        return await self._remembered(f"#{service_id}", lambda: service_by_id(self._db, service_id))

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


ApiKey = Annotated[
    str,
    Path(
        description="Your service's API key (from `tanktop keys create`).",
        examples=["tt_your_api_key"],
    ),
]


async def current_service(request: Request, apikey: ApiKey) -> Service:
    """The service whose key is in the path; 401 when the key is unknown or revoked."""
    cache: KeyCache = request.app.state.key_cache
    service = await cache.lookup(apikey) if KEY_PATTERN.fullmatch(apikey) else None
    if service is None:
        raise Unauthorized(f"API key {key_label(apikey)} is unknown or revoked.")
    kind = "read" if request.method in ("GET", "HEAD") else "write"
    await _throttle(request, service.id, kind, f"{kind}s for this API key")
    return service


async def _throttle(
    request: Request, key: int, kind: str, what: str, *, limit: int | None = None
) -> None:
    """429 with `Retry-After` once the key's budget for this window is spent."""
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = await limiter.retry_after(key, kind, limit=limit)
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        raise TooManyRequests(
            f"Too many {what}; retry in {seconds} s.", headers={"Retry-After": str(seconds)}
        )


ServiceDep = Annotated[Service, Depends(current_service)]


@dataclass(frozen=True, slots=True)
class Bearer:
    """An OAuth app acting for one user of one service (`/api/1/me/…`)."""

    service: Service
    user_id: str
    client_id: str
    scopes: frozenset[str]


async def current_bearer(request: Request) -> Bearer:
    """`Authorization: Bearer <access token>`: 401 (RFC 6750 `WWW-Authenticate`) when it is
    missing, unknown, expired or revoked; 429 past the app's own rate limit."""
    from tanktop.oauth import service as oauth  # oauth builds on this module

    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken(
            "Send Authorization: Bearer <access token> (from the service's /oauth/ endpoints).",
            headers={"WWW-Authenticate": 'Bearer realm="tanktop"'},
        )
    db: Database = request.app.state.db
    grant = await oauth.authenticate_bearer(db, token=token.strip())
    cache: KeyCache = request.app.state.key_cache
    service = None if grant is None else await cache.by_id(grant.service_id)
    if grant is None or service is None:
        raise InvalidToken(
            "The access token is unknown, expired or revoked; refresh it or ask the user again.",
            headers={
                "WWW-Authenticate": 'Bearer realm="tanktop", error="invalid_token", '
                'error_description="The access token is unknown, expired or revoked"'
            },
        )
    await _throttle(
        request, grant.rate_key, "app", "requests from this app", limit=grant.rate_limit
    )
    return Bearer(service, grant.user_id, grant.client_id, grant.scopes)


def bearer_with(scope: str) -> Callable[[Bearer], Awaitable[Bearer]]:
    """A dependency: a valid token that carries `scope` (403 naming it otherwise)."""

    async def with_scope(bearer: Annotated[Bearer, Depends(current_bearer)]) -> Bearer:
        if scope not in bearer.scopes:
            raise Forbidden(
                f"This access token lacks the scope {scope!r}; ask the user again with it.",
                headers={
                    "WWW-Authenticate": f'Bearer realm="tanktop", error="insufficient_scope", '
                    f'scope="{scope}"'
                },
                scope=scope,
            )
        return bearer

    return with_scope


async def require_admin(request: Request) -> None:
    """The operator's bearer token (`TANKTOP_ADMIN_TOKEN`); the admin API is off without one."""
    token: str | None = request.app.state.settings.admin_token
    if not token:
        raise Forbidden("The admin API is disabled: set TANKTOP_ADMIN_TOKEN to enable it.")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise Unauthorized(
            "Send Authorization: Bearer <TANKTOP_ADMIN_TOKEN>.",
            headers={"WWW-Authenticate": "Bearer"},
        )


AdminDep = Depends(require_admin)

AUTHENTICATIONS = (current_service, require_admin, current_bearer)
"""The dependencies that authenticate a request; every /api/ and /admin/ route uses one."""
