"""Event ingestion and reads against the raw database doing the same writes, in one run.

    python -m bench.events [--database sqlite|postgresql] [--seconds 5] [--concurrency 32]
                           [--worker [--pairs 2]] [--database-name NAME]

Prints, each beside its ceiling measured in the same run:
- single-event POST throughput and p99 (ceiling: pgbench running the same upsert + history
  insert per transaction at the same concurrency; on SQLite a plain sqlite3 loop),
- batch ingestion in events/s (POST /events/ with 1,000 events per request),
- GET with 10 ids, p99, with 1M events stored, while writes go on.

`--worker` (PostgreSQL) measures what the analytics rollups cost ingestion in the same run: a
`tanktop worker` (retraining off) is started after the set-up and the ceilings and waited for
until it has caught up with the history, then each API phase is measured `--pairs` times
without it (stopped, SIGSTOP) and with it, alternated, the worker caught up before each (so
`with` is the steady state: the worker rolling up what the phase writes as it arrives, as in
production; the arms' order swaps from pair to pair). Each pair's ratio is printed with the load
average, and the ratio of the means. A caught-up worker rolls up every 2 s, so about the last
2 s of a `with` window's events are rolled up after it, untimed: give `--worker` windows of 20 s
or more (`--seconds`), or the ratio leans towards x1.00.
`--apart all` (with `--worker`) gives the worker and its PostgreSQL backends CPU 1 and everything
else CPU 0 (`bench.pinning`): the worker on a host of its own and a database with room for its
queries, so the ratio is what the rollups cost ingestion beyond their CPU (locks, I/O, WAL, the
database's shared processes). `--apart worker` moves the worker's process alone: its backends
share CPU 0 with the API's, as with PostgreSQL on the API's host. Both arms run on the same one
CPU, so the rates are a one-core API's.
`--database-name` names the database dropped and created again (the default is this bench's).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Generic, TypeVar

from tests.servers import create_key, running_server, start_worker, tanktop_env

from bench.databases import fresh_database, pg_url, psql
from bench.loadgen import Call, LoadResult, run_load
from bench.pinning import Apart

BENCH_DB = "tanktop_bench_events"
UNREAD = (
    "SELECT (SELECT coalesce(max(id), 0) FROM event_history) "
    "- (SELECT hwm FROM analytics_streams WHERE name = 'events')"
)
T = TypeVar("T")
USERS = 10_000
ITEMS = 100_000

PG_TRANSACTION = """\\set u random(1, {users})
\\set i random(1, {items})
BEGIN;
INSERT INTO list_items (service_id, user_id, event, item_type, item_id, value, updated_at)
  VALUES ({sid}, 'u' || :u, 'watchlist', 'movie', :i::text, 'null'::jsonb, now())
  ON CONFLICT (service_id, user_id, event, item_type, item_id) DO UPDATE
  SET value = excluded.value, updated_at = excluded.updated_at
  WHERE list_items.updated_at <= excluded.updated_at;
INSERT INTO event_history
  (service_id, user_id, event, item_type, item_id, value, at, origin, removed)
  VALUES ({sid}, 'u' || :u, 'watchlist', 'movie', :i::text, 'null'::jsonb, now(), 'posted',
          false);
