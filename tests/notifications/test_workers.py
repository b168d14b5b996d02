"""Real `tanktop worker` processes on PostgreSQL: killed mid-delivery, and two at once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tanktop.client import AsyncClient
from tests.clusters import PrivatePostgres
from tests.conftest import ADMIN_TOKEN, unique
from tests.receiver import receiver
from tests.servers import (
    SLOW_START,
    SLOW_STOP,
    create_key,
    pg_fetch,
    running_server,
    start_worker,
    tanktop_env,
)

pytestmark = pytest.mark.e2e

DRAINED_WITHIN = 60.0
"""Seconds a SIGTERMed worker may take to finish its delivery in flight (2 s of the receiver's
delay left), the rest of its round and its shut-down, on a busy machine."""


def worker_env(postgres_url: str) -> dict[str, str]:
    return tanktop_env(
        postgres_url,
        TANKTOP_ADMIN_TOKEN=ADMIN_TOKEN,
        TANKTOP_WEBHOOK_ALLOW_PRIVATE="1",
        TANKTOP_WEBHOOK_LEASE_SECONDS="2",
        TANKTOP_WORKER_IDLE_SECONDS="0.1",
        TANKTOP_WEBHOOK_RETRY_DELAYS="0.5,0.5",
    )


async def wait_for(condition: Callable[[], bool], within: float = SLOW_START) -> None:
    """Poll `condition` until it holds; the default bound allows for a worker process's start
    on a busy machine."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


def seed(base: str, key: str, hook_url: str, count: int) -> None:
    """`count` movies on offer, each with a satisfied request (so each queues one webhook)."""
    admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=base, timeout=30) as http:
        for _ in range(count):
            movie = unique("w")
            http.put(f"/admin/1/catalog/movie/{movie}/", json={"title": "x"}, headers=admin)
            http.put(
                f"/admin/1/catalog/movie/{movie}/offers/", json=[{"source_id": 1}], headers=admin
            )
            response = http.post(
                f"/api/1/{key}/notification/7/movie/{movie}/", json={"url": hook_url}
            )
            assert response.status_code == 204


async def test_worker_killed_mid_delivery_delivers_after_restart(postgres_url: str) -> None:
    env = worker_env(postgres_url)
    key = create_key(env, unique("kill"))
    async with receiver() as hook:
        hook.delay = 3.0
        with running_server(env, "--no-worker") as server:
            seed(server.base_url, key, hook.url, 1)
            worker = start_worker(env)
            try:
                await wait_for(lambda: hook.arrived == 1)
                worker.kill()
                worker.wait(10)
            finally:
                worker.kill()
            hook.delay = 0
            worker = start_worker(env)
            try:
                # The killed attempt's handler still finishes (it counts in `received`), so
                # wait for the second attempt itself, however long a busy machine takes.
                await wait_for(lambda: hook.arrived >= 2 and len(hook.received) >= 2)
                await asyncio.sleep(3)  # room for a wrong third delivery to show up
            finally:
                worker.terminate()
                worker.wait(SLOW_STOP)
            async with AsyncClient(server.base_url, key) as tanktop:
                notes = await tanktop.notifications("7")
                log = await tanktop.deliveries("7", "movie", notes[0].item_id)
    assert hook.arrived == 2, "the killed attempt reached the receiver, then one more"
    assert len({r.headers["webhook-id"] for r in hook.received}) == 1, "same webhook-id"
    attempts = log[0].attempts
    assert [a.status_code for a in attempts] == [200], "one recorded success, no more"
    assert notes[0].notified is True


async def test_two_workers_never_deliver_the_same_row(postgres_url: str) -> None:
    env = worker_env(postgres_url)
    key = create_key(env, unique("two"))
    async with receiver() as hook:
        hook.delay = 0.01
        with running_server(env, "--no-worker") as server:
            seed(server.base_url, key, hook.url, 120)
            workers = [start_worker(env), start_worker(env)]
            try:
                await wait_for(lambda: len(hook.received) >= 120)
                await asyncio.sleep(1)
            finally:
                for worker in workers:
                    worker.terminate()
                for worker in workers:
                    worker.wait(SLOW_STOP)
            async with AsyncClient(server.base_url, key) as tanktop:
                notes = await tanktop.notifications("7")
    counts = Counter(r.headers["webhook-id"] for r in hook.received)
    assert len(counts) == 120
    assert max(counts.values()) == 1
    assert all(n.notified for n in notes)


async def test_sigterm_finishes_the_delivery_in_flight(postgres_url: str) -> None:
    env = worker_env(postgres_url)
    key = create_key(env, unique("term"))
    async with receiver() as hook:
        hook.delay = 2.0
        with running_server(env, "--no-worker") as server:
            seed(server.base_url, key, hook.url, 1)
            worker = start_worker(env)
            try:
                await wait_for(lambda: hook.arrived == 1)
                worker.terminate()
                started = time.monotonic()
                while worker.poll() is None:
                    assert time.monotonic() - started < DRAINED_WITHIN, "SIGTERM drains, exits"
                    await asyncio.sleep(0.1)
            finally:
                worker.kill()
            assert worker.returncode == 0
            async with AsyncClient(server.base_url, key) as tanktop:
                notes = await tanktop.notifications("7")
                log = await tanktop.deliveries("7", "movie", notes[0].item_id)
    assert notes[0].notified is True, "the delivery in flight was finished and recorded"
    assert [a.status_code for a in log[0].attempts] == [200]
    assert len(hook.received) == 1


