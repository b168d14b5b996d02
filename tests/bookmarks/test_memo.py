"""The per-process memo of bookmarks (PostgreSQL): a remembered answer is the one a fresh
derivation gives, and every write — this process's, another process's, one straight to the
table that keeps the entries' count and newest time — and every catalog change shows at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from tanktop.app import create_app
from tanktop.bookmarks.memo import BookmarksMemo, Remembered
from tanktop.config import Settings
from tanktop.db import Database
from tanktop.events.tables import list_items
from tests.bookmarks.test_bookmarks import movie, programme
from tests.conftest import Admin, Api, service_of


@pytest.fixture
async def elsewhere(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Another API process on the same database (its own memo and catalog copy)."""
    other = create_app(settings)
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


async def answer(api: Api) -> bytes:
    response = await api.get("/bookmark/7/")
    assert response.status_code == 200
    return response.content


async def test_a_remembered_answer_is_the_derived_one(
    api: Api, admin: Admin, app: FastAPI, db: Database
) -> None:
    film = await movie(admin)
    show, ep = await programme(admin)
    await api.post(f"/event/7/progress/movie/{film}/30/")
    await api.post(f"/event/7/seen/episode/{ep['s1e1']}/")
    first = await answer(api)
    user = ((await service_of(db, api)).id, "7")
    memo: BookmarksMemo = app.state.bookmarks_memo
    entry = memo.get(user)
    if db.is_sqlite:
        assert entry is None, "SQLite gives no stamp: nothing is remembered"
        return
    assert entry is not None
    assert entry.body == first
    assert await answer(api) == first
    assert memo.get(user) is entry, "answered from the memo, not derived again"
    mark = (await api.get(f"/bookmark/7/programme/{show}/")).json()
    assert (mark["episode_id"], mark["status"]) == (ep["s1e2"], "next")
    assert memo.get(user) is entry

    await api.post(f"/event/7/progress/movie/{film}/40/")
    assert [m["position"] for m in (await api.get("/bookmark/7/")).json()["bookmarks"]] == [40, 0]
    assert memo.get(user) is not entry


async def test_another_process_writes_show_at_once(
    api: Api, admin: Admin, elsewhere: httpx.AsyncClient
) -> None:
    film = await movie(admin)
    there, there_admin = Api(elsewhere, api.key), Admin(elsewhere)
    await api.post(f"/event/7/progress/movie/{film}/30/")
    assert [m["position"] for m in (await api.get("/bookmark/7/")).json()["bookmarks"]] == [30]
    await there.post(f"/event/7/progress/movie/{film}/60/")
    assert [m["position"] for m in (await api.get("/bookmark/7/")).json()["bookmarks"]] == [60]
    await there_admin.put(f"/catalog/movie/{film}/", json={"title": "Film", "duration": 62})
    assert (await api.get("/bookmark/7/")).json() == {"bookmarks": []}, "60 of 62 is finished"
    await there_admin.put(f"/catalog/movie/{film}/", json={"title": "Film", "duration": 100})
    assert [m["position"] for m in (await api.get("/bookmark/7/")).json()["bookmarks"]] == [60]
    await there.post(f"/event/7/seen/movie/{film}/")
    assert (await api.get("/bookmark/7/")).json() == {"bookmarks": []}, "seen is finished"


async def test_a_change_keeping_count_and_newest_time_shows(
    api: Api, admin: Admin, db: Database
) -> None:
    """A write straight to the table (as a restore of an older entry would) that changes
    neither how many entries the user has nor the newest one's time."""
    older, newer = await movie(admin), await movie(admin)
    await api.post(f"/event/7/progress/movie/{older}/30/")
    await api.post(f"/event/7/progress/movie/{newer}/20/")
    before = (await api.get("/bookmark/7/")).json()["bookmarks"]
    assert [(m["item_id"], m["position"]) for m in before] == [(newer, 20), (older, 30)]
    service = await service_of(db, api)
    async with db.write() as conn:
        await conn.execute(
            sa.update(list_items)
            .where(
                list_items.c.service_id == service.id,
                list_items.c.user_id == "7",
                list_items.c.item_id == older,
            )
            .values(value=45)
        )
    after = (await api.get("/bookmark/7/")).json()["bookmarks"]
    assert [(m["item_id"], m["position"]) for m in after] == [(newer, 20), (older, 45)]


def test_the_memo_keeps_the_users_asked_last() -> None:
    memo = BookmarksMemo(max_users=2)
    for n in range(3):
        memo.put((1, str(n)), Remembered((n, n, 1), []))
    assert memo.get((1, "0")) is None
    assert memo.get((1, "1")) is not None  # now the most recent: "2" goes next
    memo.put((2, "1"), Remembered((1, 1, 1), []))
    assert memo.get((1, "2")) is None
    assert memo.get((1, "1")) is not None
    assert memo.get((2, "1")) is not None


def _counted(read: Any, reads: list[int]) -> Any:
    """`read`, noting the rows each statement on the entries returned."""

    async def counting(self: asyncpg.Connection, query: str, *args: object, **kw: Any) -> Any:
        result = await read(self, query, *args, **kw)
        if "FROM list_items" in query:
            reads.append(len(result) if isinstance(result, list) else 1)
        return result

    return counting


async def test_a_miss_after_a_hit_reads_the_entries_once(
    api: Api, admin: Admin, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A memo that no longer holds costs one round trip, not the stamp's and then the
    entries' (and one that holds reads no entries)."""
    if db.is_sqlite:
        pytest.skip("nothing is remembered on SQLite")
    film, *others = [await movie(admin) for _ in range(3)]
    for other in others:
        await api.post(f"/event/7/seen/movie/{other}/")
    await api.post(f"/event/7/progress/movie/{film}/30/")
    await answer(api)  # remembered
    reads: list[int] = []
    for method in ("fetch", "fetchrow", "fetchval"):
        monkeypatch.setattr(
            asyncpg.Connection, method, _counted(getattr(asyncpg.Connection, method), reads)
        )
    await answer(api)
    assert reads == [1], "a hit: one statement, the stamp's one row and no entry"
    await api.post(f"/event/7/progress/movie/{film}/40/")
    reads.clear()
    assert [m["position"] for m in (await api.get("/bookmark/7/")).json()["bookmarks"]] == [40]
    assert reads == [3], "a miss after a hit: one statement too, the three entries"
