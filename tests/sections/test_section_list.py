"""Section events (hide, pin, rated, click on item type `section`) and the user's section list:
locked sections keep their slot, pinned come next, the rest by position moved by affinity."""

from __future__ import annotations

import datetime as dt

from tanktop.sections.ordering import Pin, SectionPrefs, page_order
from tanktop.sections.schemas import Section
from tests.conftest import Api, assert_problem


def section(section_id: str, position: int, *, locked: bool = False) -> Section:
    return Section(
        section_id=section_id,
        title=section_id,
        kind="recommended",
        item_type=None,
        params={},
        position=position,
        max_items=20,
        locked=locked,
    )


def order(sections: list[Section], prefs: SectionPrefs) -> list[str]:
    return [str(s.section_id) for s in page_order(sections, prefs)]


T0 = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)


def test_page_order_rules() -> None:
    five = [section(name, i) for i, name in enumerate("abcde")]
    assert order(five, SectionPrefs()) == list("abcde")
    assert order(list(reversed(five)), SectionPrefs()) == list("abcde"), "by position"
    assert order(five, SectionPrefs(hidden={"b"})) == list("acde")
    pins = {"d": Pin(None, T0), "e": Pin(None, T0 + dt.timedelta(1)), "c": Pin(2, T0)}
    assert order(five, SectionPrefs(pins=pins)) == list("cedab"), "ordered pins, then latest"
    assert order(five, SectionPrefs(ratings={"d": 2})) == list("adbce"), "up two places"
    assert order(five, SectionPrefs(ratings={"a": -1.5})) == list("bacde")
    assert order(five, SectionPrefs(clicks={"e": 3})) == list("abecd"), "log2(1 + 3) = 2"
    locked = [section("a", 0), section("b", 1, locked=True), *five[2:]]
    prefs = SectionPrefs(hidden={"b", "a"}, pins={"e": Pin(1, T0)}, ratings={"d": 9})
    assert order(locked, prefs) == list("ebdc"), "locked keeps slot 1, cannot be hidden"
    tail = [section("a", 0), section("b", 1), section("z", 9, locked=True)]
    assert order(tail, SectionPrefs(hidden={"a"})) == ["b", "z"], "gaps before it close"


async def define(api: Api, *names: str, locked: str = "") -> None:
    for position, name in enumerate(names):
        body = {"title": name, "kind": "popular", "position": position, "locked": name == locked}
        assert (await api.put(f"/section/{name}/", json=body)).status_code == 201


async def ids(api: Api, query: str = "") -> list[object]:
    response = await api.get(f"/list/u/section/{query}")
    assert response.status_code == 200, response.text
    items: list[object] = response.json()["items"]
    return items


async def test_section_events_shape_the_users_list(api: Api) -> None:
    await define(api, "a", "b", "c", "d", "e", "f", locked="b")
    assert await ids(api) == list("abcdef")
    assert (await api.post("/event/u/hide/section/c/")).status_code == 204
    assert await ids(api) == list("abdef")
    await api.post("/event/u/hide/section/b/")  # locked: stays where it is
    assert await ids(api) == list("abdef")
    await api.delete("/event/u/hide/section/c/")
    assert await ids(api) == list("abcdef"), "DELETE brings it back"
    await api.post("/event/u/pin/section/f/2/")
    await api.post("/event/u/pin/section/e/1/")
    await api.post("/event/u/pin/section/b/")  # locked: cannot be moved
    assert await ids(api) == list("ebfacd")
    await api.delete("/event/u/pin/section/e/")
    await api.post("/event/u/rated/section/d/3/")
    assert await ids(api) == list("fbdace"), "rated up three places"
    await api.post("/event/u/rated/section/d/-1/")
    assert await ids(api) == list("fbaced"), "a negative rating lowers it"
    for item in ("movie:1", "movie:2", "programme:p1"):
        await api.post(f"/event/u/click/section/e/{item}/")
    assert await ids(api) == list("fbaecd"), "three clicks: two places"
    assert await ids(api, "?include=pin") == ["f", "b"], "filters read the user's lists"
    assert await ids(api, "?exclude=pin&exclude=rated") == list("aec")
    assert (await api.get("/list/someone-else/section/")).json()["items"] == list("abcdef")


