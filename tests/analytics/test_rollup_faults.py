"""A rollup cut off by a database crash gives its lease back once the database is back, so the
rollups go on at once rather than when the lease (60 s) runs out."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
import pytest

from tanktop.analytics import rollup
from tanktop.app import create_app
from tanktop.config import Settings
from tanktop.db import Database
from tanktop.faults import DatabaseFault
from tanktop.tenants import service as tenants
from tests.clusters import PrivatePostgres
from tests.servers import pg_fetch

pytestmark = pytest.mark.e2e


async def post_events(url: str, count: int) -> None:
    app = create_app(Settings(database_url=url, run_worker=False))
    async with app.router.lifespan_context(app):
        key = await tenants.create_key(app.state.db, name="rollup-crash")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            for item in range(count):
                response = await http.post(f"/api/1/{key}/event/7/seen/movie/{item}/")
                assert response.status_code == 204


async def test_a_rollup_cut_off_by_a_crash_gives_its_lease_back(
    private_pg: PrivatePostgres,
) -> None:
    url = await private_pg.create_database("rollup")
    await post_events(url, 3)
    worker = Database(url)
    blocker = await asyncpg.connect(url)
    try:
        # The rollup's read of the history waits behind this lock until the crash cuts it off.
        await blocker.execute("BEGIN; LOCK TABLE event_history IN ACCESS EXCLUSIVE MODE")
        rolling = asyncio.create_task(rollup.roll_up(worker))
        deadline = time.monotonic() + 20
        while not await pg_fetch(
            url, "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        ):
            assert time.monotonic() < deadline, "the rollup never waited for the lock"
            await asyncio.sleep(0.05)
        await asyncio.to_thread(private_pg.stop, "immediate")
        with pytest.raises(DatabaseFault):
            await rolling
        await asyncio.to_thread(private_pg.start)
        deadline = time.monotonic() + 10
        while True:
            try:
                counted = await rollup.roll_up(worker)
                break
            except DatabaseFault:  # reconnecting: the pool backs off after failed connects
                assert time.monotonic() < deadline
                await asyncio.sleep(0.2)
        assert counted == 3, "the lease was still held"
    finally:
        blocker.terminate()
        await worker.dispose()
