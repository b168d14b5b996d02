"""A top list on a flat catalogue: `GET .../analytics/top/` over 1, 7 and 30 days, p50 and p99.

    python -m bench.top_flat [--days 180] [--items 3000] [--catalogue 20000] [--services 1]
                             [--others 0] [--requests 60] [--rounds 2] [--database both]

Builds the rollup rows directly (SQL), not through the worker (minutes for millions of rows),
in about the order a worker writes them: day by day, and within a day every service's and
event and item type's rows interleaved, as a round of events from all of them writes them;
a history of `--days` UTC days up to today:

- flat: event `seen`, item type `movie`: each day `--items` items of the `--catalogue` with one
  event each (one in 200 with two), so no day settles the top list and it sums every item;
- skewed (the baseline): `seen` `episode`: each day's items Zipf-like (the first has `--items`
  events), settled by the days' leaders;
- `--others` more flat pairs of event and item type per service, and `--services` services
  in all, to check that a read by day does not get worse when other rows share the pages.

Measures the first service through one API process (`tanktop serve --no-worker`), and beside
it a raw `GROUP BY` over the history answering the flat top list (the history holds the first
service's flat events only). On PostgreSQL two arms alternate in `--rounds` rounds:
`before`, without the day index of migration 0031 (dropped), and `after`, with it (created,
the table vacuumed as autovacuum would, which summarises its ranges); each round measures
both. SQLite has one arm (no such index there). The load average is printed beside each figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator

import httpx
from pyroaring import BitMap
from tests.servers import create_key, running_server, tanktop_env

from bench.analytics import call_times
from bench.databases import fresh_database, psql

BENCH_DB = "tanktop_bench_top_flat"
TODAY = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
END = TODAY + dt.timedelta(days=1)
SPANS = (1, 7, 30)
MEMBERS = BitMap([1]).serialize()
BRIN = "ix_analytics_items_day"
BRIN_SQL = (
    f"CREATE INDEX {BRIN} ON analytics_items USING brin (day) "
    "WITH (pages_per_range = 32, autosummarize = on)"
)


def pairs(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """(event, item_type, shape) of each service's rows, in the order they are written."""
    others = [(f"e{k}", "movie", "flat") for k in range(args.others)]
    return [("seen", "movie", "flat"), ("seen", "episode", "skewed"), *others]


def day_rows(
    args: argparse.Namespace, sid: int, day: int, event: str, item_type: str, shape: str
) -> Iterator[tuple[int, str, str, str, int]]:
    """(service, event, item_type, item_id, events) of one day's rows: what
    `build_postgresql` writes, item for item."""
    for n in range(1, args.items + 1):
        if shape == "flat":
            item = (n * 7 + day * 3001 + sid * 17) % args.catalogue
            yield sid, event, item_type, str(item), 2 if n % 200 == 0 else 1
        else:
            yield sid, event, item_type, str(n), max(1, round(args.items / n**1.1))


def build_postgresql(args: argparse.Namespace, sids: list[int]) -> None:
    sql_pairs = ", ".join(f"({i}, '{e}', '{t}', '{s}')" for i, (e, t, s) in enumerate(pairs(args)))
    services = ", ".join(f"({sid})" for sid in sids)
    step = 10
    for first in range(0, args.days, step):
        last = min(args.days, first + step)
        print(f"  postgresql: days {first + 1}-{last} of {args.days}", flush=True)
        psql(
            BENCH_DB,
            f"""
            INSERT INTO analytics_items (service_id, event, item_type, day, item_id, events,
                                         members)
            SELECT s, e, t, '{TODAY.isoformat()}'::timestamptz - ({args.days - 1} - d)
                   * interval '1 day',
                   CASE WHEN shape = 'flat'
                        THEN ((n * 7 + d * 3001 + s * 17) % {args.catalogue})::text
                        ELSE n::text END,
                   CASE WHEN shape = 'flat' THEN CASE WHEN n % 200 = 0 THEN 2 ELSE 1 END
                        ELSE greatest(1, round({args.items} / n ^ 1.1))::bigint END,
                   '\\x{MEMBERS.hex()}'::bytea
            FROM generate_series({first}, {last - 1}) d, (VALUES {services}) sv(s),
                 (VALUES {sql_pairs}) p(k, e, t, shape), generate_series(1, {args.items}) n
            ORDER BY d, n, s, k""",
        )
    # The history of the first service's flat pair, for the raw GROUP BY: one event a row.
    psql(
        BENCH_DB,
        f"""
        INSERT INTO event_history (service_id, user_id, event, item_type, item_id, value, at,
                                   origin, removed)
        SELECT {sids[0]}, 'u' || n, 'seen', 'movie', i.item_id, 'null'::jsonb,
               i.day + n * interval '1 second', 'batch', false
        FROM analytics_items i, generate_series(1, 2) n
        WHERE i.service_id = {sids[0]} AND i.event = 'seen' AND i.item_type = 'movie'
          AND n <= i.events""",
    )


