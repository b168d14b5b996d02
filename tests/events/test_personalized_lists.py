"""Personalized lists: filter candidate ids by the user's lists, order kept."""

from __future__ import annotations

from tests.conftest import Api, assert_problem


async def _lists(api: Api) -> None:
    for item in ("1", "2", "3", "4"):
        await api.post(f"/event/7/watchlist/movie/{item}/")
    await api.post("/event/7/seen/movie/2/")
    await api.post("/event/7/hide/movie/3/")
    await api.post("/event/7/hide/movie/x9/")


async def test_include_and_exclude_keep_the_order_given(api: Api) -> None:
    await _lists(api)
    got = await api.get("/list/7/movie/?id=4&id=3&id=x9&id=2&id=1&id=5&exclude=hide&exclude=seen")
    assert got.json() == {"items": [4, 1, 5]}
    got = await api.get("/list/7/movie/?id=4&id=3&id=2&id=1&id=5&include=watchlist&exclude=seen")
    assert got.json() == {"items": [4, 3, 1]}
    got = await api.get("/list/7/movie/?id=x9&id=3&include=hide")
    assert got.json() == {"items": ["x9", 3]}, "numeric ids as numbers, others as strings"


async def test_without_ids_the_include_list_gives_candidates(api: Api) -> None:
    await _lists(api)
    got = await api.get("/list/7/movie/?include=watchlist&exclude=seen&exclude=hide")
    assert got.json() == {"items": [4, 1]}


async def test_list_errors(api: Api) -> None:
    assert_problem(await api.get("/list/7/movie/"), 400, "include")
    assert_problem(await api.get("/list/7/movie/?id=1&include=bad%20name"), 400, "event")
    assert_problem(await api.get("/list/7/movie/?id=a%20b"), 400, "item id")


async def test_other_services_lists_do_not_count(api: Api, other_api: Api) -> None:
    await api.post("/event/7/hide/movie/1/")
    assert (await other_api.get("/list/7/movie/?id=1&exclude=hide")).json() == {"items": [1]}
