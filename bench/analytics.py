"""Analytics on a large history: rollup catch-up rate and p99 per endpoint, beside raw SQL.

    python -m bench.analytics [--database postgresql|sqlite] [--events 10000000]
                              [--users 100000] [--days 90] [--requests 100] [--reuse]
                              [--sqlite-file PATH]

Loads `--events` events over `--days` days for `--users` users through the server's own write
path (the group-commit `EventWriter` that `POST /events/` uses, units of 1,000 from 8 clients),
plus impressions through the impression recorder; rolls them up with the worker's own task
(catch-up rate in events/s); then asks each analytics endpoint for the last 30 days by
day over HTTP (p99 of `--requests` calls) beside a plain SQL `GROUP BY` over the raw history
answering the same question in the same run. Finally compares exact distinct users (roaring
bitmaps, what the rollups keep) with HyperLogLog (datasketch, p=14) on the same hourly users:
bytes stored, time to merge a day, error. Loading 10M events takes a while on a small machine;
the size is a parameter and CI never runs this. The PostgreSQL database stays after the run,
and so does an SQLite file named with `--sqlite-file`: `--reuse` measures it again (after code
changes: migrated, and what is not rolled up rolled up) without loading it anew.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa
from datasketch import HyperLogLog
from pyroaring import BitMap
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from tests.servers import create_key, running_server, tanktop_env

from bench.databases import fresh_database, pg_url
from tanktop import migrations
from tanktop.analytics import zones
from tanktop.analytics.impressions import ImpressionRecorder
from tanktop.analytics.rollup import roll_up
from tanktop.analytics.service import RECOMMENDATION, record_impressions
from tanktop.analytics.tables import analytics_series
from tanktop.db import Database, long_jobs
from tanktop.events.rules import EventOp
from tanktop.events.writer import EventWriter
from tanktop.tenants import service as tenants

BENCH_DB = "tanktop_bench_analytics_i15"
END = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(
    days=1
)
"""The history runs up to the end of today, so impressions served now fall in the last 30 days."""
EVENTS = [("seen", 0.3), ("progress", 0.35), ("rated", 0.1), ("watchlist", 0.15), ("click", 0.1)]
TYPES = [("movie", 20_000, 0.6), ("episode", 50_000, 0.4)]
WRITE_BATCH = 5000
REPORT_ZONE = "America/New_York"
"""The service's report zone (local days kept as rows)."""
OTHER_ZONE = "Europe/Berlin"
"""A zone it does not keep: its days merge 24 hour rows."""
ROLLUP_TABLES = ("analytics_users", "analytics_series", "analytics_items")


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
        TimeRemainingColumn(),
    )


def event_batches(
    sid: int, total: int, users: int, days: int, seed: int = 1
) -> Callable[[], list[EventOp] | None]:
    """A generator of write batches in time order: users and items drawn Zipf-like."""
    rng = np.random.default_rng(seed)
    start = END - dt.timedelta(days=days)
    step = days * 86400 / total
    made = 0

    def next_batch() -> list[EventOp] | None:
        nonlocal made
        if made >= total:
            return None
        count = min(WRITE_BATCH, total - made)
        user_ids = (users * rng.random(count) ** 2).astype(int)  # some far more active
        names = rng.choice(len(EVENTS), count, p=[w for _, w in EVENTS])
        kinds = rng.choice(len(TYPES), count, p=[w for _, _, w in TYPES])
        ranks = rng.zipf(1.2, count)
        ops = []
        for n in range(count):
            event = EVENTS[names[n]][0]
            item_type, catalog, _ = TYPES[kinds[n]]
            item = int(ranks[n] % catalog)
            value: float | None = None
            if event == "rated":
                value = float(rng.integers(1, 6))
            elif event == "progress":
                value = float(rng.integers(1, 120))
            at = start + dt.timedelta(seconds=(made + n) * step)
            ops.append(
                EventOp(sid, f"u{user_ids[n]}", event, item_type, str(item), value, at, "batch")
            )
        made += count
        return ops

    return next_batch


async def load(db: Database, sid: int, args: argparse.Namespace) -> float:
    """Write the history through the server's write path (the group-commit writer, as
    `POST /events/` does: units of 1,000 events from 8 clients at once); returns events/s."""
    batches = event_batches(sid, args.events, args.users, args.days)
    writer = EventWriter(db)
    writer.start()
    started = time.perf_counter()
    with progress_bar() as bar:
        task = bar.add_task("loading events", total=args.events)

        async def client() -> None:
            while (ops := batches()) is not None:
                for first in range(0, len(ops), 1000):
                    await writer.write(ops[first : first + 1000])
                bar.advance(task, len(ops))

        await asyncio.gather(*(client() for _ in range(8)))
    await writer.close()
    return float(args.events) / (time.perf_counter() - started)


