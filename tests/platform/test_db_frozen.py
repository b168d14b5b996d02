"""A database that stops answering (a frozen host, a cut network: connections open, nothing
comes back) costs an API request at most a second past the statement timeout, and a 503, not
a wait as long as the freeze; service comes back when the database does."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tanktop.app import create_app
from tanktop.config import Settings
from tanktop.tenants import service as tenants
from tests.clusters import PrivatePostgres
from tests.conftest import assert_problem

pytestmark = pytest.mark.e2e


async def test_a_frozen_database_is_503_in_bounded_time(private_pg: PrivatePostgres) -> None:
    url = await private_pg.create_database("frozen")
    settings = Settings(
        database_url=url,
        run_worker=False,
        db_statement_timeout_ms=500,  # requests are given up 1.5 s in
        key_cache_seconds=60,
        rate_limit_reads=0,
        rate_limit_writes=0,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        key = await tenants.create_key(app.state.db, name="frozen")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://t/api/1/{key}") as api:
            assert (await api.get("/event/7/seen/movie/")).status_code == 200  # key cached
            calls = [api.get("/event/7/seen/movie/") for _ in range(3)]
            calls += [api.post(f"/event/7/seen/movie/{i}/") for i in range(3)]
            calls.append(api.put("/user/7/", json={"name": "Sam"}))
            with private_pg.frozen():
                started = time.monotonic()
                async with asyncio.timeout(20):  # without a bound they would wait for the thaw
                    answers = await asyncio.gather(*calls)
                took = time.monotonic() - started
            after = await api.post("/event/7/seen/movie/after/")
            listed = (await api.get("/event/7/seen/movie/")).json()["seen"]
    for answer in answers:
        assert_problem(answer, 503, "unresponsive")
    # 1.5 s, and up to 2 s more while SQLAlchemy tries to close the dropped connection politely
    assert took < 6, f"answered after {took:.1f} s"
    assert after.status_code == 204
    assert "after" in listed
