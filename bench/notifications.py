"""Webhook delivery: offer-to-webhook latency, and deliveries per second of one worker.

    python -m bench.notifications [--pending 10000]

On PostgreSQL, with a real receiver on loopback: stores `--pending` notification requests,
makes them all satisfiable in one catalog import and times one `tanktop worker` delivering
them, beside a bare aiohttp client posting as many form bodies to the same receiver at the
same concurrency (the ceiling). Then, with the worker idle, times single offer changes to the
webhook they cause.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx
from tests.receiver import Receiver, receiver
from tests.servers import TANKTOP, create_key, run_cli, running_server, tanktop_env

from bench.databases import fresh_database

BENCH_DB = "tanktop_bench_notifications"
ADMIN = "bench-admin"


async def until(condition: object, within: float) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.01)


async def bare_ceiling(hook: Receiver, count: int, concurrency: int) -> float:
    """Deliveries per second of a bare client: same bodies, same receiver, same concurrency."""
    body = "user_id=7&item_type=movie&item_id=1&source_id=1&price=0&hd=false"
    queue = list(range(count))
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:

        async def client() -> None:
            while queue:
                queue.pop()
                async with session.post(
                    hook.url,
                    data=body,
                    headers={"content-type": "application/x-www-form-urlencoded"},
                ) as response:
                    await response.read()

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return count / (time.perf_counter() - started)


async def store_requests(base: str, key: str, hook: Receiver, count: int) -> list[str]:
    movies = [f"n{i}" for i in range(count)]
    admin = {"authorization": f"Bearer {ADMIN}"}
    async with aiohttp.ClientSession() as session:
        queue = list(movies)

        async def client() -> None:
            while queue:
                movie = queue.pop()
                async with session.put(
                    f"{base}/admin/1/catalog/movie/{movie}/", json={"title": movie}, headers=admin
                ) as r:
                    assert r.status in (200, 201)
                async with session.post(
                    f"{base}/api/1/{key}/notification/7/movie/{movie}/", json={"url": hook.url}
                ) as r:
                    assert r.status == 204

        await asyncio.gather(*(client() for _ in range(32)))
    return movies


async def main_async(pending: int) -> None:
    env = tanktop_env(
        fresh_database("postgresql", BENCH_DB, ""),
        TANKTOP_ADMIN_TOKEN=ADMIN,
        TANKTOP_WEBHOOK_ALLOW_PRIVATE="1",
    )
    key = create_key(env, "bench-notifications")
    async with receiver() as hook:
        ceiling = await bare_ceiling(hook, pending, 16)
        hook.received.clear()
        with running_server(env, "--no-worker") as server, tempfile.TemporaryDirectory() as tmp:
            print(f"storing {pending:,} requests …", flush=True)
            movies = await store_requests(server.base_url, key, hook, pending)
            offers = Path(tmp) / "offers.jsonl"
            offers.write_text(
                "".join(
                    json.dumps({"item_type": "movie", "item_id": m, "offers": [{"source_id": 1}]})
                    + "\n"
                    for m in movies
                )
            )
            assert run_cli(env, "catalog", "import", str(offers)).returncode == 0
            worker = subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited
                [TANKTOP, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                started = time.perf_counter()
                await until(lambda: len(hook.received) >= pending, 600)
                rate = pending / (time.perf_counter() - started)
                latencies = []
                async with httpx.AsyncClient(base_url=server.base_url) as http:
                    for i in range(40):
                        movie = f"late{i}"
                        admin = {"authorization": f"Bearer {ADMIN}"}
                        await http.put(
                            f"/admin/1/catalog/movie/{movie}/", json={"title": "x"}, headers=admin
                        )
                        await http.post(
                            f"/api/1/{key}/notification/7/movie/{movie}/", json={"url": hook.url}
                        )
                        before = len(hook.received)
                        sent = time.perf_counter()
                        await http.put(
                            f"/admin/1/catalog/movie/{movie}/offers/",
                            json=[{"source_id": 1}],
                            headers=admin,
                        )
                        await until(lambda b=before: len(hook.received) > b, 30)
                        latencies.append((time.perf_counter() - sent) * 1000)
            finally:
                worker.terminate()
                worker.wait(30)
    latencies.sort()
    print(
        f"one worker: {rate:,.0f} deliveries/s (matching included) vs bare client "
        f"{ceiling:,.0f}/s at the same concurrency: {rate / ceiling:.0%}"
    )
    print(
        f"offer to webhook (worker idle, default 1 s poll): p50 "
        f"{statistics.median(latencies):.0f} ms, p99 {latencies[int(0.99 * len(latencies))]:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pending", type=int, default=10_000)
    asyncio.run(main_async(parser.parse_args().pending))


if __name__ == "__main__":
    main()
