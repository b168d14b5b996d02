"""Wall time of `tanktop` commands, this tree against another commit's, on SQLite.

    python -m bench.cli [--base main] [--runs 10]

Extracts `src/` of `--base` (any git ref) into a temporary folder and runs each command
`--runs` times per arm as a new `python -m tanktop` process, the two arms alternating (which one
goes first swaps every round), each arm with its own SQLite file made ready by a first
`keys create` (so both count the same migration check, none the migrations themselves). Prints
each command's median wall time per arm, their ratio and the load average over the run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS: dict[str, tuple[str, ...]] = {
    "tanktop --help": ("--help",),
    "tanktop keys list": ("keys", "list"),
    "tanktop keys create bench": ("keys", "create", "bench"),
    "tanktop recs settings bench": ("recs", "settings", "bench"),
}


def extract_src(ref: str, into: Path) -> Path:
    """`src/` of git `ref`, written under `into`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "src"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def arm_env(src: Path, database: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANKTOP_")}
    env["PYTHONPATH"] = str(src)
    env["TANKTOP_DATABASE_URL"] = f"sqlite:///{database}"
    return env


def run(env: dict[str, str], args: tuple[str, ...]) -> float:
    """Seconds one `python -m tanktop ARGS` takes, start to exit (it must succeed)."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tanktop", *args], env=env, check=True, capture_output=True
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="main", help="git ref of the other arm")
    parser.add_argument("--runs", type=int, default=10, help="runs per command and arm")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        arms = {
            options.base: arm_env(extract_src(options.base, Path(tmp)), Path(tmp, "base.db")),
            "this tree": arm_env(ROOT / "src", Path(tmp, "this.db")),
        }
        for env in arms.values():
            run(env, ("keys", "create", "bench"))
        times: dict[tuple[str, str], list[float]] = {}
        loads = [os.getloadavg()[0]]
        for round_ in range(options.runs):
            for label, args in COMMANDS.items():
                order = list(arms.items())
                for arm, env in order if round_ % 2 else order[::-1]:
                    times.setdefault((label, arm), []).append(run(env, args))
            loads.append(os.getloadavg()[0])
    base, this = arms
    print(f"{'command':<30}{base:>12}{this:>12}   ratio   (median of {options.runs} runs)")
    for label in COMMANDS:
        before = statistics.median(times[label, base])
        after = statistics.median(times[label, this])
        print(f"{label:<30}{before:>11.2f}s{after:>11.2f}s   {after / before:.2f}")
    print(f"load average (1 min) over the run: {min(loads):.2f} to {max(loads):.2f}")


if __name__ == "__main__":
    main()
