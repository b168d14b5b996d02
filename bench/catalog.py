"""Catalog import rate on SQLite and PostgreSQL, beside the bare driver writing the same rows.

    python -m bench.catalog [--lines 100000]

Runs `tanktop catalog import` (validation, change detection, change rows, progress bar) on a
generated file of movies with one offer each, then the same item and offer rows written by the
bare driver (sqlite3 / asyncpg executemany, 1,000 lines per transaction) into a fresh database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
from tests.servers import TANKTOP, run_cli, tanktop_env

from bench.databases import fresh_database

BENCH_DB = "tanktop_bench_catalog"


def item_sql(p: list[str]) -> str:
    return (
        "INSERT INTO catalog_items (item_type, item_id, title, duration, year, genres, teams, "
        f"updated_at) VALUES ('movie', {p[0]}, {p[1]}, {p[2]}, 2000, '[\"Drama\"]', '[]', "
        "CURRENT_TIMESTAMP)"
    )


def offer_sql(p: list[str]) -> str:
    return (
        "INSERT INTO offers (item_type, item_id, source_id, price, hd) "
        f"VALUES ('movie', {p[0]}, {p[1]}, {p[2]}, {p[3]})"
    )


def make_lines(count: int) -> list[dict[str, Any]]:
    rng = random.Random(1)
    return [
        {
            "item_type": "movie",
            "item_id": i,
            "title": f"Movie {i}",
            "duration": rng.randint(80, 150),
            "genres": ["Drama"],
            "year": 2000,
            "offers": [{"source_id": rng.randint(1, 5), "price": rng.randint(0, 500), "hd": True}],
        }
        for i in range(count)
    ]


def chunks(
    lines: list[dict[str, Any]],
) -> list[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    result = []
    for start in range(0, len(lines), 1000):
        chunk = lines[start : start + 1000]
        items = [(str(r["item_id"]), r["title"], float(r["duration"])) for r in chunk]
        offers = [
            (str(r["item_id"]), str(o["source_id"]), o["price"], o["hd"])
            for r in chunk
            for o in r["offers"]
        ]
        result.append((items, offers))
    return result


def timed_import(url: str, path: Path) -> float:
    env = tanktop_env(url)
    assert run_cli(env, "migrate").returncode == 0
    started = time.perf_counter()
    subprocess.run(
        [TANKTOP, "catalog", "import", str(path)], env=env, check=True, capture_output=True
    )
    return time.perf_counter() - started


def raw_sqlite(url: str, lines: list[dict[str, Any]]) -> float:
    assert run_cli(tanktop_env(url), "migrate").returncode == 0
    conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    started = time.perf_counter()
    for items, offers in chunks(lines):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(item_sql(["?"] * 3), items)
        conn.executemany(offer_sql(["?"] * 4), offers)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


async def raw_postgres(url: str, lines: list[dict[str, Any]]) -> float:
    assert run_cli(tanktop_env(url), "migrate").returncode == 0
    conn = await asyncpg.connect(url)
    started = time.perf_counter()
    for items, offers in chunks(lines):
        async with conn.transaction():
            await conn.executemany(item_sql(["$1", "$2", "$3"]), items)
            await conn.executemany(offer_sql(["$1", "$2", "$3", "$4"]), offers)
    elapsed = time.perf_counter() - started
    await conn.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    lines = make_lines(args.lines)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "catalog.jsonl"
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        results = []
        for backend in ("sqlite", "postgresql"):
            url = fresh_database(backend, BENCH_DB, tmp)
            ours = timed_import(url, path)
            raw_url = fresh_database(backend, BENCH_DB + "_raw", tmp)
            raw = (
                raw_sqlite(raw_url, lines)
                if backend == "sqlite"
                else asyncio.run(raw_postgres(raw_url, lines))
            )
            results.append((backend, args.lines / ours, args.lines / raw))
    for backend, ours_rate, raw_rate in results:
        print(
            f"{backend:<11} tanktop catalog import {ours_rate:>8,.0f} lines/s   bare driver "
            f"{raw_rate:>8,.0f} lines/s   ratio {ours_rate / raw_rate:.0%}"
        )


if __name__ == "__main__":
    main()
