"""CONVENTIONS.md, kept true: how routes authenticate and are named, how services are called,
where tables and SQL live. Each test names the rule it guards."""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import importlib
import inspect
import re
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop import auth
from tanktop.app import create_app
from tanktop.db import Database
from tanktop.events.writer import EventWriter
from tanktop.tenants.service import Service
from tanktop.timestamps import Timestamp

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "tanktop"
NOT_DOMAINS = frozenset({"migrations"})
DOMAINS = sorted(
    p.name for p in PACKAGE.iterdir() if any(p.glob("*.py")) and p.name not in NOT_DOMAINS
)
COMPOSITION = frozenset({"app", "cli", "schema", "auth", "__main__"})
"""Top-level modules that put domains together; every other top-level module is foundation."""

CONNECTIONS = (Database, AsyncConnection, EventWriter)
"""What a service function may take first: the database, a connection, or the event writer."""


def _routes(app: FastAPI) -> Iterator[APIRoute]:
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            yield typing.cast(APIRoute, context)


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def test_every_api_route_authenticates() -> None:
    """Every route under /api/ and /admin/ depends on one of `auth.AUTHENTICATIONS`."""
    unguarded = [
        f"{sorted(route.methods or ())} {route.path}"
        for route in _routes(create_app())
        if route.path.startswith(("/api/", "/admin/"))
        and not set(_calls(route.dependant)) & set(auth.AUTHENTICATIONS)
    ]
    assert not unguarded, "\n".join(unguarded)


def test_operation_ids_are_route_names() -> None:
    """Operation ids are short (`<domain>.<verb or noun>`), given as each route's `name`."""
    document = create_app().openapi()
    ids = [
        operation["operationId"]
        for operations in document["paths"].values()
        for operation in operations.values()
    ]
    assert len(ids) == len(set(ids))
    prefixes = {*DOMAINS, "operations"}
    bad = [
        i for i in ids if not re.fullmatch(r"[a-z]+\.[a-z_]+", i) or i.split(".")[0] not in prefixes
    ]
    assert not bad, "\n".join(bad)


def test_every_operation_has_examples() -> None:
    """Every answer with a body, and every request body, carries an example."""
    document = create_app().openapi()
    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            contents = [
                (status, media, content)
                for status, response in operation["responses"].items()
                if status.startswith("2")
                for media, content in response.get("content", {}).items()
            ]
            contents += [
                ("body", media, content)
                for media, content in operation.get("requestBody", {}).get("content", {}).items()
            ]
            missing += [
                f"{method} {path} {status} {media}"
                for status, media, content in contents
                if content.get("example") is None and not content.get("examples")
            ]
    assert not missing, "\n".join(missing)


def test_answers_are_named_components() -> None:
    """Every JSON answer is a model from a `schemas.py`, so the document names its shape
    (`Bookmark`, `EventList`, …) and a generated client gets a class it would have named so."""
    document = create_app().openapi()
    anonymous = set()
    for operations in document["paths"].values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if status.startswith("2") and schema is not None and "$ref" not in schema:
                    anonymous.add(operation["operationId"])
    assert not anonymous, "\n".join(sorted(anonymous))
    names = document["components"]["schemas"]
    clashes = [name for name in names if not re.fullmatch(r"[A-Z][A-Za-z]+", name)]
    assert not clashes, f"two models share a name, or one is split in two: {clashes}"


def test_problem_is_a_component() -> None:
    document = create_app().openapi()
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert "HTTPValidationError" not in document["components"]["schemas"]


_TIMESTAMP_METADATA = list(typing.get_args(Timestamp)[1:])


def _bare_times(annotation: object, where: str, seen: set[type]) -> Iterator[str]:
    """Where an answer model holds a `datetime` that is not a `Timestamp`."""
    if annotation is dt.datetime:
        yield where
    elif annotation == Timestamp:
        return
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return
        seen.add(annotation)
        for name, field in annotation.model_fields.items():
            if field.annotation is dt.datetime and field.metadata == _TIMESTAMP_METADATA:
                continue  # `x: Timestamp`: pydantic keeps the metadata apart
            yield from _bare_times(field.annotation, f"{annotation.__name__}.{name}", seen)
    elif isinstance(annotation, type) and dataclasses.is_dataclass(annotation):  # `Bookmark`
        if annotation in seen:
            return
        seen.add(annotation)
        hints = typing.get_type_hints(annotation, include_extras=True)
        for name, hint in hints.items():
            yield from _bare_times(hint, f"{annotation.__name__}.{name}", seen)
    else:
        for arg in typing.get_args(annotation):
            yield from _bare_times(arg, where, seen)


