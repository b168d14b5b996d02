"""A mixed workload against 1 and then 2 API processes on PostgreSQL, so scaling shows as a ratio.

    python -m bench.load [--seconds 8] [--concurrency 64]

Per request, in these proportions: reads of a list with 10 ids (40%), single event POSTs (25%),
profile reads (10%), bookmark reads (8%), profile writes (6%), notification requests (6%),
recommendations (5%, served by the model trained before the runs). Prints throughput, p99 per
route, errors and the CPU cores used by the API processes (each), PostgreSQL and the load
generator, for one process, two under `serve --workers 2`, and two separate servers with the
clients spread over them as a load balancer would; then the ratios to one process: throughput,
and requests per API core-second.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections import defaultdict
from contextlib import ExitStack

import aiohttp
from tests.servers import create_key, run_cli, running_server, tanktop_env

from bench.cpu import cpu_use
from bench.databases import fresh_database

BENCH_DB = "tanktop_bench_load"
ISSUE_PER_CORE = (568, 754)
"""Requests per API core-second of one process when issue 18 was filed (its goal: twice that)."""
RUNS = [
    ("1 API process", 1, "1"),
    ("2 API processes (serve --workers 2)", 1, "2"),
    ("2 API processes (two servers, clients spread)", 2, "1"),
]
"""(label, servers started, `--workers` of each)."""
MIX = [
    ("list", 40),
    ("event", 25),
    ("profile_get", 10),
    ("bookmarks", 8),
    ("profile_put", 6),
    ("notify", 6),
    ("recommend", 5),
]


def request_for(route: str, base: str, rng: random.Random) -> tuple[str, str, object]:
    user = f"u{rng.randint(1, 2000)}"
    item = str(rng.randint(1, 5000))
    if route == "list":
        ids = "&".join(f"id={rng.randint(1, 5000)}" for _ in range(10))
        return "GET", f"{base}/event/{user}/watchlist/movie/?{ids}", None
    if route == "event":
        return "POST", f"{base}/event/{user}/watchlist/movie/{item}/", None
    if route == "profile_get":
        return "GET", f"{base}/user/{user}/", None
    if route == "profile_put":
        return "PUT", f"{base}/user/{user}/", {"name": user, "n": rng.randint(1, 9)}
    if route == "bookmarks":
        return "GET", f"{base}/bookmark/{user}/", None
    if route == "recommend":
        return "GET", f"{base}/recommendation/{user}/?n=10", None
    return "POST", f"{base}/notification/{user}/movie/{item}/", {"url": "http://127.0.0.1:9/"}


async def drive(bases: list[str], seconds: float, concurrency: int) -> dict[str, list[float]]:
    """Closed-loop clients for `seconds`; client n talks to `bases[n % len(bases)]`, as a
    round-robin load balancer would spread connections."""
    routes = [route for route, weight in MIX for _ in range(weight)]
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client(n: int) -> None:
            rng = random.Random(n)
            while time.perf_counter() < deadline:
                route = rng.choice(routes)
                method, url, body = request_for(route, bases[n % len(bases)], rng)
                started = time.perf_counter()
                try:
                    async with session.request(method, url, json=body) as response:
                        await response.read()
                        if response.status >= 500 or response.status == 429:
                            errors[route] += 1
                except aiohttp.ClientError:
                    errors[route] += 1
                latencies[route].append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(client(n) for n in range(concurrency)))
    latencies["_errors"] = [float(sum(errors.values()))]
    return latencies


def report(label: str, latencies: dict[str, list[float]], seconds: float) -> float:
    errors = int(latencies.pop("_errors")[0])
    total = sum(len(v) for v in latencies.values())
    print(f"{label}: {total / seconds:,.0f} requests/s, {errors} errors (5xx, 429, transport)")
    for route, values in sorted(latencies.items()):
        values.sort()
        p99 = values[min(len(values) - 1, int(0.99 * len(values)))]
        print(
            f"    {route:<12} {len(values) / seconds:>7,.0f}/s   p50 "
            f"{statistics.median(values):6.1f} ms   p99 {p99:6.1f} ms"
        )
    return total / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database("postgresql", BENCH_DB, tmp)
        env = tanktop_env(url, TANKTOP_KEY_CACHE_SECONDS="60")
        assert run_cli(env, "catalog", "demo").returncode == 0
        key = create_key(env, "bench-load")
        with running_server(env, "--no-worker") as server:  # some history, then a model
            asyncio.run(drive([f"{server.base_url}/api/1/{key}"], 3, args.concurrency))
        assert run_cli(env, "recs", "train").returncode == 0
        rates, per_core = [], []
        for label, servers, workers in RUNS:
            with ExitStack() as stack:
                started = [
                    stack.enter_context(running_server(env, "--no-worker", "--workers", workers))
                    for _ in range(servers)
                ]
                bases = [f"{server.base_url}/api/1/{key}" for server in started]
                asyncio.run(drive(bases, 2, args.concurrency))  # warm up every process
                with cpu_use([server.process.pid for server in started]) as cpu:
                    latencies = asyncio.run(drive(bases, args.seconds, args.concurrency))
                rates.append(report(label, latencies, args.seconds))
                per_core.append(rates[-1] / max(cpu.cores["API"], 0.01))
                print(f"    {cpu.describe()}")
    low, high = ISSUE_PER_CORE
    print(
        f"1 process: {per_core[0]:,.0f} requests per API core-second, x{per_core[0] / high:.2f}"
        f"-x{per_core[0] / low:.2f} the {low}-{high} of issue 18 (goal x2)"
    )
    for (label, _, _), rate, efficiency in list(zip(RUNS, rates, per_core, strict=True))[1:]:
        print(
            f"{label} / 1 process: x{rate / rates[0]:.2f} throughput, "
            f"x{efficiency / per_core[0]:.2f} requests per API core-second"
        )
    print(
        "(requests per API core-second near 1: a second process costs nothing extra; throughput "
        "is bounded by the cores left once PostgreSQL and the load generator have theirs, and "
        "with --workers by how the kernel hands the clients' keep-alive connections out)"
    )


if __name__ == "__main__":
    main()
