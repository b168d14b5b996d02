"""All OAuth SQL; the service id is always an argument."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.db import dialect_insert
from tanktop.oauth import models as m
from tanktop.oauth.tables import (
    oauth_clients,
    oauth_code_failures,
    oauth_codes,
    oauth_devices,
    oauth_grants,
    oauth_requests,
    oauth_services,
    oauth_tokens,
)

C, G, T = oauth_clients, oauth_grants, oauth_tokens


class SpentAlready(Exception):
    """A code, refresh token or device code was spent by a concurrent request."""


# Services


async def upsert_service(
    conn: AsyncConnection, service_id: int, login_url: str, verification_url: str, now: dt.datetime
) -> None:
    stmt = dialect_insert(conn, oauth_services).values(
        service_id=service_id,
        login_url=login_url,
        verification_url=verification_url,
        enabled_at=now,
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[oauth_services.c.service_id],
            set_={"login_url": login_url, "verification_url": verification_url},
        )
    )


async def select_service(conn: AsyncConnection, service_id: int) -> sa.Row[Any] | None:
    result = await conn.execute(
        sa.select(oauth_services).where(oauth_services.c.service_id == service_id)
    )
    return result.first()


# Clients


async def insert_client(conn: AsyncConnection, row: dict[str, Any]) -> None:
    """Insert an app, numbering it for the rate limiter (one more than the highest number)."""
    next_key = sa.select(sa.func.coalesce(sa.func.max(C.c.rate_key), 0) + 1).scalar_subquery()
    await conn.execute(sa.insert(C).values(**row, rate_key=next_key))


def _client(row: sa.Row[Any]) -> m.Client:
    return m.Client(
        client_id=row.client_id,
        service_id=row.service_id,
        name=row.name,
        secret_hash=row.secret_hash,
        redirect_uris=tuple(row.redirect_uris),
        scope=row.scope,
        revoked=row.revoked_at is not None,
        rate_key=row.rate_key,
        rate_limit=row.rate_limit,
    )


async def select_clients(
    conn: AsyncConnection, service_id: int, client_ids: Iterable[str] | None = None
) -> list[m.Client]:
    """The service's clients (revoked ones too), or only those of `client_ids`."""
    query = sa.select(C).where(C.c.service_id == service_id).order_by(C.c.created_at)
    if client_ids is not None:
        wanted = [c for c in client_ids if c]
        if not wanted:
            return []
        query = query.where(C.c.client_id.in_(wanted))
    return [_client(row) for row in await conn.execute(query)]