def test_answers_write_times_as_timestamps() -> None:
    """Every time in an answer is a `Timestamp` (ISO 8601 with its offset, `+00:00`), so no
    answer writes pydantic's `Z` beside another's `+00:00`."""
    seen: set[type] = set()
    bare = [
        f"{route.name}: {where}"
        for route in _routes(create_app())
        for where in _bare_times(route.response_model, route.name, seen)
    ]
    assert not bare, "\n".join(bare)


def _service_functions() -> Iterator[tuple[str, Callable[..., Any]]]:
    """Public functions a domain offers through its `service` module (its own or re-exported
    from its other modules)."""
    for domain in DOMAINS:
        if not (PACKAGE / domain / "service.py").exists():
            continue
        module = importlib.import_module(f"tanktop.{domain}.service")
        for name, value in vars(module).items():
            if (
                not name.startswith("_")
                and inspect.isfunction(value)
                and value.__module__.startswith(f"tanktop.{domain}.")
            ):
                yield f"{value.__module__}.{value.__qualname__}", value


def _mentions_any(annotation: object, seen: set[int]) -> bool:
    if annotation is Any:
        return True
    if id(annotation) in seen or typing.get_origin(annotation) is np.ndarray:
        return False  # numpy's own `Any` (an array's shape) is not ours
    seen.add(id(annotation))
    value = getattr(annotation, "__value__", None)  # a `type` alias
    if value is not None and _mentions_any(value, seen):
        return True
    return any(_mentions_any(arg, seen) for arg in typing.get_args(annotation))


def test_no_any_in_service_signatures() -> None:
    """Services say what they take and return: no `Any` in their parameters or results."""
    offenders = [
        name
        for name, function in _service_functions()
        if any(_mentions_any(h, set()) for h in typing.get_type_hints(function).values())
    ]
    assert not offenders, "\n".join(sorted(offenders))


def _is_context(parameter: inspect.Parameter, hints: dict[str, Any], position: int) -> bool:
    """The connection (first), or the tenant (a `Service`, or `service_id`) right after it."""
    annotation = hints.get(parameter.name)
    if position == 0:
        return isinstance(annotation, type) and issubclass(annotation, CONNECTIONS)
    return annotation is Service or parameter.name == "service_id"


def test_keyword_only_after_connection_and_tenant() -> None:
    """`f(conn, service, *, user_id=…, …)`: after the connection and the tenant, every argument
    is named at the call, so a call reads on its own and arguments can be added safely."""
    offenders = []
    for name, function in _service_functions():
        signature = inspect.signature(function)
        hints = typing.get_type_hints(function)
        positional = [
            p
            for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
        ]
        takes_context = bool(positional) and (
            _is_context(positional[0], hints, 0) or _is_context(positional[0], hints, 1)
        )
        if not takes_context or not inspect.iscoroutinefunction(function):
            continue
        first_is_connection = _is_context(positional[0], hints, 0)
        context = [
            p
            for i, p in enumerate(positional[:2])
            if _is_context(p, hints, i if first_is_connection else 1)
        ]
        if positional[: len(context)] != context or len(positional) > len(context):
            offenders.append(f"{name}{signature}")
    assert not offenders, "\n".join(offenders)


def _imports(path: Path) -> Iterator[str]:
    """Modules a file imports (`from a.b import c` counts as `a.b` and `a.b.c`)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_schema_imports_every_domains_tables() -> None:
    """Migrations see the whole schema: `tanktop/schema.py` imports every `tables` module."""
    imported = set(_imports(PACKAGE / "schema.py"))
    missing = [
        d
        for d in DOMAINS
        if (PACKAGE / d / "tables.py").exists() and f"tanktop.{d}.tables" not in imported
    ]
    assert not missing, "\n".join(missing)


def test_tables_live_in_tables_modules() -> None:
    """A table is defined in a domain's `tables.py` (migrations aside), nowhere else."""
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "tables.py" and "migrations" not in path.parts
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute | ast.Name)
        and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "Table"
    ]
    assert not offenders, "\n".join(offenders)


def test_no_domain_imports_another_domains_queries_or_tables() -> None:
    """A domain reaches another through its `service`; SQL and tables stay private."""
    private = re.compile(rf"^tanktop\.({'|'.join(DOMAINS)})\.(queries|tables)(\.|$)")
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for domain in DOMAINS
        for path in (PACKAGE / domain).rglob("*.py")
        for name in _imports(path)
        if (match := private.match(name)) and match.group(1) != domain
    ]
    assert not offenders, "\n".join(offenders)


def test_foundation_modules_import_no_domain() -> None:
    """Shared modules (db, errors, ids, …) never import a domain, so domains can use them all."""
    domain = re.compile(rf"^tanktop\.({'|'.join(DOMAINS)})(\.|$)")
    offenders = [
        f"{path.name} imports {name}"
        for path in PACKAGE.glob("*.py")
        if path.stem not in COMPOSITION
        for name in _imports(path)
        if domain.match(name)
    ]
    assert not offenders, "\n".join(offenders)
