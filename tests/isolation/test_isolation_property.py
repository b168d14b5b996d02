"""Property: two services doing random things never see, change, get notified of or are
recommended each other's data. Each service's reads must equal a model built from its own
operations alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tanktop.config import Settings
from tanktop.db import Database
from tanktop.recommendations.service import train_service
from tests.conftest import Admin, Api, new_api, service_of, unique
from tests.notifications.conftest import run_worker_once
from tests.receiver import Receiver

USERS = st.sampled_from(["u1", "u2"])
ITEMS = st.sampled_from(["1", "2", "3"])
OPERATION = st.one_of(
    st.tuples(st.just("put_profile"), USERS, st.integers(0, 9)),
    st.tuples(st.just("delete_profile"), USERS, st.just(0)),
    st.tuples(st.just("watchlist"), USERS, ITEMS),
    st.tuples(st.just("unwatchlist"), USERS, ITEMS),
    st.tuples(st.just("rate"), USERS, ITEMS),
    st.tuples(st.just("progress"), USERS, ITEMS),
    st.tuples(st.just("notify"), USERS, ITEMS),
    st.tuples(st.just("cancel"), USERS, st.just("")),
)
SCRIPT = st.lists(st.tuples(st.sampled_from([0, 1]), OPERATION), min_size=1, max_size=25)


@dataclass
class Model:
    """What one service should see, from its own operations only."""

    profiles: dict[str, int] = field(default_factory=dict)
    watchlist: dict[str, set[str]] = field(default_factory=dict)
    ratings: dict[str, dict[str, int]] = field(default_factory=dict)
    requests: dict[str, set[str]] = field(default_factory=dict)
    watching: dict[str, set[str]] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)
    """Movies this service's own events named: the only ones its recommendations may hold."""


async def apply(
    api: Api, model: Model, op: tuple[str, str, Any], movies: list[str], hook_url: str
) -> None:
    name, user, arg = op
    if name == "put_profile":
        assert (await api.put(f"/user/{user}/", json={"n": arg})).status_code in (200, 201)
        model.profiles[user] = arg
    elif name == "delete_profile":
        expected = 204 if user in model.profiles else 404
        assert (await api.delete(f"/user/{user}/")).status_code == expected
        model.profiles.pop(user, None)
    elif name in ("watchlist", "unwatchlist"):
        movie = movies[int(arg)]
        model.touched.add(movie)
        method = api.post if name == "watchlist" else api.delete
        assert (await method(f"/event/{user}/watchlist/movie/{movie}/")).status_code == 204
        items = model.watchlist.setdefault(user, set())
        (items.add if name == "watchlist" else items.discard)(movie)
    elif name == "rate":
        movie = movies[int(arg)]
        assert (await api.post(f"/event/{user}/rated/movie/{movie}/{arg}/")).status_code == 204
        model.touched.add(movie)
        model.ratings.setdefault(user, {})[movie] = int(arg)
    elif name == "progress":
        movie = movies[int(arg)]
        assert (await api.post(f"/event/{user}/progress/movie/{movie}/30/")).status_code == 204
        model.watching.setdefault(user, set()).add(movie)
        model.touched.add(movie)
    elif name == "notify":
        movie = movies[int(arg)]
        response = await api.post(f"/notification/{user}/movie/{movie}/", json={"url": hook_url})
        assert response.status_code == 204
        model.requests.setdefault(user, set()).add(movie)
    elif name == "cancel":
        assert (await api.delete(f"/notification/{user}/")).status_code == 204
        model.requests.pop(user, None)


async def check(api: Api, model: Model) -> None:
    for user in ("u1", "u2"):
        profile = await api.get(f"/user/{user}/")
        if user in model.profiles:
            assert profile.json() == {"n": model.profiles[user], "id": user}
        else:
            assert profile.status_code == 404
        watch = (await api.get(f"/event/{user}/watchlist/movie/")).json()["watchlist"]
        assert set(watch) == model.watchlist.get(user, set())
        rated = (await api.get(f"/event/{user}/rated/movie/")).json()["rated"]
        assert rated == model.ratings.get(user, {})
        notes = (await api.get(f"/notification/{user}/")).json()["notifications"]
        assert {n["item_id"] for n in notes} == model.requests.get(user, set())
        marks = (await api.get(f"/bookmark/{user}/")).json()["bookmarks"]
        assert {m["item_id"] for m in marks} == model.watching.get(user, set())
        kept = (await api.get(f"/list/{user}/movie/?include=watchlist")).json()["items"]
        assert set(kept) == model.watchlist.get(user, set())


async def check_recommendations(api: Api, model: Model, movies: list[str]) -> None:
    """Models learn from the service's own history only, so nothing else is ever suggested."""
    for user in ("u1", "u2"):
        recs = (await api.get(f"/recommendation/{user}/?n=10")).json()["recommendations"]
        learnt = [r for r in recs if r["reasons"] != [{"type": "available"}]]  # not the catalog's
        assert {r["item_id"] for r in learnt} <= model.touched
    for movie in movies:
        # Every catalog item has an answer: the model's neighbours, then the catalog's content,
        # then popularity (before any model, the shared catalog's). What is "similar" comes from
        # this service's own events and the catalog (these movies have no genres) alone.
        response = await api.get(f"/similar/movie/{movie}/?n=10")
        assert response.status_code == 200, response.text
        similar = response.json()["similar"]
        liked = {s["item_id"] for s in similar if s["reasons"] != [{"type": "popular"}]}
        assert liked & set(movies) <= model.touched, "an item only another service knows"


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=SCRIPT)
async def test_services_never_see_each_other(
    script: list[tuple[int, tuple[str, str, Any]]],
    api: Api,
    admin: Admin,
    db: Database,
    settings: Settings,
    hook: Receiver,
) -> None:
    services = [await new_api(db, api.http), await new_api(db, api.http)]
    models = [Model(), Model()]
    movies = sorted(unique("iso") for _ in range(4))
    for movie in movies:
        await admin.put(f"/catalog/movie/{movie}/", json={"title": movie})
    for who, op in script:
        await apply(services[who], models[who], op, movies, f"{hook.url}?service={who}")
    for who in (0, 1):
        await check(services[who], models[who])
        await train_service(db, (await service_of(db, services[who])).id)
    for who in (0, 1):
        await check_recommendations(services[who], models[who], movies)

    for movie in movies:
        await admin.put(f"/catalog/movie/{movie}/offers/", json=[{"source_id": 1}])
    hook.received.clear()
    await run_worker_once(db, settings.model_copy(update={"webhook_allow_private": True}))
    notified = {(r.query, r.form["user_id"], r.form["item_id"]) for r in hook.received}
    expected = {
        (f"service={who}", user, movie)
        for who, model in enumerate(models)
        for user, wanted in model.requests.items()
        for movie in wanted
    }
    assert notified == expected, "each service is notified of its own requests only"