async def revoke_client(
    conn: AsyncConnection, service_id: int, client_id: str, now: dt.datetime
) -> bool:
    result = await conn.execute(
        sa.update(C)
        .where(C.c.service_id == service_id, C.c.client_id == client_id, C.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount > 0


# Authorization requests (between `authorize` and the service's approve or deny)


async def insert_request(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(sa.insert(oauth_requests).values(**row))


async def select_pending_request(
    conn: AsyncConnection, service_id: int, request_id: str, now: dt.datetime
) -> sa.Row[Any] | None:
    R = oauth_requests
    result = await conn.execute(
        sa.select(R).where(
            R.c.service_id == service_id,
            R.c.request_id == request_id,
            R.c.decided_at.is_(None),
            R.c.expires_at > now,
        )
    )
    return result.first()


async def decide_request(
    conn: AsyncConnection, service_id: int, request_id: str, now: dt.datetime
) -> None:
    R = oauth_requests
    result = await conn.execute(
        sa.update(R)
        .where(R.c.service_id == service_id, R.c.request_id == request_id, R.c.decided_at.is_(None))
        .values(decided_at=now)
    )
    if result.rowcount == 0:
        raise SpentAlready(request_id)


# What a protocol request refers to


async def select_code(
    conn: AsyncConnection, service_id: int, code_hash: str
) -> m.AuthorizationCode | None:
    K = oauth_codes
    row = (
        await conn.execute(
            sa.select(K).where(K.c.service_id == service_id, K.c.code_hash == code_hash)
        )
    ).first()
    if row is None:
        return None
    return m.AuthorizationCode(
        code_hash=row.code_hash,
        user_id=row.user_id,
        grant_id=row.grant_id,
        client_id=row.client_id,
        redirect_uri=row.redirect_uri,
        scope=row.scope,
        code_challenge=row.code_challenge,
        code_challenge_method=row.code_challenge_method,
        expires_at=row.expires_at,
        used=row.used_at is not None,
    )


_TOKEN = (
    sa.select(
        T,
        G.c.revoked_at.label("grant_revoked_at"),
        C.c.revoked_at.label("client_revoked_at"),
        C.c.rate_key,
        C.c.rate_limit,
    )
    .join(
        G,
        sa.and_(
            G.c.service_id == T.c.service_id,
            G.c.user_id == T.c.user_id,
            G.c.grant_id == T.c.grant_id,
        ),
    )
    .join(C, C.c.client_id == T.c.client_id)
)


def _token(row: sa.Row[Any], matched: str, now: dt.datetime) -> m.Token:
    return m.Token(
        service_id=row.service_id,
        rate_key=row.rate_key,
        rate_limit=row.rate_limit,
        access_hash=row.access_hash,
        refresh_hash=row.refresh_hash,
        user_id=row.user_id,
        grant_id=row.grant_id,
        client_id=row.client_id,
        scope=row.scope,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        refresh_expires_at=row.refresh_expires_at,
        refresh_used=row.refresh_used_at is not None,
        revoked=row.revoked_at is not None,
        grant_revoked=row.grant_revoked_at is not None,
        client_revoked=row.client_revoked_at is not None,
        now=now,
        matched=matched,
    )


async def select_token(
    conn: AsyncConnection,
    service_id: int | None,
    token_hash: str,
    now: dt.datetime,
    *,
    kinds: tuple[str, ...] = ("access_token", "refresh_token"),
) -> m.Token | None:
    """The token pair one of whose tokens hashes to `token_hash`, with its grant's and client's
    state; `service_id` None looks in every service (bearer tokens name no service)."""
    for kind in kinds:
        column = T.c.access_hash if kind == "access_token" else T.c.refresh_hash
        query = _TOKEN.where(column == token_hash)
        if service_id is not None:
            query = query.where(T.c.service_id == service_id)
        row = (await conn.execute(query)).first()
        if row is not None:
            return _token(row, kind, now)
    return None


async def select_token_service(conn: AsyncConnection, access_hash: str) -> int | None:
    service_id: int | None = await conn.scalar(
        sa.select(T.c.service_id).where(T.c.access_hash == access_hash)
    )
    return service_id


async def select_device(
    conn: AsyncConnection, service_id: int, device_hash: str, now: dt.datetime
) -> m.DeviceCredential | None:
    D = oauth_devices
    row = (
        await conn.execute(
            sa.select(D).where(D.c.service_id == service_id, D.c.device_hash == device_hash)
        )
    ).first()
    return None if row is None else _device(row, now)


def _device(row: sa.Row[Any], now: dt.datetime) -> m.DeviceCredential:
    return m.DeviceCredential(
        device_hash=row.device_hash,
        user_code=row.user_code,
        client_id=row.client_id,
        scope=row.scope,
        expires_at=row.expires_at,
        interval=row.interval,
        polled_at=row.polled_at,
        user_id=row.user_id,
        grant_id=row.grant_id,
        approved=row.approved,
        used=row.used_at is not None,
        now=now,
    )


async def select_pending_device(
    conn: AsyncConnection, service_id: int, user_code: str, now: dt.datetime
) -> m.DeviceCredential | None:
    """The undecided, unexpired device authorization a user code stands for."""
    D = oauth_devices
    row = (
        await conn.execute(
            sa.select(D).where(
                D.c.service_id == service_id,
                D.c.user_code == user_code,
                D.c.approved.is_(None),
                D.c.expires_at > now,
            )
        )
    ).first()
    return None if row is None else _device(row, now)


async def decide_device(
    conn: AsyncConnection,
    service_id: int,
    device_hash: str,
    *,
    user_id: str,
    grant_id: str | None,
    approved: bool,
) -> None:
    D = oauth_devices
    result = await conn.execute(
        sa.update(D)
        .where(
            D.c.service_id == service_id,
            D.c.device_hash == device_hash,
            D.c.approved.is_(None),
        )
        .values(user_id=user_id, grant_id=grant_id, approved=approved)
    )
    if result.rowcount == 0:
        raise SpentAlready(device_hash)


# Guessing user codes


async def code_failures(conn: AsyncConnection, service_id: int, user_id: str, window: int) -> int:
    F = oauth_code_failures
    count = await conn.scalar(
        sa.select(F.c.failures).where(
            F.c.service_id == service_id, F.c.user_id == user_id, F.c.window == window
        )
    )
    return int(count or 0)


async def add_code_failure(
    conn: AsyncConnection, service_id: int, user_id: str, window: int
) -> None:
    F = oauth_code_failures
    stmt = dialect_insert(conn, F).values(
        service_id=service_id, user_id=user_id, window=window, failures=1
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[F.c.service_id, F.c.user_id, F.c.window],
            set_={"failures": F.c.failures + 1},
        )
    )
    await conn.execute(
        sa.delete(F).where(
            F.c.service_id == service_id, F.c.user_id == user_id, F.c.window < window
        )
    )


# Grants (connected apps)


async def insert_grant(
    conn: AsyncConnection, service_id: int, effect: m.SaveGrant, now: dt.datetime
) -> None:
    await conn.execute(
        sa.insert(G).values(
            service_id=service_id,
            user_id=effect.user_id,
            grant_id=effect.grant_id,
            client_id=effect.client_id,
            scope=effect.scope,
            created_at=now,
        )
    )


async def select_user_grants(
    conn: AsyncConnection, service_id: int, user_id: str
) -> list[sa.Row[Any]]:
    """The user's live grants with their app's name, oldest first."""
    query: sa.Select[Any] = (
        sa.select(G.c.client_id, G.c.scope, G.c.created_at, C.c.name)
        .join(C, C.c.client_id == G.c.client_id)
        .where(
            G.c.service_id == service_id,
            G.c.user_id == user_id,
            G.c.revoked_at.is_(None),
            C.c.revoked_at.is_(None),
        )
        .order_by(G.c.created_at)
    )
    return [row for row in await conn.execute(query)]


async def revoke_user_grants(
    conn: AsyncConnection,
    service_id: int,
    user_id: str,
    now: dt.datetime,
    *,
    client_id: str | None = None,
) -> int:
    """Revoke the user's grants (to one app, or to all); how many were live."""
    where = [G.c.service_id == service_id, G.c.user_id == user_id, G.c.revoked_at.is_(None)]
    if client_id is not None:
        where.append(G.c.client_id == client_id)
    result = await conn.execute(sa.update(G).where(*where).values(revoked_at=now))
    return int(result.rowcount)


# Applying what Authlib asked for


async def apply_effects(
    conn: AsyncConnection, service_id: int, effects: list[m.Effect], now: dt.datetime
) -> None:
    """Write `effects` in order; raises `SpentAlready` (roll back) when a code, refresh token or
    device code turns out to have been spent by a concurrent request."""
    for effect in effects:
        await _apply(conn, service_id, effect, now)


async def _apply(
    conn: AsyncConnection, service_id: int, effect: m.Effect, now: dt.datetime
) -> None:
    match effect:
        case m.SaveGrant():
            await insert_grant(conn, service_id, effect, now)
        case m.SaveCode():
            await conn.execute(
                sa.insert(oauth_codes).values(service_id=service_id, **_fields(effect))
            )
        case m.SpendCode(code_hash):
            K = oauth_codes
            await _spend(
                conn,
                sa.update(K)
                .where(K.c.service_id == service_id, K.c.code_hash == code_hash)
                .where(K.c.used_at.is_(None))
                .values(used_at=now),
            )
        case m.SaveToken():
            await conn.execute(sa.insert(T).values(service_id=service_id, **_fields(effect)))
        case m.SpendRefresh(access_hash):
            await _spend(
                conn,
                sa.update(T)
                .where(T.c.service_id == service_id, T.c.access_hash == access_hash)
                .where(T.c.refresh_used_at.is_(None))
                .values(refresh_used_at=now),
            )
        case m.RevokeGrant(user_id, grant_id):
            await conn.execute(
                sa.update(G)
                .where(G.c.service_id == service_id, G.c.user_id == user_id)
                .where(G.c.grant_id == grant_id, G.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        case m.RevokeToken(access_hash):
            await conn.execute(
                sa.update(T)
                .where(T.c.service_id == service_id, T.c.access_hash == access_hash)
                .where(T.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        case m.SaveDevice():
            await conn.execute(
                sa.insert(oauth_devices).values(service_id=service_id, **_fields(effect))
            )
        case m.PollDevice(device_hash, polled_at, interval):
            D = oauth_devices
            await conn.execute(
                sa.update(D)
                .where(D.c.service_id == service_id, D.c.device_hash == device_hash)
                .values(polled_at=polled_at, interval=interval)
            )
        case m.SpendDevice(device_hash):
            D = oauth_devices
            await _spend(
                conn,
                sa.update(D)
                .where(D.c.service_id == service_id, D.c.device_hash == device_hash)
                .where(D.c.used_at.is_(None))
                .values(used_at=now),
            )


async def _spend(conn: AsyncConnection, update: sa.Update) -> None:
    if (await conn.execute(update)).rowcount == 0:
        raise SpentAlready()


def _fields(effect: Any) -> dict[str, Any]:
    return {name: getattr(effect, name) for name in effect.__dataclass_fields__}


# Forgetting what can no longer be used


def _expired(cutoff: dt.datetime, window: int) -> list[tuple[sa.Table, sa.ColumnElement[bool]]]:
    """Each table with the condition of its rows past use (and past reuse detection)."""
    K, D, R, F = oauth_codes, oauth_devices, oauth_requests, oauth_code_failures
    return [
        (R, R.c.expires_at < cutoff),
        (K, K.c.expires_at < cutoff),
        (D, D.c.expires_at < cutoff),
        (
            T,
            sa.or_(
                T.c.refresh_expires_at < cutoff,
                sa.and_(T.c.refresh_expires_at.is_(None), T.c.expires_at < cutoff),
            ),
        ),
        (F, F.c.window < window),
    ]


async def any_expired(conn: AsyncConnection, cutoff: dt.datetime, window: int) -> bool:
    for table, condition in _expired(cutoff, window):
        if await conn.scalar(sa.select(sa.literal(1)).select_from(table).where(condition).limit(1)):
            return True
    return False


async def delete_expired(
    conn: AsyncConnection, cutoff: dt.datetime, window: int, *, batch: int
) -> int:
    """Delete up to `batch` expired rows of each table; how many went."""
    deleted = 0
    for table, condition in _expired(cutoff, window):
        keys = list(table.primary_key.columns)
        chosen = sa.select(*keys).where(condition).limit(batch)
        if len(keys) == 1:
            where = keys[0].in_(chosen.scalar_subquery())
        else:
            where = sa.tuple_(*keys).in_(chosen)
        deleted += (await conn.execute(sa.delete(table).where(where))).rowcount
    return deleted
