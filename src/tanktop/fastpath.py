"""A lean way through FastAPI for routes whose parameters are simple (issue 18, hot paths).

FastAPI solves a route's parameters and dependencies afresh on every request: it walks the
dependency tree, looks up each parameter's aliases, validates each value through pydantic and
gathers errors. On the hottest routes (a single event `POST`, `GET` with ids) that solving cost
more CPU than the database call. `FastRoute` compiles a route's tree once, when the route is
built, into plain checks: path parameters matched against their pattern, a few query shapes
(`list[str]`, `str | None`, a bounded `int`), `Request`, and async dependencies built of the
same. What the endpoint returns is written as FastAPI writes it (a `Response` as it is, a
`response_model` through FastAPI's own serializer). Routes with anything else (bodies,
headers, cookies, generators, other types, response classes) are not compiled and run as
FastAPI runs them.

A compiled check only ever accepts what FastAPI would accept with the same value (a pattern
must match the whole value; an `int` must be plain decimal digits within its bounds). Anything
it is not sure of (an invalid id, an odd number, dependency overrides set by a test) is handed
to FastAPI's own handler before any dependency has run, so every error, status and problem
document is FastAPI's own. The OpenAPI document is built from the same route and is unchanged.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from annotated_types import Ge, Le
from fastapi import Request, Response
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, _effective_route_context_var, serialize_response
from fastapi.utils import is_body_allowed_for_status_code
from pydantic.fields import FieldInfo

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
_ABSENT: Any = object()
"""A check's answer when it cannot vouch for the value (FastAPI then takes the request)."""

MAX_INT_DIGITS = 9
"""Longer numbers go to FastAPI (whatever they are, they are past every bound we set)."""


@dataclass(frozen=True, slots=True)
class _Param:
    """One path or query parameter: the keyword it is passed as, and its check."""

    keyword: str
    check: Callable[[Request], Any]


@dataclass(frozen=True, slots=True)
class _Solver:
    """A dependant compiled: its parameters, its dependencies (solved first, cached per
    request by their function, as FastAPI does), and where the request goes."""

    call: Callable[..., Coroutine[Any, Any, Any]]
    params: tuple[_Param, ...]
    dependencies: tuple[tuple[str, _Solver], ...]
    request_keyword: str | None

    def checked(self, request: Request) -> bool:
        """Check every parameter of the tree (nothing runs yet); False if any is unsure."""
        return all(param.check(request) is not _ABSENT for param in self.params) and all(
            sub.checked(request) for _, sub in self.dependencies
        )

    async def solve(self, request: Request, cache: dict[Any, Any]) -> dict[str, Any]:
        """The keywords to call `call` with, its dependencies run (each once per request)."""
        values: dict[str, Any] = {}
        for keyword, sub in self.dependencies:
            if sub.call in cache:
                values[keyword] = cache[sub.call]
                continue
            result = await sub.call(**await sub.solve(request, cache))
            cache[sub.call] = values[keyword] = result
        for param in self.params:
            values[param.keyword] = param.check(request)
        if self.request_keyword is not None:
            values[self.request_keyword] = request
        return values


def _path_check(name: str, info: FieldInfo) -> Callable[[Request], Any] | None:
    """A `str` path parameter, with or without a pattern (the pattern's whole value)."""
    if info.annotation is not str:
        return None
    patterns = [getattr(m, "pattern", None) for m in info.metadata]
    if any(p is None for p in patterns) or len(patterns) > 1:
        return None
    if not patterns:
        return lambda request: request.path_params[name]
    matches = re.compile(str(patterns[0])).fullmatch

    def check(request: Request) -> Any:
        value: str = request.path_params[name]
        return value if matches(value) else _ABSENT

    return check


def _int_check(name: str, info: FieldInfo) -> Callable[[Request], Any] | None:
    """An `int` query parameter with a default and bounds: plain decimal digits only."""
    low = next((m.ge for m in info.metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in info.metadata if isinstance(m, Le)), None)
    if len(info.metadata) != (low is not None) + (high is not None) or info.is_required():
        return None
    default = info.default

    def check(request: Request) -> Any:
        given = request.query_params.get(name)
        if given is None:
            return default
        if not (given.isascii() and given.isdigit() and len(given) <= MAX_INT_DIGITS):
            return _ABSENT
        if given[0] == "0" and given != "0":
            return _ABSENT
        value = int(given)
        if (low is not None and value < low) or (high is not None and value > high):  # type: ignore[operator]
            return _ABSENT
        return value

    return check


