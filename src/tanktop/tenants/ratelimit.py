"""Per-key rate limits shared by every API process, without a round trip per request.

Each window (default one second) has a budget per service and kind (reads, writes) kept in a
shared store: the database, or Redis when `TANKTOP_REDIS_URL` is set. A process takes tokens
from the store in chunks (a tenth of the budget) and spends them locally, so the store is
touched about ten times per window per process, and the processes together never admit more
than the budget: tokens are only handed out while the budget lasts. A process busy late in a
window takes the next window's first chunk ahead (`TAKE_AHEAD`), so its requests do not all wait
for the store's round trip (a database commit) at the turn of each window: that wait was most
of a busy route's p99.

A store that fails (Redis away; the database read-only, full or away) fails open: its tokens
are granted unmetered (a rate limit is not worth an outage), one line is logged when it fails
and one when it answers again, and Redis's failures are counted in `tanktop_redis_errors_total`
(the database's are in `tanktop_db_errors_total` already).

`rate_limited(authenticate)` is the dependency that applies it to a request, after the request
has been authenticated (so an unknown key gets 401, not 429).
"""

# No `from __future__ import annotations` here: FastAPI must see the dependency's annotation
# as an object, since it names `authenticate`, which is local to `rate_limited`.

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, Request
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from tanktop.db import Database
from tanktop.errors import TooManyRequests
from tanktop.faults import DatabaseFault, describe
from tanktop.metrics import REDIS_ERRORS
from tanktop.tenants import queries
from tanktop.tenants.service import Service

log = logging.getLogger("tanktop.ratelimit")


class TokenStore(Protocol):
    async def take(self, service_id: int, kind: str, window: int, want: int, limit: int) -> int:
        """Grant up to `want` tokens of the window's `limit`; returns how many were granted."""
        ...

    async def close(self) -> None: ...


class DatabaseTokens:
    """The budget as a row per (service, kind, window); old windows are swept as it goes."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._calls = 0

    async def take(self, service_id: int, kind: str, window: int, want: int, limit: int) -> int:
        async with self._db.write() as conn:
            granted = await queries.take_tokens(conn, service_id, kind, window, want, limit)
            self._calls += 1
            if self._calls % 200 == 0:
                await queries.sweep_windows(conn, window - 2)
        return granted

    async def close(self) -> None:
        pass


class RedisTokens:
    """The budget as a Redis counter per (service, kind, window), expiring after the window.

    Redis answers in well under a millisecond, so `timeout` without an answer means it is away;
    a stale connection (Redis restarted) is retried once on a new one."""

    def __init__(self, url: str, window_seconds: float, *, timeout: float = 1.0) -> None:
        self._redis = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
        )
        self._ttl = max(2, math.ceil(window_seconds * 2))

    async def take(self, service_id: int, kind: str, window: int, want: int, limit: int) -> int:
        key = f"tanktop:rate:{service_id}:{kind}:{window}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(key, want)
            pipe.expire(key, self._ttl)
            total, _ = await pipe.execute()
        before = int(total) - want
        return max(0, min(want, limit - before))

    async def close(self) -> None:
        await self._redis.aclose()


class FailOpen:
    """A store whose failures grant the tokens asked for: a rate limit is not worth an outage
    (a read-only or full database still serves reads; a Redis away, everything). One line is
    logged when the store fails and one when it answers again; meanwhile it is left alone for
    `pause` seconds at a time, so a store that is away costs one wait per pause, not one per
    request."""

    def __init__(
        self,
        store: TokenStore,
        where: str,
        errors: tuple[type[Exception], ...],
        *,
        count: Callable[[], None] | None = None,
        pause: float = 1.0,
    ) -> None:
        self._store = store
        self._where = where
        self._errors = errors
        self._count = count
        self._pause = pause
        self._failed_since: float | None = None
        self._retry_at = 0.0

    async def take(self, service_id: int, kind: str, window: int, want: int, limit: int) -> int:
        if self._failed_since is not None and time.monotonic() < self._retry_at:
            return want
        try:
            granted = await self._store.take(service_id, kind, window, want, limit)
        except self._errors as exc:
            self._failed(exc)
            return want
        if self._failed_since is not None:
            failed = time.monotonic() - self._failed_since
            log.warning(
                "rate limits metered again: %s answers again after %.1f s", self._where, failed
            )
            self._failed_since = None
        return granted

    def _failed(self, exc: Exception) -> None:
        if self._count is not None:
            self._count()
        now = time.monotonic()
        self._retry_at = now + self._pause
        if self._failed_since is None:
            self._failed_since = now
            log.warning(
                "rate limits unmetered until %s answers again (%s)", self._where, describe(exc)
            )

    async def close(self) -> None:
        await self._store.close()


def token_store(db: Database, redis_url: str | None, window_seconds: float) -> TokenStore:
    """Where the budgets are kept: Redis when configured, else the database; failing open."""
    if redis_url:
        redis = RedisTokens(redis_url, window_seconds)
        return FailOpen(redis, "Redis", (RedisError, OSError), count=REDIS_ERRORS.inc)
    return FailOpen(DatabaseTokens(db), "the database", (DatabaseFault,))


@dataclass
class _Local:
    window: int
    tokens: int = 0
    exhausted: bool = False


TAKE_AHEAD = 0.75
"""Share of a window after which a request starts taking the next window's first chunk."""


