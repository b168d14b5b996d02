"""Why the `GET` p99 beside writers rises with a worker on a CPU of its own (`bench.events
--worker --apart all`): the read phase alone, in four arms alternated in one run.

    python -m bench.read_tail [--seconds 20] [--rounds 2] [--events 1000000]

Set up as `bench.events` (a fresh database, a caught-up worker; 1M events stored), the worker
and its backends on CPU 1 and this bench, the API and its backends on CPU 0 (`bench.pinning`).
Each round measures `bench.events`' read phase (`GET` 10 ids, 4 at a time, beside 8 single
`POST` writers) four ways, in an order that rotates from round to round: the worker stopped
(SIGSTOP) or rolling up, each with PostgreSQL's own processes (WAL writer, checkpointer,
background writer, launchers) where the kernel puts them or pinned to the worker's CPU. Beside
each arm: the `GET` and `POST` p50/p99, the load average, CPU 0's busy share and the CPU
seconds other processes than the bench's (load generator, API, API backends) took on it
(CPU 0's busy time less theirs, which may run nowhere else), the CPU each of
PostgreSQL's own processes spent, the wait events of the API's active backends (sampled every
20 ms), and the deltas of pg_stat_wal, pg_stat_bgwriter and the database's block hits.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import signal
import statistics
import tempfile
import threading
from dataclasses import dataclass, field

import asyncpg
import psutil
from tests.servers import create_key, running_server, start_worker, tanktop_env

from bench.backends import cpu_of, pg_processes
from bench.databases import fresh_database, pg_url, psql
from bench.events import caught_up, fill, read_and_write_phase, service_id
from bench.loadgen import LoadResult
from bench.pinning import SERVED, Apart

DATABASE = "tanktop_bench_read_tail"
STATS = {
    "wal": "SELECT wal_records, wal_bytes, wal_write, wal_sync, wal_buffers_full FROM pg_stat_wal",
    "bgwriter": (
        "SELECT checkpoints_timed + checkpoints_req, buffers_checkpoint, buffers_clean, "
        "buffers_backend, buffers_backend_fsync FROM pg_stat_bgwriter"
    ),
    "blocks": (
        "SELECT blks_read, blks_hit, xact_commit FROM pg_stat_database "
        "WHERE datname = current_database()"
    ),
}
NAMES = {
    "wal": ["records", "bytes", "writes", "syncs", "buffers full"],
    "bgwriter": ["checkpoints", "buf checkpoint", "buf clean", "buf backend", "backend fsync"],
    "blocks": ["read", "hit", "commits"],
}


def stats(database: str) -> dict[str, list[float]]:
    return {name: [float(v) for v in psql(database, sql).split("|")] for name, sql in STATS.items()}


def cpu0_busy() -> tuple[float, float]:
    """CPU 0's busy and total jiffies so far (/proc/stat)."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu0 "):
                values = [float(v) for v in line.split()[1:]]
                idle = values[3] + values[4]
                return sum(values) - idle, sum(values)
    raise RuntimeError("no cpu0 in /proc/stat")


