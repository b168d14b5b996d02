"""Which PostgreSQL backends serve which client process, and the CPU each process has spent:
how the benches attribute the database's work to the API or to the worker."""

from __future__ import annotations

import psutil

from bench.databases import psql


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
