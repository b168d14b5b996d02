"""Training in a child process of its own, so that neither an API process's event loop nor a
worker's other tasks wait on it (`python -m tanktop.recommendations.apart`).

One short-lived child per training: it reads the history, fits, stores the version and exits,
so its memory goes back to the system at once. It dies with its parent: on Linux the kernel
kills it when the parent does (`PR_SET_PDEATHSIG`), elsewhere a thread watches the parent's
pid, so a killed worker never leaves a training behind holding rows or locks. It runs at a
lower CPU priority than the API processes it shares the machine with.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

from pydantic import BaseModel

from tanktop.db import Database, long_jobs
from tanktop.recommendations.schemas import RecommenderVersion
from tanktop.recommendations.training import train_service

NICENESS = 10
"""How much lower the child's CPU priority is than its parent's."""
_PR_SET_PDEATHSIG = 1


class TrainingFailed(RuntimeError):
    """The child exited without storing a model."""


class _Job(BaseModel):
    """What the parent hands the child on its stdin (the database URL never in argv, where
    any user's `ps` would show its password)."""

    database_url: str
    service_id: int
    settings: RecommenderVersion | None
    """None: the service's version in use when the child reads it."""


async def train_apart(
    db: Database, service_id: int, *, settings: RecommenderVersion | None = None
) -> int:
    """`train_service` in a child process; returns the stored version. Cancelling kills the
    child."""
    job = _Job(database_url=db.url, service_id=service_id, settings=settings)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tanktop.recommendations.apart",
        str(os.getpid()),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await child.communicate(job.model_dump_json().encode())
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await child.wait()
        raise
    if child.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise TrainingFailed(
            f"training service {service_id} exited with status {child.returncode}: {tail[0]}"
        )
    return int(out.split()[-1])


def die_with_parent(parent: int) -> None:
    """End this process when `parent` ends (it may already have, before this was called)."""
    libc_name = ctypes.util.find_library("c")
    prctl = getattr(ctypes.CDLL(libc_name), "prctl", None) if libc_name else None
    if prctl is not None and prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
        if os.getppid() != parent:  # it died before the kernel was told
            os._exit(1)
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


async def _run(job: _Job) -> int:
    db = Database(job.database_url)
    try:
        with long_jobs():
            return await train_service(db, job.service_id, settings=job.settings)
    finally:
        await db.dispose()


def main() -> None:
    die_with_parent(int(sys.argv[1]))
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    job = _Job.model_validate_json(sys.stdin.buffer.read())
    print(asyncio.run(_run(job)))


if __name__ == "__main__":
    main()