def build_sqlite(args: argparse.Namespace, path: str, sids: list[int]) -> None:
    with sqlite3.connect(path) as conn:
        for day in range(args.days):
            at = TODAY - dt.timedelta(days=args.days - 1 - day)
            stamp = at.strftime("%Y-%m-%d %H:%M:%S.%f")
            if (day + 1) % 30 == 0 or day + 1 == args.days:
                print(f"  sqlite: day {day + 1} of {args.days}", flush=True)
            made = [
                list(day_rows(args, sid, day, event, item_type, shape))
                for sid in sids
                for event, item_type, shape in pairs(args)
            ]
            conn.executemany(  # interleaved, as a round writes them
                "INSERT INTO analytics_items (service_id, event, item_type, day, item_id, "
                "events, members) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (s, e, t, stamp, i, n, MEMBERS)
                    for rows in zip(*made, strict=True)
                    for s, e, t, i, n in rows
                ],
            )
            conn.executemany(  # the history of the first service's flat pair
                "INSERT INTO event_history (service_id, user_id, event, item_type, item_id, "
                "value, at, origin, removed) VALUES (?, ?, ?, ?, ?, 'null', ?, 'batch', 0)",
                [(s, f"u{k}", e, t, i, stamp) for s, e, t, i, n in made[0] for k in range(n)],
            )
        conn.execute("ANALYZE")


def raw_top(dialect: str, sid: int, start: dt.datetime) -> str:
    since, until = (
        (f"'{start.isoformat()}'", f"'{END.isoformat()}'")
        if dialect == "postgresql"
        else (f"'{start:%Y-%m-%d %H:%M:%S}'", f"'{END:%Y-%m-%d %H:%M:%S}'")
    )
    return (
        "SELECT item_id, count(*) AS n, count(DISTINCT user_id) FROM event_history "
        f"WHERE service_id = {sid} AND at >= {since} AND at < {until} AND NOT removed "
        "AND event = 'seen' AND item_type = 'movie' GROUP BY 1 ORDER BY n DESC LIMIT 10"
    )


