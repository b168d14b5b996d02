"""What the analytics rollups cost ingestion: the same writes with no rollups, with a worker
rolling up as they arrive (at the API's priority, and niced), and with the rollups paused while
they arrive, alternated in one run (PostgreSQL).

    python -m bench.rollup_cost [--rounds 3] [--seconds 4] [--concurrency 32] [--nice 19]
                                [--rollup-seconds 2]

Each round measures single-event POSTs (at `--concurrency`) and 1,000-event batches
(`POST /events/`, 4 at a time), each five ways (each worker a process of its own, started for
its measurement):

- `none`: no worker;
- `eager`: a `tanktop worker` rolling up round after round as the writes arrive (it first
  catches up with what earlier measurements wrote, so it does the steady-state work, not a
  backlog), as workers did before `TANKTOP_ANALYTICS_ROLLUP_SECONDS`;
- `concurrent`: the same, rolling up every `--rollup-seconds` once caught up (the default);
- `niced`: the same at a lower CPU priority (`--nice`, what an operator gets with
  `nice -n 19 tanktop worker`): the API and the database come first, the rollups take the
  CPU they leave;
- `paused`: the same worker running, with the rollup lease held by this bench during the
  writes (what `tanktop analytics rebuild` does; an operator gets the same by running the API
  with `--no-worker` during a bulk import and a worker after it), then given back so the
  worker catches up.

The write path does nothing for analytics (workers read the history afterwards), so what the
rollups cost ingestion is the worker's CPU and its statements beside the API on the same
cores. Counted fairly, that is not only the writes' rate while the worker runs: what the worker
has not caught up with when the writes stop is work still owed. So each measurement with a
worker also times its catch-up after the writes, and the "sustained" rate is the events
written over the writes' time plus that catch-up (events ingested and counted per second; a
worker that had caught up waits up to `--rollup-seconds` for its next round, which counts
here too). Beside them, the worker's own CPU per 1,000 events written (from /proc; its
statements' share of PostgreSQL's CPU is not in it).
Alternating spreads the drift of a shared machine over all five; the ratios of the medians
against `none` are what the rollups cost. Training is off in the worker (no retraining, and no
first model while the writes pause).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.servers import create_key, running_server, start_worker, tanktop_env

from bench.databases import fresh_database, psql
from bench.events import batch_posts, single_posts
from bench.events import caught_up as caught_up_in

BENCH_DB = "tanktop_bench_rollup_cost"
PAUSER = "bench-rollup-cost"
MODES = ("none", "eager", "concurrent", "niced", "paused")


def caught_up(worker: subprocess.Popen[bytes], within: float = 1200) -> float:
    """Wait until the worker has rolled up the whole history of this bench's database."""
    return caught_up_in(worker, BENCH_DB, within)


def version() -> int:
    return int(psql(BENCH_DB, "SELECT version FROM analytics_streams WHERE name = 'events'"))


def ready(worker: subprocess.Popen[bytes], before: int, within: float = 300) -> None:
    """Wait until a worker started when the rollups were at `before` has done a round (even
    an empty one moves the stream's version): its start-up is not counted as rolling up."""
    started = time.monotonic()
    while version() == before:
        assert worker.poll() is None, "the worker stopped"
        assert time.monotonic() - started < within, "the worker did not start"
        time.sleep(0.1)


def pause(held: bool) -> None:
    """Hold the rollup lease (workers find it taken and roll nothing up), or give it back."""
    if held:
        while not psql(
            BENCH_DB,
            f"UPDATE analytics_streams SET lease_owner = '{PAUSER}', "
            "lease_until = now() + interval '1 hour' WHERE name = 'events' "
            "AND (lease_until IS NULL OR lease_until < now()) RETURNING name",
        ):
            time.sleep(0.05)  # a worker's round is in flight: wait for its lease to end
        return
    psql(
        BENCH_DB,
        "UPDATE analytics_streams SET lease_owner = NULL, lease_until = NULL "
        f"WHERE name = 'events' AND lease_owner = '{PAUSER}'",
    )


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (user and system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    write: Callable[[], tuple[int, float]], mode: str, worker: subprocess.Popen[bytes] | None
) -> tuple[float, float, float, float]:
    """(events/s while writing, events/s counting the catch-up after, catch-up seconds, the
    worker's CPU ms per 1,000 events written, catch-up included)."""
    cpu = 0.0
    if worker is not None:
        caught_up(worker)
        pause(mode == "paused")
        cpu = cpu_seconds(worker.pid)
    events, seconds = write()
    after = 0.0
    if worker is not None:
        pause(False)
        after = caught_up(worker)
        cpu = cpu_seconds(worker.pid) - cpu
    return events / seconds, events / (seconds + after), after, cpu * 1e6 / events


