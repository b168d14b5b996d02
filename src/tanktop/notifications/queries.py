"""All notification SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.db import announce_work, dialect_insert
from tanktop.notifications.rules import StoredRequest
from tanktop.notifications.tables import (
    delivery_attempts,
    notification_requests,
    webhook_deliveries,
)

R = notification_requests
D = webhook_deliveries


def _requests(rows: Sequence[sa.Row[Any]]) -> list[StoredRequest]:
    return [StoredRequest(**row._mapping) for row in rows]


def _scope(service_id: int, user_id: str, item_type: str | None, item_id: str | None) -> list[Any]:
    where = [R.c.service_id == service_id, R.c.user_id == user_id]
    if item_type is not None:
        where.append(R.c.item_type == item_type)
    if item_id is not None:
        where.append(R.c.item_id == item_id)
    return where


async def upsert_request(conn: AsyncConnection, row: dict[str, Any]) -> StoredRequest:
    """Store (or replace) a request; returns it as stored (generation 1 for a new one, then
    +1), from the same statement."""
    insert = dialect_insert(conn, R).values(**row, generation=1)
    stmt = insert.on_conflict_do_update(
        index_elements=[R.c.service_id, R.c.user_id, R.c.item_type, R.c.item_id],
        set_={
            "url": insert.excluded.url,
            "source_ids": insert.excluded.source_ids,
            "price": insert.excluded.price,
            "hd": insert.excluded.hd,
            "generation": R.c.generation + 1,
            "notified": False,
            "notified_at": None,
            "failed": False,
            "created_at": insert.excluded.created_at,
        },
    ).returning(*R.c)
    return _requests([(await conn.execute(stmt)).one()])[0]


async def select_requests(
    conn: AsyncConnection,
    service_id: int,
    user_id: str,
    item_type: str | None = None,
    item_id: str | None = None,
) -> list[StoredRequest]:
    query = (
        sa.select(R)
        .where(*_scope(service_id, user_id, item_type, item_id))
        .order_by(R.c.created_at, R.c.item_type, R.c.item_id)
    )
    return _requests((await conn.execute(query)).all())


async def select_service_requests(
    conn: AsyncConnection,
    service_id: int,
    status: str | None,
    before: tuple[dt.datetime, str, str, str] | None,
    limit: int,
) -> list[StoredRequest]:
    """A service's requests of every user, newest first, strictly before `before`
    (created_at, user_id, item_type, item_id); `status` is waiting, notified or failed."""
    query = sa.select(R).where(R.c.service_id == service_id)
    if status == "notified":
        query = query.where(R.c.notified.is_(True))
    elif status == "failed":
        query = query.where(R.c.failed.is_(True))
    elif status == "waiting":
        query = query.where(R.c.notified.is_(False), R.c.failed.is_(False))
    order = (R.c.created_at, R.c.user_id, R.c.item_type, R.c.item_id)
    if before is not None:
        at, *rest = before
        position = sa.tuple_(sa.literal(at, R.c.created_at.type), *map(sa.literal, rest))
        query = query.where(sa.tuple_(*order) < position)
    query = query.order_by(*(column.desc() for column in order)).limit(limit)
    return _requests((await conn.execute(query)).all())


async def count_deliveries(conn: AsyncConnection, service_id: int) -> dict[str, int]:
    """How many of the service's webhooks are in each state (pending, succeeded, ...)."""
    query = (
        sa.select(D.c.status, sa.func.count())
        .where(D.c.service_id == service_id)
        .group_by(D.c.status)
    )
    return {status: count for status, count in await conn.execute(query)}


async def count_deliveries_by_day(
    conn: AsyncConnection, service_id: int, since: dt.datetime
) -> list[tuple[str, str, int]]:
    """(UTC day, status, webhooks) of the service's webhooks queued since `since`."""
    day = sa.func.date(D.c.created_at)
    query = (
        sa.select(day, D.c.status, sa.func.count())
        .where(D.c.service_id == service_id, D.c.created_at >= since)
        .group_by(day, D.c.status)
    )
    return [(str(d), status, count) for d, status, count in await conn.execute(query)]


async def select_recent_lags(
    conn: AsyncConnection, service_id: int, limit: int
) -> list[tuple[dt.datetime, dt.datetime]]:
    """(queued, delivered) of the service's latest `limit` delivered webhooks."""
    query = (
        sa.select(D.c.created_at, D.c.delivered_at)
        .where(D.c.service_id == service_id, D.c.status == "succeeded")
        .order_by(D.c.id.desc())
        .limit(limit)
    )
    return [(row.created_at, row.delivered_at) for row in await conn.execute(query)]


async def delete_requests(
    conn: AsyncConnection,
    service_id: int,
    user_id: str,
    item_type: str | None = None,
    item_id: str | None = None,
) -> None:
    """Cancel requests; their deliveries not yet sent are cancelled with them."""
    scope = [D.c.service_id == service_id, D.c.user_id == user_id, D.c.status == "pending"]
    if item_type is not None:
        scope.append(D.c.item_type == item_type)
    if item_id is not None:
        scope.append(D.c.item_id == item_id)
    await conn.execute(sa.update(D).where(*scope).values(status="cancelled", lease_until=None))
    await conn.execute(sa.delete(R).where(*_scope(service_id, user_id, item_type, item_id)))


