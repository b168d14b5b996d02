"""`GET /recommendation` latency, training time and training memory, for a catalog of 10,000
items (100,000 events) and one of 100,000 items (1,000,000 events).

    python -m bench.recommendations [--database postgresql|sqlite] [--seconds 5]
        [--case 10k|100k|both] [--reuse]

Events follow a skewed popularity over the movies (1 / rank^0.8), from 2,000 users (10k) or
20,000 (100k). Every movie is in the catalog with one to three of 20 genres (the model's
genre part reads them in training and scores with them at serving). The 10k case is posted
through the API in batches; the 100k case is written through the same service code in
process (a million events over HTTP would take the run's time). Prints the time of `tanktop
recs train` (reading the history, fitting, storing), its peak memory (the command's maximum
resident set, `getrusage` of waited-for children), and the p99 of recommendations beside the
bare /healthz in the same run. `--reuse` measures the database an earlier PostgreSQL run of
the case left (its events loaded) without loading again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
from pydantic import JsonValue
from tests.servers import TANKTOP, create_key, running_server, tanktop_env

from bench.databases import fresh_database, pg_url, psql
from bench.loadgen import Call, ratio_line, run_load
from tanktop.catalog.importer import import_lines
from tanktop.db import Database
from tanktop.events import service as events
from tanktop.tenants import service as tenants

BENCH_DB = "tanktop_bench_recs"


@dataclass(frozen=True)
class Case:
    name: str
    items: int
    users: int
    events: int
    over_http: bool


CASES = {
    "10k": Case("10k", 10_000, 2_000, 100_000, over_http=True),
    "100k": Case("100k", 100_000, 20_000, 1_000_000, over_http=False),
}


def batches(case: Case) -> Iterator[list[JsonValue]]:
    """The case's events, 1,000 at a time (seeded: every run loads the same)."""
    rng = random.Random(5)
    weights = [1 / (i + 1) ** 0.8 for i in range(case.items)]
    items = rng.choices(range(case.items), weights=weights, k=case.events)
    for start in range(0, case.events, 1000):
        yield [
            {
                "user_id": f"u{rng.randrange(case.users)}",
                "event": rng.choice(["seen", "rated", "watchlist"]),
                "item_type": "movie",
                "item_id": items[i],
                "value": rng.choice([3, 4, 5]),
            }
            for i in range(start, start + 1000)
        ]


GENRES = [f"genre{n}" for n in range(20)]


def catalog(case: Case) -> Iterator[str]:
    """The case's movies as `tanktop catalog import` lines (seeded genres)."""
    rng = random.Random(7)
    for item in range(case.items):
        genres = rng.sample(GENRES, rng.randint(1, 3))
        yield json.dumps(
            {"item_type": "movie", "item_id": str(item), "title": f"m{item}", "genres": genres}
        )


async def load_catalog(case: Case, url: str) -> None:
    db = Database(url)
    try:
        report = await import_lines(db, catalog(case))
        assert not report.rejected, report.rejected[:3]
    finally:
        await db.dispose()


async def load_events(case: Case, base: str, url: str, key: str) -> None:
    if case.over_http:
        async with httpx.AsyncClient(timeout=60) as http:
            for batch in batches(case):
                response = await http.post(f"{base}/events/", json=batch)
                assert response.status_code == 204, response.text
        return
    db = Database(url)
    try:
        service = await tenants.find_service(db, key=key)
        assert service is not None
        for batch in batches(case):
            async with db.write() as conn:
                await events.write_ops(conn, ops=events.batch_ops(service, body=batch))
    finally:
        await db.dispose()


async def measure(server_url: str, base: str, seconds: float, users: int) -> None:
    for concurrency in (1, 8):
        baseline = await run_load(
            f"GET /healthz (c={concurrency})",
            lambda i: Call("GET", f"{server_url}/healthz"),
            concurrency=concurrency,
            seconds=seconds,
        )
        recs = await run_load(
            f"GET /recommendation (c={concurrency})",
            lambda i: Call("GET", f"{base}/recommendation/u{i % users}/?n=10"),
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


def run(case: Case, database: str, seconds: float, *, reuse: bool) -> None:
    print(f"== {case.items:,} items, {case.users:,} users, {case.events:,} events ==", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        name = f"{BENCH_DB}_{case.name}"
        url = pg_url(name) if reuse else fresh_database(database, name, tmp)
        env = tanktop_env(url, TANKTOP_KEY_CACHE_SECONDS="60", TANKTOP_MODEL_REFRESH_SECONDS="1")
        key = create_key(env, "bench-recs")  # reused: another key of the same service
        with running_server(env, "--no-worker") as server:
            base = f"{server.base_url}/api/1/{key}"
            if not reuse:
                print(f"loading {case.events:,} events …", flush=True)
                started = time.perf_counter()
                asyncio.run(load_catalog(case, url))
                asyncio.run(load_events(case, base, url, key))
                print(f"loaded in {time.perf_counter() - started:.0f} s", flush=True)
                if database == "postgresql":  # as autovacuum would after such a load
                    psql(name, "ANALYZE")
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            started = time.perf_counter()
            trained = subprocess.run(
                [TANKTOP, "recs", "train"], env=env, capture_output=True, timeout=900, check=False
            )
            assert trained.returncode == 0, trained.stderr
            took = time.perf_counter() - started
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            print(
                f"training: {took:.1f} s (whole command; target < 120 s), peak memory "
                f"{peak / 1024:.0f} MiB (target < 4096)"
                + ("" if peak > before else " (or less: an earlier child's peak was higher)")
            )
            time.sleep(3)  # the API process picks the new model up
            started = time.perf_counter()
            first = httpx.get(f"{base}/recommendation/u0/?n=10", timeout=120)
            assert first.status_code == 200, first.text
            print(f"first request (loads the model): {time.perf_counter() - started:.2f} s")
            asyncio.run(measure(server.base_url, base, seconds, case.users))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--case", choices=["10k", "100k", "both"], default="both")
    parser.add_argument("--reuse", action="store_true", help="PostgreSQL: events already loaded.")
    args = parser.parse_args()
    if args.reuse and args.database != "postgresql":
        parser.error("--reuse is for PostgreSQL (an SQLite run's file is temporary)")
    for name, case in CASES.items():
        if args.case in (name, "both"):
            run(case, args.database, args.seconds, reuse=args.reuse)


if __name__ == "__main__":
    main()