Write = Callable[[], tuple[int, float]]
"""Writes for a while; returns (events, seconds)."""


def writes(base: str, seconds: float, concurrency: int) -> dict[str, Write]:
    """The two workloads, each writing for `seconds`: single-event POSTs at `concurrency`,
    and 1,000-event batches 4 at a time."""

    def single() -> tuple[int, float]:
        found = asyncio.run(single_posts(base, seconds, concurrency))
        return found.requests, found.seconds

    def batch() -> tuple[int, float]:
        found, _ = asyncio.run(batch_posts(base, seconds))
        return found.requests * 1000, found.seconds

    return {"single": single, "batch": batch}


def fresh_service(folder: str, name: str) -> tuple[dict[str, str], dict[str, str], str]:
    """A fresh bench database with a service `name`: the API's environment, a worker's
    (rolling up only: no retraining, and no first model while the rollups pause), the key."""
    url = fresh_database("postgresql", BENCH_DB, folder)
    env = tanktop_env(url, TANKTOP_KEY_CACHE_SECONDS="60")
    worker_env = {
        **env,
        "TANKTOP_RETRAIN_AFTER_EVENTS": "1000000000",
        "TANKTOP_FIRST_MODEL_QUIET_SECONDS": "1000000000",
    }
    return env, worker_env, create_key(env, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--nice", type=int, default=19, help="the niced worker's nice (lower CPU priority)"
    )
    parser.add_argument(
        "--rollup-seconds",
        type=float,
        default=2.0,
        help="TANKTOP_ANALYTICS_ROLLUP_SECONDS of the concurrent and niced workers",
    )
    args = parser.parse_args()

    found: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env, worker_env, key = fresh_service(tmp, "bench-rollup-cost")
        print(
            f"PostgreSQL, one API process, {args.rounds} rounds of {args.seconds:.0f} s per "
            f"measurement; single POSTs at {args.concurrency} concurrent, batches of 1,000 "
            f"4 at a time; the worker rolling up every {args.rollup_seconds:g} s once caught "
            f"up, the niced one at nice {args.nice}",
            flush=True,
        )
        with running_server(env, "--no-worker") as server:
            workloads = writes(f"{server.base_url}/api/1/{key}", args.seconds, args.concurrency)
            for round_ in range(1, args.rounds + 1):
                for name, write in workloads.items():
                    for mode in MODES:
                        worker = None
                        try:
                            if mode != "none":
                                before = version()
                                env_of = {
                                    **worker_env,
                                    "TANKTOP_ANALYTICS_ROLLUP_SECONDS": "0"
                                    if mode == "eager"
                                    else str(args.rollup_seconds),
                                }
                                worker = start_worker(
                                    env_of, nice=args.nice if mode == "niced" else 0
                                )
                                ready(worker, before)
                            result = measure(write, mode, worker)
                        finally:
                            if worker is not None:
                                worker.terminate()
                                worker.wait(300)
                        found.setdefault((name, mode), []).append(result)
                        print(
                            f"round {round_}, {name}, {mode}: {result[0]:,.0f} events/s "
                            f"writing; {result[1]:,.0f} events/s with the catch-up after "
                            f"({result[2]:.1f} s); worker CPU {result[3]:,.0f} ms "
                            "per 1,000 events",
                            flush=True,
                        )
    for name in ("single", "batch"):
        base_rate = statistics.median(r[0] for r in found[(name, "none")])
        print(f"{name}: median {base_rate:,.0f} events/s with no rollups")
        for mode in MODES[1:]:
            writing = statistics.median(r[0] for r in found[(name, mode)])
            sustained = statistics.median(r[1] for r in found[(name, mode)])
            after = statistics.median(r[2] for r in found[(name, mode)])
            cpu = statistics.median(r[3] for r in found[(name, mode)])
            print(
                f"  {mode:<10} writing {writing:,.0f}/s (x{writing / base_rate:.2f}); with the "
                f"catch-up after ({after:.1f} s) {sustained:,.0f}/s "
                f"(x{sustained / base_rate:.2f}); worker CPU {cpu:,.0f} ms per 1,000 events"
            )


if __name__ == "__main__":
    main()