def time_raw(dialect: str, url: str, sql: str, runs: int = 3) -> float:
    """Median ms of a raw statement, through psql or sqlite3 (their start not counted)."""
    times = []
    for _ in range(runs):
        if dialect == "postgresql":
            out = psql(BENCH_DB, f"EXPLAIN (ANALYZE, TIMING OFF) {sql}")
            times.append(float(out.rsplit("Execution Time: ", 1)[1].split()[0]))
        else:
            with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
                started = time.perf_counter()
                conn.execute(sql).fetchall()
                times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def quantile(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(base: str, requests: int) -> dict[tuple[str, int], tuple[float, float, float]]:
    """(shape, days) -> (p50 ms, p99 ms, load average when measured) over HTTP."""
    found = {}
    with httpx.Client(base_url=base, timeout=120) as client:
        for item_type, shape in (("movie", "flat"), ("episode", "skewed")):
            for days in SPANS:
                start = END - dt.timedelta(days=days)
                path = (
                    f"/analytics/top/{item_type}/?event=seen&n=10"
                    f"&from={start.timestamp():.0f}&to={END.timestamp():.0f}"
                )
                first = client.get(path)
                assert first.status_code == 200, first.text
                assert len(first.json()["items"]) >= 10, first.text
                load = os.getloadavg()[0]
                times = call_times(client, path, requests)
                found[shape, days] = (quantile(times, 0.5), quantile(times, 0.99), load)
    return found


def use_index(present: bool) -> None:
    psql(BENCH_DB, f"DROP INDEX IF EXISTS {BRIN}")
    if present:
        psql(BENCH_DB, BRIN_SQL)
    psql(BENCH_DB, "VACUUM ANALYZE analytics_items")


def plan(sid: int, days: int) -> str:
    """The flat fallback's access path (EXPLAIN of the statement `top_totals` sends)."""
    start = END - dt.timedelta(days=days)
    out = psql(
        BENCH_DB,
        "EXPLAIN SELECT item_id, sum(events) FROM analytics_items "
        f"WHERE service_id = {sid} AND event = 'seen' AND item_type = 'movie' "
        f"AND day >= '{start.isoformat()}' AND day < '{END.isoformat()}' GROUP BY item_id",
    )
    scans = [line.strip().lstrip("-> ") for line in out.splitlines() if " on " in line]
    return "; ".join(s.split("  (")[0] for s in scans)


def run(dialect: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(dialect, BENCH_DB, tmp)
        env = tanktop_env(url, TANKTOP_KEY_CACHE_SECONDS="60")
        keys = [create_key(env, f"bench-top-flat-{k}") for k in range(args.services)]
        if dialect == "postgresql":
            sids = [int(x) for x in psql(BENCH_DB, "SELECT id FROM services ORDER BY id").split()]
        else:
            with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
                sids = [r[0] for r in conn.execute("SELECT id FROM services ORDER BY id")]
        rows = args.days * args.services * len(pairs(args)) * args.items
        print(
            f"{dialect}: building {rows:,} item rows ({args.days} days, {args.services} "
            f"service(s), {len(pairs(args))} event and item type pairs each, {args.items:,} "
            f"items a day of {args.catalogue:,})",
            flush=True,
        )
        started = time.perf_counter()
        if dialect == "postgresql":
            build_postgresql(args, sids)
            psql(BENCH_DB, "VACUUM ANALYZE analytics_items, event_history")
        else:
            build_sqlite(args, url.removeprefix("sqlite:///"), sids)
        print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
        arms = ["before", "after"] if dialect == "postgresql" else ["as is"]
        results: dict[str, list[dict[tuple[str, int], tuple[float, float, float]]]] = {
            arm: [] for arm in arms
        }
        plans: dict[str, str] = {}
        with running_server(env, "--no-worker") as server:
            base = f"{server.base_url}/api/1/{keys[0]}"
            for round_ in range(args.rounds):
                for arm in arms if round_ % 2 == 0 else arms[::-1]:
                    if dialect == "postgresql":
                        use_index(arm == "after")
                        plans[arm] = plan(sids[0], 30)
                    print(f"  round {round_ + 1}/{args.rounds}: {arm}", flush=True)
                    results[arm].append(measure(base, args.requests))
        raw = {
            days: time_raw(dialect, url, raw_top(dialect, sids[0], END - dt.timedelta(days=days)))
            for days in SPANS
        }
    print(
        f"\n{dialect}, top/ n=10 over HTTP, {args.requests} calls a figure: p50 / p99 ms "
        "(load average at the start of the figure's calls), the median of the rounds' figures"
    )
    for arm, rounds in results.items():
        if arm in plans:
            print(f"  {arm}: 30-day flat plan: {plans[arm]}")
        for shape in ("flat", "skewed"):
            cells = []
            for days in SPANS:
                p50, p99, load = (
                    statistics.median(r[shape, days][i] for r in rounds) for i in (0, 1, 2)
                )
                cells.append(f"{days:>2} d {p50:6.1f} / {p99:6.1f} (load {load:.1f})")
            print(f"  {arm:<7}{shape:<7}" + "   ".join(cells))
    spans = ", ".join(f"{d} d {ms:.0f} ms" for d, ms in raw.items())
    print(f"  raw GROUP BY over the history (flat, median of 3): {spans}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--items", type=int, default=3000, help="items a day")
    parser.add_argument("--catalogue", type=int, default=20_000)
    parser.add_argument("--services", type=int, default=1)
    parser.add_argument("--others", type=int, default=0, help="more flat pairs per service")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    for dialect in ["postgresql", "sqlite"] if args.database == "both" else [args.database]:
        run(dialect, args)


if __name__ == "__main__":
    main()