def offer_and_wait_request(base: str, key: str, hook_url: str) -> str:
    """A movie without offers and a request for it: nothing for the worker to do yet."""
    admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    movie = unique("wake")
    with httpx.Client(base_url=base, timeout=30) as http:
        http.put(f"/admin/1/catalog/movie/{movie}/", json={"title": "x"}, headers=admin)
        response = http.post(f"/api/1/{key}/notification/7/movie/{movie}/", json={"url": hook_url})
        assert response.status_code == 204
    return movie


IDLE_POLL = "600"
"""Seconds an idle worker of the wake-up tests sleeps between polls: only an announcement can
bring a webhook within `WOKEN_WITHIN`."""
WOKEN_WITHIN = 60.0


async def offer_reaches_the_webhook(
    base: str, key: str, hook_url: str, received: Callable[[], int]
) -> None:
    """An offer arrives while the worker sleeps its (long) idle poll; the webhook must not wait
    for the poll (bounded at a tenth of it, for a busy machine)."""
    movie = offer_and_wait_request(base, key, hook_url)
    before = received()
    await asyncio.sleep(1)  # the worker has found nothing and gone to sleep
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=base) as http:
        response = await http.put(
            f"/admin/1/catalog/movie/{movie}/offers/",
            json=[{"source_id": 1}],
            headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert response.status_code == 200
    await wait_for(lambda: received() > before, within=WOKEN_WITHIN)
    assert time.monotonic() - started < WOKEN_WITHIN


async def listeners(postgres_url: str) -> set[int]:
    """Backends LISTENing on this test database (not on the other databases of the server)."""
    rows = await pg_fetch(
        postgres_url,
        "SELECT pid FROM pg_stat_activity"
        " WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    return {row["pid"] for row in rows}


async def until_listening(postgres_url: str, *, besides: set[int]) -> set[int]:
    """Wait (a worker's start on a busy machine at most) for a listener not in `besides`."""
    deadline = time.monotonic() + SLOW_START
    while not (found := await listeners(postgres_url) - besides):
        assert time.monotonic() < deadline, "the worker is not listening"
        await asyncio.sleep(0.05)
    return found


async def test_worker_wakes_on_notify_and_listens_again(postgres_url: str) -> None:
    """Separate worker processes sleep 600 s between polls; PostgreSQL NOTIFY wakes them."""
    env = worker_env(postgres_url) | {"TANKTOP_WORKER_IDLE_SECONDS": IDLE_POLL}
    key = create_key(env, unique("wake"))
    async with receiver() as hook:
        with running_server(env, "--no-worker") as server:
            worker = start_worker(env)
            try:
                listening = await until_listening(postgres_url, besides=set())
                count = lambda: len(hook.received)  # noqa: E731
                await offer_reaches_the_webhook(server.base_url, key, hook.url, count)
                cut = "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid"
                await pg_fetch(postgres_url, cut, list(listening))
                await until_listening(postgres_url, besides=listening)  # it listens again
                await offer_reaches_the_webhook(server.base_url, key, hook.url, count)
            finally:
                worker.terminate()
                worker.wait(SLOW_STOP)


async def test_worker_inside_the_api_process_wakes_on_sqlite(tmp_path: Path) -> None:
    env = tanktop_env(
        f"sqlite:///{tmp_path / 'wake.db'}",
        TANKTOP_ADMIN_TOKEN=ADMIN_TOKEN,
        TANKTOP_WEBHOOK_ALLOW_PRIVATE="1",
        TANKTOP_WORKER_IDLE_SECONDS=IDLE_POLL,
    )
    key = create_key(env, unique("wake"))
    async with receiver() as hook:
        with running_server(env) as server:
            count = lambda: len(hook.received)  # noqa: E731
            await offer_reaches_the_webhook(server.base_url, key, hook.url, count)


async def test_database_crash_under_the_worker_delivers_each_webhook_once(
    private_pg: PrivatePostgres,
) -> None:
    """PostgreSQL crashes while a batch of webhooks is in flight: the receivers' answers are
    recorded once it is back (the worker still holds the lease), so nothing is sent twice."""
    url = await private_pg.create_database("worker")
    env = {**worker_env(url), "TANKTOP_WEBHOOK_LEASE_SECONDS": "30"}
    key = create_key(env, "crash")
    count = 10
    async with receiver() as hook:
        hook.delay = 1.5
        with running_server(env, "--no-worker") as server:
            seed(server.base_url, key, hook.url, count)
            worker = start_worker(env)
            try:
                await wait_for(lambda: hook.arrived >= 1)
                await asyncio.to_thread(private_pg.restart, "immediate")
                deadline = time.monotonic() + 60
                while await pg_fetch(
                    url, "SELECT id FROM webhook_deliveries WHERE status <> 'succeeded'"
                ):
                    assert time.monotonic() < deadline, "deliveries did not complete"
                    await asyncio.sleep(0.2)
                await asyncio.sleep(1)  # room for a wrong second delivery to show up
            finally:
                worker.terminate()
                worker.wait(SLOW_STOP)
    attempts = await pg_fetch(
        url, "SELECT delivery_id, count(*) AS n FROM delivery_attempts GROUP BY delivery_id"
    )
    notified = await pg_fetch(url, "SELECT notified FROM notification_requests")
    sent = Counter(r.headers["webhook-id"] for r in hook.received)
    assert len(sent) == count
    assert max(sent.values()) == 1, "a webhook was sent twice"
    assert sorted(row["n"] for row in attempts) == [1] * count, "one attempt recorded each"
    assert all(row["notified"] for row in notified)
