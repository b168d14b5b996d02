"""Where the slowest 1% of a hot path's requests wait, timed inside the server.

    python -m bench.tail [--seconds 5] [--runs 3] [--path bookmarks|get] [--beside-writers]

`bench.hotpaths`' set-up (on a database of its own) served by one `tanktop serve` with a timing
hook (`bench.phasehook`), `pg_stat_activity` sampled meanwhile. `--runs` wrk runs of the path at
8 connections, then the writers `bench.hotpaths` runs before its latency goals (pgbench on the
bare tables and single `POST`s, at 8 and 64 connections), then `--runs` more. For each run:
wrk's p50 and p99, the server's own p99, and for its slowest 1% against the middle half: the
time in each phase (each statement, the pool checkout, the rate limiter, writing the answer,
queued in uvicorn before the app), how much of the statements' time the event loop was running
(else the process was not), how many overlapped a collection, a rate-limit take or a stall, and
what the backends running their statements were doing when sampled (a wait event, or none:
running or waiting for a core). Issue 18's bookmarks tail was found this way (README). With
`--beside-writers`, 8 connections post events to the same server through each measured run (the
`GET` goal's "p99 < 5 ms under 8 writers"); only the measured path's requests are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import asyncpg

from bench import wrk
from bench.databases import pg_url
from bench.events import pgbench_ceiling
from bench.hotpaths import BARE_TRANSACTION, get_paths, post_paths, prepared

DATABASE = "tanktop_bench_tail"
ROOT = Path(__file__).resolve().parents[1]
SITE = """import os
if os.environ.get("BENCH_PHASES"):
    from bench.phasehook import install
    install(os.environ["BENCH_PHASES"])
"""
_ACTIVITY = """
SELECT extract(epoch FROM clock_timestamp())::float8, coalesce(wait_event_type, ''),
       coalesce(wait_event, ''), left(query, 60)
FROM pg_stat_activity
WHERE datname = $1 AND state = 'active' AND backend_type = 'client backend'
  AND pid <> pg_backend_pid()
"""


class Sampler(threading.Thread):
    """`pg_stat_activity` of the database's active backends, every 5 ms, until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, str, str, str]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        async def sample() -> None:
            conn = await asyncpg.connect(pg_url(DATABASE))
            while not self.stop.is_set():
                self.samples.extend(tuple(r) for r in await conn.fetch(_ACTIVITY, DATABASE))
                await asyncio.sleep(0.005)
            await conn.close()

        asyncio.run(sample())


def _overlaps(events: list[dict[str, Any]], start: float, end: float) -> set[str]:
    return {e["ev"] for e in events if e["t"] < end and start < e["t"] + e["d"]}


