"""The page rules of `GET /sections/<userid>/`, each on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import FastAPI

from tanktop.analytics.impressions import ImpressionRecorder
from tanktop.analytics.tables import impressions
from tanktop.db import Database
from tanktop.recommendations.service import train_service
from tests.conftest import Admin, Api, assert_problem, service_of, unique
from tests.sections.helpers import add_movies, define, editorial, page, rows


async def test_rows_follow_the_users_section_order(api: Api, admin: Admin) -> None:
    source = unique("src")
    films = await add_movies(admin, 6, source=source)
    for n, name in enumerate("abcdef"):
        await editorial(api, name, [films[n]], locked=name == "b")
    await api.post("/event/u/hide/section/c/")
    await api.post("/event/u/pin/section/f/")
    await api.post("/event/u/rated/section/e/2/")
    await api.post("/event/u/hide/section/b/")  # locked: not hidden
    expected = ["f", "b", "a", "e", "d"]
    assert (await api.get("/list/u/section/")).json()["items"] == expected
    assert list(await rows(api)) == expected, "locked keeps slot 1, pinned first, hidden gone"
    assert (await rows(api))["e"] == [films[4]]
    assert list(await rows(api, query="?rows=2")) == ["f", "b"]


async def test_empty_rows_are_left_out(api: Api, admin: Admin) -> None:
    source = unique("src")
    films = await add_movies(admin, 2, source=source)
    await editorial(api, "full", films[1:])
    await editorial(api, "gone", ["not-in-any-catalog"])
    await define(api, "nothing", "list", params={"include": "watchlist"})
    await define(api, "cw", "continue_watching")
    assert list(await rows(api, query=f"?source_id={source}")) == ["full"]
    await api.post(f"/event/u/watchlist/movie/{films[0]}/")
    got = await rows(api, query=f"?source_id={source}")
    assert got == {"full": [films[1]], "nothing": [films[0]]}
    assert list(await rows(api, query=f"?source_id={source}&rows=1")) == ["full"]


async def test_hidden_seen_and_finished_items_leave_every_row_but_continue_watching(
    api: Api, admin: Admin
) -> None:
    source = unique("src")
    hidden, seen, finished, half, fresh = await add_movies(admin, 5, source=source, duration=100)
    await define(api, "cw", "continue_watching")
    await editorial(api, "picks", [hidden, seen, finished, half, fresh])
    await define(api, "later", "watchlist")
    for movie in (hidden, seen, finished, half, fresh):
        await api.post(f"/event/u/watchlist/movie/{movie}/")
    await api.post(f"/event/u/progress/movie/{hidden}/30/")
    await api.post(f"/event/u/hide/movie/{hidden}/")
    await api.post(f"/event/u/seen/movie/{seen}/")
    await api.post(f"/event/u/progress/movie/{finished}/95/")
    await api.post(f"/event/u/progress/movie/{half}/50/")
    got = await rows(api)
    assert got["cw"] == [half, hidden], "continue watching keeps what was hidden"
    assert got["picks"] == [fresh], "hidden, seen, finished left out; half already in cw"
    assert "later" not in got, "watchlist minus seen, finished, hidden and what cw shows"
    cw = (await page(api))[0]["items"]
    assert cw[0]["position"] == 50
    assert cw[0]["duration"] == 100
    bookmark = (await api.get(f"/bookmark/u/movie/{half}/")).json()
    assert cw[0]["updated_at"] == bookmark["updated_at"], "times written as every answer does"
    assert cw[0]["updated_at"].endswith("+00:00")


async def test_finished_programmes_and_hidden_programmes_leave_rows(api: Api, admin: Admin) -> None:
    show = unique("show")
    await admin.put(f"/catalog/programme/{show}/", json={"title": "Show"})
    episodes = [f"{show}-e{n}" for n in (1, 2)]
    for n, episode in enumerate(episodes, start=1):
        body = {"programme_id": show, "season": 1, "number": n, "duration": 30}
        assert (await admin.put(f"/catalog/episode/{episode}/", json=body)).is_success
    await editorial(api, "shows", [show], item_type="programme")
    assert (await rows(api))["shows"] == [show]
    await api.post(f"/event/u/seen/episode/{episodes[0]}/")
    assert (await rows(api))["shows"] == [show], "one episode left: not finished"
    await api.post(f"/event/u/seen/episode/{episodes[1]}/")
    assert "shows" not in await rows(api), "every episode seen: finished"
    assert (await rows(api, user="v"))["shows"] == [show]
    await api.post(f"/event/v/hide/programme/{show}/")
    assert "shows" not in await rows(api, user="v")


async def test_an_item_shows_in_the_first_row_that_has_it(api: Api, admin: Admin) -> None:
    source = unique("src")
    films = await add_movies(admin, 6, source=source)
    await editorial(api, "one", films[:4])
    await editorial(api, "two", films[2:])
    assert await rows(api) == {"one": films[:4], "two": films[4:]}
    await api.post("/event/u/pin/section/two/")
    assert await rows(api) == {"two": films[2:], "one": films[:2]}
    assert await rows(api, query="?items=2") == {"two": films[2:4], "one": films[:2]}, (
        "only what a row shows is left out of the rows after it"
    )


async def test_availability_filters_apply_to_every_row(api: Api, admin: Admin) -> None:
    source, other = unique("src"), unique("src")
    free_hd = await add_movies(admin, 2, source=source)
    pricey = await add_movies(
        admin, 2, source=source, offers=[{"source_id": source, "price": 500, "hd": False}]
    )
    elsewhere = await add_movies(admin, 2, source=other)
    everything = free_hd + pricey + elsewhere
    await define(api, "cw", "continue_watching")
    await editorial(api, "picks", everything)
    await define(api, "later", "watchlist")
    await define(api, "all", "list")
    for movie in everything:
        await api.post(f"/event/u/watchlist/movie/{movie}/")
    await api.post(f"/event/u/progress/movie/{pricey[0]}/20/")
    await api.post(f"/event/u/progress/movie/{free_hd[0]}/20/")
    got = await rows(api, query=f"?source_id={source}&hd=true")
    assert got["cw"] == [free_hd[0]]
    assert got["picks"] == [free_hd[1]]
    assert "later" not in got, "what is left of the watchlist shows above"
    assert "all" not in got
    got = await rows(api, query=f"?source_id={source}&max_price=100&items=100")
    assert set(got["cw"]) | set(got["picks"]) == set(free_hd)
    got = await rows(api, query=f"?source_id={other}&items=100")
    assert got["picks"] == elsewhere
    assert_problem(await api.get("/sections/u/?max_price=-1"), 400, "max_price")


async def test_a_new_event_changes_the_next_page_at_once(api: Api, admin: Admin) -> None:
    source = unique("src")
    films = await add_movies(admin, 3, source=source)
    await editorial(api, "a", films[:2])
    await editorial(api, "b", films[2:])
    assert await rows(api) == {"a": films[:2], "b": films[2:]}
    await api.post(f"/event/u/hide/movie/{films[0]}/")
    assert await rows(api) == {"a": films[1:2], "b": films[2:]}
    await api.post("/event/u/pin/section/b/")
    assert list(await rows(api)) == ["b", "a"]
    await api.post("/event/u/hide/section/b/")
    assert list(await rows(api)) == ["a"]
    await api.delete("/event/u/hide/section/b/")
    await api.delete(f"/event/u/hide/movie/{films[0]}/")
    await editorial(api, "a", films[1:2], position=0)
    assert await rows(api) == {"b": films[2:], "a": films[1:2]}


async def test_because_you_watched_names_the_item(api: Api, admin: Admin, db: Database) -> None:
    source = unique("src")
    alien, aliens, other, unrelated = await add_movies(admin, 4, source=source)
    batch = [
        {"user_id": f"fan{n}", "event": "seen", "item_type": "movie", "item_id": movie}
        for n in range(8)
        for movie in (alien, aliens)
    ] + [
        {"user_id": f"other{n}", "event": "seen", "item_type": "movie", "item_id": movie}
        for n in range(8)
        for movie in (other, unrelated)
    ]
    assert (await api.post("/events/", json=batch)).status_code == 204
    await train_service(db, (await service_of(db, api)).id)
    await define(api, "because", "because_you_watched", title="Because you watched {title}")
    assert "because" not in await rows(api), "nothing liked yet: empty, left out"
    await api.post(f"/event/u/rated/movie/{other}/-2/")
    assert "because" not in await rows(api), "a low rating is not a like"
    await api.post(f"/event/u/rated/movie/{alien}/5/")
    row = (await page(api))[0]
    assert row["title"] == f"Because you watched Title {alien}"
    assert row["based_on"] == {"item_type": "movie", "item_id": alien, "title": f"Title {alien}"}
    assert [item["item_id"] for item in row["items"]][:1] == [aliens]
    assert row["items"][0]["reasons"][0]["type"] == "similar_to"
    renamed = {"title": "Alien", "year": 1979, "duration": 117}
    assert (await admin.put(f"/catalog/movie/{alien}/", json=renamed)).is_success
    assert (await page(api))[0]["title"] == "Because you watched Alien (1979)", (
        "the name the catalog gives now (the process's copy of names follows its writes)"
    )


async def test_pages_are_per_user_and_per_service(api: Api, other_api: Api, admin: Admin) -> None:
    source = unique("src")
    films = await add_movies(admin, 2, source=source)
    await editorial(api, "picks", films)
    await api.post(f"/event/u/hide/movie/{films[0]}/")
    assert await rows(api) == {"picks": films[1:]}
    assert await rows(api, user="v") == {"picks": films}
    assert "picks" not in await rows(other_api)
    await other_api.post("/event/u/hide/section/picks/")
    assert await rows(api) == {"picks": films[1:]}


async def test_default_page_for_a_service_without_sections(api: Api, admin: Admin) -> None:
    source = unique("src")
    films = await add_movies(admin, 3, source=source)
    await api.post(f"/event/u/progress/movie/{films[0]}/30/")
    await api.post(f"/event/u/watchlist/movie/{films[1]}/")
    got = await page(api, query=f"?source_id={source}")
    assert [row["section_id"] for row in got][:3] == [
        "continue_watching",
        "watchlist",
        "recommended",
    ]
    assert got[0]["title"] == "Continue watching"
    assert [i["item_id"] for i in got[0]["items"]] == [films[0]]
    assert [i["item_id"] for i in got[1]["items"]] == [films[1]]
    assert [i["item_id"] for i in got[2]["items"]] == [films[2]], "nothing trained: available"


async def test_bad_page_parameters_are_400(api: Api) -> None:
    for query, word in (
        ("?rows=0", "rows"),
        ("?rows=101", "rows"),
        ("?items=0", "items"),
        ("?items=101", "items"),
        ("?rows=x", "rows"),
        ("?hd=maybe", "hd"),
    ):
        assert_problem(await api.get(f"/sections/u/{query}"), 400, word)
    assert_problem(await api.get(f"/sections/{'u' * 33}/"), 400, "userid")


async def test_the_page_records_what_it_served(
    api: Api, admin: Admin, db: Database, app: FastAPI
) -> None:
    source = unique("src")
    films = await add_movies(admin, 3, source=source)
    await editorial(api, "picks", films[:2])
    await editorial(api, "more", films)
    await page(api)
    recorder: ImpressionRecorder = app.state.impression_recorder
    while recorder.pending:
        await recorder.flush()
    service = await service_of(db, api)
    async with db.read() as conn:
        served = [
            (r.user_id, r.surface, r.item_type, r.item_id)
            for r in await conn.execute(
                sa.select(impressions).where(impressions.c.service_id == service.id)
            )
        ]
    assert sorted(served) == sorted(
        [("u", "section:picks", "movie", f) for f in films[:2]]
        + [("u", "section:more", "movie", films[2])]
    )
