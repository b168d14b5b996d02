"""Events and lists (seed section 2, API.md) through the ASGI app, on both backends."""

from __future__ import annotations

import asyncio
import datetime as dt

import sqlalchemy as sa

from tanktop.db import Database
from tanktop.events.service import stream_history
from tanktop.events.tables import list_items
from tests.conftest import Api, assert_problem, service_of


async def test_seed_example(api: Api) -> None:
    response = await api.post("/event/7/watchlist/movie/1/")
    assert response.status_code == 204
    assert response.content == b""
    assert (await api.post("/event/7/watchlist/movie/24/")).status_code == 204
    got = await api.get("/event/7/watchlist/movie/?id=1&id=24&id=72")
    assert got.status_code == 200
    assert got.json() == {"watchlist": {"1": None, "24": None}}
    assert got.text.replace(" ", "") == '{"watchlist":{"1":null,"24":null}}'


async def test_whole_list_is_most_recent_first_and_repost_moves_up(api: Api) -> None:
    for item in ("a", "b", "c"):
        await api.post(f"/event/u/watchlist/movie/{item}/")
    assert list((await api.get("/event/u/watchlist/movie/")).json()["watchlist"]) == ["c", "b", "a"]
    await api.post("/event/u/watchlist/movie/a/")
    assert list((await api.get("/event/u/watchlist/movie/")).json()["watchlist"]) == ["a", "c", "b"]


async def test_ids_keep_the_order_asked(api: Api) -> None:
    for item in ("1", "2", "3"):
        await api.post(f"/event/u/seen/movie/{item}/")
    got = await api.get("/event/u/seen/movie/?id=3&id=9&id=1&id=3")
    assert list(got.json()["seen"]) == ["3", "1"]


async def test_delete_removes_and_is_idempotent(api: Api) -> None:
    await api.post("/event/7/watchlist/movie/1/")
    assert (await api.delete("/event/7/watchlist/movie/1/")).status_code == 204
    assert (await api.delete("/event/7/watchlist/movie/1/")).status_code == 204
    assert (await api.delete("/event/7/watchlist/movie/404")).status_code == 204
    assert (await api.get("/event/7/watchlist/movie/")).json() == {"watchlist": {}}


async def test_unknown_user_has_empty_lists(api: Api) -> None:
    assert (await api.get("/event/nobody/watchlist/movie/")).json() == {"watchlist": {}}
    assert (await api.get("/event/nobody/rated/movie/?id=1")).json() == {"rated": {}}


async def test_value_rules(api: Api) -> None:
    await api.post("/event/7/rated/movie/1/4/")
    await api.post("/event/7/rated/movie/2/-1.5/")
    await api.post("/event/7/rated/movie/3/4")
    await api.post("/event/7/rated/movie/3/5")
    assert (await api.get("/event/7/rated/movie/?id=1&id=2&id=3")).json() == {
        "rated": {"1": 4, "2": -1.5, "3": 5}
    }
    await api.post("/event/7/progress/movie/1/42.5/")
    await api.post("/event/7/progress/movie/2/0/")
    assert (await api.get("/event/7/progress/movie/?id=1&id=2")).json() == {
        "progress": {"1": 42.5, "2": 0}
    }
    await api.post("/event/7/watchlist/movie/1/ignored/")
    assert (await api.get("/event/7/watchlist/movie/")).json() == {"watchlist": {"1": None}}
    await api.post("/event/7/mood/movie/1/happy/")
    await api.post("/event/7/mood/movie/2/12/")
    await api.post("/event/7/mood/movie/3/")
    assert (await api.get("/event/7/mood/movie/?id=1&id=2&id=3")).json() == {
        "mood": {"1": "happy", "2": 12, "3": None}
    }


async def test_bad_values_are_400_and_store_nothing(api: Api) -> None:
    cases = [
        ("/event/7/rated/movie/1/", "rated"),
        ("/event/7/rated/movie/1/abc/", "number"),
        ("/event/7/rated/movie/1/nan/", "number"),
        ("/event/7/rated/movie/1/1e999/", "number"),
        ("/event/7/progress/movie/1/", "minutes"),
        ("/event/7/progress/movie/1/-3/", "0 or more"),
        ("/event/7/start/channel/bbc1/yesterday/", "ISO 8601"),
        ("/event/7/start/channel/bbc1/99999999999999/", "ISO 8601"),
        ("/event/7/start/channel/bbc1/0001-01-01T00:00:00+01:00/", "range"),
        ("/event/7/end/channel/bbc1/2026-13-45T00:00:00/", "ISO 8601"),
        (f"/event/7/mood/movie/1/{'x' * 300}/", "256"),
    ]
    for path, words in cases:
        assert_problem(await api.post(path), 400, words)
    for event in ("rated", "progress", "start", "end", "mood"):
        for item_type in ("movie", "channel"):
            got = await api.get(f"/event/7/{event}/{item_type}/")
            assert got.json() == {event: {}}, (event, got.json())


