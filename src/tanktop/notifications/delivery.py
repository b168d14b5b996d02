"""Delivery: workers lease due outbox rows, POST them, and record every attempt.

A lease (not a long transaction) holds a row while its request is in flight, so a worker that
dies mid-delivery only delays it: the lease expires and another worker sends it again, with
the same `webhook-id` for the receiver to de-duplicate. Success is a 2xx only; redirects are
not followed; a 410 stops at once; other failures retry with growing, jittered delays.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import logging
import random
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from tanktop import auth
from tanktop.config import Settings
from tanktop.db import Database, utcnow
from tanktop.notifications import queries
from tanktop.notifications.signing import webhook_headers
from tanktop.notifications.ssrf import BlockedAddress, resolve_checked

log = logging.getLogger("tanktop.notifications")
BATCH = 50
RESPONSE_EXCERPT = 4096
TIMEOUT = httpx.Timeout(15.0, connect=5.0)


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


async def post_webhook(
    url: str, body: str, headers: dict[str, str], *, allow_private: bool
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
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        async with (
            httpx.AsyncClient(trust_env=False, follow_redirects=False, timeout=TIMEOUT) as client,
            asyncio.timeout(15),
            client.stream(
                "POST",
                target,
                content=body.encode(),
                headers={**headers, "host": parts.netloc.rsplit("@", 1)[-1]},
                extensions=extensions,
            ) as response,
        ):
            excerpt = b""
            async for chunk in response.aiter_bytes():
                excerpt += chunk
                if len(excerpt) >= RESPONSE_EXCERPT:
                    break
            return Outcome(
                response.status_code,
                elapsed(),
                response=excerpt[:RESPONSE_EXCERPT].decode(errors="replace"),
                retry_after=_retry_after(response.headers.get("retry-after")),
            )
    except BlockedAddress as exc:
        return Outcome(None, elapsed(), error=f"refused: {exc}")
    except (httpx.HTTPError, OSError, TimeoutError) as exc:
        return Outcome(None, elapsed(), error=f"{type(exc).__name__}: {exc}"[:1000])


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


async def _record(db: Database, settings: Settings, delivery: Any, outcome: Outcome) -> None:
    now = utcnow()
    ok = outcome.status_code is not None and 200 <= outcome.status_code < 300
    values: dict[str, Any] = {"last_status": outcome.status_code, "last_error": outcome.error}
    if ok:
        values |= {"status": "succeeded", "delivered_at": now}
    else:
        retry_at = next_attempt(settings, delivery.attempts, outcome, now)
        values |= {"status": "failed"} if retry_at is None else {"next_attempt_at": retry_at}
    async with db.write() as conn:
        await queries.insert_attempt(
            conn,
            {
                "delivery_id": delivery.id,
                "at": now,
                "status_code": outcome.status_code,
                "duration_ms": outcome.duration_ms,
                "error": outcome.error,
                "response": outcome.response,
            },
        )
        if not await queries.finish_delivery(conn, delivery.id, delivery.attempts, values):
            return  # the lease ran out and another worker owns this delivery now
        if ok:
            await queries.mark_request(conn, delivery, {"notified": True, "notified_at": now})
        elif values.get("status") == "failed":
            await queries.mark_request(conn, delivery, {"failed": True})


async def deliver_due_notifications(db: Database, settings: Settings) -> int:
    """Lease a batch of due webhooks, send them concurrently, record each; returns how many."""
    async with db.write() as conn:
        claimed = await queries.claim_due(
            conn, utcnow(), dt.timedelta(seconds=settings.webhook_lease_seconds), BATCH
        )
    if not claimed:
        return 0
    secrets = await auth.valid_secrets(db, list({d.service_id for d in claimed}))
    limit = asyncio.Semaphore(settings.webhook_concurrency)

    async def deliver(delivery: Any) -> None:
        async with limit:
            headers = webhook_headers(
                secrets.get(delivery.service_id, []),
                delivery.webhook_id,
                int(time.time()),
                delivery.body,
            )
            outcome = await post_webhook(
                delivery.url, delivery.body, headers, allow_private=settings.webhook_allow_private
            )
            await _record(db, settings, delivery, outcome)

    await asyncio.gather(*(deliver(d) for d in claimed))
    return len(claimed)
