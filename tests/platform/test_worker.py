"""The worker loop runs its tasks, survives a failing one and stops when told."""

from __future__ import annotations

import asyncio
import contextlib

from tanktop.config import Settings
from tanktop.db import Database, announce
from tanktop.worker import run_worker
from tests.servers import until


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


async def test_announcements_reach_this_process_and_every_listener(
    db: Database, database_url: str
) -> None:
    """`announce` inside a write: handlers here run once it commits (never for a rolled-back
    one); on PostgreSQL another process's `Database`, listening, hears it too."""
    here: list[str] = []
    db.on_announcement("test_news", lambda p: here.extend([p] if p else []))  # "": (re)connected
    other = Database(database_url)
    there: list[str] = []
    heard = asyncio.Event()

    def hear(payload: str) -> None:
        there.append(payload)
        heard.set()

    other.on_announcement("test_news", hear)
    stop = asyncio.Event()
    listener = asyncio.create_task(other.listen(stop))
    try:
        if not db.is_sqlite:
            await asyncio.wait_for(heard.wait(), 5)  # "" once listening
            heard.clear()
        async with db.write() as conn:
            await announce(conn, "test_news", "7")
            await announce(conn, "test_news", "7")
            assert here == [], "not before the commit"
        with contextlib.suppress(RuntimeError):
            async with db.write() as conn:
                await announce(conn, "test_news", "8")
                raise RuntimeError("rolled back")
        if not db.is_sqlite:  # (this process may hear it by NOTIFY too: a moment later)
            await asyncio.wait_for(heard.wait(), 5)
            assert there == ["", "7"]
            await until(lambda: bool(here), within=5, what="this process hearing it")
        assert here == ["7"], "once per transaction, never a rolled-back one"
    finally:
        stop.set()
        await listener
        await other.dispose()
