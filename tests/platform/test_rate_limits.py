"""Per-key rate limits: 429 with Retry-After, one budget shared by every process."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import redis.asyncio as aioredis

from tanktop.app import create_app
from tanktop.config import Settings
from tanktop.db import Database
from tanktop.tenants import service as tenants
from tanktop.tenants.ratelimit import DatabaseTokens, RateLimiter
from tests.conftest import assert_problem, worker_number

REDIS_URL = os.environ.get(
    "TANKTOP_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{15 - worker_number()}"
)
"""Flushed by these tests: a database of each xdist worker's own (15, 14, ...)."""


@asynccontextmanager
async def limited_client(settings: Settings, **limits: object) -> AsyncIterator[httpx.AsyncClient]:
    """An app of its own (another "process") with small limits over an hour-long window."""
    config = settings.model_copy(
        update={
            "rate_limit_writes": 10,
            "rate_limit_reads": 0,
            "rate_window_seconds": 3600.0,
            **limits,
        }
    )
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


async def test_writes_over_the_budget_get_429(settings: Settings, db: object) -> None:
    async with limited_client(settings) as client:
        key = await tenants.create_key(client._transport.app.state.db, name="limited-1")  # type: ignore[attr-defined]
        statuses = [
            (await client.post(f"/api/1/{key}/event/7/seen/movie/{i}/")).status_code
            for i in range(15)
        ]
        assert statuses.count(204) == 10
        assert statuses[10:] == [429] * 5
        refused = await client.post(f"/api/1/{key}/event/7/seen/movie/x/")
        body = assert_problem(refused, 429, "retry")
        assert int(refused.headers["retry-after"]) >= 1
        assert body["title"] == "Too many requests"
        assert (await client.get(f"/api/1/{key}/event/7/seen/movie/")).status_code == 200
        got = (await client.get(f"/api/1/{key}/event/7/seen/movie/")).json()["seen"]
        assert len(got) == 10, "refused requests stored nothing"


async def test_the_budget_is_shared_by_processes(settings: Settings) -> None:
    async with limited_client(settings) as one, limited_client(settings) as two:
        key = await tenants.create_key(one._transport.app.state.db, name="limited-2")  # type: ignore[attr-defined]
        accepted = 0
        for i in range(30):
            client = one if i % 2 else two
            response = await client.post(f"/api/1/{key}/event/7/seen/movie/{i}/")
            accepted += response.status_code == 204
        assert accepted == 10


async def test_redis_shares_the_budget(settings: Settings) -> None:
    try:
        probe = aioredis.Redis.from_url(REDIS_URL)
        await probe.flushdb()
        await probe.aclose()
    except (OSError, aioredis.RedisError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} is not reachable: {exc}")
        pytest.skip(f"Redis not reachable: {exc}")
    async with (
        limited_client(settings, redis_url=REDIS_URL) as one,
        limited_client(settings, redis_url=REDIS_URL) as two,
    ):
        key = await tenants.create_key(one._transport.app.state.db, name="limited-3")  # type: ignore[attr-defined]
        accepted = 0
        for i in range(30):
            client = one if i % 2 else two
            response = await client.post(f"/api/1/{key}/event/7/seen/movie/{i}/")
            accepted += response.status_code == 204
            if response.status_code == 429:
                assert int(response.headers["retry-after"]) >= 1
        assert accepted == 10


class Clock:
    """The limiter's time, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Recorded:
    """The database's token store, recording each take's window and the time it was asked."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._store = DatabaseTokens(db)
        self._clock = clock
        self.asked: list[tuple[int, float]] = []
        self.answered = asyncio.Event()

    async def take(self, service_id: int, kind: str, window: int, want: int, limit: int) -> int:
        self.asked.append((window, self._clock()))
        try:
            return await self._store.take(service_id, kind, window, want, limit)
        finally:
            self.answered.set()

    async def close(self) -> None:
        await self._store.close()


def a_service_id() -> int:
    """Rate windows are keyed by service id alone: one no other test uses."""
    return random.randrange(10**6, 10**9)


async def test_a_busy_window_takes_the_next_windows_first_chunk_ahead(db: Database) -> None:
    """The requests at the turn of a window do not all wait for the store's round trip (a
    commit): a request late in the window started the next window's take."""
    clock = Clock(10_000.0)  # window 1000 of 10 s
    store = Recorded(db, clock)
    limiter = RateLimiter(store, {"read": 100}, 10.0, clock=clock)
    service = a_service_id()
    assert await limiter.retry_after(service, "read") is None
    clock.now = 10_008.0  # late in window 1000
    store.answered.clear()
    assert await limiter.retry_after(service, "read") is None
    await asyncio.wait_for(store.answered.wait(), 30)
    clock.now = 10_010.0  # window 1001 begins
    assert await limiter.retry_after(service, "read") is None
    assert store.asked == [(1000, 10_000.0), (1001, 10_008.0)]
    await limiter.close()


async def test_a_chunk_taken_ahead_for_an_idle_window_is_dropped(db: Database) -> None:
    clock = Clock(10_008.0)
    store = Recorded(db, clock)
    limiter = RateLimiter(store, {"read": 100}, 10.0, clock=clock)
    service = a_service_id()
    assert await limiter.retry_after(service, "read") is None  # takes 1000, then 1001 ahead
    await asyncio.wait_for(store.answered.wait(), 30)
    clock.now = 10_030.0  # window 1003: nothing came in 1001 or 1002
    assert await limiter.retry_after(service, "read") is None
    assert [window for window, _ in store.asked] == [1000, 1001, 1003]
    await limiter.close()


async def test_takes_ahead_never_admit_more_than_the_budget(db: Database) -> None:
    """Two processes, each taking ahead late in a window: each window admits the budget, no
    more (and the chunks taken ahead are spent, not lost)."""
    clock = Clock(10_009.0)
    one, two = (RateLimiter(DatabaseTokens(db), {"write": 20}, 10.0, clock=clock) for _ in range(2))
    service = a_service_id()
    admitted = []
    for now in (10_009.0, 10_019.0):
        clock.now = now
        results = [await limiter.retry_after(service, "write") for limiter in (one, two) * 25]
        admitted.append(results.count(None))
        await asyncio.sleep(0.2)  # the takes ahead run
    assert admitted == [20, 20]
    await one.close()
    await two.close()


async def test_closing_cancels_a_take_ahead_in_flight(db: Database) -> None:
    clock = Clock(10_009.0)
    limiter = RateLimiter(DatabaseTokens(db), {"read": 100}, 10.0, clock=clock)
    before = asyncio.all_tasks()
    assert await limiter.retry_after(a_service_id(), "read") is None
    # Only the limiter's own tasks: the session's loop also runs the app's background work.
    new = asyncio.all_tasks() - before
    started = {t for t in new if getattr(t.get_coro(), "__name__", "") == "_from_store"}
    assert started, "a take ahead for window 1001 was started"
    await limiter.close()
    assert all(task.done() for task in started)
