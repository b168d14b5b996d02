"""A worker on CPUs of its own: the production shape of "a worker on another host" on one
machine, so that what the rollups cost ingestion beyond their CPU can be measured.

The worker process and the PostgreSQL backends serving its connections run on `worker_cpus`;
this process (and the children it starts afterwards: the API, pgbench) and every other backend
of the database on the rest. With `backends=False` the worker's backends stay on the rest too:
a worker on another host, PostgreSQL on the API's. Backends are forked by the postmaster with
its (whole) affinity, so a thread pins each new one within `every` seconds, by its client's TCP
port. PostgreSQL's own processes (WAL writer, checkpointer) stay where the kernel puts them:
they serve both sides, as on a shared database host.
"""

from __future__ import annotations

import os
import threading

import psutil

from bench.backends import backend_clients, client_ports


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
        self.pinned: dict[int, bool] = {}
        """Each backend pinned so far: True if the worker's."""
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
        if self.failure is not None:
            raise RuntimeError(f"pinning stopped during the run: {self.failure!r}")

    def repin(self) -> None:
        """Pin the worker's processes, and each backend not pinned yet."""
        if self.worker_pid is None:
            return
        try:
            worker = psutil.Process(self.worker_pid)
            members = [worker.pid, *(c.pid for c in worker.children(recursive=True))]
        except psutil.NoSuchProcess:
            return
        for member in members:
            pin(member, self.worker_cpus)
        worker_ports = client_ports(self.worker_pid)
        for backend, port in backend_clients(self.database).items():
            its = self.backends and port in worker_ports
            if self.pinned.get(backend) != its:
                pin(backend, self.worker_cpus if its else self.rest)
                self.pinned[backend] = its

    def _keep(self) -> None:
        try:
            while not self._stop.wait(self.every):
                self.repin()
        except Exception as error:  # told by stop(), not lost with the thread
            self.failure = error

    def describe(self) -> str:
        worker = sum(self.pinned.values())
        return (
            f"the worker and {worker} backends on CPU {sorted(self.worker_cpus)}; this bench, "
            f"the API and {len(self.pinned) - worker} backends on CPU {sorted(self.rest)}"
        )
