"""Production shape on PostgreSQL: 2 API and 2 worker processes, one of each killed midway.

Afterwards every acknowledged write is stored, every satisfied notification request is
notified (one webhook-id each, recorded once), and the only failed requests are the ones the
killed API process was holding.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import aiohttp
import asyncpg
import pytest

from tests.conftest import ADMIN_TOKEN, unique
from tests.receiver import receiver
from tests.servers import (
    create_key,
    pg_fetch,
    running_server,
    start_worker,
    tanktop_env,
    until,
)

pytestmark = pytest.mark.e2e


async def test_two_apis_two_workers_one_of_each_killed(postgres_url: str) -> None:
    env = tanktop_env(
        postgres_url,
        TANKTOP_ADMIN_TOKEN=ADMIN_TOKEN,
        TANKTOP_WEBHOOK_ALLOW_PRIVATE="1",
        TANKTOP_WEBHOOK_LEASE_SECONDS="2",
        TANKTOP_WORKER_IDLE_SECONDS="0.1",
        TANKTOP_WEBHOOK_RETRY_DELAYS="0.5,0.5,0.5",
    )
    name = unique("prod")
    key = create_key(env, name)
    movies = [unique("pm") for _ in range(60)]
    admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    acknowledged: set[str] = set()
    requested: set[str] = set()
    offered: set[str] = set()
    failures: dict[str, int] = defaultdict(int)
    async with receiver() as hook:
        hook.delay = 0.05
        with (
            running_server(env, "--no-worker") as api_one,
            running_server(env, "--no-worker") as api_two,
        ):
            workers = [start_worker(env), start_worker(env)]
            bases = [api_one.base_url, api_two.base_url]
            alive = [True, True]
            try:
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
                    for movie in movies:  # the catalog first, through either API
                        async with http.put(
                            f"{bases[0]}/admin/1/catalog/movie/{movie}/",
                            json={"title": movie},
                            headers=admin,
                        ) as r:
                            assert r.status == 201
                    done = asyncio.Event()

                    async def client(n: int) -> None:
                        i = 0
                        while not done.is_set():
                            i += 1
                            which = (n + i) % 2 if alive[0] else 1
                            base = bases[which]
                            movie = movies[(n * 7 + i) % len(movies)]
                            kind = ("event", "notify", "offer")[i % 3]
                            try:
                                if kind == "event":
                                    item = f"{n}-{i}"
                                    url = f"{base}/api/1/{key}/event/u{n}/seen/movie/{item}/"
                                    async with http.post(url) as r:
                                        if r.status == 204:
                                            acknowledged.add(item)
                                        else:
                                            failures[f"event {r.status}"] += 1
                                elif kind == "notify":
                                    url = f"{base}/api/1/{key}/notification/u{n}/movie/{movie}/"
                                    async with http.post(url, json={"url": hook.url}) as r:
                                        if r.status == 204:
                                            requested.add(f"u{n}/{movie}")
                                        else:
                                            failures[f"notify {r.status}"] += 1
                                else:
                                    url = f"{base}/admin/1/catalog/movie/{movie}/offers/"
                                    offer = [{"source_id": 1, "price": i % 5}]
                                    async with http.put(url, json=offer, headers=admin) as r:
                                        if r.status == 200:
                                            offered.add(movie)
                                        else:
                                            failures[f"offer {r.status}"] += 1
                            except (aiohttp.ClientError, TimeoutError):
                                failures[f"transport {which}"] += 1
                                assert which == 0, "only the killed API fails"
                                assert not alive[0]

                    async def kill_midway() -> None:
                        """Kill one of each once the load has a size, then load the survivors
                        as much again (a busy machine takes longer, not fewer requests)."""
                        await until(lambda: len(acknowledged) > 60, within=60, what="the load")
                        alive[0] = False
                        api_one.kill()
                        workers[0].kill()
                        await until(lambda: len(acknowledged) > 150, within=60, what="more load")
                        done.set()

                    await asyncio.gather(*(client(n) for n in range(16)), kill_midway())
                    assert not any(k.split()[-1].startswith("5") for k in failures), failures

                    satisfied = {r for r in requested if r.split("/")[1] in offered}

                    async def notified() -> set[str]:
                        rows = await pg_fetch(
                            postgres_url,
                            "SELECT r.user_id, r.item_id FROM notification_requests r "
                            "JOIN services s ON s.id = r.service_id "
                            "WHERE s.name = $1 AND r.notified",
                            name,
                        )
                        return {f"{row['user_id']}/{row['item_id']}" for row in rows}

                    end = time.monotonic() + 60
                    while not satisfied <= await notified():
                        assert time.monotonic() < end, "satisfied requests left unnotified"
                        await asyncio.sleep(0.5)
                    await asyncio.sleep(3)  # room for any wrong extra delivery
            finally:
                for worker in workers:
                    worker.kill()
                    worker.wait(10)

        conn = await asyncpg.connect(postgres_url)
        try:
            stored = {
                row["item_id"]
                for row in await conn.fetch(
                    "SELECT h.item_id FROM event_history h JOIN services s ON s.id = h.service_id "
                    "WHERE s.name = $1 AND h.event = 'seen'",
                    name,
                )
            }
            listed = {
                row["item_id"]
                for row in await conn.fetch(
                    "SELECT l.item_id FROM list_items l JOIN services s ON s.id = l.service_id "
                    "WHERE s.name = $1 AND l.event = 'seen'",
                    name,
                )
            }
            deliveries = await conn.fetch(
                "SELECT d.user_id, d.item_id, d.generation, count(*) AS n "
                "FROM webhook_deliveries d JOIN services s ON s.id = d.service_id "
                "WHERE s.name = $1 AND d.status = 'succeeded' "
                "GROUP BY d.user_id, d.item_id, d.generation",
                name,
            )
        finally:
            await conn.close()
    assert len(acknowledged) > 100
    assert acknowledged <= stored
    assert acknowledged <= listed
    assert all(row["n"] == 1 for row in deliveries), "one recorded success per request"
    by_id: dict[str, set[str]] = defaultdict(set)
    for received in hook.received:
        by_id[received.form["user_id"] + "/" + received.form["item_id"]].add(
            received.headers["webhook-id"]
        )
    assert satisfied <= set(by_id)
