"""Helpers for page tests: catalog items of a test's own (the catalog is shared by every
test), offered on a source of the test's own, and short ways to define sections and read rows."""

from __future__ import annotations

from typing import Any

from tests.conftest import Admin, Api, unique


async def add_movies(
    admin: Admin,
    count: int,
    *,
    source: str,
    duration: int = 100,
    genres: tuple[str, ...] = (),
    offers: list[dict[str, Any]] | None = None,
) -> list[str]:
    """`count` new movies titled like their ids, each offered on `source`."""
    prefix = unique("m")
    movies = [f"{prefix}-{n}" for n in range(count)]
    for movie in movies:
        body = {"title": f"Title {movie}", "duration": duration, "genres": list(genres)}
        assert (await admin.put(f"/catalog/movie/{movie}/", json=body)).status_code == 201
        offer = offers or [{"source_id": source, "price": 0, "hd": True}]
        assert (await admin.put(f"/catalog/movie/{movie}/offers/", json=offer)).is_success
    return movies


async def define(api: Api, section_id: str, kind: str, **fields: Any) -> None:
    body = {"title": fields.pop("title", section_id), "kind": kind, **fields}
    response = await api.put(f"/section/{section_id}/", json=body)
    assert response.status_code in (200, 201), response.text


async def editorial(api: Api, section_id: str, ids: list[str], **fields: Any) -> None:
    await define(api, section_id, "editorial", params={"ids": ids}, **fields)


async def page(api: Api, user: str = "u", query: str = "") -> list[dict[str, Any]]:
    response = await api.get(f"/sections/{user}/{query}")
    assert response.status_code == 200, response.text
    sections: list[dict[str, Any]] = response.json()["sections"]
    return sections


async def rows(api: Api, user: str = "u", query: str = "") -> dict[str, list[Any]]:
    """Section id -> the ids of its items, in page order."""
    return {
        str(row["section_id"]): [item["item_id"] for item in row["items"]]
        for row in await page(api, user, query)
    }
