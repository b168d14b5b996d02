"""Where the CPU went during a measured run: the API processes, PostgreSQL, the load generator.

On a small machine these share the cores, so a throughput ratio alone cannot say whether a
second API process was given nothing to do or had no core to run on; the core-seconds can.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

AUTOGROUP = Path("/proc/sys/kernel/sched_autogroup_enabled")


def scheduler_note() -> str:
    """How the kernel shares the cores between sessions, printed with the latency figures: with
    autogroup on, the bookmarks' p99 inside `bench.hotpaths` ran 9-460 ms, with it off 6-15 ms
    (the README's "Hot paths"; why is not established)."""
    try:
        enabled = AUTOGROUP.read_text().strip() == "1"
    except OSError:
        return "kernel.sched_autogroup_enabled: unknown (no such setting here)"
    if enabled:
        return (
            "kernel.sched_autogroup_enabled = 1: the CPU is shared by session first; "
            "latency tails may be the kernel's (README: Hot paths)"
        )
    return "kernel.sched_autogroup_enabled = 0: the CPU is shared by process"


def server_processes(server_pids: Sequence[int]) -> list[psutil.Process]:
    """Each `tanktop serve` and the processes it started (with `--workers N`: N of them)."""
    found = []
    for pid in server_pids:
        try:
            server = psutil.Process(pid)
            found += [server, *server.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    return found


def _group_times(server_pids: Sequence[int]) -> dict[str, dict[int, float]]:
    """CPU seconds so far of every live process, by the group it belongs to."""
    groups: dict[str, dict[int, float]] = {"API": {}, "PostgreSQL": {}, "load generator": {}}
    members = [("API", p) for p in server_processes(server_pids)]
    members += [("load generator", psutil.Process())]
    members += [
        ("PostgreSQL", p)
        for p in psutil.process_iter(["name"])
        if (p.info["name"] or "").startswith("postgres")
    ]
    for group, process in members:
        try:
            times = process.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        groups[group][process.pid] = times.user + times.system
    return groups


@dataclass
class CpuUse:
    """Cores used on average by each group during the measured window."""

    cores: dict[str, float] = field(default_factory=dict)
    api_processes: list[float] = field(default_factory=list)
    """Cores of each API process that did any work, busiest first: shows an uneven spread."""

    def describe(self) -> str:
        parts = ", ".join(f"{group} {used:.2f}" for group, used in self.cores.items())
        spread = " + ".join(f"{used:.2f}" for used in self.api_processes)
        return f"CPU cores used: {parts} (of {psutil.cpu_count()}); API processes {spread}"


@contextmanager
def cpu_use(server_pids: Sequence[int]) -> Iterator[CpuUse]:
    """Measure the cores each group used while the `with` block ran (filled in at its end)."""
    use = CpuUse()
    before, started = _group_times(server_pids), time.perf_counter()
    yield use
    after, elapsed = _group_times(server_pids), time.perf_counter() - started
    for group, now in after.items():
        spent = {pid: seconds - before[group].get(pid, 0.0) for pid, seconds in now.items()}
        use.cores[group] = sum(spent.values()) / elapsed
        if group == "API":
            busy = [s / elapsed for s in spent.values() if s / elapsed >= 0.05]
            use.api_processes = sorted(busy, reverse=True)
