"""Per-key rate limits: 429 with Retry-After, one budget shared by every process."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import redis.asyncio as aioredis

from tanktop.app import create_app
from tanktop.config import Settings
from tanktop.tenants import service as tenants
from tests.conftest import assert_problem

REDIS_URL = os.environ.get("TANKTOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


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
