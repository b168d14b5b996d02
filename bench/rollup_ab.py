"""What the analytics rollups cost ingestion, measured two steadier ways in one run (PostgreSQL):
many short rounds with the arms interleaved, and the CPU each side spends per event.

    python -m bench.rollup_ab [--rounds 8] [--seconds 3] [--concurrency 32]

One API process and one worker rolling up (every 2 s once caught up, the default) run
throughout: `bench.rollup_worker`, the worker with the rollups as its only task, so that its
CPU is the rollups' (`--tanktop-worker`: a whole `tanktop worker`, whose other tasks poll
the database each second too). Each round writes single-event POSTs (at `--concurrency`)
and 1,000-event batches (4 at a time) three ways, in a random order per round and workload:

- `none`: the worker stopped (SIGSTOP) with the rollup lease held: no worker at all;
- `paused`: the worker running, the lease held by this bench (as during a rebuild): an idle
  worker beside the writes, rolling nothing up;
- `on`: the worker rolling up as the events arrive.

After each arm the worker catches up (untimed for the rates). A round's ratios are `on` and
`paused` against its `none`; the medians over rounds come with a bootstrap 95% interval. On a
shared machine one 5-second measurement moves by more than 10% from the next; a ratio
within a round, over many rounds, moves less.

The CPU side reads /proc: the API process's and the worker's CPU, and each PostgreSQL
backend's, attributed to the API or the worker by its client's TCP port. Ingestion's cost per
event is the API and its backends while writing; the rollups' is the worker and its backends
over the writes and the catch-up after them (for `paused` and `none`, the catch-up alone: the
rollups measured apart from the writes). Their quotient `f` says what analytics adds to the
CPU of ingesting an event; where the CPU is what limits ingestion (two cores, the API and
PostgreSQL on them), a worker on the same cores leaves at best 1 / (1 + f) of the rate, and
a worker on another host 1 / (1 + f_backends), its PostgreSQL backends' share alone. The
write path itself does nothing for analytics (bench.rollup_cost's docstring says why).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import psutil
from tests.servers import running_server, start_worker

from bench.backends import backend_clients, client_ports, cpu_of
from bench.databases import psql
from bench.rollup_cost import (
    BENCH_DB,
    Write,
    caught_up,
    fresh_service,
    pause,
    ready,
    version,
    writes,
)

ARMS = ("none", "paused", "on")


Part = tuple[str, str]
"""(client, "process" or "backends"): the client process and its children, or the backends
serving its database connections."""


def snapshot(database: str, clients: dict[str, int]) -> dict[Part, dict[int, float]]:
    """CPU seconds so far of each process of each part of each client (a name for a pid)."""
    found: dict[Part, dict[int, float]] = {}
    for name, pid in clients.items():
        members = (pid, *(c.pid for c in psutil.Process(pid).children(recursive=True)))
        found[(name, "process")] = {member: cpu_of(member) for member in members}
        found[(name, "backends")] = {}
    ports = {name: client_ports(pid) for name, pid in clients.items()}
    for backend, port in backend_clients(database).items():
        for name, owned in ports.items():
            if port in owned:
                found[(name, "backends")][backend] = cpu_of(backend)
    return found


def spent(
    before: dict[Part, dict[int, float]], after: dict[Part, dict[int, float]]
) -> dict[Part, float]:
    """CPU seconds of each part between two snapshots (a process new since: all of its own;
    one gone since is lost, which pooled connections and a running worker make rare)."""
    return {
        part: sum(seconds - before.get(part, {}).get(pid, 0.0) for pid, seconds in used.items())
        for part, used in after.items()
    }


@dataclass(frozen=True)
class Arm:
    """One arm of one round; CPU in ms per 1,000 events written."""

    rate: float
    """Events per second while writing."""
    ingest: float
    """The API and its backends while writing."""
    ingest_backends: float
    rollup: float
    """The worker and its backends over the writes and the catch-up after them."""
    rollup_backends: float
    client: float
    """This bench's own process (the load generator) while writing."""
    catch_up: float
    """Seconds the worker took to catch up after the writes."""


ROLLUP_TABLES = "analytics_users, analytics_series, analytics_items, analytics_user_events"


def run_arm(
    arm: str,
    write: Write,
    worker: subprocess.Popen[bytes],
    clients: dict[str, int],
) -> Arm:
    caught_up(worker)
    if psql(BENCH_DB, "SHOW autovacuum") == "off":  # as autovacuum would (this shared server
        psql(BENCH_DB, f"ANALYZE {ROLLUP_TABLES}")  # runs without it): plans fit the tables
    if arm != "on":
        pause(True)
    if arm == "none":
        worker.send_signal(signal.SIGSTOP)
    before = snapshot(BENCH_DB, clients)
    client = time.process_time()
    events, seconds = write()
    client = time.process_time() - client
    during = snapshot(BENCH_DB, clients)
    if arm == "none":
        worker.send_signal(signal.SIGCONT)
    if arm != "on":
        pause(False)
    after = caught_up(worker)
    total = spent(before, snapshot(BENCH_DB, clients))
    writing = spent(before, during)
    scale = 1e6 / events
    return Arm(
        rate=events / seconds,
        ingest=(writing[("api", "process")] + writing[("api", "backends")]) * scale,
        ingest_backends=writing[("api", "backends")] * scale,
        rollup=(total[("worker", "process")] + total[("worker", "backends")]) * scale,
        rollup_backends=total[("worker", "backends")] * scale,
        client=client * scale,
        catch_up=after,
    )


