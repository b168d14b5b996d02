"""Every endpoint and dependency is `async def`: FastAPI runs a plain `def` in a worker thread,
a thread hand-off on every request that calls it (CONVENTIONS.md, "Routes")."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from tanktop.app import create_app


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def _is_async(call: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004 - a callable instance's own method
    )


def test_endpoints_and_dependencies_are_async() -> None:
    app = create_app()
    threaded = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            threaded |= {
                f"{call.__module__}.{call.__qualname__} (for {route.path})"
                for call in _calls(route.dependant)
                if not _is_async(call)
            }
    assert not threaded, "\n".join(sorted(threaded))