END;
"""

SQLITE_UPSERT = (
    "INSERT INTO list_items (service_id, user_id, event, item_type, item_id, value, updated_at) "
    "VALUES (?, ?, 'watchlist', 'movie', ?, 'null', ?) "
    "ON CONFLICT (service_id, user_id, event, item_type, item_id) DO UPDATE "
    "SET value = excluded.value, updated_at = excluded.updated_at "
    "WHERE list_items.updated_at <= excluded.updated_at"
)
SQLITE_HISTORY = (
    "INSERT INTO event_history (service_id, user_id, event, item_type, item_id, value, at, "
    "origin, removed) VALUES (?, ?, 'watchlist', 'movie', ?, 'null', ?, 'posted', 0)"
)


def service_id(url: str, name: str, database: str = BENCH_DB) -> int:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return int(
                conn.execute("SELECT id FROM services WHERE name = ?", (name,)).fetchone()[0]
            )
    return int(psql(database, f"SELECT id FROM services WHERE name = '{name}'"))


def pgbench_ceiling(
    sid: int,
    seconds: float,
    concurrency: int,
    *,
    database: str = BENCH_DB,
    transaction: str = PG_TRANSACTION,
    url: str | None = None,
) -> float:
    """Transactions per second of pgbench running our two statements per transaction (on
    `database` over TCP, or at `url`)."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(transaction.format(sid=sid, users=USERS, items=ITEMS))
    out = subprocess.run(
        [
            "pgbench",
            "-n",
            "-c",
            str(concurrency),
            "-j",
            "2",
            "-T",
            str(int(seconds)),
            "-f",
            script.name,
            url or pg_url(database),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    Path(script.name).unlink()
    match = re.search(r"tps = ([0-9.]+)", out)
    assert match, out
    return float(match.group(1))


def sqlite_ceiling(path: str, sid: int, seconds: float) -> float:
    """Transactions per second of a plain sqlite3 loop: same statements, same pragmas."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    count = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        user, item = f"u{random.randint(1, USERS)}", str(random.randint(1, ITEMS))
        now = time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime())
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(SQLITE_UPSERT, (sid, user, item, now))
        conn.execute(SQLITE_HISTORY, (sid, user, item, now))
        conn.execute("COMMIT")
        count += 1
    elapsed = time.perf_counter() - started
    conn.close()
    return count / elapsed


def fill(url: str, sid: int, total: int, *, database: str = BENCH_DB) -> None:
    """Store `total` history events and their list rows directly (the API is measured elsewhere)."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.execute("PRAGMA journal_mode=WAL")
        rows = [(sid, f"f{n % USERS}", str(n // USERS)) for n in range(total)]
        with conn:
            conn.executemany(SQLITE_HISTORY, [(*r, "2026-01-01 00:00:00.000000") for r in rows])
            conn.executemany(SQLITE_UPSERT, [(*r, "2026-01-01 00:00:00.000000") for r in rows])
        conn.execute("ANALYZE")
        conn.close()
        return
    psql(
        database,
        f"""
        INSERT INTO event_history (service_id, user_id, event, item_type, item_id, value, at,
                                   origin, removed)
        SELECT {sid}, 'f' || (n % {USERS}), 'watchlist', 'movie', (n / {USERS})::text,
               'null'::jsonb, now(), 'batch', false FROM generate_series(0, {total - 1}) n;
        INSERT INTO list_items (service_id, user_id, event, item_type, item_id, value, updated_at)
        SELECT {sid}, 'f' || (n % {USERS}), 'watchlist', 'movie', (n / {USERS})::text,
               'null'::jsonb, now() FROM generate_series(0, {total - 1}) n
        ON CONFLICT DO NOTHING;
        ANALYZE;""",
    )


async def single_posts(base: str, seconds: float, concurrency: int) -> LoadResult:
    def post_one(i: int) -> Call:
        user, item = random.randint(1, USERS), random.randint(1, ITEMS)
        return Call("POST", f"{base}/event/u{user}/watchlist/movie/{item}/")

    return await run_load(
        f"POST /event/… (single, c={concurrency})",
        post_one,
        concurrency=concurrency,
        seconds=seconds,
    )


async def batch_posts(base: str, seconds: float) -> tuple[LoadResult, float]:
    def post_batch(i: int) -> Call:
        return Call(
            "POST",
            f"{base}/events/",
            [
                {
                    "user_id": f"b{random.randint(1, USERS)}",
                    "event": "seen",
                    "item_type": "movie",
                    "item_id": random.randint(1, ITEMS),
                }
                for _ in range(1000)
            ],
        )

    batch = await run_load("POST /events/ (1,000 each)", post_batch, concurrency=4, seconds=seconds)
    return batch, batch.requests * 1000 / batch.seconds


async def read_phase(base: str, seconds: float) -> LoadResult:
    reads, _ = await read_and_write_phase(base, seconds)
    return reads


async def read_and_write_phase(base: str, seconds: float) -> tuple[LoadResult, LoadResult]:
    """`GET`s of 10 ids (4 at a time) beside 8 single `POST` writers: both results."""

    def get_ten(i: int) -> Call:
        user = random.randint(0, USERS - 1)
        ids = "&".join(f"id={random.randint(0, 120)}" for _ in range(10))
        return Call("GET", f"{base}/event/f{user}/watchlist/movie/?{ids}")

    def post_one(i: int) -> Call:
        return Call("POST", f"{base}/event/w{i % USERS}/watchlist/movie/{i}/")

    reads = asyncio.create_task(
        run_load("GET 10 ids (1M stored)", get_ten, concurrency=4, seconds=seconds)
    )
    writes = await run_load("background writes", post_one, concurrency=8, seconds=seconds)
    return await reads, writes


def caught_up(worker: subprocess.Popen[bytes], database: str, within: float = 1200) -> float:
    """Wait until the worker has rolled up the whole history (the events stream's position has
    reached the history's last id); seconds it took."""
    started = time.monotonic()
    while int(psql(database, UNREAD) or 0) > 0:
        assert worker.poll() is None, "the worker stopped"
        assert time.monotonic() - started < within, "the worker did not catch up"
        time.sleep(0.1)
    return time.monotonic() - started


@dataclass
class Arms(Generic[T]):
    """One API phase's measurements: `without` a worker, and `with` one (`--worker`), each with
    the 1-minute load average when it ended."""

    without: list[tuple[T, float]] = field(default_factory=list)
    with_worker: list[tuple[T, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Alternation:
    """How each API phase is measured: once with no worker, or (`worker` given) `pairs` times
    without and with it, alternated. The worker catches up before each measurement (untimed), so
    `with` is the steady state, the worker rolling up what the phase writes as it arrives (every
    few seconds, as in production), and `without` is the same worker stopped (SIGSTOP): no
    worker at all."""

    worker: subprocess.Popen[bytes] | None
    database: str
    pairs: int

    def measure(self, phase: Callable[[], Coroutine[Any, Any, T]]) -> Arms[T]:
        arms: Arms[T] = Arms()
        if self.worker is None:
            arms.without.append((asyncio.run(phase()), os.getloadavg()[0]))
            return arms
        for pair in range(self.pairs):  # each arm first in every other pair: the history
            for stopped in (True, False) if pair % 2 == 0 else (False, True):  # grows
                caught_up(self.worker, self.database)
                if stopped:
                    self.worker.send_signal(signal.SIGSTOP)
                try:
                    result = asyncio.run(phase())
                finally:
                    if stopped:
                        self.worker.send_signal(signal.SIGCONT)
                (arms.without if stopped else arms.with_worker).append((result, os.getloadavg()[0]))
        return arms


def compare(name: str, arms: Arms[T], value: Callable[[T], float], unit: str) -> None:
    """Each pair's `with` against its `without`, and the ratio of their means."""
    if not arms.with_worker:
        return
    print(f"{name}, with the worker against without (load average beside each):")
    for n, ((off, off_load), (on, on_load)) in enumerate(
        zip(arms.without, arms.with_worker, strict=True), 1
    ):
        print(
            f"  pair {n}: {value(off):,.1f} {unit} (load {off_load:.1f}) -> "
            f"{value(on):,.1f} {unit} (load {on_load:.1f}): x{value(on) / value(off):.2f}"
        )
    off_mean = statistics.mean(value(r) for r, _ in arms.without)
    on_mean = statistics.mean(value(r) for r, _ in arms.with_worker)
    print(f"  means: {off_mean:,.1f} -> {on_mean:,.1f} {unit}: x{on_mean / off_mean:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument(
        "--database-name", default=BENCH_DB, help="dropped and created again (PostgreSQL)"
    )
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", default="8,32,64", help="comma-separated levels")
    parser.add_argument("--events", type=int, default=1_000_000, help="stored before reads")
    parser.add_argument(
        "--worker", action="store_true", help="each phase without and with a caught-up worker"
    )
    parser.add_argument("--pairs", type=int, default=2, help="--worker: without/with pairs")
    parser.add_argument(
        "--apart",
        choices=["all", "worker"],
        help="--worker: the worker (all: and its backends) on CPU 1, the rest on CPU 0",
    )
    args = parser.parse_args()
    if args.worker and args.database != "postgresql":
        parser.error("--worker measures on PostgreSQL")
    if args.apart and not args.worker:
        parser.error("--apart needs --worker")
    levels = [int(c) for c in args.concurrency.split(",")]
    database = args.database_name
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(args.database, database, tmp)
        apart = (  # from here on: pgbench, the API
            Apart(database, {1}, backends=args.apart == "all") if args.apart else None
        )
        env = tanktop_env(url, TANKTOP_KEY_CACHE_SECONDS="60")
        key = create_key(env, "bench-events")
        sid = service_id(url, "bench-events", database)
        print(f"{args.database}, one API process, {args.seconds:.0f} s per measurement", flush=True)
        ceilings: list[tuple[float, str]] = []
        for level in levels:  # before any worker: its rows are the worker's first backlog
            if args.database == "sqlite":
                ceiling = sqlite_ceiling(url.removeprefix("sqlite:///"), sid, args.seconds)
                ceilings.append((ceiling, "sqlite3 loop"))
            else:
                ceiling = pgbench_ceiling(sid, args.seconds, level, database=database)
                ceilings.append((ceiling, f"pgbench -c {level}"))
        # Retraining is left out so that what the worker costs is the analytics rollups.
        worker = (
            start_worker({**env, "TANKTOP_RETRAIN_AFTER_EVENTS": "1000000000"})
            if args.worker
            else None
        )
        if apart is not None and worker is not None:
            apart.follow(worker.pid)
        alternation = Alternation(worker, database, args.pairs)
        try:
            with running_server(env, "--no-worker") as server:
                base = f"{server.base_url}/api/1/{key}"
                # Untimed: the first requests of a new process (its pools, its caches) would
                # count against whichever arm comes first.
                asyncio.run(single_posts(base, min(args.seconds, 2), levels[0]))
                singles = [
                    alternation.measure(partial(single_posts, base, args.seconds, level))
                    for level in levels
                ]
                batches = alternation.measure(lambda: batch_posts(base, args.seconds))
                print(f"filling {args.events:,} events …", flush=True)
                fill(url, sid, args.events, database=database)
                reads = alternation.measure(lambda: read_phase(base, args.seconds))
        finally:
            if apart is not None:
                print(apart.describe())
                apart.stop()
            if worker is not None:
                worker.terminate()
                worker.wait(30)
        for (ceiling, name), arms in zip(ceilings, singles, strict=True):
            print(f"{'ceiling (' + name + ')':<30} {ceiling:>8.0f} tx/s")
            print(arms.without[0][0].row())
        print(batches.without[0][0][0].row())
        print(reads.without[0][0].row())
        print()
        for level, (ceiling, name), arms in zip(levels, ceilings, singles, strict=True):
            single = arms.without[0][0]
            print(
                f"single POST at {level:>3} concurrent: {single.throughput / ceiling:4.0%} of "
                f"{name} ({single.throughput:,.0f} vs {ceiling:,.0f}/s); "
                f"p99 {single.percentile(99):.1f} ms"
            )
        events_per_s = batches.without[0][0][1]
        print(f"batch: {events_per_s:,.0f} events/s (target >= 30,000 on PostgreSQL)")
        first_reads = reads.without[0][0]
        print(
            f"GET 10 ids, {args.events:,} events stored, 8 writers running: "
            f"p50 {first_reads.percentile(50):.2f} ms, p99 {first_reads.percentile(99):.2f} ms "
            f"(target < 5 ms)"
        )
        for level, arms in zip(levels, singles, strict=True):
            compare(f"single POST at {level} concurrent", arms, lambda r: r.throughput, "req/s")
        compare("batch", batches, lambda r: r[1], "events/s")
        compare("GET 10 ids p99 (lower is better)", reads, lambda r: r.percentile(99), "ms")


if __name__ == "__main__":
    main()
