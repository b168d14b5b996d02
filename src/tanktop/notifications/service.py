"""Notification requests: create (delivering at once when already satisfied), read, cancel,
and the outbox rows that matching and requests queue."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.catalog import service as catalog
from tanktop.catalog.schemas import Offer
from tanktop.cursors import cursor_time, decode_cursor, encode_cursor
from tanktop.db import Database, utcnow
from tanktop.errors import BadRequest, NotFound
from tanktop.notifications import queries, rules
from tanktop.notifications.rules import (
    REQUEST_TYPES,
    STANDING_TYPES,
    FormValue,
    RequestSpec,
    StoredRequest,
    satisfies,
    webhook_body,
)
from tanktop.notifications.schemas import (
    Delivery,
    DeliveryAttempt,
    Notification,
    RequestStatus,
    UserNotification,
)
from tanktop.tenants.service import Service


def check_type(item_type: str) -> None:
    if item_type not in REQUEST_TYPES:
        raise BadRequest(f"Notifications are for {', '.join(REQUEST_TYPES)}; got {item_type!r}.")


def first_satisfying(offers: list[Offer], request: StoredRequest, now: dt.datetime) -> Offer | None:
    for offer in offers:
        if satisfies(offer, list(request.source_ids), request.price, request.hd, now):
            return offer
    return None


async def queue_delivery(
    conn: AsyncConnection,
    *,
    request: StoredRequest,
    content: tuple[str, str],
    offer: Offer,
    now: dt.datetime,
) -> bool:
    """Put one webhook in the outbox (at most once per request generation and content)."""
    fields: dict[str, FormValue] = {
        "user_id": request.user_id,
        "item_type": request.item_type,
        "item_id": request.item_id,
    }
    if request.item_type in STANDING_TYPES:
        fields |= {"content_type": content[0], "content_id": content[1]}
    fields |= {"source_id": offer.source_id, "price": offer.price, "hd": offer.hd}
    return await queries.insert_delivery(
        conn,
        {
            "service_id": request.service_id,
            "user_id": request.user_id,
            "item_type": request.item_type,
            "item_id": request.item_id,
            "generation": request.generation,
            "content_type": content[0],
            "content_id": content[1],
            "webhook_id": f"msg_{uuid.uuid4().hex}",
            "url": request.url,
            "body": webhook_body(fields),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )


async def create_request(
    db: Database,
    service: Service,
    *,
    user_id: str,
    item_type: str,
    item_id: str,
    spec: RequestSpec,
) -> None:
    """Store (or replace) a request; queue its webhook now if the catalog already satisfies it."""
    check_type(item_type)
    url = spec.url or service.webhook_url
    if url is None:
        raise BadRequest(
            "url is required: this service has no default webhook URL "
            "(tanktop keys webhook NAME URL sets one)."
        )
    now = utcnow()
    async with db.write() as conn:
        request = await queries.upsert_request(
            conn,
            {
                "service_id": service.id,
                "user_id": user_id,
                "item_type": item_type,
                "item_id": item_id,
                "url": url,
                "source_ids": list(spec.source_ids),
                "price": spec.price,
                "hd": spec.hd,
                "notified": False,
                "failed": False,
                "created_at": now,
            },
        )
        if item_type in STANDING_TYPES:
            return
        key = (item_type, item_id)
        offers = (await catalog.offers_of(conn, keys=[key]))[key]
        offer = first_satisfying(offers, request, now)
        if offer is not None:
            await queue_delivery(conn, request=request, content=key, offer=offer, now=now)


def _status(row: StoredRequest) -> RequestStatus:
    return "notified" if row.notified else "failed" if row.failed else "waiting"


def _notification(row: StoredRequest) -> Notification:
    return Notification(
        item_type=row.item_type,
        item_id=row.item_id,
        source_id=row.source_ids,
        price=row.price,
        hd=row.hd,
        url=row.url,
        notified=row.notified,
        status=_status(row),
        notified_at=row.notified_at,
        created_at=row.created_at,
    )


async def list_requests(
    db: Database,
    service: Service,
    *,
    user_id: str,
    item_type: str | None = None,
    item_id: str | None = None,
) -> list[Notification]:
    if item_type is not None:
        check_type(item_type)
    async with db.read() as conn:
        rows = await queries.select_requests(conn, service.id, user_id, item_type, item_id)
    return [_notification(row) for row in rows]


STATUSES = ("waiting", "notified", "failed")


@dataclass(frozen=True, slots=True)
class RequestPage:
    requests: list[UserNotification]
    next_cursor: str | None


def _encode_position(row: StoredRequest) -> str:
    return encode_cursor(row.created_at.isoformat(), row.user_id, row.item_type, row.item_id)


def _decode_position(cursor: str) -> tuple[dt.datetime, str, str, str]:
    at, user_id, item_type, item_id = decode_cursor(cursor, 4)
    return cursor_time(at), user_id, item_type, item_id


async def service_requests(
    db: Database,
    service: Service,
    *,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> RequestPage:
    """The service's requests of every user, newest first, optionally of one status."""
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status is one of {', '.join(STATUSES)}; got {status!r}.")
    before = _decode_position(cursor) if cursor else None
    async with db.read() as conn:
        rows = await queries.select_service_requests(conn, service.id, status, before, limit + 1)
    page = rows[:limit]
    return RequestPage(
        [UserNotification(user_id=row.user_id, **_notification(row).model_dump()) for row in page],
        _encode_position(page[-1]) if len(rows) > limit else None,
    )


