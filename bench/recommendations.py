"""`GET /recommendation` latency with 10,000 items and 100,000 events, and training time.

    python -m bench.recommendations [--database postgresql|sqlite] [--seconds 5]

Events follow a skewed popularity over 10,000 movies and 2,000 users. Prints the training time
of `tanktop recs train` and the p99 of recommendations beside the bare /healthz in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time

import httpx
from tests.servers import create_key, run_cli, running_server, tanktop_env

from bench.databases import fresh_database
from bench.loadgen import Call, ratio_line, run_load

BENCH_DB = "tanktop_bench_recs"
ITEMS, USERS, EVENTS = 10_000, 2_000, 100_000


async def load_events(base: str) -> None:
    rng = random.Random(5)
    weights = [1 / (i + 1) ** 0.8 for i in range(ITEMS)]
    items = rng.choices(range(ITEMS), weights=weights, k=EVENTS)
    async with httpx.AsyncClient(timeout=60) as http:
        for start in range(0, EVENTS, 1000):
            batch = [
                {
                    "user_id": f"u{rng.randrange(USERS)}",
                    "event": rng.choice(["seen", "rated", "watchlist"]),
                    "item_type": "movie",
                    "item_id": items[i],
                    "value": rng.choice([3, 4, 5]),
                }
                for i in range(start, start + 1000)
            ]
            response = await http.post(f"{base}/events/", json=batch)
            assert response.status_code == 204, response.text


async def measure(server_url: str, base: str, seconds: float) -> None:
    for concurrency in (1, 8):
        baseline = await run_load(
            f"GET /healthz (c={concurrency})",
            lambda i: Call("GET", f"{server_url}/healthz"),
            concurrency=concurrency,
            seconds=seconds,
        )
        recs = await run_load(
            f"GET /recommendation (c={concurrency})",
            lambda i: Call("GET", f"{base}/recommendation/u{i % USERS}/?n=10"),
            concurrency=concurrency,
            seconds=seconds,
        )
        print(baseline.row())
        print(recs.row())
        print(ratio_line(recs, baseline))
        print(
            f"p99 of GET /recommendation with {concurrency} concurrent: "
            f"{recs.percentile(99):.1f} ms (target < 20 ms)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(args.database, BENCH_DB, tmp)
        env = tanktop_env(url, TANKTOP_KEY_CACHE_SECONDS="60", TANKTOP_MODEL_REFRESH_SECONDS="1")
        key = create_key(env, "bench-recs")
        with running_server(env, "--no-worker") as server:
            base = f"{server.base_url}/api/1/{key}"
            print(f"loading {EVENTS:,} events …", flush=True)
            asyncio.run(load_events(base))
            started = time.perf_counter()
            assert run_cli(env, "recs", "train").returncode == 0
            print(f"training: {time.perf_counter() - started:.1f} s (whole command)")
            time.sleep(1.5)  # the API process picks the new model up
            asyncio.run(measure(server.base_url, base, args.seconds))


if __name__ == "__main__":
    main()
