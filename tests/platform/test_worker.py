"""The worker loop runs its tasks, survives a failing one and stops when told."""

from __future__ import annotations

import asyncio

from tanktop.config import Settings
from tanktop.db import Database
from tanktop.worker import run_worker


async def test_worker_runs_tasks_until_stopped(db: Database, settings: Settings) -> None:
    stop = asyncio.Event()
    calls: list[str] = []

    async def busy(_db: Database, *, settings: Settings) -> int:
        calls.append("busy")
        if calls.count("busy") >= 3:
            stop.set()
        return 1

    async def broken(_db: Database, *, settings: Settings) -> int:
        calls.append("broken")
        raise RuntimeError("boom")

    await asyncio.wait_for(run_worker(db, settings, stop, [broken, busy], idle_seconds=0.01), 5)
    assert calls == ["broken", "busy"] * 3