async def delivery_counts(db: Database, service: Service) -> dict[str, int]:
    """How many of the service's webhooks are pending, succeeded, failed or cancelled."""
    async with db.read() as conn:
        return await queries.count_deliveries(conn, service.id)


@dataclass(frozen=True, slots=True)
class WebhookDay:
    day: dt.date
    succeeded: int
    failed: int
    pending: int


@dataclass(frozen=True, slots=True)
class WebhookHealth:
    """Webhooks queued per day by outcome, and how long the latest deliveries took."""

    days: list[WebhookDay]
    lag_p50: float | None
    lag_p95: float | None
    """Seconds from queued to delivered, over the latest `lag_samples` deliveries."""
    lag_samples: int


async def webhook_health(
    db: Database, service: Service, *, days: int = 14, samples: int = 1000
) -> WebhookHealth:
    today = utcnow().date()
    first = today - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    async with db.read() as conn:
        counted = await queries.count_deliveries_by_day(conn, service.id, since)
        lags = await queries.select_recent_lags(conn, service.id, samples)
    per_day: dict[dt.date, dict[str, int]] = {first + dt.timedelta(days=i): {} for i in range(days)}
    for day, status, count in counted:
        per_day.setdefault(dt.date.fromisoformat(day[:10]), {})[status] = count
    seconds = sorted((done - queued).total_seconds() for queued, done in lags)

    def percentile(p: float) -> float | None:
        return seconds[min(len(seconds) - 1, int(p * len(seconds)))] if seconds else None

    return WebhookHealth(
        [
            WebhookDay(day, c.get("succeeded", 0), c.get("failed", 0), c.get("pending", 0))
            for day, c in sorted(per_day.items())
        ],
        percentile(0.5),
        percentile(0.95),
        len(seconds),
    )


async def cancel_requests(
    db: Database,
    service: Service,
    *,
    user_id: str,
    item_type: str | None = None,
    item_id: str | None = None,
) -> None:
    if item_type is not None:
        check_type(item_type)
    async with db.write() as conn:
        await queries.delete_requests(conn, service.id, user_id, item_type, item_id)


async def delivery_log(
    db: Database, service: Service, *, user_id: str, item_type: str, item_id: str
) -> list[Delivery]:
    """Every delivery of a request and every attempt of each, for a developer to debug."""
    check_type(item_type)
    async with db.read(snapshot=True) as conn:
        if not await queries.select_requests(conn, service.id, user_id, item_type, item_id):
            raise NotFound(f"No notification request for {item_type} {item_id!r}.")
        deliveries = await queries.deliveries_of(conn, service.id, user_id, item_type, item_id)
    return [
        Delivery(
            webhook_id=d.webhook_id,
            content_type=d.content_type,
            content_id=d.content_id,
            url=d.url,
            status=d.status,
            attempts=[
                DeliveryAttempt(
                    at=a.at,
                    status_code=a.status_code,
                    duration_ms=round(a.duration_ms, 1),
                    error=a.error,
                    response=a.response,
                )
                for a in attempts
            ],
            next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
            delivered_at=d.delivered_at,
        )
        for d, attempts in deliveries
    ]


async def resend_failed(
    db: Database, service: Service, *, user_id: str, item_type: str, item_id: str
) -> int:
    check_type(item_type)
    async with db.write() as conn:
        count = await queries.retry_failed(conn, service.id, user_id, item_type, item_id, utcnow())
    if count == 0:
        raise NotFound(f"No failed delivery for {item_type} {item_id!r} to send again.")
    return count


def check_webhook_url(url: str) -> str:
    """The URL rule of webhooks (http or https, at most 2,000 characters), for other forms."""
    return rules.check_url(url)


__all__ = ["RequestSpec"]  # for other domains (the console's demo)