async def test_events_on_undefined_sections_are_kept_and_ignored(api: Api) -> None:
    await define(api, "a", "b")
    assert (await api.post("/event/u/hide/section/later/")).status_code == 204
    assert (await api.post("/event/u/pin/section/later/")).status_code == 204
    assert await ids(api) == ["a", "b"]
    await define(api, "later")
    assert await ids(api) == ["a", "b"], "hidden from the moment it exists"
    await api.delete("/event/u/hide/section/later/")
    assert await ids(api) == ["later", "a", "b"], "and pinned"


async def test_default_page_is_ordered_by_the_same_rules(api: Api) -> None:
    await api.post("/event/u/hide/section/watchlist/")
    await api.post("/event/u/pin/section/popular/")
    assert await ids(api) == [
        "popular",
        "continue_watching",
        "recommended",
        "because_you_watched",
        "live_now",
    ]


async def test_section_event_values(api: Api) -> None:
    await define(api, "a")
    for path in (
        "/event/u/pin/section/a/",
        "/event/u/pin/section/a/2.5/",
        "/event/u/click/section/a/movie:24/",
        "/event/u/click/section/a/episode:s1:e2/",
        "/event/u/rated/section/a/-2/",
        "/event/u/hide/section/a/ignored/",
        "/event/u/pin/movie/1/anything/",
    ):
        assert (await api.post(path)).status_code == 204, path
    assert (await api.get("/event/u/click/section/")).json() == {"click": {"a": "episode:s1:e2"}}
    assert (await api.get("/event/u/pin/section/?id=a")).json() == {"pin": {"a": 2.5}}
    cases = [
        ("/event/u/pin/section/a/first/", ("pin", "number")),
        ("/event/u/click/section/a/", ("click", "<itemtype>:<itemid>")),
        ("/event/u/click/section/a/movie24/", ("<itemtype>:<itemid>",)),
        ("/event/u/click/section/a/movie:/", ("<itemtype>:<itemid>",)),
        ("/event/u/click/section/a/:24/", ("<itemtype>:<itemid>",)),
        ("/event/u/rated/section/a/", ("rated", "numeric")),
    ]
    for path, words in cases:
        assert_problem(await api.post(path), 400, *words)
    batch = [
        {"user_id": "u", "event": "pin", "item_type": "section", "item_id": "a", "value": 1},
        {"user_id": "u", "event": "click", "item_type": "section", "item_id": "a", "value": 5},
    ]
    assert_problem(await api.post("/events/", json=batch), 400, "events[1]", "click")
    assert (await api.get("/event/u/pin/section/?id=a")).json() == {"pin": {"a": 2.5}}
    batch[1]["value"] = "movie:5"
    assert (await api.post("/events/", json=batch)).status_code == 204
    assert (await api.get("/event/u/click/section/")).json() == {"click": {"a": "movie:5"}}


async def test_bad_filters_and_ids_are_400(api: Api) -> None:
    assert_problem(await api.get("/list/u/section/?include=a%20b"), 400, "event name")
    await define(api, "a")
    assert_problem(await api.get("/list/u/section/?exclude=a%20b"), 400, "event name")
    assert_problem(await api.get(f"/list/{'u' * 33}/section/"), 400, "userid")


async def test_users_and_services_are_isolated(api: Api, other_api: Api) -> None:
    await define(api, "a", "b")
    await define(other_api, "a", "b")
    await api.post("/event/u/hide/section/a/")
    assert (await other_api.get("/list/u/section/")).json()["items"] == ["a", "b"]
    assert (await api.get("/list/v/section/")).json()["items"] == ["a", "b"]
    assert (await api.get("/list/u/section/")).json()["items"] == ["b"]
