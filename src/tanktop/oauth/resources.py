"""The resource API, `/api/1/me/…`: a service's own routes for the one user a token stands for.

Each route here is built from the service's route of the same purpose: the same handler
(called with the token's user and service), the same parameters, answers and documentation,
with the API key swapped for `Authorization: Bearer` and a scope required. So `/me` answers
exactly what the service's own call answers, and cannot drift from it when those routes change.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.routing import APIRoute

from tanktop.auth import Bearer, bearer_with
from tanktop.bookmarks.router import router as bookmarks_routes
from tanktop.errors import problem_responses
from tanktop.events.router import router as events_routes
from tanktop.profiles.router import router as profiles_routes
from tanktop.recommendations.router import router as recommendations_routes

router = APIRouter(prefix="/api/1/me", tags=["OAuth: the user's own data"])

MIRRORED: tuple[tuple[str, str], ...] = (
    ("profiles.get", "profile"),
    ("profiles.patch", "profile"),
    ("events.get", "lists:read"),
    ("events.post", "lists:write"),
    ("events.post_value", "lists:write"),
    ("events.delete", "lists:write"),
    ("bookmarks.list", "bookmarks"),
    ("bookmarks.get", "bookmarks"),
    ("recommendations.live", "recommendations"),
    ("recommendations.get", "recommendations"),
    ("recommendations.get_type", "recommendations"),
)
"""(the service's route, the scope its `/me` twin needs), in matching order."""

_SERVICE_PREFIX = "/api/1/{apikey}"
_BEARER_ERRORS = {
    401: {
        **problem_responses(401)[401],
        "description": "No access token, or one unknown, expired or revoked (`WWW-Authenticate`).",
    },
    403: {
        **problem_responses(403)[403],
        "description": "The token lacks the scope this call needs (named in the answer).",
    },
    **problem_responses(429),
}


def _service_route(name: str) -> APIRoute:
    for source in (profiles_routes, events_routes, bookmarks_routes, recommendations_routes):
        for route in source.routes:
            if isinstance(route, APIRoute) and route.name == name:
                return route
    raise LookupError(f"no service route named {name!r}")


def _me_path(path: str) -> str:
    """`/api/1/{apikey}/event/{userid}/{event}/…` → `/api/1/me/event/{event}/…`."""
    assert path.startswith(_SERVICE_PREFIX), path
    return path.removeprefix(_SERVICE_PREFIX).replace("/{userid}", "", 1)


def _as_bearer(
    handler: Callable[..., Awaitable[Response]], scope: str
) -> Callable[..., Awaitable[Response]]:
    """`handler` with its `userid` and `service` parameters supplied by a token with `scope`."""
    hints = typing.get_type_hints(handler, include_extras=True)
    kept = [
        parameter.replace(annotation=hints[name], kind=inspect.Parameter.KEYWORD_ONLY)
        for name, parameter in inspect.signature(handler).parameters.items()
        if name not in ("userid", "service", "apikey")
    ]
    token = inspect.Parameter(
        "bearer",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[Bearer, Depends(bearer_with(scope))],
    )

    async def endpoint(*, bearer: Bearer, **kwargs: Any) -> Response:
        return await handler(userid=bearer.user_id, service=bearer.service, **kwargs)

    endpoint.__signature__ = inspect.Signature([token, *kept])  # type: ignore[attr-defined]
    endpoint.__doc__ = handler.__doc__
    return endpoint


for _name, _scope in MIRRORED:
    _route = _service_route(_name)
    router.add_api_route(
        _me_path(_route.path),
        _as_bearer(_route.endpoint, _scope),
        methods=sorted(_route.methods or ()),
        name="oauth.me_" + _name.replace(".", "_"),
        summary=f"{_route.summary} (the token's user; scope `{_scope}`)",
        description=_route.description,
        status_code=_route.status_code,
        response_model=_route.response_model,
        response_class=_route.response_class,
        responses={**_route.responses, **_BEARER_ERRORS},
        openapi_extra=_route.openapi_extra,
    )
