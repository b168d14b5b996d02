"""`wrk` as the load generator: C, so it leaves the cores to the server it measures (the Python
generator in `bench.loadgen` takes a good part of a core at these rates).

Needs `wrk` on the PATH (Debian: `apt-get install wrk`). Each run cycles through the given
request paths (a Lua script made for the run) and reports throughput, latency percentiles,
non-2xx answers and the CPU seconds the server's process spent per request.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from bench.cpu import server_processes

_SCRIPT = """
local paths = {%(paths)s}
local count = #paths
local thread_number = 0
local i = 0
function setup(thread)
  thread:set("number", thread_number)
  thread_number = thread_number + 1
end
function init(args)
  i = number * 7919
end
function request()
  i = i + 1
  return wrk.format("%(method)s", paths[(i %% count) + 1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write("RESULT " .. string.format(
    '{"requests": %%d, "seconds": %%f, "errors": %%d, "p50_us": %%d, "p99_us": %%d}',
    summary.requests, summary.duration / 1e6,
    e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)) .. "\\n")
end
"""


@dataclass(frozen=True)
class WrkResult:
    name: str
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    cpu_ms: float
    """CPU time of the server's process per request."""

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def row(self) -> str:
        return (
            f"{self.name:<44} {self.throughput:>8,.0f} req/s   p50 {self.p50_ms:6.2f} ms   "
            f"p99 {self.p99_ms:6.2f} ms   CPU {self.cpu_ms:5.2f} ms/req   errors {self.errors}"
        )


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("this benchmark needs wrk: apt-get install wrk (Debian), brew install wrk")


def start(
    base_url: str, paths: list[str], *, method: str = "GET", connections: int, seconds: float
) -> tuple[subprocess.Popen[str], Path]:
    """Start wrk in the background (for load beside another measurement); `finish` reads it."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    quoted = ",".join(json.dumps(p) for p in paths)
    script.write_text(_SCRIPT % {"paths": quoted, "method": method})
    process = subprocess.Popen(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base_url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, script


def finish(name: str, started: tuple[subprocess.Popen[str], Path]) -> WrkResult:
    process, script = started
    out, _ = process.communicate(timeout=120)
    script.unlink(missing_ok=True)
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(f"wrk failed:\n{out}")
    found = json.loads(lines[-1].removeprefix("RESULT "))
    return WrkResult(
        name,
        found["requests"],
        found["seconds"],
        found["errors"],
        found["p50_us"] / 1000,
        found["p99_us"] / 1000,
        0.0,
    )


def cpu_seconds(pid: int) -> float:
    """CPU seconds of the server and of the processes it started (`--workers N`)."""
    total = 0.0
    for process in server_processes([pid]):
        times = process.cpu_times()
        total += times.user + times.system
    return total


def run(
    name: str,
    base_url: str,
    paths: list[str],
    *,
    server_pid: int,
    method: str = "GET",
    connections: int = 8,
    seconds: float = 5,
) -> WrkResult:
    """Load `paths` for `seconds` with `connections` in flight; the server's CPU per request."""
    before = cpu_seconds(server_pid)
    started = start(base_url, paths, method=method, connections=connections, seconds=seconds)
    result = finish(name, started)
    spent = cpu_seconds(server_pid) - before
    return replace(result, cpu_ms=spent * 1000 / max(1, result.requests))
