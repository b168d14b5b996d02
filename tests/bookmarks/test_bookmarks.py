"""Bookmarks from progress and seen events, with the catalog's durations and episode order."""

from __future__ import annotations

from typing import Any

from tests.conftest import Admin, Api, assert_problem, unique


async def movie(admin: Admin, duration: float | None = 100) -> str:
    movie_id = unique("m")
    body: dict[str, Any] = {"title": "Film"} | ({"duration": duration} if duration else {})
    await admin.put(f"/catalog/movie/{movie_id}/", json=body)
    return movie_id


async def programme(admin: Admin) -> tuple[str, dict[str, str]]:
    """A show with S0E1 (special), S1E1-3 and S2E1, 50 minutes each."""
    show = unique("p")
    await admin.put(f"/catalog/programme/{show}/", json={"title": "Show"})
    episodes = {}
    for season, number in ((0, 1), (1, 1), (1, 2), (1, 3), (2, 1)):
        episode = f"{show}-s{season}e{number}"
        await admin.put(
            f"/catalog/episode/{episode}/",
            json={"programme_id": show, "season": season, "number": number, "duration": 50},
        )
        episodes[f"s{season}e{number}"] = episode
    return show, episodes


async def marks(api: Api) -> list[dict[str, Any]]:
    response = await api.get("/bookmark/7")
    assert response.status_code == 200
    result: list[dict[str, Any]] = response.json()["bookmarks"]
    return result


async def test_movie_thresholds(api: Api, admin: Admin) -> None:
    film = await movie(admin)
    await api.post(f"/event/7/progress/movie/{film}/4/")
    assert await marks(api) == [], "under 5% is not started"
    await api.post(f"/event/7/progress/movie/{film}/30/")
    (mark,) = await marks(api)
    assert (mark["item_type"], mark["item_id"], mark["position"], mark["duration"]) == (
        "movie",
        film,
        30,
        100,
    )
    assert (await api.get(f"/bookmark/7/movie/{film}")).json() == mark
    await api.post(f"/event/7/progress/movie/{film}/90/")
    assert await marks(api) == [], "90% is finished"
    await api.post(f"/event/7/progress/movie/{film}/50/")
    assert len(await marks(api)) == 1
    await api.post(f"/event/7/seen/movie/{film}/")
    assert await marks(api) == [], "seen is finished"
    assert_problem(await api.get(f"/bookmark/7/movie/{film}/"), 404)


async def test_unknown_duration_keeps_the_bookmark_until_seen(api: Api, admin: Admin) -> None:
    film = await movie(admin, duration=None)
    await api.post(f"/event/7/progress/movie/{film}/500/")
    assert [m["position"] for m in await marks(api)] == [500]
    await api.post(f"/event/7/seen/movie/{film}/")
    assert await marks(api) == []


async def test_programme_goes_episode_by_episode_across_seasons(api: Api, admin: Admin) -> None:
    show, ep = await programme(admin)

    async def state() -> tuple[str, str] | None:
        found = [m for m in await marks(api) if m["item_id"] == show]
        return (found[0]["episode_id"], found[0]["status"]) if found else None

    await api.post(f"/event/7/progress/episode/{ep['s1e1']}/20/")
    assert await state() == (ep["s1e1"], "in_progress")
    mark = (await api.get(f"/bookmark/7/programme/{show}/")).json()
    assert (mark["position"], mark["duration"], mark["season"], mark["number"]) == (20, 50, 1, 1)
    await api.post(f"/event/7/progress/episode/{ep['s1e1']}/46/")
    assert await state() == (ep["s1e2"], "next")
    await api.post(f"/event/7/seen/episode/{ep['s1e2']}/")
    assert await state() == (ep["s1e3"], "next")
    await api.post(f"/event/7/seen/episode/{ep['s1e3']}/")
    assert await state() == (ep["s2e1"], "next"), "crosses seasons, skips the special"
    assert (await api.get(f"/bookmark/7/episode/{ep['s1e3']}/")).json()["episode_id"] == ep["s2e1"]
    await api.post(f"/event/7/seen/episode/{ep['s2e1']}/")
    assert await state() is None, "nothing unseen left (specials are never next)"
    assert_problem(await api.get(f"/bookmark/7/programme/{show}/"), 404)


async def test_out_of_order_viewing_never_goes_backwards(api: Api, admin: Admin) -> None:
    show, ep = await programme(admin)
    await api.post(f"/event/7/seen/episode/{ep['s1e3']}/")
    await api.post(f"/event/7/seen/episode/{ep['s1e1']}/")
    mark = (await api.get(f"/bookmark/7/programme/{show}/")).json()
    assert (mark["episode_id"], mark["status"]) == (ep["s2e1"], "next")


async def test_most_recent_activity_first(api: Api, admin: Admin) -> None:
    first, second = await movie(admin), await movie(admin)
    show, ep = await programme(admin)
    await api.post(f"/event/7/progress/movie/{first}/30/")
    await api.post(f"/event/7/progress/episode/{ep['s1e1']}/20/")
    await api.post(f"/event/7/progress/movie/{second}/30/")
    assert [m["item_id"] for m in await marks(api)] == [second, show, first]
    await api.post(f"/event/7/progress/movie/{first}/40/")
    assert [m["item_id"] for m in await marks(api)] == [first, second, show]


async def test_errors_and_isolation(api: Api, other_api: Api, admin: Admin) -> None:
    film = await movie(admin)
    await api.post(f"/event/7/progress/movie/{film}/30/")
    assert (await other_api.get("/bookmark/7/")).json() == {"bookmarks": []}
    assert_problem(await other_api.get(f"/bookmark/7/movie/{film}/"), 404)
    assert_problem(await api.get(f"/bookmark/7/channel/{film}/"), 400, "movie, programme")
    assert_problem(await api.get("/bookmark/7/episode/no-such-episode/"), 404)
    assert (await api.get("/bookmark/nobody/")).json() == {"bookmarks": []}


async def test_catalog_changes_show_at_once(api: Api, admin: Admin) -> None:
    """Each API process keeps a copy of catalog facts; no read may serve it once stale."""
    film = await movie(admin)
    show, ep = await programme(admin)
    await api.post(f"/event/7/progress/movie/{film}/30/")
    await api.post(f"/event/7/seen/episode/{ep['s2e1']}/")
    assert [m["item_id"] for m in await marks(api)] == [film], "the show is finished"

    await admin.put(f"/catalog/movie/{film}/", json={"title": "Film", "duration": 32})
    new = f"{show}-s2e2"
    await admin.put(
        f"/catalog/episode/{new}/",
        json={"programme_id": show, "season": 2, "number": 2, "duration": 50},
    )
    assert {m["item_id"]: m.get("episode_id") for m in await marks(api)} == {show: new}, (
        "30 of 32 minutes is finished; the new episode is next"
    )

    assert (await admin.delete(f"/catalog/episode/{new}/")).status_code == 204
    await admin.put(f"/catalog/movie/{film}/", json={"title": "Film", "duration": 100})
    assert [m["item_id"] for m in await marks(api)] == [film]
