"""Personalized lists: filter candidate ids by the user's lists, order kept."""

from __future__ import annotations

from tests.conftest import Admin, Api, unique


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


async def _catalog(admin: Admin) -> tuple[str, list[str]]:
    """Five movies on a source no other test uses; the last two in HD, prices 100..500."""
    source, movies = unique("src"), [unique("m") for _ in range(5)]
    movies.sort()
    for n, movie in enumerate(movies):
        await admin.put(f"/catalog/movie/{movie}/", json={"title": movie})
        offer = {"source_id": source, "price": (n + 1) * 100, "hd": n >= 3}
        await admin.put(f"/catalog/movie/{movie}/offers/", json=[offer])
    return source, movies


async def test_without_ids_the_catalog_gives_candidates(api: Api, admin: Admin) -> None:
    source, m = await _catalog(admin)
    await api.post(f"/event/7/seen/movie/{m[1]}/")
    await api.post(f"/event/7/watchlist/movie/{m[2]}/")
    await api.post(f"/event/7/watchlist/movie/{m[4]}/")
    base = f"/list/7/movie/?source_id={source}"
    assert (await api.get(base)).json() == {"items": m}
    assert (await api.get(base + "&exclude=seen")).json() == {"items": [m[0], m[2], m[3], m[4]]}
    assert (await api.get(base + "&include=watchlist")).json() == {"items": [m[2], m[4]]}
    assert (await api.get(base + "&hd=true")).json() == {"items": [m[3], m[4]]}
    assert (await api.get(base + "&max_price=200")).json() == {"items": [m[0], m[1]]}
    assert (await api.get(base + "&hd=true&max_price=400&exclude=seen")).json() == {"items": [m[3]]}


async def test_catalog_candidates_page(api: Api, admin: Admin) -> None:
    source, m = await _catalog(admin)
    await api.post(f"/event/7/hide/movie/{m[1]}/")
    seen: list[str] = []
    cursor = None
    while True:
        query = f"/list/7/movie/?source_id={source}&exclude=hide&limit=2"
        body = (await api.get(query + (f"&cursor={cursor}" if cursor else ""))).json()
        seen += body["items"]
        cursor = body.get("next_cursor")
        if cursor is None:
            break
    assert seen == [m[0], m[2], m[3], m[4]]


async def test_programme_available_through_its_episodes(api: Api, admin: Admin) -> None:
    source, show, episode = unique("src"), unique("p"), unique("e")
    await admin.put(f"/catalog/programme/{show}/", json={"title": "Show"})
    await admin.put(
        f"/catalog/episode/{episode}/", json={"programme_id": show, "season": 1, "number": 1}
    )
    assert (await api.get(f"/list/7/programme/?source_id={source}")).json() == {"items": []}
    await admin.put(f"/catalog/episode/{episode}/offers/", json=[{"source_id": source}])
    assert (await api.get(f"/list/7/programme/?source_id={source}")).json() == {"items": [show]}


async def test_other_services_lists_do_not_count(api: Api, other_api: Api) -> None:
    await api.post("/event/7/hide/movie/1/")
    assert (await other_api.get("/list/7/movie/?id=1&exclude=hide")).json() == {"items": [1]}