def median_and_interval(values: list[float], draws: int = 4000) -> tuple[float, float, float]:
    """The median and a bootstrap 95% interval of it (rounds resampled with replacement)."""
    medians = sorted(statistics.median(random.choices(values, k=len(values))) for _ in range(draws))
    return statistics.median(values), medians[int(0.025 * draws)], medians[int(0.975 * draws)]


def report(name: str, arms: dict[str, list[Arm]]) -> None:
    def mid(values: list[float]) -> str:
        middle, low, high = median_and_interval(values)
        return f"x{middle:.3f} (95% {low:.3f}-{high:.3f})"

    none = arms["none"]
    print(
        f"{name}: {len(none)} rounds; no worker, median "
        f"{statistics.median(a.rate for a in none):,.0f} events/s"
    )
    for arm in ("paused", "on"):
        ratios = [a.rate / n.rate for a, n in zip(arms[arm], none, strict=True)]
        print(f"  {arm:<6} writing against none in the same round: {mid(ratios)}")
    ingest = statistics.median(a.ingest for arm in ("none", "paused") for a in arms[arm])
    ingest_db = statistics.median(
        a.ingest_backends for arm in ("none", "paused") for a in arms[arm]
    )
    ingest_on = statistics.median(a.ingest for a in arms["on"])
    apart = [a for arm in ("none", "paused") for a in arms[arm]]
    rollup = statistics.median(a.rollup for a in apart)
    rollup_db = statistics.median(a.rollup_backends for a in apart)
    rollup_on = statistics.median(a.rollup for a in arms["on"])
    client = statistics.median(a.client for arm in arms.values() for a in arm)
    f, f_db = rollup / ingest, rollup_db / ingest
    print(
        f"  CPU per 1,000 events: ingestion {ingest:.0f} ms (API process {ingest - ingest_db:.0f}, "
        f"its backends {ingest_db:.0f}; {ingest_on:.0f} with the worker on); rollups "
        f"{rollup:.0f} ms apart from the writes (worker {rollup - rollup_db:.0f}, its "
        f"backends {rollup_db:.0f}), {rollup_on:.0f} beside them; load generator {client:.0f} ms"
    )
    print(
        f"  f = rollups / ingestion = {f:.3f}: a worker on the same cores leaves at best "
        f"x{1 / (1 + f):.3f} where the CPU limits ingestion; on another host (its backends "
        f"only, f = {f_db:.3f}) x{1 / (1 + f_db):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--tanktop-worker",
        action="store_true",
        help="a whole `tanktop worker` (its other tasks' CPU counted as the rollups')",
    )
    args = parser.parse_args()

    found: dict[str, dict[str, list[Arm]]] = {
        name: {arm: [] for arm in ARMS} for name in ("single", "batch")
    }
    with tempfile.TemporaryDirectory() as tmp:
        env, worker_env, key = fresh_service(tmp, "bench-rollup-ab")
        print(
            f"PostgreSQL, one API process and one worker ("
            f"{'tanktop worker' if args.tanktop_worker else 'the rollups alone'}, rolling up "
            f"every 2 s once caught up), {args.rounds} rounds of {args.seconds:g} s per arm; "
            f"single POSTs at {args.concurrency} concurrent, batches of 1,000 4 at a time",
            flush=True,
        )
        with running_server(env, "--no-worker") as server:
            workloads = writes(f"{server.base_url}/api/1/{key}", args.seconds, args.concurrency)
            before = version()
            worker = (
                start_worker(worker_env)
                if args.tanktop_worker
                else subprocess.Popen(
                    [sys.executable, "-m", "bench.rollup_worker"],
                    env=worker_env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            try:
                ready(worker, before)
                clients = {"api": server.process.pid, "worker": worker.pid}
                for round_ in range(1, args.rounds + 1):
                    for name, write in workloads.items():
                        for arm in random.sample(ARMS, len(ARMS)):
                            load = os.getloadavg()[0]
                            result = run_arm(arm, write, worker, clients)
                            found[name][arm].append(result)
                            print(
                                f"round {round_}, {name}, {arm}: {result.rate:,.0f} events/s; "
                                f"per 1,000 events ingestion {result.ingest:.0f} ms CPU, "
                                f"rollups {result.rollup:.0f} ms (catch-up "
                                f"{result.catch_up:.1f} s); load {load:.1f}",
                                flush=True,
                            )
            finally:
                worker.send_signal(signal.SIGCONT)
                worker.terminate()
                worker.wait(300)
    for name, arms in found.items():
        report(name, arms)


if __name__ == "__main__":
    main()
