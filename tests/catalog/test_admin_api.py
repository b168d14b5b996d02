"""The operator's catalog API: auth, items, offers, schedules, validation, change rows."""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from tanktop.app import create_app
from tanktop.catalog.tables import catalog_changes
from tanktop.config import Settings
from tanktop.db import Database
from tests.conftest import Admin, assert_problem, unique


async def changes_for(db: Database, item_id: str) -> list[tuple[str, str | None]]:
    async with db.read() as conn:
        rows = await conn.execute(
            sa.select(catalog_changes.c.kind, catalog_changes.c.channel_id)
            .where(catalog_changes.c.item_id == item_id)
            .order_by(catalog_changes.c.id)
        )
        return [(row.kind, row.channel_id) for row in rows]


async def test_admin_auth(client: httpx.AsyncClient, settings: Settings) -> None:
    assert_problem(await client.get("/admin/1/catalog/movie/1/"), 401, "Bearer")
    wrong = {"authorization": "Bearer nope"}
    response = await client.get("/admin/1/catalog/movie/1/", headers=wrong)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"

    disabled = create_app(settings.model_copy(update={"admin_token": None}))
    async with disabled.router.lifespan_context(disabled):
        transport = httpx.ASGITransport(app=disabled)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as other:
            response = await other.get(
                "/admin/1/catalog/movie/1/", headers={"authorization": "Bearer x"}
            )
    assert_problem(response, 403, "TANKTOP_ADMIN_TOKEN")


async def test_items_create_replace_read_delete(admin: Admin) -> None:
    movie = unique("m")
    body = {"title": "Alien", "duration": 117, "genres": ["Horror"], "year": 1979}
    created = await admin.put(f"/catalog/movie/{movie}/", json=body)
    assert created.status_code == 201
    assert created.json() == {"item_type": "movie", "item_id": movie, **body}
    replaced = await admin.put(f"/catalog/movie/{movie}", json={"title": "Aliens"})
    assert replaced.status_code == 200
    got = (await admin.get(f"/catalog/movie/{movie}/")).json()
    assert got == {
        "item_type": "movie",
        "item_id": movie,
        "title": "Aliens",
        "duration": None,
        "genres": [],
        "year": None,
        "offers": [],
    }
    assert (await admin.delete(f"/catalog/movie/{movie}/")).status_code == 204
    assert_problem(await admin.get(f"/catalog/movie/{movie}/"), 404)
    assert_problem(await admin.delete(f"/catalog/movie/{movie}/"), 404)


async def test_numeric_ids_are_numbers(admin: Admin) -> None:
    numeric = str(10_000_000 + int(unique("")[:6], 16))
    response = await admin.put(f"/catalog/channel/{numeric}/", json={"name": "One"})
    assert response.json() == {"item_type": "channel", "item_id": int(numeric), "name": "One"}


async def test_episodes_need_their_programme(admin: Admin) -> None:
    show, ep = unique("p"), unique("e")
    episode = {"programme_id": show, "season": 1, "number": 1, "duration": 45}
    assert_problem(await admin.put(f"/catalog/episode/{ep}/", json=episode), 400, show)
    await admin.put(
        f"/catalog/programme/{show}/",
        json={"title": "Show", "sport": "football", "teams": ["Arsenal"]},
    )
    created = await admin.put(f"/catalog/episode/{ep}/", json=episode)
    assert created.status_code == 201
    assert created.json()["programme_id"] == show
    assert_problem(await admin.delete(f"/catalog/programme/{show}/"), 409, "episodes")


async def test_item_validation(admin: Admin) -> None:
    cases = [
        ("/catalog/movie/x/", {"title": "A", "durration": 5}, "durration"),
        ("/catalog/movie/x/", {"title": ""}, "title"),
        ("/catalog/movie/x/", {"title": "A", "duration": -1}, "duration"),
        ("/catalog/movie/x/", ["not", "object"], "object"),
        ("/catalog/cartoon/x/", {"title": "A"}, "movie, programme, episode, channel"),
        ("/catalog/episode/x/", {"programme_id": "p", "season": -1, "number": 1}, "season"),
        ("/catalog/channel/x/", {"title": "no name"}, "name"),
    ]
    for path, body, words in cases:
        assert_problem(await admin.put(path, json=body), 400, words)
    assert_problem(await admin.get("/catalog/movie/x/"), 404)


async def test_offers_replace_and_write_change_rows(admin: Admin, db: Database) -> None:
    movie = unique("m")
    assert_problem(await admin.put(f"/catalog/movie/{movie}/offers/", json=[]), 404)
    await admin.put(f"/catalog/movie/{movie}/", json={"title": "Film"})
    offers = [{"source_id": 7, "price": 349, "hd": True}, {"source_id": "netflix"}]
    response = await admin.put(f"/catalog/movie/{movie}/offers/", json=offers)
    assert response.status_code == 200
    assert response.json()["offers"][0] == {
        "source_id": 7,
        "price": 349,
        "hd": True,
        "available_from": None,
        "available_until": None,
    }
    assert await changes_for(db, movie) == [("offers", None)]
    await admin.put(f"/catalog/movie/{movie}/offers/", json=offers)
    assert await changes_for(db, movie) == [("offers", None)], "an unchanged set is no change"
    await admin.put(f"/catalog/movie/{movie}/offers/", json=[{"source_id": 7, "price": 199}])
    got = (await admin.get(f"/catalog/movie/{movie}/")).json()["offers"]
    assert [o["price"] for o in got] == [199]
    assert len(await changes_for(db, movie)) == 2


