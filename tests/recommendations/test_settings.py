"""Recommender settings per service (API.md "Recommender settings"): versioned, validated, the
operator's only, one service's never another's."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from tanktop.db import Database
from tanktop.recommendations.schemas import Params
from tanktop.recommendations.settings import DEFAULT, rating_position, weight
from tests.conftest import Admin, Api, assert_problem, service_of
from tests.servers import run_cli, tanktop_env


async def path_of(db: Database, api: Api) -> str:
    return f"/service/{(await service_of(db, api)).name}/recommender/"


async def test_a_new_service_uses_the_defaults(api: Api, admin: Admin, db: Database) -> None:
    path = await path_of(db, api)
    current = (await admin.get(path)).json()
    assert current["version"] == 0
    assert current["created_at"] is None
    assert current["weights"] == {
        "seen": 1.0,
        "watchlist": 0.7,
        "progress": 0.6,
        "rated": 1.0,
        "hide": -1.0,
    }
    assert current["params"]["rating_max"] == 5
    assert current["params"]["ease_lambda"] == 200
    assert current["params"]["genre_weight"] == 0.1
    assert current["params"]["popularity_power"] == 0.1
    assert current["params"]["year_weight"] == 0.0
    assert current["params"]["genre_idf"] == 1.0
    assert current["params"]["genre_users"] == 3.0
    assert current["params"]["year_users"] == 1.0
    assert (await admin.get(path + "versions/")).json() == {"versions": []}


async def test_each_put_is_a_version_and_an_old_one_put_back_restores_it(
    api: Api, admin: Admin, db: Database
) -> None:
    path = await path_of(db, api)
    first_body = {
        "weights": {"like": 0.8, "share": 0.5, "purchase": 2, "progress": 0},
        "params": {"rating_min": 1, "rating_max": 5, "rating_neutral": 3, "ease_lambda": 50},
    }
    response = await admin.put(path, json=first_body)
    assert response.status_code == 201, response.text
    first = response.json()
    assert first["version"] == 1
    assert first["created_at"]
    assert first["weights"]["like"] == 0.8
    assert first["weights"]["purchase"] == 2.0
    assert first["weights"]["seen"] == 1.0, "weights not given keep their defaults"
    assert first["weights"]["progress"] == 0.0
    assert first["params"]["rating_neutral"] == 3.0
    assert first["params"]["head_items"] == 2000
    assert (await admin.get(path)).json() == first

    second = (await admin.put(path, json={"params": {"half_life_days": 30}})).json()
    assert second["version"] == 2
    assert "like" not in second["weights"], "a version is complete on its own, not a patch"
    assert second["params"]["rating_max"] == 5
    assert second["params"]["rating_neutral"] == 0
    assert (await admin.get(path)).json() == second

    listed = (await admin.get(path + "versions/")).json()["versions"]
    assert [v["version"] for v in listed] == [2, 1]
    assert listed[1] == first

    old = {"weights": listed[1]["weights"], "params": listed[1]["params"]}
    restored = (await admin.put(path, json=old)).json()
    assert restored["version"] == 3
    assert (restored["weights"], restored["params"]) == (first["weights"], first["params"])
    assert (await admin.get(path)).json() == restored


async def test_racing_puts_each_get_a_version(api: Api, admin: Admin, db: Database) -> None:
    path = await path_of(db, api)
    answers = await asyncio.gather(
        *(admin.put(path, json={"weights": {"like": n}}) for n in range(6))
    )
    assert [a.status_code for a in answers] == [201] * 6
    assert sorted(a.json()["version"] for a in answers) == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"weights": {"like": "1"}}, ["weights.like"]),
        ({"weights": {"like": True}}, ["weights.like"]),
        ({"weights": {"like": None}}, ["weights.like"]),
        ({"weights": {"like": [1]}}, ["weights.like"]),
        ({"weights": {"like": 1000}}, ["weights.like"]),
        ({"weights": {"bad name!": 1}}, ["weights"]),
        ({"weights": {"hide": 0.5}}, ["hide", "negative"]),
        ({"weights": {"rated": -1}}, ["rated"]),
        ({"weights": [1]}, ["weights"]),
        ({"colour": "red"}, ["colour"]),
        ({"params": {"lambda": 3}}, ["params.lambda"]),
        ({"params": {"ease_lambda": 0}}, ["ease_lambda"]),
        ({"params": {"ease_lambda": "big"}}, ["ease_lambda"]),
        ({"params": {"head_items": 2.5}}, ["head_items"]),
        ({"params": {"genre_weight": -0.1}}, ["genre_weight"]),
        ({"params": {"genre_weight": "high"}}, ["genre_weight"]),
        ({"params": {"popularity_power": -0.1}}, ["popularity_power"]),
        ({"params": {"popularity_power": 3}}, ["popularity_power"]),
        ({"params": {"year_weight": -0.1}}, ["year_weight"]),
        ({"params": {"genre_idf": -1.0}}, ["genre_idf"]),
        ({"params": {"genre_users": -1.0}}, ["genre_users"]),
        ({"params": {"year_users": -1.0}}, ["year_users"]),
        ({"params": {"rating_min": 5, "rating_max": 1}}, ["rating_min"]),
        ({"params": {"rating_min": 1, "rating_max": 5, "rating_neutral": 9}}, ["rating_neutral"]),
        ([], ["object"]),
        ("weights", ["object"]),
    ],
)
async def test_unknown_fields_and_non_numbers_are_400(
    api: Api, admin: Admin, db: Database, body: Any, words: list[str]
) -> None:
    path = await path_of(db, api)
    assert_problem(await admin.put(path, json=body), 400, *words)
    assert (await admin.get(path + "versions/")).json() == {"versions": []}, "nothing stored"


async def test_operator_only_and_per_service(
    api: Api, other_api: Api, admin: Admin, client: httpx.AsyncClient, db: Database
) -> None:
    path = await path_of(db, api)
    other = await path_of(db, other_api)
    assert_problem(await client.put("/admin/1" + path, json={}), 401)
    assert_problem(
        await client.get("/admin/1" + path, headers={"authorization": "Bearer wrong"}), 401
    )
    assert_problem(await admin.get("/service/no-such-service-here/recommender/"), 404, "service")
    assert_problem(await admin.put("/service/no-such-service-here/recommender/", json={}), 404)
    assert (await admin.put(path, json={"weights": {"like": 3}})).status_code == 201
    assert (await admin.get(other)).json()["version"] == 0
    assert (await admin.get(other + "versions/")).json() == {"versions": []}
    assert (await admin.put(other, json={})).json()["version"] == 1, "numbered per service"
    assert (await admin.get(path)).json()["weights"]["like"] == 3


def test_ratings_read_on_each_services_scale() -> None:
    def on(**scale: float) -> Params:
        return Params.model_validate(scale)

    default = DEFAULT.params
    assert [rating_position(default, r) for r in (0, 2.5, 5, 7)] == [0, 0.5, 1, 1]
    assert weight(DEFAULT, "rated", 4) == pytest.approx(0.8), "today's value / 5"
    five = on(rating_min=1, rating_max=5, rating_neutral=3)
    assert [rating_position(five, r) for r in (1, 2, 3, 4, 5)] == [-1, -0.5, 0, 0.5, 1]
    ten = on(rating_min=0, rating_max=10, rating_neutral=5)
    assert [rating_position(ten, r) for r in (0, 5, 10)] == [-1, 0, 1]
    thumbs = on(rating_min=-1, rating_max=1, rating_neutral=0)
    assert [rating_position(thumbs, r) for r in (-1, 1)] == [-1, 1]
    assert weight(DEFAULT, "hide", None) == -1.0
    assert weight(DEFAULT, "like", None) == 0.0, "an event not weighed says nothing"
    assert weight(DEFAULT, "rated", "great") == 0.0


async def test_cli_shows_lists_and_restores_versions(
    api: Api, admin: Admin, db: Database, database_url: str
) -> None:
    name = (await service_of(db, api)).name
    env = tanktop_env(database_url)
    shown = run_cli(env, "recs", "settings", name)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["version"] == 0
    path = await path_of(db, api)
    await admin.put(path, json={"weights": {"like": 0.5}})
    await admin.put(path, json={"weights": {"like": 0.9}})
    listed = run_cli(env, "recs", "settings", name, "--versions")
    assert [v["version"] for v in json.loads(listed.stdout)["versions"]] == [2, 1]
    restored = run_cli(env, "recs", "settings", name, "--restore", "1")
    assert restored.returncode == 0, restored.stderr
    assert (await admin.get(path)).json()["version"] == 3
    assert (await admin.get(path)).json()["weights"]["like"] == 0.5
    missing = run_cli(env, "recs", "settings", name, "--restore", "9")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: "), missing.stderr
    assert run_cli(env, "recs", "settings", "no-such-service-here").returncode == 1
