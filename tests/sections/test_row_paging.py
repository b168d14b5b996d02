"""`GET /sections/<userid>/<sectionid>/`: one row, paged, built by the page's rules."""

from __future__ import annotations

from typing import Any

from tests.conftest import Admin, Api, assert_problem, unique
from tests.sections.helpers import add_movies, editorial, page


async def row(api: Api, section_id: str, query: str = "") -> dict[str, Any]:
    response = await api.get(f"/sections/u/{section_id}/{query}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(body: dict[str, Any]) -> list[Any]:
    return [item["item_id"] for item in body["items"]]


async def test_a_row_pages_with_its_cursor_to_its_max_items(api: Api, admin: Admin) -> None:
    source = unique("src")
    films = await add_movies(admin, 30, source=source)
    await editorial(api, "top", films[:3])
    await editorial(api, "all", films, max_items=25)
    first = await page(api, query="?items=10")
    assert [r["section_id"] for r in first] == ["top", "all"]
    assert "next_cursor" not in first[0]
    assert [i["item_id"] for i in first[1]["items"]] == films[3:13]
    assert (await row(api, "all", "?limit=10")) == first[1], "the same object as on the page"
    seen = [i["item_id"] for i in first[1]["items"]]
    cursor = first[1]["next_cursor"]
    for _ in range(5):  # bounded: a cursor that never ends fails instead of hanging
        if not cursor:
            break
        body = await row(api, "all", f"?limit=10&cursor={cursor}")
        assert body["section_id"] == "all"
        seen += ids(body)
        cursor = body.get("next_cursor")
    assert not cursor
    assert seen == films[3:28], "25 items at most, none of what the row above shows"
    shorter = await row(api, "all", f"?limit=4&cursor={first[1]['next_cursor']}")
    assert ids(shorter) == films[13:17]


async def test_a_row_follows_the_users_events_between_pages(api: Api, admin: Admin) -> None:
    source = unique("src")
    films = await add_movies(admin, 6, source=source)
    await editorial(api, "all", films)
    body = await row(api, "all", "?limit=2")
    assert ids(body) == films[:2]
    await api.post(f"/event/u/hide/movie/{films[2]}/")
    assert ids(await row(api, "all", f"?limit=2&cursor={body['next_cursor']}")) == films[3:5]


async def test_bad_row_requests(api: Api, admin: Admin) -> None:
    source = unique("src")
    films = await add_movies(admin, 3, source=source)
    await editorial(api, "a", films)
    await editorial(api, "b", films)
    cursor = (await row(api, "a", "?limit=1"))["next_cursor"]
    assert_problem(await api.get(f"/sections/u/b/?cursor={cursor}"), 400, "section 'a'")
    for bad in ("garbage", "WyJhIiwtMSwxXQ", "WyJhIiwxXQ"):
        assert_problem(await api.get(f"/sections/u/a/?cursor={bad}"), 400, "cursor")
    assert_problem(await api.get("/sections/u/a/?limit=0"), 400, "limit")
    assert_problem(await api.get("/sections/u/a/?limit=101"), 400, "limit")
    assert_problem(await api.get("/sections/u/a%20b/"), 400, "sectionid")
    assert_problem(await api.get("/sections/u/nope/"), 404, "nope")
    await api.post("/event/u/hide/section/a/")
    assert_problem(await api.get("/sections/u/a/"), 404, "hidden")
    assert ids(await row(api, "b")) == films, "nothing above it now"