async def test_bad_ids_are_400(api: Api) -> None:
    assert_problem(await api.post(f"/event/{'u' * 33}/seen/movie/1/"), 400, "userid")
    assert_problem(await api.post(f"/event/7/seen/movie/{'1' * 65}/"), 400, "itemid")
    assert_problem(await api.post(f"/event/7/{'e' * 65}/movie/1/"), 400, "event")
    assert_problem(await api.post("/event/7/seen/mo%20vie/1/"), 400, "itemtype")
    assert_problem(await api.post("/event/7/seen/movie/a%2Fb/"), 400)
    assert_problem(await api.get("/event/7/seen/movie/?id=a%20b"), 400, "item id")
    too_many = "&".join(f"id={i}" for i in range(1001))
    assert_problem(await api.get(f"/event/7/seen/movie/?{too_many}"), 400, "1000")
    assert (await api.get("/event/7/seen/movie/")).json() == {"seen": {}}


async def test_channel_timestamps(api: Api) -> None:
    before = dt.datetime.now(dt.UTC)
    await api.post("/event/7/start/channel/bbc1/")
    await api.post("/event/7/start/channel/itv/2026-11-27T20:00:00+01:00/")
    await api.post("/event/7/end/channel/itv/1795809600/")
    await api.post("/event/7/stop/channel/bbc1/2026-11-27T21:00:00Z/")
    starts = (await api.get("/event/7/start/channel/")).json()["start"]
    assert starts["itv"] == "2026-11-27T19:00:00+00:00"
    assert dt.datetime.fromisoformat(starts["bbc1"]) >= before - dt.timedelta(seconds=1)
    ends = (await api.get("/event/7/end/channel/")).json()["end"]
    assert ends == {
        "bbc1": "2026-11-27T21:00:00+00:00",
        "itv": dt.datetime.fromtimestamp(1795809600, dt.UTC).isoformat(),
    }
    assert (await api.get("/event/7/stop/channel/")).json() == {"stop": ends}


async def test_paging_with_limit_and_cursor(api: Api) -> None:
    for i in range(7):
        await api.post(f"/event/7/watchlist/movie/{i}/")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = (await api.get(f"/event/7/watchlist/movie/{query}")).json()
        seen += list(body["watchlist"])
        pages += 1
        cursor = body.get("next_cursor")
        if not cursor:
            break
    assert seen == ["6", "5", "4", "3", "2", "1", "0"]
    assert pages == 3
    assert_problem(await api.get("/event/7/watchlist/movie/?cursor=garbage"), 400, "cursor")
    assert_problem(await api.get("/event/7/watchlist/movie/?limit=0"), 400, "limit")
    assert_problem(await api.get("/event/7/watchlist/movie/?limit=1001"), 400, "limit")


async def test_services_are_isolated(api: Api, other_api: Api) -> None:
    await api.post("/event/7/watchlist/movie/1/")
    assert (await other_api.get("/event/7/watchlist/movie/?id=1")).json() == {"watchlist": {}}
    assert (await other_api.get("/event/7/watchlist/movie/")).json() == {"watchlist": {}}
    await other_api.delete("/event/7/watchlist/movie/1/")
    assert (await api.get("/event/7/watchlist/movie/")).json() == {"watchlist": {"1": None}}


async def test_concurrent_posts_of_one_item_keep_one_row(api: Api, db: Database) -> None:
    responses = await asyncio.gather(*(api.post(f"/event/7/rated/movie/1/{i}/") for i in range(50)))
    assert {r.status_code for r in responses} == {204}
    service = await service_of(db, api)
    async with db.read() as conn:
        rows = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(list_items)
            .where(list_items.c.service_id == service.id, list_items.c.user_id == "7")
        )
    assert rows == 1
    history = [e async for e in stream_history(db, service.id)]
    assert len(history) == 50
    value = (await api.get("/event/7/rated/movie/?id=1")).json()["rated"]["1"]
    assert value in range(50)


async def test_trailing_slash_optional(api: Api) -> None:
    assert (await api.post("/event/7/watchlist/movie/1")).status_code == 204
    assert (await api.post("/event/7/rated/movie/1/3")).status_code == 204
    assert (await api.get("/event/7/rated/movie?id=1")).json() == {"rated": {"1": 3}}
    assert (await api.delete("/event/7/rated/movie/1")).status_code == 204
