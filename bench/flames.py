"""Where the API process's time goes on each hot path: py-spy flame graphs under wrk load.

    python -m bench.flames [--seconds 6] [--out docs/flames]

Needs `wrk` and `py-spy` (a dev dependency). The same data and server as `bench.hotpaths`;
for each path, wrk keeps 8 connections busy while py-spy samples the server: an SVG flame
graph per path in `--out` (open it in a browser; the README links them), and a summary printed
here of the shares that matter: the server writing answers, the parameter and dependency
solving (`tanktop.fastpath` or FastAPI's), our endpoint, the answer's serialisation, SQLAlchemy,
asyncpg, the access log.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench import wrk
from bench.hotpaths import get_paths, post_paths, prepared

SHARES = [
    ("uvicorn writing the answer", re.compile(r"^RequestResponseCycle\.send ")),
    ("our middleware and below", re.compile(r"^Observed\.http ")),
    (
        "parameters and dependencies (FastRoute's or FastAPI's)",
        re.compile(r"^(_Solver\.solve|solve_dependencies) "),
    ),
    ("the endpoint", re.compile(r"^run_endpoint_function |\(tanktop/\w+/router\.py:")),
    ("the answer's serialisation", re.compile(r"^(_writer\.<locals>\.write|serialize_response) ")),
    ("SQLAlchemy", re.compile(r"\(sqlalchemy/")),
    ("asyncpg", re.compile(r"\(asyncpg/")),
    ("access log", re.compile(r"^Logger\.info ")),
]


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("this benchmark needs py-spy: pip install py-spy (a dev dependency)")
    return found


def record(pid: int, seconds: float, out: Path, fmt: str) -> None:
    subprocess.run(
        [py_spy(), "record", "-p", str(pid), "-d", str(round(seconds)), "-r", "250",
         "--nonblocking", "-f", fmt, "-o", str(out)],
        check=True,
        capture_output=True,
    )  # fmt: skip


def shares(raw: Path) -> dict[str, float]:
    """Share of the event loop thread's busy samples in which each of `SHARES` is on the
    stack (the group commit's flushes and other tasks count in the total)."""
    totals: Counter[str] = Counter()
    busy = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [re.sub(r"\(/\S*?site-packages/", "(", f) for f in stack.split(";")]
        if frames[0].startswith("Thread._bootstrap"):
            continue  # a worker thread waiting for work (the event loop's thread is the API)
        busy += int(count)
        for name, pattern in SHARES:
            if any(pattern.search(f) for f in frames):
                totals[name] += int(count)
    return {name: totals[name] / max(1, busy) for name, _ in SHARES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--out", default="docs/flames")
    args = parser.parse_args()
    wrk.require_wrk()
    py_spy()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(18)
    with prepared() as setup, tempfile.TemporaryDirectory() as tmp:
        key = setup.key
        paths = {
            "healthz": ("GET", ["/healthz"]),
            "event-post": ("POST", post_paths(key, rng)),
            "event-get-10-ids": ("GET", get_paths(key, rng)),
            "bookmarks-500": ("GET", [f"/api/1/{key}/bookmark/u/"]),
        }
        for name, (method, urls) in paths.items():
            for fmt, target in (("flamegraph", out / f"{name}.svg"), ("raw", Path(tmp) / name)):
                load = wrk.start(
                    setup.base, urls, method=method, connections=8, seconds=args.seconds + 2
                )
                time.sleep(1)
                record(setup.pid, args.seconds, target, fmt)
                result = wrk.finish(name, load)
            found = shares(Path(tmp) / name)
            print(f"{name} ({result.throughput:,.0f} req/s under the profiler): {out / name}.svg")
            for share, value in found.items():
                print(f"    {share:<40} {value:6.1%}")


if __name__ == "__main__":
    main()
