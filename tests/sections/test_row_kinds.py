"""What fills each kind of row, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tanktop.catalog import service as catalog
from tanktop.db import Database
from tanktop.recommendations.service import train_service
from tests.conftest import Admin, Api, service_of, unique
from tests.sections.helpers import add_movies, define, page, rows


async def test_watchlist_row_is_most_recent_first_without_seen(api: Api, admin: Admin) -> None:
    source = unique("src")
    films = await add_movies(admin, 4, source=source)
    await define(api, "later", "watchlist")
    for movie in films:
        await api.post(f"/event/u/watchlist/movie/{movie}/")
    await api.post(f"/event/u/seen/movie/{films[1]}/")
    assert (await rows(api))["later"] == [films[3], films[2], films[0]]


async def test_list_row_reads_the_users_lists(api: Api, admin: Admin) -> None:
    source = unique("src")
    films = await add_movies(admin, 4, source=source)
    await define(api, "saved", "list", params={"include": ["watchlist"], "exclude": ["skip"]})
    for movie in films:
        await api.post(f"/event/u/watchlist/movie/{movie}/")
    await api.post(f"/event/u/skip/movie/{films[2]}/")
    assert (await rows(api))["saved"] == [films[0], films[1], films[3]], "catalog id order"


async def test_new_row_shows_what_became_available_in_its_days(api: Api, admin: Admin) -> None:
    source = unique("src")
    now = dt.datetime.now(dt.UTC)
    old, recent, newest, future = await add_movies(admin, 4, source=source)
    show = unique("show")
    await admin.put(f"/catalog/programme/{show}/", json={"title": "Show"})
    episode = f"{show}-e1"
    body = {"programme_id": show, "season": 1, "number": 1}
    assert (await admin.put(f"/catalog/episode/{episode}/", json=body)).is_success

    async def offer(item_type: str, item_id: str, since: dt.datetime) -> None:
        body = [{"source_id": source, "price": 0, "hd": True, "available_from": since.isoformat()}]
        response = await admin.put(f"/catalog/{item_type}/{item_id}/offers/", json=body)
        assert response.is_success, response.text

    await offer("movie", old, now - dt.timedelta(days=30))
    await offer("movie", recent, now - dt.timedelta(days=3))
    await offer("movie", future, now + dt.timedelta(days=3))
    await offer("episode", episode, now - dt.timedelta(days=1))
    await define(api, "new", "new", params={"days": 14})
    await define(api, "new-films", "new", item_type="movie", params={"days": 2})
    query = f"?source_id={source}"
    got = await rows(api, query=query)
    assert got == {"new": [newest, show, recent]}, "newest first; an episode counts for its show"
    await api.post("/event/u/hide/section/new/")
    assert await rows(api, query=query) == {"new-films": [newest]}
    await api.delete("/event/u/hide/section/new/")
    price = [{"source_id": source, "price": 99, "hd": True}]
    assert (await admin.put(f"/catalog/movie/{newest}/offers/", json=price)).is_success
    assert (await rows(api, query=query))["new"] == [newest, show, recent], (
        "a new price on the same source is not a new arrival"
    )
    await api.put("/section/new/", json={"title": "New", "kind": "new", "params": {"days": 2}})
    assert (await rows(api, query=query))["new"] == [newest, show]


async def test_new_items_read_past_the_offers_of_one_item_and_order_equal_times_by_key(
    admin: Admin, db: Database
) -> None:
    """`new` reads offers newest first until it knows enough items: eleven episode offers of
    one show come first (one item), then three movies listed at the same moment, stored in
    reverse id order; the first read ends inside that moment."""
    source = unique("src")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def listed(at: dt.datetime) -> list[dict[str, Any]]:
        return [{"source_id": source, "price": 0, "hd": True, "available_from": at.isoformat()}]

    tied = now - dt.timedelta(hours=2)
    films = await add_movies(admin, 3, source=source, offers=listed(tied))
    for film in reversed(films):
        assert (await admin.put(f"/catalog/movie/{film}/offers/", json=listed(tied))).is_success
    show = unique("show")
    assert (await admin.put(f"/catalog/programme/{show}/", json={"title": "Show"})).is_success
    for n in range(11):
        body = {"programme_id": show, "season": 1, "number": n + 1}
        assert (await admin.put(f"/catalog/episode/{show}-e{n}/", json=body)).is_success
        at = now - dt.timedelta(minutes=n + 1)
        response = await admin.put(f"/catalog/episode/{show}-e{n}/offers/", json=listed(at))
        assert response.is_success, response.text

    async def new(limit: int, item_types: tuple[str, ...] = ("movie", "programme")) -> list[str]:
        found = await catalog.new_items(
            db,
            item_types=item_types,
            availability=catalog.Availability(sources=[source]),
            since=now - dt.timedelta(days=1),
            limit=limit,
        )
        return [item_id for _, item_id in found]

    assert await new(2) == [show, films[0]]
    assert await new(10) == [show, *films]
    assert await new(2, ("movie",)) == films[:2]
    assert await new(2, ("episode",)) == [], "an episode's offer counts for its programme"


async def test_popular_row_counts_users_over_its_days(api: Api, admin: Admin) -> None:
    source = unique("src")
    films = await add_movies(admin, 4, source=source)
    long_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=20)).isoformat()
    batch: list[dict[str, Any]] = [
        {"user_id": f"a{n}", "event": "seen", "item_type": "movie", "item_id": films[0]}
        for n in range(3)
    ]
    batch += [
        {
            "user_id": f"b{n}",
            "event": "rated",
            "item_type": "movie",
            "item_id": films[1],
            "value": 4,
        }
        for n in range(5)
    ]
    batch += [
        {
            "user_id": "c",
            "event": "seen",
            "item_type": "movie",
            "item_id": films[2],
            "at": long_ago,
        },
        {"user_id": "c", "event": "hide", "item_type": "movie", "item_id": films[3]},
        {"user_id": "c", "event": "watchlist", "item_type": "movie", "item_id": films[3]},
    ]
    assert (await api.post("/events/", json=batch)).status_code == 204
    await define(api, "hot", "popular", params={"days": 7}, position=1)
    await define(api, "month", "popular", params={"days": 30}, position=0)
    got = await rows(api)
    assert got == {"month": [films[1], films[0], films[2], films[3]]}
    await api.delete("/section/month/")
    assert (await rows(api))["hot"] == [films[1], films[0], films[3]]
    assert (await rows(api, user="a1"))["hot"] == [films[1], films[3]], "not what they saw"


async def test_genre_row_ranks_the_genre_for_the_user(api: Api, admin: Admin, db: Database) -> None:
    source = unique("src")
    genre = unique("Genre")
    drama = await add_movies(admin, 3, source=source, genres=(genre, "Drama"))
    other = await add_movies(admin, 2, source=source, genres=("Comedy",))
    await define(api, "g", "genre", params={"genre": genre.lower()})
    assert (await rows(api))["g"] == drama, "no model: catalog order"
    batch = [
        {"user_id": f"f{n}", "event": "seen", "item_type": "movie", "item_id": movie}
        for n in range(6)
        for movie in (other[0], drama[2])
    ]
    batch += [
        {"user_id": f"g{n}", "event": "seen", "item_type": "movie", "item_id": movie}
        for n in range(3)
        for movie in (other[1], drama[1])
    ]
    assert (await api.post("/events/", json=batch)).status_code == 204
    await train_service(db, (await service_of(db, api)).id)
    assert (await rows(api))["g"] == [drama[2], drama[1], drama[0]], "popular first"
    await api.post(f"/event/u/seen/movie/{other[1]}/")
    assert (await rows(api))["g"] == [drama[1], drama[2], drama[0]], "then for the user"


async def test_a_genre_row_follows_the_catalog_at_once(api: Api, admin: Admin) -> None:
    source = unique("src")
    genre = unique("Genre")
    first = await add_movies(admin, 2, source=source, genres=(genre,))
    await define(api, "g", "genre", params={"genre": genre})
    assert set((await rows(api))["g"]) == set(first)
    later = await add_movies(admin, 1, source=source, genres=(genre,))
    assert set((await rows(api))["g"]) == {*first, *later}, "a new member, at once"
    moved = {"title": "Moved", "duration": 100, "genres": ["Comedy"]}
    assert (await admin.put(f"/catalog/movie/{first[0]}/", json=moved)).is_success
    assert set((await rows(api))["g"]) == {first[1], *later}, "one that left, gone at once"


async def test_recommended_row_and_its_item_type(api: Api, admin: Admin) -> None:
    source = unique("src")
    films = await add_movies(admin, 3, source=source)
    await define(api, "recs", "recommended", item_type="movie")
    await api.post(f"/event/u/seen/movie/{films[0]}/")
    row = (await page(api, query=f"?source_id={source}"))[0]
    assert [i["item_id"] for i in row["items"]] == films[1:]
    assert row["items"][0]["reasons"] == [{"type": "available"}]


async def test_live_now_row(api: Api, admin: Admin) -> None:
    channel = unique("ch")
    films = await add_movies(admin, 2, source=unique("src"))
    await admin.put(f"/catalog/channel/{channel}/", json={"name": "Channel"})
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    slots = [
        {
            "start": (now - dt.timedelta(minutes=10)).isoformat(),
            "end": (now + dt.timedelta(minutes=50)).isoformat(),
            "item_type": "movie",
            "item_id": films[0],
        },
        {
            "start": (now + dt.timedelta(minutes=50)).isoformat(),
            "end": (now + dt.timedelta(minutes=150)).isoformat(),
            "item_type": "movie",
            "item_id": films[1],
        },
    ]
    assert (await admin.put(f"/schedule/{channel}/", json=slots)).is_success
    await define(api, "live", "live_now", params={"window": 30})
    await define(api, "evening", "live_now", params={"window": 120})
    got = await page(api, query=f"?source_id={channel}")
    assert [[i["item_id"] for i in row["items"]] for row in got] == [[films[0]], [films[1]]]
    first = got[0]["items"][0]
    assert first["channel_id"] == channel
    assert (first["start"], first["end"]) == (slots[0]["start"], slots[0]["end"]), "+00:00"
    await api.post(f"/event/u/hide/channel/{channel}/")
    assert await page(api, query=f"?source_id={channel}") == []