class WaitSampler:
    """Counts the wait events of `database`'s active backends that `apart` put on the rest
    (the API's), every `every` seconds, in a thread of its own, until `stop`."""

    def __init__(self, database: str, apart: Apart, every: float = 0.02) -> None:
        self.database, self.apart, self.every = database, apart, every
        self.counts: collections.Counter[str] = collections.Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()

    async def _run(self) -> None:
        conn = await asyncpg.connect(pg_url(self.database))
        try:
            while not self._stop.is_set():
                rows = await conn.fetch(
                    "SELECT pid, coalesce(wait_event_type || ':' || wait_event, 'CPU') AS w "
                    "FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'active' AND pid <> pg_backend_pid()"
                )
                self.samples += 1
                for row in rows:
                    if self.apart.pinned.get(row["pid"]) is False:
                        self.counts[row["w"]] += 1
                await asyncio.sleep(self.every)
        finally:
            await conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Arm:
    name: str
    reads: list[LoadResult] = field(default_factory=list)
    writes: list[LoadResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def auxiliary_cpu(database: str) -> dict[str, float]:
    return {
        p.backend_type: cpu_of(p.pid)
        for p in pg_processes(database)
        if p.backend_type not in SERVED
    }


def bench_side_cpu(apart: Apart, server: int) -> float:
    """CPU seconds so far of what runs on CPU 0 for the bench: this process (the load
    generator), the API's processes and the API's backends."""
    pids = [os.getpid(), server, *(c.pid for c in psutil.Process(server).children(True))]
    pids += [pid for pid, its in apart.pinned.items() if its is False]
    return sum(cpu_of(pid) for pid in pids)


def measure(arm: Arm, database: str, apart: Apart, server: int, base: str, seconds: float) -> None:
    before, busy0, aux0 = stats(database), cpu0_busy(), auxiliary_cpu(database)
    side0 = bench_side_cpu(apart, server)
    sampler = WaitSampler(database, apart)
    try:
        reads, writes = asyncio.run(read_and_write_phase(base, seconds))
    finally:
        sampler.stop()
    after, busy1, aux1 = stats(database), cpu0_busy(), auxiliary_cpu(database)
    side = bench_side_cpu(apart, server) - side0
    others = (busy1[0] - busy0[0]) / os.sysconf("SC_CLK_TCK") - side
    arm.reads.append(reads)
    arm.writes.append(writes)
    load = os.getloadavg()[0]
    busy = (busy1[0] - busy0[0]) / max(1.0, busy1[1] - busy0[1])
    aux = ", ".join(f"{k} {1000 * (aux1.get(k, 0) - v):.0f}" for k, v in sorted(aux0.items()))
    deltas = "; ".join(
        f"{group} "
        + ", ".join(
            f"{n} {a - b:,.0f}"
            for n, a, b in zip(NAMES[group], after[group], before[group], strict=True)
        )
        for group in STATS
    )
    total = sum(sampler.counts.values()) or 1
    waits = ", ".join(f"{w} {100 * c / total:.0f}%" for w, c in sampler.counts.most_common(6))
    arm.notes.append(
        f"{arm.name}: GET p50 {reads.percentile(50):.2f} p99 {reads.percentile(99):.2f} ms "
        f"({reads.throughput:,.0f}/s); POST p50 {writes.percentile(50):.2f} p99 "
        f"{writes.percentile(99):.2f} ms ({writes.throughput:,.0f}/s); load {load:.2f}; "
        f"CPU 0 busy {busy:.0%}, of which others {others:.2f} s of {seconds:.0f}\n"
        f"    API backends' waits ({sampler.samples} samples, {total} active): {waits}\n"
        f"    own processes' CPU ms: {aux}\n    {deltas}"
    )
    print(arm.notes[-1], flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database-name", default=DATABASE)
    args = parser.parse_args()
    database = args.database_name
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database("postgresql", database, tmp)
        apart = Apart(database, {1})
        env = tanktop_env(url, TANKTOP_KEY_CACHE_SECONDS="60")
        key = create_key(env, "bench-read-tail")
        sid = service_id(url, "bench-read-tail", database)
        fill(url, sid, args.events, database=database)
        worker = start_worker({**env, "TANKTOP_RETRAIN_AFTER_EVENTS": "1000000000"})
        apart.follow(worker.pid)
        arms = {
            (stopped, moved): Arm(
                ("no worker" if stopped else "worker rolling up")
                + (", own processes on CPU 1" if moved else ", own processes unpinned")
            )
            for stopped in (True, False)
            for moved in (False, True)
        }
        order = list(arms)
        try:
            with running_server(env, "--no-worker") as server:
                base = f"{server.base_url}/api/1/{key}"
                caught_up(worker, database)
                asyncio.run(read_and_write_phase(base, 3))  # untimed warm-up
                for round_ in range(args.rounds):
                    print(f"round {round_ + 1}", flush=True)
                    for stopped, moved in order[round_ % 4 :] + order[: round_ % 4]:
                        caught_up(worker, database)
                        apart.auxiliaries(moved)
                        if stopped:
                            worker.send_signal(signal.SIGSTOP)
                        try:
                            measure(
                                arms[stopped, moved],
                                database,
                                apart,
                                server.process.pid,
                                base,
                                args.seconds,
                            )
                        finally:
                            if stopped:
                                worker.send_signal(signal.SIGCONT)
        finally:
            print(apart.describe())
            apart.stop()
            worker.terminate()
            worker.wait(30)
    print("\nGET 10 ids p99, mean over rounds (ratio to no worker, own processes unpinned):")
    reference = statistics.mean(r.percentile(99) for r in arms[True, False].reads)
    for arm in arms.values():
        p99 = statistics.mean(r.percentile(99) for r in arm.reads)
        post = statistics.mean(r.percentile(99) for r in arm.writes)
        rounds = ", ".join(f"{r.percentile(99):.2f}" for r in arm.reads)
        print(
            f"  {arm.name:<45} {p99:6.2f} ms  x{p99 / reference:.2f}  "
            f"(POST p99 {post:.2f} ms; each round {rounds})"
        )


if __name__ == "__main__":
    main()