async def serve_impressions(db: Database, sid: int, args: argparse.Namespace) -> int:
    """Recommendations served over the last 30 days, through the impression recorder."""
    recorder = ImpressionRecorder(db, max_buffer=10_000_000)
    rng = random.Random(2)
    count = int(args.events) // 20
    for _ in range(count // 10):
        user = f"u{rng.randrange(args.users)}"
        items = [("movie", str(int(rng.paretovariate(1.2)) % 20_000)) for _ in range(10)]
        record_impressions(recorder, sid, user, RECOMMENDATION, items)
    await recorder.close()
    return count


async def autovacuum_off(db: Database) -> bool:
    if db.is_sqlite:
        return False
    async with db.read() as conn:
        return bool(await conn.scalar(sa.text("SHOW autovacuum")) == "off")


async def catch_up(db: Database, total: int) -> float:
    """Rows rolled up per second. The rollup tables grow from nothing to millions of rows
    here; where autovacuum is off (this shared server) nothing would refresh their planner
    statistics, so every 10 rounds the run analyzes them as autovacuum would."""
    analyze = await autovacuum_off(db)
    started = time.perf_counter()
    rounds = 0
    with progress_bar() as bar:
        task = bar.add_task("rolling up", total=total)
        while (done := await roll_up(db)) > 0:
            bar.advance(task, done)
            rounds += 1
            if analyze and rounds % 10 == 0:
                async with db.write() as conn:
                    await conn.execute(sa.text(f"ANALYZE {', '.join(ROLLUP_TABLES)}"))
    return total / (time.perf_counter() - started)


def raw_queries(dialect: str, sid: int, start: dt.datetime, end: dt.datetime) -> dict[str, str]:
    day = "date_trunc('day', at)" if dialect == "postgresql" else "substr(at, 1, 10)"
    since, until = (
        (start.isoformat(), end.isoformat())
        if dialect == "postgresql"
        else (start.strftime("%Y-%m-%d %H:%M:%S"), end.strftime("%Y-%m-%d %H:%M:%S"))
    )
    where = f"service_id = {sid} AND at >= '{since}' AND at < '{until}' AND NOT removed"
    return {
        "events": f"SELECT event, item_type, {day}, count(*), count(DISTINCT user_id) "
        f"FROM event_history WHERE {where} GROUP BY 1, 2, 3",
        "users": f"SELECT {day}, count(DISTINCT user_id) FROM event_history WHERE {where} "
        "GROUP BY 1",
        "top": f"SELECT item_id, count(*) AS n, count(DISTINCT user_id) FROM event_history "
        f"WHERE {where} AND event = 'seen' AND item_type = 'movie' GROUP BY 1 "
        "ORDER BY n DESC LIMIT 10",
    }


async def time_raw(db: Database, sql: str, runs: int = 3) -> float:
    """Median ms of a raw statement (a few runs: they take seconds)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        async with db.read() as conn:
            await conn.execute(sa.text(sql))
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def p99(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def endpoint_p99s(
    base: str, start: dt.datetime, end: dt.datetime, requests: int
) -> dict[str, float]:
    span = f"from={start.timestamp():.0f}&to={end.timestamp():.0f}"
    paths = {
        "floor": "/section/",
        "events": f"/analytics/events/?{span}&interval=day",
        "events tz": f"/analytics/events/?{span}&interval=day&tz={REPORT_ZONE}",
        "events tz2": f"/analytics/events/?{span}&interval=day&tz={OTHER_ZONE}",
        "users": f"/analytics/users/?{span}&interval=day",
        "users tz": f"/analytics/users/?{span}&interval=day&tz={REPORT_ZONE}",
        "retention": f"/analytics/retention/?{span}&interval=day",
        "top": f"/analytics/top/movie/?event=seen&{span}&n=10",
        "engagement": f"/analytics/engagement/?{span}",
        "user": "/analytics/user/u0/",
    }
    found = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        for name, path in paths.items():
            assert client.get(path).status_code == 200, client.get(path).text
            found[name] = p99(call_times(client, path, requests))
    return found


def call_times(client: httpx.Client, path: str, requests: int) -> list[float]:
    """Milliseconds of each of `requests` GETs of `path`, one after the other (each a 200)."""
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return times


async def sketches(db: Database, sid: int, start: dt.datetime, end: dt.datetime) -> str:
    """Exact bitmaps against HyperLogLog on the hourly any-event users of 30 days."""
    async with db.read() as conn:
        rows = (
            await conn.execute(
                sa.select(analytics_series.c.start, analytics_series.c.members).where(
                    analytics_series.c.service_id == sid,
                    analytics_series.c.grain == "h",
                    analytics_series.c.event == "*",
                    analytics_series.c.start >= start,
                    analytics_series.c.start < end,
                )
            )
        ).all()
    hours = [(r.start, BitMap.deserialize(r.members)) for r in rows]
    logs = []
    for _, users in hours:
        hll = HyperLogLog(p=14)
        for uid in users:
            hll.update(str(uid).encode())
        logs.append(hll)
    exact_bytes = sum(len(b.serialize()) for _, b in hours)
    hll_bytes = sum(len(h.reg) for h in logs)  # one byte per register, as datasketch keeps them
    days: dict[dt.date, list[int]] = {}
    for index, (at, _) in enumerate(hours):
        days.setdefault(at.date(), []).append(index)
    started = time.perf_counter()
    exact = [len(BitMap.union(*(hours[i][1] for i in idx))) for idx in days.values()]
    exact_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    estimates = []
    for idx in days.values():
        merged = HyperLogLog(p=14)
        for i in idx:
            merged.merge(logs[i])
        estimates.append(merged.count())
    hll_ms = (time.perf_counter() - started) * 1000
    errors = [abs(e - x) / x for e, x in zip(estimates, exact, strict=True) if x]
    return (
        f"distinct users per day from {len(hours)} hourly sets ({len(days)} days): roaring "
        f"{exact_bytes / 1e6:.1f} MB, exact, merged in {exact_ms:.1f} ms; HyperLogLog p=14 "
        f"{hll_bytes / 1e6:.1f} MB, merged in {hll_ms:.1f} ms, error mean "
        f"{statistics.mean(errors):.2%} max {max(errors):.2%}"
    )


async def analyze(db: Database) -> None:
    """What autovacuum would have done by now (on SQLite: the planner's statistics too)."""
    async with db.write() as conn:
        await conn.execute(sa.text("ANALYZE"))
    if not db.is_sqlite:  # the lists' pages all-visible: user stats read their index alone
        with long_jobs():
            async with db.driver() as driver:
                await driver.execute("VACUUM list_items")


async def unrolled(db: Database) -> int:
    """Rows of the history and impressions the rollups have not read yet."""
    async with db.read() as conn:
        return int(
            await conn.scalar(
                sa.text(
                    "SELECT (SELECT coalesce(max(id), 0) FROM event_history) "
                    "+ (SELECT coalesce(max(id), 0) FROM impressions) "
                    "- (SELECT sum(hwm) FROM analytics_streams)"
                )
            )
            or 0
        )


async def history_size(url: str, sid: int) -> str:
    """What an earlier run left (`--reuse`): its events, users and days, counted."""
    db = Database(url, pool_size=1)
    try:
        async with db.read() as conn:
            events, first, last = (
                await conn.execute(
                    sa.text(
                        "SELECT count(*), min(at), max(at) FROM event_history "
                        "WHERE service_id = :sid AND NOT removed"
                    ),
                    {"sid": sid},
                )
            ).one()
            users = await conn.scalar(
                sa.text("SELECT count(*) FROM analytics_users WHERE service_id = :sid"),
                {"sid": sid},
            )
    finally:
        await db.dispose()
    if isinstance(first, str):  # SQLite's text, through a plain SELECT
        first, last = dt.datetime.fromisoformat(first), dt.datetime.fromisoformat(last)
    days = (last - first).days + 1 if first is not None else 0
    return f"{events:,} events, {users:,} users, {days} days (the history of an earlier run)"


async def prepare(url: str, sid: int, args: argparse.Namespace) -> tuple[float, float, int]:
    db = Database(url, pool_size=6)
    try:
        await migrations.upgrade(db)
        rate = 0.0
        if not args.reuse:
            rate = await load(db, sid, args)
            await serve_impressions(db, sid, args)
        if args.load_only:
            return rate, 0.0, 0
        await zones.add(db, sid, zone=REPORT_ZONE)
        await analyze(db)
        catch = 0.0 if args.as_is else await catch_up(db, await unrolled(db))
        await analyze(db)
        async with db.read() as conn:
            served = int(await conn.scalar(sa.text("SELECT count(*) FROM impressions")) or 0)
    finally:
        await db.dispose()
    return rate, catch, served


async def measure_raw(
    url: str, sid: int, start: dt.datetime, end: dt.datetime
) -> tuple[dict[str, float], str]:
    db = Database(url, pool_size=2)
    try:
        dialect = "sqlite" if db.is_sqlite else "postgresql"
        raw = {
            name: await time_raw(db, sql)
            for name, sql in raw_queries(dialect, sid, start, end).items()
        }
        return raw, await sketches(db, sid, start, end)
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help=f"measure the history an earlier run left in {BENCH_DB} (SQLite: in --sqlite-file), "
        "rolling up what it has not, instead of loading a new one",
    )
    parser.add_argument(
        "--as-is",
        action="store_true",
        help="with --reuse: measure the rollups as they are, without rolling up what is left",
    )
    parser.add_argument(
        "--load-only",
        action="store_true",
        help="PostgreSQL: load the history and stop (a later --reuse rolls it up and measures)",
    )
    parser.add_argument(
        "--sqlite-file",
        help="SQLite: the database file, kept after the run (instead of a temporary one)",
    )
    parser.add_argument("--window-days", type=int, default=30, help="days measured")
    parser.add_argument(
        "--window-end",
        help="measure the days before this time (ISO 8601; default: the history's end), "
        "e.g. days an --as-is history has rolled up",
    )
    args = parser.parse_args()
    if args.as_is and not args.reuse:
        parser.error("--as-is is for --reuse")
    if args.load_only and (args.reuse or args.database != "postgresql"):
        parser.error("--load-only loads a new PostgreSQL history")
    sqlite = args.database == "sqlite"
    if args.sqlite_file and not sqlite:
        parser.error("--sqlite-file is for --database sqlite")
    if args.reuse and sqlite and not args.sqlite_file:
        parser.error("--reuse on SQLite needs the --sqlite-file an earlier run kept")
    if sqlite and args.sqlite_file and not args.reuse and Path(args.sqlite_file).exists():
        parser.error(f"{args.sqlite_file} exists: --reuse it, or remove it")
    with tempfile.TemporaryDirectory() as tmp:
        if args.sqlite_file:
            url = f"sqlite:///{Path(args.sqlite_file).resolve()}"
        elif args.reuse:
            url = pg_url(BENCH_DB)
        else:
            url = fresh_database(args.database, BENCH_DB, tmp)
        env = tanktop_env(url, TANKTOP_KEY_CACHE_SECONDS="60")
        key = create_key(env, "bench-analytics")

        async def service_id() -> int:
            db = Database(url, pool_size=1)
            try:
                found = await tenants.find_service(db, key=key)
                assert found is not None
                return found.id
            finally:
                await db.dispose()

        sid = asyncio.run(service_id())
        if not args.reuse:
            print(
                f"{args.database}: {args.events:,} events, {args.users:,} users, {args.days} days",
                flush=True,
            )
        rate, catch, served = asyncio.run(prepare(url, sid, args))
        if args.load_only:
            print(f"loaded through the write path: {rate:,.0f} events/s; measure with --reuse")
            return
        if args.reuse:
            print(f"{args.database}: {asyncio.run(history_size(url, sid))}", flush=True)
        end = dt.datetime.fromisoformat(args.window_end) if args.window_end else END
        start = end - dt.timedelta(days=args.window_days)
        with running_server(env, "--no-worker") as server:
            p99s = endpoint_p99s(f"{server.base_url}/api/1/{key}", start, end, args.requests)
        raw, sketch_line = asyncio.run(measure_raw(url, sid, start, end))
    if rate:
        print(f"loaded through the write path: {rate:,.0f} events/s; {served:,} impressions")
    print(f"rollup catch-up: {catch:,.0f} rows/s (events and impressions, one worker)")
    print(
        f"{start:%Y-%m-%d} to {end:%Y-%m-%d} ({args.window_days} days) by day, p99 over HTTP "
        "(raw GROUP BY over the history, median); floor: "
        "GET /section/ (one small query), what any call costs on this machine now; "
        f"tz: {REPORT_ZONE} (a report zone), tz2: {OTHER_ZONE} (not one):"
    )
    for name, ms in p99s.items():
        base = name.split()[0]
        beside = f"   raw {raw[base]:,.0f} ms (x{raw[base] / ms:,.0f})" if base in raw else ""
        print(f"  {name:<12} {ms:8.1f} ms{beside}")
    print(sketch_line)


if __name__ == "__main__":
    main()
