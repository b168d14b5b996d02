"""The route index picks the same route FastAPI's own walk would, for every route of the app,
and leaves out the routers that cannot match."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import Scope

from tanktop.app import create_app
from tanktop.routeindex import RouteIndex


def _scope(method: str, path: str) -> Scope:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "headers": [],
        "query_string": b"",
    }


def _first_full(routes: tuple[BaseRoute, ...] | list[BaseRoute], scope: Scope) -> BaseRoute | None:
    for route in routes:
        if route.matches(dict(scope))[0] is Match.FULL:
            return route
    return None


def _sample_paths(app: FastAPI) -> list[tuple[str, str]]:
    """A concrete path for every route, each parameter filled in (with `me` too, the literal
    that `/api/1/me/…` has where other paths have a key)."""
    paths = []
    for context in iter_route_contexts(app.routes):
        template = context.path_format
        assert isinstance(template, str)
        for fill in ("p1", "me"):
            path = re.sub(r"\{[^}:]+:path\}", "a/b.css", template)
            path = re.sub(r"\{[^}]+\}", fill, path)
            paths += [(method, path) for method in sorted(context.methods or {"GET"})]
    return paths


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app()


@pytest.fixture(scope="module")
def index(app: FastAPI) -> RouteIndex:
    found = app.router.middleware_stack
    assert isinstance(found, RouteIndex)
    return found


def test_index_matches_what_the_router_would(app: FastAPI, index: RouteIndex) -> None:
    samples = _sample_paths(app)
    assert len(samples) > 100
    for method, path in samples:
        scope = _scope(method, path)
        expected = _first_full(app.router.routes, scope)
        assert expected is not None, (method, path)
        assert _first_full(index.candidates(path), scope) is expected, (method, path)


def test_index_leaves_out_routers_that_cannot_match(app: FastAPI, index: RouteIndex) -> None:
    everything = len(app.router.routes)
    assert len(index.candidates("/healthz")) < 3 < everything
    assert len(index.candidates("/api/1/tt_key/event/7/seen/movie/1/")) < 3
    # A path no route has: only the mount (which takes any path under its own) is tried, and
    # then the whole router answers it (404).
    assert all(isinstance(r, Mount) for r in index.candidates("/api/1/tt_key/nothing/here/"))
