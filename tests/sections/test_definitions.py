"""Section definitions: PUT/GET/DELETE, validation per kind, the default page, isolation."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, assert_problem


def body(kind: str, **fields: Any) -> dict[str, Any]:
    return {"title": kind.replace("_", " ").title(), "kind": kind, **fields}


async def test_put_get_replace_delete(api: Api) -> None:
    created = await api.put("/section/drama/", json=body("genre", params={"genre": "Drama"}))
    assert created.status_code == 201, created.text
    assert created.json() == {
        "section_id": "drama",
        "title": "Genre",
        "kind": "genre",
        "item_type": None,
        "params": {"genre": "Drama"},
        "position": 0,
        "max_items": 20,
        "locked": False,
    }
    new = await api.put("/section/7/", json=body("new", item_type="movie", max_items=50))
    assert new.status_code == 201
    assert new.json()["section_id"] == 7, "canonical integer ids are JSON numbers"
    assert new.json()["params"] == {"days": 14}, "defaults filled in"
    assert new.json()["position"] == 1, "appended after the others"
    replaced = await api.put(
        "/section/drama/", json=body("genre", title="Drama", params={"genre": "Drama"})
    )
    assert replaced.status_code == 200
    assert replaced.json()["title"] == "Drama"
    assert replaced.json()["position"] == 0, "a replaced section keeps its position"
    ids = [1, "b2", "007", "24"]  # API.md: a canonical integer id is a JSON number
    put = await api.put("/section/first/", json=body("editorial", params={"ids": ids}, position=0))
    assert put.json()["params"] == {"ids": [1, "b2", "007", 24]}
    listed = (await api.get("/section/")).json()["sections"]
    assert [s["section_id"] for s in listed] == ["drama", "first", 7]
    assert listed[1]["params"] == {"ids": [1, "b2", "007", 24]}
    assert listed[1]["item_type"] == "movie"
    assert (await api.get("/section/7")).json() == new.json()
    assert (await api.delete("/section/7/")).status_code == 204
    assert_problem(await api.get("/section/7/"), 404, "7")
    assert_problem(await api.delete("/section/7/"), 404)


async def test_a_service_without_sections_gets_the_default_page(api: Api) -> None:
    listed = (await api.get("/section/")).json()["sections"]
    assert [s["kind"] for s in listed] == [
        "continue_watching",
        "watchlist",
        "recommended",
        "because_you_watched",
        "live_now",
        "popular",
    ]
    assert (await api.get("/section/recommended/")).json()["title"] == "Recommended for you"
    assert_problem(await api.delete("/section/recommended/"), 404, "default page")
    await api.put("/section/mine/", json=body("recommended"))
    assert [s["section_id"] for s in (await api.get("/section/")).json()["sections"]] == ["mine"]


async def test_every_kind_with_its_params(api: Api) -> None:
    kinds: dict[str, dict[str, Any]] = {
        "continue_watching": {},
        "watchlist": {"item_type": "episode"},
        "recommended": {"item_type": "programme"},
        "because_you_watched": {},
        "live_now": {"params": {"window": 60}},
        "new": {"params": {"days": 30}},
        "popular": {"params": {"days": 3}},
        "genre": {"params": {"genre": "Comedy"}},
        "list": {"item_type": "programme", "params": {"include": "watchlist"}},
        "editorial": {"params": {"ids": ["a", 2]}},
    }
    for kind, fields in kinds.items():
        response = await api.put(f"/section/{kind}/", json=body(kind, **fields))
        assert response.status_code == 201, (kind, response.text)
    stored = {s["kind"]: s for s in (await api.get("/section/")).json()["sections"]}
    assert stored["list"]["params"] == {"include": ["watchlist"], "exclude": []}
    assert stored["live_now"]["params"] == {"window": 60}
    assert stored["popular"]["params"] == {"days": 3}


async def test_bad_definitions_are_400_and_store_nothing(api: Api) -> None:
    await api.put("/section/kept/", json=body("recommended"))
    cases: list[tuple[str, Any, tuple[str, ...]]] = [
        ("x", body("trending"), ("kind", "trending", "genre")),
        ("x", body("genre"), ("params.genre",)),
        ("x", body("genre", params={"genre": 7}), ("params.genre", "string")),
        ("x", body("genre", params={"genre": ["Drama"]}), ("params.genre", "string")),
        ("x", body("new", params={"days": "14"}), ("params.days", "integer")),
        ("x", body("new", params={"days": 0}), ("params.days",)),
        ("x", body("popular", params={"weeks": 2}), ("params.weeks",)),
        ("x", body("list", params={"include": 3}), ("params.include",)),
        ("x", body("list", params={"include": ["a b"]}), ("params.include",)),
        ("x", body("editorial"), ("params.ids",)),
        ("x", body("editorial", params={"ids": []}), ("params.ids",)),
        ("x", body("editorial", params={"ids": [{"id": 1}]}), ("params.ids",)),
        ("x", body("recommended", item_type="channel"), ("item_type", "movie, programme")),
        ("x", body("live_now", item_type="movie"), ("item_type", "leave item_type out")),
        ("x", body("recommended", max_items=101), ("max_items",)),
        ("x", body("recommended", max_items=0), ("max_items",)),
        ("x", body("recommended", position=-1), ("position",)),
        ("x", body("recommended", locked="yes"), ("locked",)),
        ("x", body("recommended", colour="red"), ("colour",)),
        ("x", {"kind": "recommended"}, ("title",)),
        ("x", body("recommended", title=""), ("title",)),
        ("x", body("recommended", title=5), ("title",)),
        ("x", [body("recommended")], ("object",)),
        ("a%20b", body("recommended"), ("sectionid",)),
        ("s" * 65, body("recommended"), ("sectionid",)),
        ("kept", body("recommended", params={"n": 1}), ("params.n",)),
    ]
    for section_id, payload, words in cases:
        assert_problem(await api.put(f"/section/{section_id}/", json=payload), 400, *words)
    assert_problem(await api.get("/section/a%20b/"), 400, "sectionid")
    sections = (await api.get("/section/")).json()["sections"]
    assert [s["section_id"] for s in sections] == ["kept"]
    assert sections[0]["params"] == {}


async def test_at_most_a_hundred_sections(api: Api) -> None:
    for i in range(100):
        assert (await api.put(f"/section/s{i}/", json=body("recommended"))).status_code == 201
    assert_problem(await api.put("/section/one-more/", json=body("recommended")), 400, "100")
    assert (await api.put("/section/s5/", json=body("popular"))).status_code == 200


async def test_services_do_not_see_each_others_sections(api: Api, other_api: Api) -> None:
    await api.put("/section/mine/", json=body("popular"))
    assert_problem(await other_api.get("/section/mine/"), 404)
    assert_problem(await other_api.delete("/section/mine/"), 404)
    assert [s["section_id"] for s in (await api.get("/section/")).json()["sections"]] == ["mine"]
    assert "mine" not in [
        s["section_id"] for s in (await other_api.get("/section/")).json()["sections"]
    ]
