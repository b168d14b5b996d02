"""Delivery: workers lease due outbox rows, POST them, and record every attempt.

A lease (not a long transaction) holds a row while its request is in flight, so a worker that
dies mid-delivery only delays it: the lease expires and another worker sends it again, with
the same `webhook-id` for the receiver to de-duplicate. A database that goes away while a batch
is in flight is waited for as long as the lease lasts, so the receivers' answers are recorded
once it is back instead of the batch being sent again. Success is a 2xx only; redirects are not
followed; a 410 stops at once; other failures retry with growing, jittered delays.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from tanktop.config import Settings
from tanktop.db import Database, utcnow
from tanktop.faults import DatabaseFault
from tanktop.metrics import DELIVERIES, DELIVERY_LAG
from tanktop.notifications import queries
from tanktop.notifications.signing import webhook_headers
from tanktop.notifications.ssrf import BlockedAddress, resolve_checked
from tanktop.storable import printable
from tanktop.tenants import service as tenants

log = logging.getLogger("tanktop.notifications")
BATCH = 200
RESPONSE_EXCERPT = 4096
T = TypeVar("T")


@dataclass
class Outcome:
    status_code: int | None
    duration_ms: float
    error: str | None = None
    response: str | None = None
    retry_after: float | None = None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - utcnow()).total_seconds())


def webhook_client() -> aiohttp.ClientSession:
    """No proxies from the environment, no cookies kept, 5 s to connect, 15 s in all.

    aiohttp rather than httpx here: measured on this workload (bench/notifications.py), httpx's
    connection pool capped one worker at about 330 deliveries/s.
    """
    return aiohttp.ClientSession(
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=15, connect=5),
        connector=aiohttp.TCPConnector(use_dns_cache=False, limit=100),
    )


async def post_webhook(
    client: aiohttp.ClientSession,
    url: str,
    body: str,
    headers: dict[str, str],
    *,
    allow_private: bool,
) -> Outcome:
    """POST once to the address checked for `url`'s host, TLS still verified for the host name."""
    started = time.perf_counter()
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)

    def elapsed() -> float:
        return (time.perf_counter() - started) * 1000

    try:
        address = await resolve_checked(host, port, allow_private=allow_private)
        netloc = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        async with client.post(
            target,
            data=body.encode(),
            headers={**headers, "host": parts.netloc.rsplit("@", 1)[-1]},
            allow_redirects=False,
            server_hostname=host if parts.scheme == "https" else None,
        ) as response:
            excerpt = await response.content.read(RESPONSE_EXCERPT)
            return Outcome(
                response.status,
                elapsed(),
                response=printable(excerpt.decode(errors="replace")),
                retry_after=_retry_after(response.headers.get("retry-after")),
            )
    except BlockedAddress as exc:
        return Outcome(None, elapsed(), error=printable(f"refused: {exc}"))
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return Outcome(None, elapsed(), error=printable(f"{type(exc).__name__}: {exc}"[:1000]))


def next_attempt(
    settings: Settings, attempts: int, outcome: Outcome, now: dt.datetime
) -> dt.datetime | None:
    """When to try again after `attempts` tries, or None when that was the last allowed."""
    delays = settings.retry_delays()
    if outcome.status_code == 410 or attempts > len(delays):
        return None
    delay = delays[attempts - 1] * random.uniform(0.8, 1.2)
    if outcome.retry_after is not None:
        delay = max(delay, outcome.retry_after)
    return now + dt.timedelta(seconds=delay)


def outcome_rows(
    settings: Settings, delivery: Any, outcome: Outcome, now: dt.datetime
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    """The attempt row, the delivery's new state, and the request's (when it is settled)."""
    ok = outcome.status_code is not None and 200 <= outcome.status_code < 300
    retry_at = None if ok else next_attempt(settings, delivery.attempts, outcome, now)
    status = "succeeded" if ok else "pending" if retry_at else "failed"
    attempt = {
        "delivery_id": delivery.id,
        "at": now,
        "status_code": outcome.status_code,
        "duration_ms": outcome.duration_ms,
        "error": outcome.error,
        "response": outcome.response,
    }
    finished = {
        "b_id": delivery.id,
        "b_attempts": delivery.attempts,
        "b_status": status,
        "b_next": retry_at or delivery.next_attempt_at,
        "b_delivered": now if ok else None,
        "b_last_status": outcome.status_code,
        "b_last_error": outcome.error,
    }
    request = None
    if status != "pending":
        request = {
            "b_service": delivery.service_id,
            "b_user": delivery.user_id,
            "b_type": delivery.item_type,
            "b_item": delivery.item_id,
            "b_generation": delivery.generation,
            "b_notified": ok,
            "b_notified_at": now if ok else None,
            "b_failed": not ok,
        }
    return attempt, finished, request


async def _while_leased(until: float, work: Callable[[], Awaitable[T]]) -> T:
    """`work()`, run again while the database is away and the batch's lease (monotonic `until`)
    holds: the worker keeps its batch rather than leave it to be sent twice."""
    wait = 0.1
    while True:
        try:
            return await work()
        except DatabaseFault:
            if time.monotonic() + wait >= until:
                raise
            await asyncio.sleep(wait)
            wait = min(2.0, wait * 2)


async def deliver_due_notifications(db: Database, *, settings: Settings) -> int:
    """Lease a batch of due webhooks, send them concurrently, record each; returns how many."""
    leased_until = time.monotonic() + settings.webhook_lease_seconds
    async with db.write() as conn:
        claimed = await queries.claim_due(
            conn, utcnow(), dt.timedelta(seconds=settings.webhook_lease_seconds), BATCH
        )
    if not claimed:
        return 0
    service_ids = list({d.service_id for d in claimed})
    secrets = await _while_leased(
        leased_until, lambda: tenants.valid_secrets(db, service_ids=service_ids)
    )
    limit = asyncio.Semaphore(settings.webhook_concurrency)

    async def send(client: aiohttp.ClientSession, delivery: Any) -> Outcome:
        async with limit:
            headers = webhook_headers(
                secrets.get(delivery.service_id, []),
                delivery.webhook_id,
                int(time.time()),
                delivery.body,
            )
            return await post_webhook(
                client,
                delivery.url,
                delivery.body,
                headers,
                allow_private=settings.webhook_allow_private,
            )

    async with webhook_client() as client:
        outcomes = await asyncio.gather(*(send(client, d) for d in claimed))
    # One transaction records the whole batch. A crash before it commits means these are
    # sent again later, with the same webhook-id: at least once, never lost.
    now = utcnow()
    rows = [outcome_rows(settings, d, o, now) for d, o in zip(claimed, outcomes, strict=True)]

    async def record() -> None:
        async with db.write() as conn:
            await queries.record_outcomes(conn, rows)

    await _while_leased(leased_until, record)
    for delivery, (_, finished, _) in zip(claimed, rows, strict=True):
        outcome = "retry" if finished["b_status"] == "pending" else finished["b_status"]
        DELIVERIES.labels(outcome).inc()
        if outcome == "succeeded":
            DELIVERY_LAG.observe((now - delivery.created_at).total_seconds())
    return len(claimed)