def _query_check(name: str, info: FieldInfo) -> Callable[[Request], Any] | None:
    if info.annotation is int:
        return _int_check(name, info)
    if info.metadata:
        return None
    if info.annotation == list[str] and info.default == []:
        return lambda request: request.query_params.getlist(name) or []
    if info.annotation == str | None and info.default is None:
        return lambda request: request.query_params.get(name)
    return None


def _compile(dependant: Dependant) -> _Solver | None:
    """The solver of `dependant`, or None when any part of its tree is not simple."""
    call = dependant.call
    if (
        call is None
        or not inspect.iscoroutinefunction(call)
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
        or dependant.own_oauth_scopes
        or dependant.concurrency is not None
    ):
        return None
    params: list[_Param] = []
    for fields, make in (
        (dependant.path_params, _path_check),
        (dependant.query_params, _query_check),
    ):
        for field in fields:
            info = field.field_info
            if field.alias != field.name or info.validation_alias is not None:
                return None
            check = make(field.name, info)
            if check is None:
                return None
            params.append(_Param(field.name, check))
    dependencies: list[tuple[str, _Solver]] = []
    for sub in dependant.dependencies:
        solver = _compile(sub)
        if solver is None or sub.name is None or not sub.use_cache:
            return None
        dependencies.append((sub.name, solver))
    return _Solver(call, tuple(params), tuple(dependencies), dependant.request_param_name)


def _answers_a_response(call: Callable[..., Any]) -> bool:
    """The endpoint returns a `Response` itself (FastAPI passes it through untouched)."""
    returns = inspect.signature(call, eval_str=True).return_annotation
    return inspect.isclass(returns) and issubclass(returns, Response)


def _writer(route: Any) -> Callable[[Any], Coroutine[Any, Any, Response]] | None:
    """How FastAPI writes what the endpoint returned, when that is not a `Response`: its
    `response_model` validated and written by pydantic-core (FastAPI's own function), with
    the route's status code. None for routes FastAPI answers another way (a response class
    of their own, a model with include/exclude), which are then not compiled."""
    field = route.response_field
    if (
        field is None
        or not isinstance(route.response_class, DefaultPlaceholder)
        or route.response_model_include is not None
        or route.response_model_exclude is not None
    ):
        return None
    status = route.status_code or 200
    if not is_body_allowed_for_status_code(status):
        return None

    async def write(content: Any) -> Response:
        body = await serialize_response(
            field=field,
            response_content=content,
            by_alias=route.response_model_by_alias,
            exclude_unset=route.response_model_exclude_unset,
            exclude_defaults=route.response_model_exclude_defaults,
            exclude_none=route.response_model_exclude_none,
            dump_json=True,
        )
        return Response(content=body, media_type="application/json", status_code=status)

    return write


class FastRoute(APIRoute):
    """An `APIRoute` whose handler, when the route compiles, checks and solves the
    parameters itself and falls back to FastAPI's handler for anything it cannot vouch for."""

    def get_route_handler(self) -> Handler:
        full = super().get_route_handler()
        context = _effective_route_context_var.get()
        route = context if context is not None and context.original_route is self else self
        dependant: Dependant = route.dependant
        overrides = route.dependency_overrides_provider
        answers_itself = _answers_a_response(self.endpoint)
        write = None if answers_itself else _writer(route)
        solver = _compile(dependant)
        if solver is None or (write is None and not answers_itself):
            return full

        async def handler(request: Request) -> Response:
            if (overrides is not None and overrides.dependency_overrides) or not solver.checked(
                request
            ):
                return await full(request)
            answer = await solver.call(**await solver.solve(request, {}))
            if isinstance(answer, Response) or write is None:
                return answer  # type: ignore[no-any-return]
            return await write(answer)

        return handler
