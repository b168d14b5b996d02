"""Which PostgreSQL backends serve which client process, and the CPU each process has spent:
how the benches attribute the database's work to the API or to the worker."""

from __future__ import annotations

from dataclasses import dataclass

import psutil

from bench.databases import psql


@dataclass(frozen=True)
class PgProcess:
    """A PostgreSQL process as pg_stat_activity shows it."""

    pid: int
    backend_type: str
    """"client backend", "parallel worker", "walwriter", "checkpointer", ..."""
    database: str | None
    client_port: int | None
    leader_pid: int | None = None
    """A parallel worker's leader."""


def pg_processes(database: str) -> list[PgProcess]:
    """Every process of the server (connecting to `database`), but psql's own backend."""
    rows = psql(
        database,
        "SELECT pid, backend_type, coalesce(datname, ''), coalesce(client_port, -1), "
        "coalesce(leader_pid, -1) FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
    )
    processes = []
    for line in rows.splitlines():
        pid, kind, datname, port, leader = line.split("|")
        processes.append(
            PgProcess(
                int(pid),
                kind,
                datname or None,
                None if port == "-1" else int(port),
                None if leader == "-1" else int(leader),
            )
        )
    return processes


def backend_clients(database: str) -> dict[int, int]:
    """Each backend connected to `database` (not psql's own): its client's TCP port."""
    rows = psql(
        database,
        "SELECT pid, coalesce(client_port, -1) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    return {int(pid): int(port) for pid, port in (line.split("|") for line in rows.split())}


def cpu_of(pid: int) -> float:
    """A process's CPU seconds so far (0 if it has gone)."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system


def client_ports(pid: int) -> set[int]:
    """The local TCP ports of a process and its children (their database connections)."""
    process = psutil.Process(pid)
    ports = set()
    for member in (process, *process.children(recursive=True)):
        ports |= {c.laddr.port for c in member.net_connections("tcp") if c.laddr}
    return ports
