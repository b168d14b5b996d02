"""Profile GET and PUT throughput and p99 over loopback, beside the same app's bare /healthz.

    python -m bench.profiles [--database-url URL] [--seconds 5] [--concurrency 32]

Starts `tanktop serve` (SQLite in a temporary folder unless a URL is given), measures each
endpoint for the same time at the same concurrency, and prints the ratios to the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import httpx
from tests.servers import create_key, running_server, tanktop_env

from bench.loadgen import Call, ratio_line, run_load


async def measure(base: str, key: str, seconds: float, concurrency: int) -> None:
    api = f"{base}/api/1/{key}"
    users = 1000
    async with httpx.AsyncClient(timeout=30) as http:
        for i in range(users):
            await http.put(f"{api}/user/u{i}/", json={"name": f"user {i}", "prefs": {"hd": True}})

    def healthz(_i: int) -> Call:
        return Call("GET", f"{base}/healthz")

    def get_profile(i: int) -> Call:
        return Call("GET", f"{api}/user/u{i % users}/")

    def put_profile(i: int) -> Call:
        return Call("PUT", f"{api}/user/u{i % users}/", {"name": "x", "n": i})

    baseline = await run_load(
        "GET /healthz (baseline)", healthz, concurrency=concurrency, seconds=seconds
    )
    results = [
        await run_load("GET /user/<id>/", get_profile, concurrency=concurrency, seconds=seconds),
        await run_load("PUT /user/<id>/", put_profile, concurrency=concurrency, seconds=seconds),
    ]
    for result in (baseline, *results):
        print(result.row())
    print()
    for result in results:
        print(ratio_line(result, baseline))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        env = tanktop_env(url, TANKTOP_KEY_CACHE_SECONDS="5")
        key = create_key(env, "bench-profiles")
        with running_server(env, "--no-worker") as server:
            print(
                f"database: {url.split('@')[-1]}; {args.concurrency} concurrent, "
                f"{args.seconds:.0f} s each"
            )
            asyncio.run(measure(server.base_url, key, args.seconds, args.concurrency))


if __name__ == "__main__":
    main()
