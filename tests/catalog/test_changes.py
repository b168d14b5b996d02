"""The catalog's change log: each consumer follows it with a cursor of its own, workers of one
consumer take turns, and rows become visible in id order so a cursor never skips one."""

from __future__ import annotations

import asyncio

import pytest

from tanktop.catalog import changes, queries
from tanktop.db import Database, utcnow
from tests.conftest import unique


def _change(kind: str, item_id: str) -> dict[str, object]:
    change: dict[str, object] = {"at": utcnow(), "kind": kind, "item_type": "movie"}
    change["item_id"] = item_id
    if kind == "slot":
        change |= {"channel_id": "c", "slot_start": utcnow()}
    return change


async def _log(db: Database, *kinds: str) -> str:
    item_id = unique("m")
    async with db.write() as conn:
        await queries.insert_changes(conn, [_change(kind, item_id) for kind in kinds])
    return item_id


async def _handle(db: Database, consumer: str, kind: str | None = None) -> list[str]:
    """What `consumer` finds new, handled (its cursor moved past it) in one transaction."""
    async with db.write() as conn:
        found = await changes.claim_changes(
            conn, consumer=consumer, limit=100_000, kinds=None if kind is None else [kind]
        )
        await changes.mark_changes_handled(
            conn, consumer=consumer, ids=[c.id for c in found], now=utcnow()
        )
    return [f"{c.kind}:{c.item_id}" for c in found]


async def test_each_consumer_follows_the_log_with_its_own_cursor(db: Database) -> None:
    everything, slots = unique("all"), unique("slots")
    await _handle(db, everything)  # a new consumer starts at the log's beginning
    await _handle(db, slots, "slot")
    item = await _log(db, "offers", "slot", "offers")

    assert await _handle(db, everything) == [f"offers:{item}", f"slot:{item}", f"offers:{item}"]
    assert await _handle(db, everything) == []
    assert await _handle(db, slots, "slot") == [f"slot:{item}"]
    later = await _log(db, "slot")
    assert await _handle(db, slots, "slot") == [f"slot:{later}"]
    assert await _handle(db, everything) == [f"slot:{later}"]


async def test_a_consumer_that_fails_sees_the_changes_again(db: Database) -> None:
    consumer = unique("flaky")
    await _handle(db, consumer)
    item = await _log(db, "offers")
    with pytest.raises(RuntimeError):
        await _crash_while_handling(db, consumer)
    assert await _handle(db, consumer) == [f"offers:{item}"]


async def _crash_while_handling(db: Database, consumer: str) -> None:
    async with db.write() as conn:
        assert await changes.claim_changes(conn, consumer=consumer, limit=10)
        raise RuntimeError("crashed while handling")


async def test_workers_of_one_consumer_take_turns(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite writes one transaction at a time")
    consumer = unique("busy")
    await _handle(db, consumer)
    item = await _log(db, "offers")
    holding, done = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with db.write() as conn:
            assert await changes.claim_changes(conn, consumer=consumer, limit=10)
            holding.set()
            await done.wait()

    worker = asyncio.create_task(first())
    await holding.wait()
    async with db.write() as conn:  # the first worker holds the cursor: nothing for this one
        assert await changes.claim_changes(conn, consumer=consumer, limit=10) == []
    done.set()
    await worker
    assert await _handle(db, consumer) == [f"offers:{item}"]


async def test_change_rows_commit_in_id_order(db: Database) -> None:
    """A writer's change ids are taken after the previous writer committed, so a consumer that
    read up to some id can never find a smaller one committed later."""
    if db.is_sqlite:
        pytest.skip("SQLite writes one transaction at a time")
    inserted, release = asyncio.Event(), asyncio.Event()

    async def slow_writer() -> None:
        async with db.write() as conn:
            await queries.insert_changes(conn, [_change("offers", unique("slow"))])
            inserted.set()
            await release.wait()

    slow = asyncio.create_task(slow_writer())
    await inserted.wait()
    fast_id = unique("fast")
    fast = asyncio.create_task(_log_with_id(db, fast_id))
    await asyncio.sleep(0.5)
    assert not fast.done(), "a second writer logged a change while the first had not committed"
    release.set()
    await slow
    await fast


async def _log_with_id(db: Database, item_id: str) -> None:
    async with db.write() as conn:
        await queries.insert_changes(conn, [_change("offers", item_id)])
