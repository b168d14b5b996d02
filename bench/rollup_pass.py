"""What one rollup costs per event, in process: the worker's CPU and its PostgreSQL backends'.

    python -m bench.rollup_pass [--events 60000] [--round 3000] [--repeat 3]

Writes `--events` events shaped like `bench.events`' (uniform over 100,000 items and 10,000
users, all in the current hour) straight into the history of a fresh PostgreSQL database, then
rolls them up with the worker's own task in rounds of `--round` rows (3,000: what a worker
that rolls up every 2 s reads beside 1,500 single POSTs/s; a tanktop worker's full round on
PostgreSQL is 100,000, `rollup.BATCH`), and
reports per 1,000 events: wall time, the process's CPU and the CPU of its PostgreSQL
backends (read from /proc, so another session's load changes the wall time, much less the
CPU). `--repeat` starts over on a fresh database each time.

    python -m bench.rollup_pass --without-index ix_analytics_items_day [--repeat 6]

A/B: two arms alternated in one run (A B B A ...), each on a fresh database: `with`, as
migrated, and `without`, that index dropped after the migrations; the medians per arm and
`with` against `without` (what the index costs a round).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time

from tests.servers import create_key, tanktop_env

from bench.backends import backend_clients, cpu_of
from bench.databases import fresh_database, psql
from tanktop.analytics.rollup import USERS, roll_up
from tanktop.db import Database

BENCH_DB = "tanktop_bench_rollup_pass"


def backends_cpu(database: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to `database` (not psql's)."""
    return {pid: cpu_of(pid) for pid in backend_clients(database)}


def fill(sid: int, events: int) -> None:
    psql(
        BENCH_DB,
        f"""
        INSERT INTO event_history (service_id, user_id, event, item_type, item_id, value, at,
                                   origin, removed)
        SELECT {sid}, 'b' || (1 + floor(random() * 10000))::int, 'seen', 'movie',
               (1 + floor(random() * 100000))::int::text, 'null'::jsonb,
               date_trunc('hour', now()) + random() * interval '50 minutes', 'batch', false
        FROM generate_series(1, {events}) n;
        ANALYZE event_history;""",
    )


async def one_pass(url: str, sid: int, events: int, size: int) -> tuple[float, float, float]:
    """(wall, process CPU, backends' CPU) seconds to roll `events` up in rounds of `size`."""
    db = Database(url, pool_size=2)
    USERS.clear()
    try:
        await roll_up(db, 1)  # the pool's connections open, the streams exist
        fill(sid, events)
        before = backends_cpu(BENCH_DB)
        cpu, wall = time.process_time(), time.perf_counter()
        while await roll_up(db, size) > 0:
            pass
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        after = backends_cpu(BENCH_DB)
    finally:
        await db.dispose()
    backends = sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())
    return wall, cpu, backends


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--round", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--without-index",
        metavar="NAME",
        help="A/B: alternate passes with this index and without it (dropped), --repeat each",
    )
    args = parser.parse_args()
    arms = ["with", "without"] if args.without_index else [""]
    order = [arms[(k + k // 2) % len(arms)] for k in range(args.repeat * len(arms))]  # ABBA
    found: dict[str, list[tuple[float, float, float]]] = {arm: [] for arm in arms}
    for arm in order:
        with tempfile.TemporaryDirectory() as tmp:
            url = fresh_database("postgresql", BENCH_DB, tmp)
            create_key(tanktop_env(url), "bench-rollup-pass")
            sid = int(psql(BENCH_DB, "SELECT id FROM services WHERE name = 'bench-rollup-pass'"))
            if arm == "without":
                psql(BENCH_DB, f"DROP INDEX {args.without_index}")
            load = os.getloadavg()[0]
            wall, cpu, backends = asyncio.run(one_pass(url, sid, args.events, args.round))
            scale = 1e6 / args.events
            found[arm].append((wall * scale, cpu * scale, backends * scale))
            print(
                f"{arm + ': ' if arm else ''}{args.events:,} events in rounds of "
                f"{args.round:,}: {wall:.2f} s ({args.events / wall:,.0f}/s); per 1,000 "
                f"events: process CPU {cpu * scale:.0f} ms, PostgreSQL backends "
                f"{backends * scale:.0f} ms (load {load:.1f})",
                flush=True,
            )
    together, backend = {}, {}
    for arm, passes in found.items():
        wall, cpu, backends = (statistics.median(f[i] for f in passes) for i in range(3))
        together[arm], backend[arm] = cpu + backends, backends
        print(
            f"{arm + ' ' if arm else ''}median per 1,000 events: wall {wall:.0f} ms, process CPU "
            f"{cpu:.0f} ms, backends {backends:.0f} ms, together {cpu + backends:.0f} ms"
        )
    if args.without_index:
        print(
            f"with {args.without_index} against without: CPU together "
            f"x{together['with'] / together['without']:.3f}, backends "
            f"x{backend['with'] / backend['without']:.3f}"
        )


if __name__ == "__main__":
    main()
