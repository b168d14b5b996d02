"""An index over the app's routers, so a request is matched against the few that can take it.

FastAPI matches a request by trying every included router in turn, and each tries its routes
(twice: once to find the router, once to pick its route). With a dozen routers ahead of it, a
request spent as much time being routed as the rest of the framework took to serve it.

The index keeps FastAPI's own matching and order; it only leaves out the routers none of
whose paths can match. A path's *skeleton* keeps each segment that some route has as a literal
in that place and blanks the others (ids, keys); every route whose literal segments agree with
the skeleton (and whose length fits) is a candidate. A request that no candidate takes fully
goes through the whole router as before (404s, 405s, anything added later).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

_PARAM = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*(?::([a-z]+))?\}")
_ANY = ""
"""A skeleton's blank: no route's literal segment is empty."""

MAX_SKELETONS = 4096
"""Skeletons remembered (there are few; past this, candidates are worked out per request)."""


@dataclass(frozen=True, slots=True)
class _Template:
    """A route path as segments: a literal, or None for a parameter."""

    segments: tuple[str | None, ...]
    prefix: bool
    """Ends in a `{…:path}` parameter: matches any path that starts like it."""

    def admits(self, skeleton: tuple[str, ...]) -> bool:
        if (
            len(skeleton) < len(self.segments)
            if self.prefix
            else len(skeleton) != len(self.segments)
        ):
            return False
        return all(
            literal is None or literal == part
            for literal, part in zip(self.segments, skeleton, strict=False)
        )


def _template(path: str) -> _Template | None:
    """The template of a route path, or None when a segment mixes literal and parameter."""
    segments: list[str | None] = []
    parts = path.split("/")
    for n, part in enumerate(parts):
        match = _PARAM.fullmatch(part)
        if match and match.group(1) == "path":
            if n != len(parts) - 1:
                return None
            return _Template(tuple(segments), prefix=True)
        if match:
            segments.append(None)
        elif "{" in part:
            return None
        else:
            segments.append(part)
    return _Template(tuple(segments), prefix=False)


class RouteIndex:
    """Router middleware: hands a request to the first candidate route that fully matches."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute], router: ASGIApp) -> None:
        self.app = app
        self._routes = routes
        self._router = router
        self._built_for = -1
        self._entries: list[tuple[BaseRoute, list[_Template] | None]] = []
        self._literals: list[frozenset[str]] = []
        self._candidates: dict[tuple[str, ...], tuple[BaseRoute, ...]] = {}

    def _build(self) -> None:
        """(Re)read the routes: at the first request, and whenever routes were added."""
        self._entries = []
        literals: list[set[str]] = []
        for route in self._routes:
            # A mount takes whatever lies under its path: always a candidate.
            templates: list[_Template] | None = None if isinstance(route, Mount) else []
            for context in iter_route_contexts([route]):
                path = context.path_format
                template = _template(path) if isinstance(path, str) else None
                if template is None or templates is None:
                    templates = None
                    continue
                templates.append(template)
                for n, literal in enumerate(template.segments):
                    while len(literals) <= n:
                        literals.append(set())
                    if literal is not None:
                        literals[n].add(literal)
            self._entries.append((route, templates))
        self._literals = [frozenset(s) for s in literals]
        self._candidates = {}
        self._built_for = len(self._routes)

    def candidates(self, path: str) -> tuple[BaseRoute, ...]:
        """The routes that may match `path`, in the router's order."""
        if self._built_for != len(self._routes):
            self._build()
        literals = self._literals
        skeleton = tuple(
            part if n < len(literals) and part in literals[n] else _ANY
            for n, part in enumerate(path.split("/"))
        )
        found = self._candidates.get(skeleton)
        if found is None:
            found = tuple(
                route
                for route, templates in self._entries
                if templates is None or any(t.admits(skeleton) for t in templates)
            )
            if len(self._candidates) < MAX_SKELETONS:
                self._candidates[skeleton] = found
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        for route in self.candidates(scope["path"]):
            match, child_scope = route.matches(scope)
            if match is Match.FULL and "fastapi" not in child_scope:
                scope.update(child_scope)
                scope.setdefault("router", self._router)
                await route.handle(scope, receive, send)
                return
            if match is not Match.NONE:
                break  # (a 405, a later route of another method, …): the router decides
        await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    """Put the index in front of the app's routing (inside its exception handlers)."""
    router = app.router
    if getattr(router, "form_limits", None):
        return  # the router applies them to the scope before matching: leave it to it
    router.middleware_stack = RouteIndex(router.middleware_stack, router.routes, router)