async def open_requests_for(
    conn: AsyncConnection, keys: Sequence[tuple[str, str]], *, include_notified: bool
) -> list[StoredRequest]:
    """Requests (of every service) for any of these (item_type, item_id)."""
    if not keys:
        return []
    query = sa.select(R).where(sa.tuple_(R.c.item_type, R.c.item_id).in_(list(keys)))
    if not include_notified:
        query = query.where(R.c.notified.is_(False), R.c.failed.is_(False))
    return _requests((await conn.execute(query)).all())


async def insert_delivery(conn: AsyncConnection, row: dict[str, Any]) -> bool:
    """Queue a delivery unless this request generation already has one for this content."""
    stmt = dialect_insert(conn, D).values(**row).on_conflict_do_nothing()
    queued = (await conn.execute(stmt)).rowcount > 0
    if queued:
        await announce_work(conn)
    return queued


async def claim_due(
    conn: AsyncConnection, now: dt.datetime, lease: dt.timedelta, limit: int
) -> list[sa.Row[Any]]:
    """Lease up to `limit` due deliveries to this worker (others skip them while leased)."""
    due = (
        sa.select(D.c.id)
        .where(
            D.c.status == "pending",
            D.c.next_attempt_at <= now,
            sa.or_(D.c.lease_until.is_(None), D.c.lease_until < now),
        )
        .order_by(D.c.next_attempt_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    stmt = (
        sa.update(D)
        .where(D.c.id.in_(due.scalar_subquery()))
        .values(lease_until=now + lease, attempts=D.c.attempts + 1)
        .returning(*D.c)
    )
    return list((await conn.execute(stmt)).all())


_FINISH = (
    sa.update(D)
    .where(
        D.c.id == sa.bindparam("b_id"),
        D.c.attempts == sa.bindparam("b_attempts"),
        D.c.status == "pending",
    )
    .values(
        status=sa.bindparam("b_status"),
        next_attempt_at=sa.bindparam("b_next", type_=D.c.next_attempt_at.type),
        delivered_at=sa.bindparam("b_delivered", type_=D.c.delivered_at.type),
        last_status=sa.bindparam("b_last_status"),
        last_error=sa.bindparam("b_last_error"),
        lease_until=None,
    )
)
"""Record an attempt's outcome, only if the worker still holds that attempt (its lease)."""

_MARK_REQUEST = (
    sa.update(R)
    .where(
        R.c.service_id == sa.bindparam("b_service"),
        R.c.user_id == sa.bindparam("b_user"),
        R.c.item_type == sa.bindparam("b_type"),
        R.c.item_id == sa.bindparam("b_item"),
        R.c.generation == sa.bindparam("b_generation"),
    )
    .values(
        notified=sa.bindparam("b_notified"),
        notified_at=sa.bindparam("b_notified_at", type_=R.c.notified_at.type),
        failed=sa.bindparam("b_failed"),
    )
)
"""Update the request a delivery belongs to (if it is still that generation)."""


async def record_outcomes(
    conn: AsyncConnection,
    outcomes: Sequence[tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]],
) -> int:
    """A batch's attempts, delivery states and request states (when settled), one statement
    each, for the deliveries this worker still holds: that attempt, leased, pending. So a batch
    recorded twice (the first commit's outcome unknown) is recorded once, and one whose lease
    another worker took over is left to it. Returns how many were recorded."""
    ids = [finished["b_id"] for _, finished, _ in outcomes]
    held_query = (
        sa.select(D.c.id, D.c.attempts)
        .where(D.c.id.in_(ids), D.c.status == "pending", D.c.lease_until.is_not(None))
        .order_by(D.c.id)
    )
    if conn.dialect.name == "postgresql":
        held_query = held_query.with_for_update()
    held = {(row.id, row.attempts) for row in await conn.execute(held_query)}
    mine = [o for o in outcomes if (o[1]["b_id"], o[1]["b_attempts"]) in held]
    if not mine:
        return 0
    await conn.execute(sa.insert(delivery_attempts), [attempt for attempt, _, _ in mine])
    await conn.execute(_FINISH, [finished for _, finished, _ in mine])
    requests = [request for _, _, request in mine if request is not None]
    if requests:
        await conn.execute(_MARK_REQUEST, requests)
    return len(mine)


async def deliveries_of(
    conn: AsyncConnection, service_id: int, user_id: str, item_type: str, item_id: str
) -> list[tuple[Any, list[Any]]]:
    rows = (
        await conn.execute(
            sa.select(D)
            .where(
                D.c.service_id == service_id,
                D.c.user_id == user_id,
                D.c.item_type == item_type,
                D.c.item_id == item_id,
            )
            .order_by(D.c.id)
        )
    ).all()
    result = []
    for row in rows:
        attempts = (
            await conn.execute(
                sa.select(delivery_attempts)
                .where(delivery_attempts.c.delivery_id == row.id)
                .order_by(delivery_attempts.c.id)
            )
        ).all()
        result.append((row, list(attempts)))
    return result


async def retry_failed(
    conn: AsyncConnection,
    service_id: int,
    user_id: str,
    item_type: str,
    item_id: str,
    now: dt.datetime,
) -> int:
    """Queue failed deliveries of a request again (a new round of attempts)."""
    result = await conn.execute(
        sa.update(D)
        .where(
            D.c.service_id == service_id,
            D.c.user_id == user_id,
            D.c.item_type == item_type,
            D.c.item_id == item_id,
            D.c.status == "failed",
        )
        .values(status="pending", attempts=0, next_attempt_at=now, lease_until=None)
    )
    if result.rowcount:
        await conn.execute(
            sa.update(R)
            .where(*_scope(service_id, user_id, item_type, item_id))
            .values(failed=False)
        )
        await announce_work(conn)
    return result.rowcount
