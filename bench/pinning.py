"""A worker on CPUs of its own: the production shape of "a worker on another host" on one
machine, so that what the rollups cost ingestion beyond their CPU can be measured.

The worker process and the PostgreSQL backends serving its connections run on `worker_cpus`;
this process (and the children it starts afterwards: the API, pgbench) and every other backend
of the database on the rest. With `backends=False` the worker's backends stay on the rest too:
a worker on another host, PostgreSQL on the API's. Backends are forked by the postmaster with
its (whole) affinity, so a thread pins each new one within `every` seconds, by its client's TCP
port. PostgreSQL's own processes (WAL writer, checkpointer, background writer, launchers) stay
where the kernel puts them, as on a shared database host, unless `auxiliaries(True)` moves them
to the worker's CPUs (and `auxiliaries(False)` or `stop` puts them back where they were), so
that what they cost the API can be measured; a parallel query's workers go with their leader.
"""

from __future__ import annotations

import os
import threading

import psutil

from bench.backends import PgProcess, client_ports, pg_processes

SERVED = ("client backend", "parallel worker")
"""The processes that serve one client (each of the others serves the whole server)."""


def sides(
    processes: list[PgProcess],
    database: str,
    worker_ports: set[int],
    *,
    backends: bool = True,
    auxiliaries: bool = False,
) -> dict[int, bool | None]:
    """Where each PostgreSQL process goes: True on the worker's CPUs, False on the rest, None
    where it was before (not pinned by us). `database`'s backends go with the worker if
    `backends` and their client is the worker's (by TCP port), else with the rest; a parallel
    worker goes with its leader; PostgreSQL's own processes (no client: WAL writer,
    checkpointer, background writer, launchers, autovacuum) go with the worker if
    `auxiliaries`; other databases' backends (other clients') are left alone."""
    placed: dict[int, bool | None] = {}
    for process in processes:
        if process.backend_type == "client backend" and process.database == database:
            placed[process.pid] = backends and process.client_port in worker_ports
        elif process.backend_type not in SERVED:
            placed[process.pid] = True if auxiliaries else None
    for process in processes:
        if process.backend_type == "parallel worker" and process.leader_pid in placed:
            placed[process.pid] = placed[process.leader_pid]
    return placed


def pin(pid: int, cpus: set[int]) -> None:
    """Put a process and its threads on `cpus` (a process gone meanwhile is left alone)."""
    try:
        for thread in os.listdir(f"/proc/{pid}/task"):
            os.sched_setaffinity(int(thread), cpus)
    except (FileNotFoundError, ProcessLookupError):
        pass


class Apart:
    """The worker (`follow`: its process, its children and its backends) on `worker_cpus`;
    this process, what it starts, and the rest of `database`'s backends on the other CPUs
    (from construction on, so that what runs before the worker starts sees the same CPUs)."""

    def __init__(
        self, database: str, worker_cpus: set[int], *, backends: bool = True, every: float = 0.5
    ) -> None:
        self.database = database
        self.worker_cpus = worker_cpus
        self.backends = backends
        """Whether the worker's backends go with it (a database host with room for both), or
        stay with the API's (PostgreSQL on the API's host)."""
        self.rest = set(range(os.cpu_count() or 1)) - worker_cpus
        if not self.rest or not worker_cpus:
            raise ValueError(f"no CPUs apart: worker {worker_cpus}, rest {self.rest}")
        self.every = every
        self.worker_pid: int | None = None
        self.pinned: dict[int, bool | None] = {}
        """Each process pinned so far: True if on the worker's CPUs, None if put back."""
        self.moved = False
        """Whether PostgreSQL's own processes go on the worker's CPUs (`auxiliaries`)."""
        self.before: dict[int, set[int]] = {}
        """The CPUs each process had before it was first pinned."""
        self.own: set[int] = set()
        """PostgreSQL's own processes seen (`auxiliaries(False)` puts them back)."""
        self._lock = threading.Lock()
        self.failure: Exception | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._keep, daemon=True)
        pin(os.getpid(), self.rest)

    def follow(self, worker_pid: int) -> None:
        """Pin the worker and its backends now, and new backends until `stop`."""
        self.worker_pid = worker_pid
        self.repin()
        self._thread.start()

    def stop(self) -> None:
        """Stop pinning; fails if pinning stopped early (the measurement was not apart)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.auxiliaries(False)
        if self.failure is not None:
            raise RuntimeError(f"pinning stopped during the run: {self.failure!r}")

    def auxiliaries(self, on: bool) -> None:
        """Move PostgreSQL's own processes to the worker's CPUs (`on`, from the next `repin`
        on), or back to the CPUs they had (now, whether or not the worker still runs)."""
        with self._lock:
            self.moved = on
            if not on:
                for pid, cpus in self.before.items():
                    if pid in self.own:
                        pin(pid, cpus)
                        self.pinned[pid] = None
        if on:
            self.repin()

    def repin(self) -> None:
        """Pin the worker's processes, and each process not where it goes yet."""
        with self._lock:
            self._repin()

    def _repin(self) -> None:
        if self.worker_pid is None:
            return
        try:
            worker = psutil.Process(self.worker_pid)
            members = [worker.pid, *(c.pid for c in worker.children(recursive=True))]
        except psutil.NoSuchProcess:
            return
        for member in members:
            pin(member, self.worker_cpus)
        processes = pg_processes(self.database)
        self.own |= {p.pid for p in processes if p.backend_type not in SERVED}
        placed = sides(
            processes,
            self.database,
            client_ports(self.worker_pid),
            backends=self.backends,
            auxiliaries=self.moved,
        )
        for pid, its in placed.items():
            if self.pinned.get(pid, None) == its:
                continue
            if its is None:
                if pid in self.before:
                    pin(pid, self.before[pid])
            else:
                if pid not in self.before and pid not in self.pinned:
                    try:
                        self.before[pid] = os.sched_getaffinity(pid)
                    except (ProcessLookupError, OSError):
                        continue
                pin(pid, self.worker_cpus if its else self.rest)
            self.pinned[pid] = its

    def _keep(self) -> None:
        try:
            while not self._stop.wait(self.every):
                self.repin()
        except Exception as error:  # told by stop(), not lost with the thread
            self.failure = error

    def describe(self) -> str:
        worker = sum(1 for its in self.pinned.values() if its)
        rest = sum(1 for its in self.pinned.values() if its is False)
        return (
            f"the worker and {worker} processes of PostgreSQL on CPU {sorted(self.worker_cpus)}; "
            f"this bench, the API and {rest} on CPU {sorted(self.rest)}"
        )