def _forget(task: asyncio.Task[int]) -> None:
    """A take ahead no request awaited: its error (if any) is not the requests' concern."""
    if not task.cancelled():
        task.exception()


class RateLimiter:
    """Spends tokens taken from the shared store; says how long to wait when they run out."""

    def __init__(
        self,
        store: TokenStore,
        limits: dict[str, int],
        window_seconds: float,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._clock = clock
        self._limits = limits
        self._window = window_seconds
        self._local: dict[tuple[int, str], _Local] = {}
        self._locks: dict[tuple[int, str], asyncio.Lock] = {}
        self._ahead: dict[tuple[int, str], tuple[int, asyncio.Task[int]]] = {}

    async def retry_after(
        self, service_id: int, kind: str, *, limit: int | None = None
    ) -> float | None:
        """None when the request may go ahead, else seconds until the next window. `limit`
        overrides the kind's budget for this key (an OAuth app's own limit)."""
        limit = self._limits.get(kind, 0) if limit is None else limit
        if limit <= 0:
            return None
        now = self._clock()
        window = int(now // self._window)
        key = (service_id, kind)
        state = self._local.get(key)
        if state is None or state.window != window:
            state = self._local[key] = _Local(window)
        if state.tokens == 0 and not state.exhausted:
            # One take in flight per key: the others wait for it instead of each draining a
            # chunk of the shared budget at once.
            async with self._locks.setdefault(key, asyncio.Lock()):
                if state.tokens == 0 and not state.exhausted:
                    granted = await self._take(key, window, limit)
                    state.tokens += granted
                    state.exhausted = granted == 0
        if now >= (window + TAKE_AHEAD) * self._window:
            self._take_ahead(key, window + 1, limit)
        if state.tokens > 0:
            state.tokens -= 1
            return None
        return (window + 1) * self._window - now

    async def _take(self, key: tuple[int, str], window: int, limit: int) -> int:
        """The window's next chunk: the one taken ahead for it, if any, else from the store."""
        ahead = self._ahead.get(key)
        if ahead is not None and ahead[0] <= window:
            del self._ahead[key]
            if ahead[0] == window:
                return await ahead[1]
            ahead[1].add_done_callback(_forget)  # taken for a window that had no request here
        return await self._from_store(key, window, limit)

    def _take_ahead(self, key: tuple[int, str], window: int, limit: int) -> None:
        """Start taking `window`'s first chunk, once: the requests at its start need not wait.
        A process that stops there leaves at most that chunk of the shared budget unspent."""
        ahead = self._ahead.get(key)
        if ahead is not None:
            if ahead[0] >= window:
                return
            ahead[1].add_done_callback(_forget)
        self._ahead[key] = (window, asyncio.create_task(self._from_store(key, window, limit)))

    async def _from_store(self, key: tuple[int, str], window: int, limit: int) -> int:
        return await self._store.take(key[0], key[1], window, max(1, limit // 10), limit)

    async def close(self) -> None:
        """Cancel the takes ahead nobody will spend; the store stays the caller's to close."""
        for _, task in self._ahead.values():
            task.cancel()
        await asyncio.gather(*(task for _, task in self._ahead.values()), return_exceptions=True)
        self._ahead.clear()

    async def admit(self, key: int, kind: str, *, what: str, limit: int | None = None) -> None:
        """Spend one token of the key's budget of `kind`; 429 with `Retry-After` (saying too
        many `what`) when it is spent."""
        wait = await self.retry_after(key, kind, limit=limit)
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            raise TooManyRequests(
                f"Too many {what}; retry in {seconds} s.", headers={"Retry-After": str(seconds)}
            )


Authentication = Callable[..., Awaitable[Service]]


def rate_limited(authenticate: Authentication) -> Authentication:
    """A dependency: the service `authenticate` finds, once its request fits the budget."""

    async def dependency(
        request: Request, service: Annotated[Service, Depends(authenticate)]
    ) -> Service:
        limiter: RateLimiter = request.app.state.rate_limiter
        kind = "read" if request.method in ("GET", "HEAD") else "write"
        await limiter.admit(service.id, kind, what=f"{kind}s for this API key")
        return service

    return dependency