def report(records: list[dict[str, Any]], samples: list[tuple[float, str, str, str]]) -> None:
    """The slowest 1% of the requests in `records` against the middle half."""
    requests = sorted((r for r in records if r["ev"] == "request"), key=lambda r: r["d"])
    events = [r for r in records if r["ev"] != "request"]
    if len(requests) < 100:
        print("    too few requests timed")
        return
    n = len(requests)
    slow, middle = requests[int(n * 0.99) :], requests[n // 4 : 3 * n // 4]
    print(
        f"    server: p50 {requests[n // 2]['d'] * 1000:.1f} ms, p99 "
        f"{requests[int(n * 0.99)]['d'] * 1000:.1f} ms, slowest {requests[-1]['d'] * 1000:.1f} ms"
    )

    def per_phase(group: list[dict[str, Any]]) -> dict[str, float]:
        total: defaultdict[str, float] = defaultdict(float)
        for r in group:
            total["queued before the app"] += r["queued"]
            for name, spans in r["phases"].items():
                total[name] += sum(d for _, d in spans)
        return {name: ms * 1000 / len(group) for name, ms in total.items()}

    slow_ms, middle_ms = per_phase(slow), per_phase(middle)
    print(f"    slowest 1% ({len(slow)}) against the middle half, ms per request:")
    for name in sorted(slow_ms, key=lambda k: -slow_ms[k])[:8]:
        print(f"      {slow_ms[name]:8.2f}  {middle_ms.get(name, 0):6.2f}  {name}")
    statements = [
        (start, start + d)
        for r in slow
        for name, spans in r["phases"].items()
        if name.startswith("fetch")
        for start, d in spans
    ]
    stalls = [(e["t"], e["t"] + e["d"]) for e in events if e["ev"] in ("stall", "gc")]
    waited = sum(b - a for a, b in statements)
    held = sum(
        max(0.0, min(b, s1) - max(a, s0)) for a, b in statements for s0, s1 in stalls if s0 < b
    )
    if waited:
        print(
            f"    of the slow requests' statement time, the event loop ran {1 - held / waited:.0%}"
        )
    for kind in ("gc", "take (database)", "take (Redis)", "stall"):
        hit = sum(kind in _overlaps(events, r["t"], r["t"] + r["d"]) for r in slow)
        every = sum(kind in _overlaps(events, r["t"], r["t"] + r["d"]) for r in requests)
        if every:
            print(
                f"    overlapping a {kind}: {hit / len(slow):.0%} of the slow, "
                f"{every / n:.1%} of all"
            )
    waits: Counter[str] = Counter()
    for r in slow:
        for name, spans in r["phases"].items():
            if name.startswith("fetch"):
                for start, d in spans:
                    statement = name.split(": ", 1)[-1][:30]
                    for t, kind, event, query in samples:
                        if start <= t <= start + d and " ".join(query.split())[:30] == statement:
                            waits[f"{kind}:{event}" if kind else "no wait event"] += 1
    if waits:
        seen = sum(waits.values())
        shares = ", ".join(f"{k} {v / seen:.0%}" for k, v in waits.most_common(5))
        print(f"    their backends, sampled ({seen}): {shares}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--path", choices=("bookmarks", "get"), default="bookmarks")
    parser.add_argument("--beside-writers", action="store_true", help="8 posting meanwhile")
    args = parser.parse_args()
    wrk.require_wrk()
    rng = random.Random(18)
    with tempfile.TemporaryDirectory() as site:
        Path(site, "sitecustomize.py").write_text(SITE)
        timing = Path(site, "phases.jsonl")
        hooked = {"BENCH_PHASES": str(timing), "PYTHONPATH": f"{site}:{ROOT}"}
        with prepared(database=DATABASE, serve_env=hooked) as setup:
            if args.path == "bookmarks":
                paths = [f"/api/1/{setup.key}/bookmark/u/"]
            else:
                paths = get_paths(setup.key, rng)
            # only the measured requests: the GETs' users are f…, the writers' u…
            measured = "/bookmark/" if args.path == "bookmarks" else "/event/f"
            sampler = Sampler()
            sampler.start()

            def measure(name: str) -> None:
                wrk.run(name, setup.base, paths, server_pid=setup.pid, seconds=1)
                time.sleep(0.7)  # the hook writes every 0.5 s
                writers = (
                    wrk.start(
                        setup.base,
                        post_paths(setup.key, rng),
                        method="POST",
                        connections=8,
                        seconds=args.seconds + 1,
                    )
                    if args.beside_writers
                    else None
                )
                timing.write_text("")
                began = time.time()
                found = wrk.run(name, setup.base, paths, server_pid=setup.pid, seconds=args.seconds)
                time.sleep(0.7)
                if writers:
                    print(wrk.finish("  (the 8 posting beside it)", writers).row(), flush=True)
                print(
                    f"{found.row()}   load {' '.join(f'{x:.1f}' for x in os.getloadavg())}",
                    flush=True,
                )
                records = [json.loads(line) for line in timing.read_text().splitlines()]
                samples = [s for s in sampler.samples if s[0] >= began]
                report(
                    [r for r in records if r["ev"] != "request" or measured in r["path"]], samples
                )

            for n in range(args.runs):
                measure(f"{args.path}, before the writers ({n + 1})")
            for level in (8, 64):
                pgbench_ceiling(
                    setup.sid,
                    args.seconds,
                    level,
                    database=DATABASE,
                    transaction=BARE_TRANSACTION,
                    url=setup.database_url,
                )
                wrk.run(
                    "",
                    setup.base,
                    post_paths(setup.key, rng),
                    server_pid=setup.pid,
                    method="POST",
                    connections=level,
                    seconds=args.seconds,
                )
            print("(pgbench and single POSTs at 8 and 64 connections)", flush=True)
            for n in range(args.runs):
                measure(f"{args.path}, after the writers ({n + 1})")
            sampler.stop.set()


if __name__ == "__main__":
    main()
