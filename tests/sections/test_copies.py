"""What a page reads once: the service's popular ranking (per process, refreshed in the
background) and the user's lists (once per page, for every domain its rows come from)."""

from __future__ import annotations

import asyncio
import gc
import weakref

from tanktop.db import Database
from tanktop.events import service as events
from tanktop.sections.popular import PopularCopy
from tests.conftest import Api, service_of


async def seen_by(api: Api, item: str, users: int) -> None:
    batch = [
        {"user_id": f"{item}-{n}", "event": "seen", "item_type": "movie", "item_id": item}
        for n in range(users)
    ]
    assert (await api.post("/events/", json=batch)).status_code == 204


async def test_the_popular_ranking_is_kept_then_refreshed_in_the_background(
    api: Api, db: Database
) -> None:
    service = await service_of(db, api)
    copy = PopularCopy(refresh=0.5)

    async def ranking() -> list[str]:
        found = await copy.ranked(db, service, item_types=["movie"], days=7, limit=10)
        return [item_id for _, item_id, _ in found]

    await seen_by(api, "a", 2)
    assert await ranking() == ["a"]
    await seen_by(api, "b", 3)
    assert await ranking() == ["a"], "kept while fresh"
    await asyncio.sleep(0.6)
    assert await ranking() == ["a"], "stale: served while the recount runs"
    for _ in range(50):
        await asyncio.sleep(0.05)
        if await ranking() == ["b", "a"]:
            break
    assert await ranking() == ["b", "a"]
    assert await PopularCopy(refresh=0).ranked(
        db, service, item_types=["movie"], days=7, limit=1
    ) == [("movie", "b", 3)]


async def test_a_snapshot_answers_the_users_list_reads_as_of_its_start(
    api: Api, db: Database
) -> None:
    service = await service_of(db, api)
    await api.post("/event/7/watchlist/movie/1/")
    await api.post("/event/7/hide/section/s/")

    async def watchlist(user_id: str = "7") -> list[str]:
        found = await events.user_items(
            db, service, user_id=user_id, events=["watchlist"], item_types=["movie"]
        )
        return sorted(i.item_id for i in found)

    async with events.user_lists_snapshot(db, service, user_id="7"):
        await api.post("/event/7/watchlist/movie/2/")
        await api.post("/event/8/watchlist/movie/3/")
        assert await watchlist() == ["1"], "one moment: the page's start"
        assert list(await asyncio.gather(watchlist(), watchlist())) == [["1"], ["1"]], "tasks too"
        assert await watchlist("8") == ["3"], "another user reads the database"
        kept, _ = await events.personalized_list(
            db, service, user_id="7", item_type="movie", ids=["1", "2"], include=["watchlist"],
            exclude=[],
        )  # fmt: skip
        assert kept == ["1"], "list filters read the snapshot too"
        hidden = await events.user_items(
            db, service, user_id="7", events=["hide"], item_types=["section"]
        )
        assert [(i.item_type, i.item_id) for i in hidden] == [("section", "s")]
    assert await watchlist() == ["1", "2"]


class _Answer:
    """Something a snapshot computed once (a user's scores, say)."""


async def test_what_a_snapshot_computed_is_freed_as_it_ends_without_the_cycle_collector(
    api: Api, db: Database
) -> None:
    """Else every page would leave its rows' inputs to the collector's full passes: a pause
    of tens of milliseconds every few dozen pages, the page's p99."""
    service = await service_of(db, api)

    async def compute() -> _Answer:
        return _Answer()

    gc.disable()
    try:
        async with events.user_lists_snapshot(db, service, user_id="7"):
            answer = weakref.ref(await events.once_per_snapshot("answer", compute))
            assert answer() is not None, "kept for the rest of the page"
        await asyncio.sleep(0)
        assert answer() is None
    finally:
        gc.enable()
