"""What the analytics rollups cost ingestion: the same writes without and with a worker
rolling them up, alternated in one run (PostgreSQL).

    python -m bench.rollup_cost [--rounds 4] [--seconds 5] [--concurrency 32]

Each round measures single-event POSTs (at `--concurrency`) and 1,000-event batches
(`POST /events/`, 4 at a time) twice: with no worker, then with a `tanktop worker` rolling up as
they arrive (training off: no retraining, and no first model while the writes pause). Before a
measurement with the worker, it first catches up with what the rounds before wrote, so it does
the steady-state work (what arrives) and not a backlog. Alternating spreads the drift of a
shared machine over both sides; the ratio of the medians is what the rollups cost. The write
path itself does nothing for analytics (workers read the history afterwards), so the cost is
the worker's CPU and reads beside the API.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time

from tests.servers import create_key, running_server, start_worker, tanktop_env

from bench.databases import fresh_database, psql
from bench.events import batch_posts, single_posts

BENCH_DB = "tanktop_bench_rollup_cost"
UNREAD = (
    "SELECT (SELECT coalesce(max(id), 0) FROM event_history) "
    "- (SELECT hwm FROM analytics_streams WHERE name = 'events')"
)


def caught_up(worker: subprocess.Popen[bytes], within: float = 1200) -> float:
    """Wait until the worker has rolled up the whole history; seconds it took."""
    started = time.monotonic()
    while int(psql(BENCH_DB, UNREAD) or 0) > 0:
        assert worker.poll() is None, "the worker stopped"
        assert time.monotonic() - started < within, "the worker did not catch up"
        time.sleep(0.2)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database("postgresql", BENCH_DB, tmp)
        env = tanktop_env(url, TANKTOP_KEY_CACHE_SECONDS="60")
        key = create_key(env, "bench-rollup-cost")
        worker_env = {  # rolling up only: no retraining, and no first model in a pause
            **env,
            "TANKTOP_RETRAIN_AFTER_EVENTS": "1000000000",
            "TANKTOP_FIRST_MODEL_QUIET_SECONDS": "1000000000",
        }
        found: dict[str, dict[bool, list[float]]] = {
            "single": {False: [], True: []},
            "batch": {False: [], True: []},
        }
        print(
            f"PostgreSQL, one API process, {args.rounds} rounds of {args.seconds:.0f} s per "
            f"measurement; single POSTs at {args.concurrency} concurrent, batches 4 at a time",
            flush=True,
        )
        with running_server(env, "--no-worker") as server:
            base = f"{server.base_url}/api/1/{key}"
            for round_ in range(1, args.rounds + 1):
                for with_worker in (False, True):
                    worker = start_worker(worker_env) if with_worker else None
                    try:
                        waited = caught_up(worker) if worker is not None else 0.0
                        single = asyncio.run(single_posts(base, args.seconds, args.concurrency))
                        _, per_s = asyncio.run(batch_posts(base, args.seconds))
                    finally:
                        if worker is not None:
                            worker.terminate()
                            worker.wait(300)  # a round under load can take a while
                    found["single"][with_worker].append(single.throughput)
                    found["batch"][with_worker].append(per_s)
                    print(
                        f"round {round_}, {'with' if with_worker else 'without'} worker"
                        f"{f' (caught up in {waited:.1f} s)' if worker else ''}: single "
                        f"{single.throughput:,.0f}/s (p99 {single.percentile(99):.1f} ms), "
                        f"batches {per_s:,.0f} events/s",
                        flush=True,
                    )
    for name, unit in (("single", "POSTs/s"), ("batch", "events/s")):
        without = statistics.median(found[name][False])
        with_ = statistics.median(found[name][True])
        print(
            f"{name}: median {without:,.0f} {unit} without a worker, {with_:,.0f} with: "
            f"x{with_ / without:.2f} ({with_ / without - 1:+.0%})"
        )


if __name__ == "__main__":
    main()
