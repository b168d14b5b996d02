"""The background worker: runs each domain's periodic task in turn until told to stop.

The application passes its tasks (`tanktop.app.WORKER_TASKS`); a task does one bounded batch
of due work and returns how many units it did, so the loop sleeps only when every task found
nothing to do. Any number of worker processes may run: tasks claim their rows in the
database, not in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from tanktop.config import Settings
from tanktop.db import Database

log = logging.getLogger("tanktop.worker")

WorkerTask = Callable[[Database, Settings], Awaitable[int]]


async def run_worker(
    db: Database,
    settings: Settings,
    stop: asyncio.Event,
    tasks: Sequence[WorkerTask],
    idle_seconds: float = 1.0,
) -> None:
    """Loop over `tasks` until `stop` is set; a failing task is logged and retried next round."""
    log.info("worker started with %d task(s)", len(tasks))
    while not stop.is_set():
        done = 0
        for task in tasks:
            try:
                done += await task(db, settings)
            except Exception:
                log.exception("worker task %s failed", getattr(task, "__name__", task))
        if done == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=idle_seconds)
    log.info("worker stopped")
