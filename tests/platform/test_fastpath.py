"""The compiled route path (`tanktop.fastpath`) answers exactly as FastAPI does, takes the hot
routes without FastAPI's solving, and hands FastAPI whatever it cannot vouch for before any
dependency has run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import fastapi.dependencies.utils
import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI

from tanktop.app import create_app
from tanktop.config import Settings
from tanktop.tenants.service import KeyCache
from tests.conftest import Api


def _not_a_dependency() -> None:
    """Overridden in the reference app only: any override sends every request to FastAPI."""


@pytest.fixture
async def reference(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A second app on the same database whose every request FastAPI solves itself."""
    app = create_app(settings)
    app.dependency_overrides[_not_a_dependency] = _not_a_dependency
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


@pytest.fixture
def solved(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths FastAPI's own solver was asked to solve."""
    calls: list[str] = []
    original = fastapi.dependencies.utils.solve_dependencies

    async def counting(**kwargs: Any) -> Any:
        calls.append(kwargs["request"].url.path)
        return await original(**kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    return calls


def _answer(response: httpx.Response) -> tuple[int, str, bytes]:
    return response.status_code, response.headers.get("content-type", ""), response.content


async def test_hot_routes_skip_fastapis_solving(
    api: Api, client: httpx.AsyncClient, solved: list[str]
) -> None:
    assert (await api.post("/event/7/watchlist/movie/1/")).status_code == 204
    assert (await api.post("/event/7/rated/movie/1/4/")).status_code == 204
    listed = await api.get("/event/7/watchlist/movie/", params={"id": ["1", "2"], "limit": "5"})
    assert listed.json() == {"watchlist": {"1": None}}
    assert (await api.get("/user/7/")).status_code == 404
    assert (await api.get("/bookmark/7/")).json() == {"bookmarks": []}
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert solved == []


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "01"},
        {"limit": "+5"},
        {"limit": " 5"},
        {"limit": "\uff15"},  # a full-width 5: a digit to `isdigit`, not ASCII
        {"limit": "9" * 12},
        {"limit": ""},
        {"limit": ["3", "x"]},
        {"cursor": ""},
        {"id": ""},
    ],
)
async def test_odd_values_get_fastapis_answer(
    api: Api, reference: httpx.AsyncClient, query: dict[str, Any]
) -> None:
    await api.post("/event/7/watchlist/movie/1/")
    path = f"{api.base}/event/7/watchlist/movie/"
    fast = await api.http.get(path, params=query)
    assert _answer(fast) == _answer(await reference.get(path, params=query))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/event/u%0A/watchlist/movie/?id=1"),  # a pattern's `$` admits a final newline
        ("GET", "/event/{long}/watchlist/movie/"),
        ("GET", "/event/7/watch list/movie/"),
        ("POST", "/event/7/watchlist/movie/bad*id/"),
        ("POST", "/event/7/rated/movie/1/x/"),
        ("GET", "/user/bad*id/"),
        ("GET", "/bookmark/7/movie/1/"),
        ("DELETE", "/notification/7/"),
    ],
)
async def test_paths_answer_as_fastapi_answers_them(
    api: Api, reference: httpx.AsyncClient, method: str, path: str
) -> None:
    target = api.base + path.replace("{long}", "u" * 33)
    fast = await api.http.request(method, target)
    assert _answer(fast) == _answer(await reference.request(method, target))


async def test_an_unknown_key_is_the_same_401(
    client: httpx.AsyncClient, reference: httpx.AsyncClient
) -> None:
    path = "/api/1/tt_nosuchkey0000000000000000/event/7/watchlist/movie/?id=1"
    fast = await client.get(path)
    assert fast.status_code == 401
    assert _answer(fast) == _answer(await reference.get(path))


async def test_invalid_values_run_the_dependencies_once(
    api: Api, monkeypatch: pytest.MonkeyPatch, solved: list[str]
) -> None:
    """Checks come first: a value handed to FastAPI has not been through the key lookup (and
    the rate limit) already, so nothing is charged twice."""
    lookups: list[str] = []
    original = KeyCache.lookup

    async def counting(self: KeyCache, key: str) -> Any:
        lookups.append(key)
        return await original(self, key)

    monkeypatch.setattr(KeyCache, "lookup", counting)
    response = await api.get("/event/7/watchlist/movie/", params={"limit": "0"})
    assert response.status_code == 400
    assert len(solved) == 1
    assert lookups == [api.key]


async def test_dependency_overrides_are_honoured(app: FastAPI, api: Api) -> None:
    """A test that overrides a dependency gets FastAPI's solving, and so its override."""
    from tanktop.dependencies import get_database

    def no_database() -> None:
        raise RuntimeError("overridden")

    app.dependency_overrides[get_database] = no_database
    try:
        with pytest.raises(RuntimeError, match="overridden"):
            await api.get("/event/7/watchlist/movie/", params={"id": "1"})
    finally:
        app.dependency_overrides.clear()
