"""`GET /bookmark/<userid>` for a user with 500 items of history, beside the bare /healthz.

    python -m bench.bookmarks [--database sqlite|postgresql] [--seconds 5]

The catalog holds 200 movies and 20 programmes of 3 seasons x 10 episodes; the user has
progress or seen events on 500 of those movies and episodes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
from pathlib import Path

import httpx
from tests.servers import create_key, run_cli, running_server, tanktop_env

from bench.databases import fresh_database
from bench.loadgen import Call, ratio_line, run_load

BENCH_DB = "tanktop_bench_bookmarks"


def catalog_lines() -> list[str]:
    lines = [
        json.dumps(
            {"item_type": "movie", "item_id": f"m{i}", "title": f"Movie {i}", "duration": 100}
        )
        for i in range(200)
    ]
    for p in range(20):
        lines.append(json.dumps({"item_type": "programme", "item_id": f"p{p}", "title": "Show"}))
        lines += [
            json.dumps(
                {
                    "item_type": "episode",
                    "item_id": f"p{p}s{s}e{e}",
                    "programme_id": f"p{p}",
                    "season": s,
                    "number": e,
                    "duration": 50,
                }
            )
            for s in range(1, 4)
            for e in range(1, 11)
        ]
    return lines


def history() -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    rng = random.Random(7)
    items = [("movie", f"m{i}", 100) for i in range(200)] + [
        ("episode", f"p{p}s{s}e{e}", 50)
        for p in range(20)
        for s in range(1, 4)
        for e in range(1, 11)
    ]
    for item_type, item_id, minutes in rng.sample(items, 500):
        if rng.random() < 0.5:
            events.append(
                {"user_id": "u", "event": "seen", "item_type": item_type, "item_id": item_id}
            )
        else:
            events.append(
                {
                    "user_id": "u",
                    "event": "progress",
                    "item_type": item_type,
                    "item_id": item_id,
                    "value": rng.randint(1, minutes),
                }
            )
    return events


async def measure(base: str, key: str, seconds: float) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        events = history()
        for start in range(0, len(events), 250):
            response = await http.post(
                f"{base}/api/1/{key}/events/", json=events[start : start + 250]
            )
            assert response.status_code == 204, response.text
        count = len((await http.get(f"{base}/api/1/{key}/bookmark/u/")).json()["bookmarks"])
    print(f"the user has {count} bookmarks from 500 items of history")
    baseline = await run_load(
        "GET /healthz (baseline)",
        lambda i: Call("GET", f"{base}/healthz"),
        concurrency=8,
        seconds=seconds,
    )
    marks = await run_load(
        "GET /bookmark/u/",
        lambda i: Call("GET", f"{base}/api/1/{key}/bookmark/u/"),
        concurrency=8,
        seconds=seconds,
    )
    print(baseline.row())
    print(marks.row())
    print(ratio_line(marks, baseline))
    print(f"p99 of GET /bookmark/<userid> with 500 items of history: {marks.percentile(99):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(args.database, BENCH_DB, tmp)
        env = tanktop_env(url, TANKTOP_KEY_CACHE_SECONDS="60")
        key = create_key(env, "bench-bookmarks")
        catalog = Path(tmp) / "catalog.jsonl"
        catalog.write_text("\n".join(catalog_lines()) + "\n")
        assert run_cli(env, "catalog", "import", str(catalog)).returncode == 0
        with running_server(env, "--no-worker") as server:
            asyncio.run(measure(server.base_url, key, args.seconds))


if __name__ == "__main__":
    main()
