"""The background worker: runs each domain's periodic task in turn until told to stop.

The application passes its tasks (`tanktop.app.worker_tasks()`); a task does one bounded batch
of due work and returns how many units it did, so the loop sleeps only when every task found
nothing to do, and only until a write announces new work (`tanktop.db.announce_work`). Any
number of worker processes may run: tasks claim their rows in the database, not in memory.

Workers' statements have no timeout (`tanktop.db.long_jobs`). While the database is away the
loop waits longer between rounds (up to `MAX_FAULT_WAIT`), logging nothing per round beyond
the faults' own summary lines (`tanktop.faults`), and picks up where the rows say when it returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from tanktop.config import Settings
from tanktop.db import Database, first_of, long_jobs
from tanktop.faults import DatabaseFault

log = logging.getLogger("tanktop.worker")


class WorkerTask(Protocol):
    """One bounded batch of a domain's due work; returns how many units it did."""

    async def __call__(self, db: Database, /, *, settings: Settings) -> int: ...


MAX_FAULT_WAIT = 5.0


async def run_worker(
    db: Database,
    settings: Settings,
    stop: asyncio.Event,
    tasks: Sequence[WorkerTask],
    idle_seconds: float = 1.0,
) -> None:
    """Loop over `tasks` until `stop` is set; a failing task is logged and retried next round."""
    log.info("worker started with %d task(s)", len(tasks))
    listener = asyncio.create_task(db.listen(stop))
    fault_wait = 0.0
    with long_jobs():
        while not stop.is_set():
            db.work_announced.clear()  # what is announced from here on gets another round
            done = 0
            faulted = False
            for task in tasks:
                try:
                    done += await task(db, settings=settings)
                except DatabaseFault:
                    faulted = True  # counted and logged where it was raised
                except Exception:
                    log.exception("worker task %s failed", getattr(task, "__name__", task))
            if faulted:
                fault_wait = min(MAX_FAULT_WAIT, max(idle_seconds, fault_wait * 2))
                await first_of(stop.wait(), asyncio.sleep(fault_wait))
                continue
            fault_wait = 0.0
            if done == 0:
                await first_of(stop.wait(), db.work_announced.wait(), within=idle_seconds)
    await listener
    for task in tasks:  # a task holding work in flight (a training's child) ends it
        close = getattr(task, "aclose", None)
        if close is not None:
            await close()
    log.info("worker stopped")