async def test_offer_validation_stores_nothing(admin: Admin, db: Database) -> None:
    movie = unique("m")
    await admin.put(f"/catalog/movie/{movie}/", json={"title": "Film"})
    cases = [
        ([{"source_id": 1, "price": -5}], "price"),
        ([{"source_id": 1, "price": 1.5}], "price"),
        ([{"source_id": 1, "price": "5"}], "price"),
        ([{"source_id": 1, "colour": True}], "colour"),
        ([{"price": 5}], "source_id"),
        (
            [
                {
                    "source_id": 1,
                    "available_from": "2026-02-01T00:00:00Z",
                    "available_until": "2026-01-01T00:00:00Z",
                }
            ],
            "available_until",
        ),
        ({"source_id": 1}, "array"),
    ]
    for body, words in cases:
        assert_problem(await admin.put(f"/catalog/movie/{movie}/offers/", json=body), 400, words)
    assert_problem(await admin.put(f"/catalog/channel/{movie}/offers/", json=[]), 400)
    assert (await admin.get(f"/catalog/movie/{movie}/")).json()["offers"] == []
    assert await changes_for(db, movie) == []


async def test_schedule_replaces_the_covered_range(admin: Admin, db: Database) -> None:
    channel, a, b, c = unique("c"), unique("m"), unique("m"), unique("m")
    await admin.put(f"/catalog/channel/{channel}/", json={"name": "One"})
    for movie in (a, b, c):
        await admin.put(f"/catalog/movie/{movie}/", json={"title": movie})
    day = [
        {
            "start": "2026-11-27T18:00:00Z",
            "end": "2026-11-27T19:00:00Z",
            "item_type": "movie",
            "item_id": a,
        },
        {
            "start": "2026-11-27T19:00:00Z",
            "end": "2026-11-27T21:00:00Z",
            "item_type": "movie",
            "item_id": b,
        },
        {
            "start": "2026-11-27T21:00:00Z",
            "end": "2026-11-27T22:00:00Z",
            "item_type": "movie",
            "item_id": a,
        },
    ]
    assert (await admin.put(f"/schedule/{channel}/", json=day)).status_code == 200
    evening = [
        {
            "start": "2026-11-27T19:00:00+00:00",
            "end": "2026-11-27T20:30:00+00:00",
            "item_type": "movie",
            "item_id": c,
        }
    ]
    assert (await admin.put(f"/schedule/{channel}/", json=evening)).status_code == 200
    got = await admin.get(f"/schedule/{channel}/?from=2026-11-27T00:00:00Z&to=2026-11-28T00:00:00Z")
    assert [(s["start"][11:16], s["item_id"]) for s in got.json()["slots"]] == [
        ("18:00", a),
        ("19:00", c),
        ("21:00", a),
    ]
    assert await changes_for(db, c) == [("slot", channel)]
    assert [k for k, _ in await changes_for(db, a)] == ["slot", "slot"]


async def test_schedule_validation(admin: Admin) -> None:
    channel, movie = unique("c"), unique("m")
    await admin.put(f"/catalog/channel/{channel}/", json={"name": "One"})
    await admin.put(f"/catalog/movie/{movie}/", json={"title": "M"})
    slot = {
        "start": "2026-11-27T18:00:00Z",
        "end": "2026-11-27T19:00:00Z",
        "item_type": "movie",
        "item_id": movie,
    }
    cases = [
        ([{**slot, "end": "2026-11-27T17:00:00Z"}], "end must be after"),
        (
            [slot, {**slot, "start": "2026-11-27T18:30:00Z", "end": "2026-11-27T19:30:00Z"}],
            "overlap",
        ),
        ([{**slot, "item_id": "missing-item"}], "missing-item"),
        ([{**slot, "item_type": "channel"}], "item_type"),
    ]
    for body, words in cases:
        assert_problem(await admin.put(f"/schedule/{channel}/", json=body), 400, words)
    assert_problem(await admin.put("/schedule/no-such-channel/", json=[slot]), 404)
    got = await admin.get(f"/schedule/{channel}/?from=2026-11-27T00:00:00Z&to=2026-11-28T00:00:00Z")
    assert got.json() == {"slots": []}
    assert_problem(
        await admin.get(f"/schedule/{channel}/?from=2026-11-28T00:00:00Z&to=2026-11-27T00:00:00Z"),
        400,
    )


async def test_out_of_range_times_are_400_not_500(admin: Admin) -> None:
    channel, movie = unique("c"), unique("m")
    await admin.put(f"/catalog/channel/{channel}/", json={"name": "One"})
    await admin.put(f"/catalog/movie/{movie}/", json={"title": "M"})
    far = "0001-01-01T00:01:00+01:01"
    response = await admin.get(
        f"/schedule/{channel}/?from={far.replace('+', '%2B')}&to=2000-01-01T00:00:00Z"
    )
    assert_problem(response, 400, "range")
    offer = [{"source_id": 1, "available_from": far}]
    assert_problem(await admin.put(f"/catalog/movie/{movie}/offers/", json=offer), 400, "range")
    slot = [
        {
            "start": "9999-12-31T23:00:00-05:00",
            "end": "9999-12-31T23:30:00-05:00",
            "item_type": "movie",
            "item_id": movie,
        }
    ]
    assert_problem(await admin.put(f"/schedule/{channel}/", json=slot), 400, "range")
