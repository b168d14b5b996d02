"""Per-user counts, which the database adds over a round's id range, when history ids commit
out of order: an id taken but not committed when a round reads is a gap (`_read_streams`),
left to the round that sees it (never counted twice or lost), by workers and rebuilds alike."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from tanktop.analytics import queries, rollup
from tanktop.config import Settings
from tanktop.db import Database, utcnow
from tanktop.events.tables import event_history
from tests.analytics.helpers import catch_up
from tests.conftest import Api, service_of

BASE = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)


def row(service: int, user: str, item: str) -> dict[str, Any]:
    """A history row written straight to the table, so a test can hold its id uncommitted."""
    return {
        "service_id": service,
        "user_id": user,
        "event": "seen",
        "item_type": "movie",
        "item_id": item,
        "value": None,
        "at": BASE,
        "origin": "api",
        "removed": False,
        "received_at": utcnow(),
    }


async def per_user(db: Database, service: int, user: str) -> int:
    """The user's events as the per-user counts have them."""
    async with db.read() as conn:
        found = await queries.select_user_events(conn, service, user)
    return sum(r.events for r in found)


async def hold_insert(
    db: Database, values: dict[str, Any], taken: asyncio.Event, go: asyncio.Event
) -> None:
    """Insert a row and keep its transaction open (its id taken, not visible) until `go`."""
    async with db.write() as conn:
        await conn.execute(sa.insert(event_history).values(**values))
        taken.set()
        await go.wait()


async def out_of_order(
    db: Database, api: Api, late: str, early: str
) -> tuple[int, asyncio.Task[None], asyncio.Event]:
    """On PostgreSQL, after a round: `late`'s row takes id N and stays uncommitted (until the
    event returned is set; the task is its insert) while `early`'s row, id N+1, commits."""
    if db.is_sqlite:
        pytest.skip("writes are serialised")
    service = (await service_of(db, api)).id
    await catch_up(db)
    taken, go = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(hold_insert(db, row(service, late, "1"), taken, go))
    await taken.wait()  # id N taken, not committed
    async with db.write() as conn:  # id N+1 committed
        await conn.execute(sa.insert(event_history).values(**row(service, early, "2")))
    return service, task, go


async def test_a_gap_committed_between_read_and_write_counts_once(
    api: Api, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gap that commits after the round read but before it writes is inside the round's id
    range when the database counts: it is skipped then, counted by the next round, and a
    rebuild gives the same counts."""
    service, late, go = await out_of_order(db, api, "late", "early")
    original = rollup.write_deltas

    async def commit_gap_first(*args: Any, **kwargs: Any) -> None:
        go.set()
        await late  # N is visible now, but the round read it as a gap
        await original(*args, **kwargs)

    monkeypatch.setattr(rollup, "write_deltas", commit_gap_first)
    assert await rollup.roll_up(db) == 1
    monkeypatch.setattr(rollup, "write_deltas", original)
    assert await per_user(db, service, "early") == 1
    assert await per_user(db, service, "late") == 0, "the gap is the next round's"
    await catch_up(db)
    assert await per_user(db, service, "early") == 1
    assert await per_user(db, service, "late") == 1
    incremental = await api.get("/analytics/user/late/")
    await rollup.rebuild(db, [service])
    assert await per_user(db, service, "late") == 1
    assert await per_user(db, service, "early") == 1
    assert (await api.get("/analytics/user/late/")).json() == incremental.json()


async def test_a_rebuild_while_a_gap_is_pending_leaves_it_to_the_workers(
    api: Api, db: Database
) -> None:
    """A rebuild skips the stream's gaps even once they are visible: the workers count them."""
    service, late, go = await out_of_order(db, api, "late2", "early2")
    await catch_up(db)  # N is a gap now
    go.set()
    await late
    await rollup.rebuild(db, [service])  # N visible, still a gap of the stream
    await catch_up(db)
    assert await per_user(db, service, "late2") == 1
    assert await per_user(db, service, "early2") == 1


async def test_two_workers_count_each_users_events_once(
    api: Api, db: Database, settings: Settings
) -> None:
    """Two worker processes rolling up small rounds while events arrive count each once."""
    service = (await service_of(db, api)).id
    await catch_up(db)
    batch = [
        {
            "user_id": f"w{i % 7}",
            "event": "seen",
            "item_type": "movie",
            "item_id": str(i % 5),
            "at": (BASE + dt.timedelta(minutes=i)).isoformat(),
        }
        for i in range(3000)
    ]
    workers = [Database(settings.database_url), Database(settings.database_url)]

    async def post() -> None:
        for first in range(0, 3000, 100):
            assert (await api.post("/events/", json=batch[first : first + 100])).status_code == 204

    async def work(worker: Database) -> None:
        for _ in range(60):
            await rollup.roll_up(worker, limit=150)
            await asyncio.sleep(0)

    try:
        await asyncio.gather(post(), *(work(w) for w in workers))
    finally:
        for worker in workers:
            await worker.dispose()
    await catch_up(db)
    for u in range(7):
        expected = sum(1 for i in range(3000) if i % 7 == u)
        assert await per_user(db, service, f"w{u}") == expected
