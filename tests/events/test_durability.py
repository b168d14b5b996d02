"""A 204 means committed: kill -9 a real server under concurrent writes, restart, check."""

from __future__ import annotations

import asyncio
import signal
import time

import aiohttp
import httpx
import pytest

from tests.servers import create_key, pg_fetch, running_server, tanktop_env, until

pytestmark = pytest.mark.e2e


async def _load(base: str, kill: asyncio.Event, acknowledged: set[int]) -> int:
    """Concurrent POSTs of distinct items until the server dies, adding the ids answered 204 to
    `acknowledged`; returns the number of failed requests."""
    failures = 0
    counter = 0
    deadline = time.monotonic() + 120  # a bound, never reached: the server is stopped first

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal counter, failures
        while time.monotonic() < deadline:
            counter += 1
            item = counter
            try:
                async with session.post(f"{base}/event/u1/watchlist/movie/{item}/") as response:
                    if response.status == 204:
                        acknowledged.add(item)
                    else:
                        failures += 1
            except (TimeoutError, aiohttp.ClientError):
                failures += 1
                if kill.is_set():
                    return

    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(client(session) for _ in range(32)))
    return failures


def test_acknowledged_events_survive_sigkill(postgres_url: str) -> None:
    env = tanktop_env(postgres_url)
    key = create_key(env, "durability")
    with running_server(env, "--no-worker") as server:
        base = f"{server.base_url}/api/1/{key}"
        kill = asyncio.Event()

        acknowledged: set[int] = set()

        async def scenario() -> int:
            load = asyncio.create_task(_load(base, kill, acknowledged))
            await until(lambda: len(acknowledged) > 200, within=60, what="200 acknowledged writes")
            kill.set()
            server.kill()
            return await load

        failures = asyncio.run(scenario())
    assert len(acknowledged) > 200, "the load ran long enough to matter"
    assert failures > 0, "the kill interrupted requests in flight"

    with running_server(env, "--no-worker") as server:
        base = f"{server.base_url}/api/1/{key}"
        stored: set[int] = set()
        ids = sorted(acknowledged)
        for start in range(0, len(ids), 1000):
            query = "&".join(f"id={i}" for i in ids[start : start + 1000])
            body = httpx.get(f"{base}/event/u1/watchlist/movie/?{query}", timeout=30).json()
            stored |= {int(i) for i in body["watchlist"]}
    assert acknowledged <= stored

    rows = asyncio.run(
        pg_fetch(
            postgres_url,
            "SELECT h.item_id FROM event_history h JOIN services s ON s.id = h.service_id "
            "WHERE s.name = 'durability' AND h.user_id = 'u1'",
        )
    )
    assert acknowledged <= {int(row["item_id"]) for row in rows}


def test_sigterm_drains_requests_in_flight(postgres_url: str) -> None:
    env = tanktop_env(postgres_url)
    key = create_key(env, "graceful")
    with running_server(env, "--no-worker") as server:
        base = f"{server.base_url}/api/1/{key}"
        stop = asyncio.Event()
        status: list[int] = []
        acknowledged: set[int] = set()

        async def scenario() -> None:
            load = asyncio.create_task(_load(base, stop, acknowledged))
            await until(lambda: len(acknowledged) > 200, within=60, what="200 acknowledged writes")
            stop.set()
            status.append(await asyncio.to_thread(server.terminate))
            await load

        asyncio.run(scenario())
        log = server.log()
    # uvicorn shuts down gracefully, then re-raises the signal: -15 after a clean shutdown.
    assert status[0] in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in log
    assert len(acknowledged) > 200

    rows = asyncio.run(
        pg_fetch(
            postgres_url,
            "SELECT l.item_id FROM list_items l JOIN services s ON s.id = l.service_id "
            "WHERE s.name = 'graceful'",
        )
    )
    assert acknowledged <= {int(row["item_id"]) for row in rows}
