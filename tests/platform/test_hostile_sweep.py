"""Every parameter and every body field of every operation in the OpenAPI document, one at a
time, set to what a database cannot store or a column cannot hold (NUL, an unpaired surrogate,
invalid UTF-8, 5,000 characters, integers past 32 and 64 bits, a number past a double's range,
timestamps past the calendar once in UTC): the answer is never a 5xx, on SQLite and on
PostgreSQL. Unlike the fuzz, which samples, this tries each class on each field, so a field
added later is covered as soon as it is documented."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from tanktop.db import Database
from tests.conftest import ADMIN_TOKEN, Admin, Api, service_of

HUGE = "__1e400__"
"""Stands for the JSON number 1e400 (no Python value writes it)."""

TEXT_VALUES: list[Any] = [
    "a\u0000b",
    "a\ud800b",
    "x" * 5000,
    "9" * 30,
    "0001-01-01T00:00:00+14:00",
]
NUMBER_VALUES: list[Any] = [2**31, 2**63, -(2**63) - 1, HUGE]

TEXT_PARAMS = [
    "a%00b",
    "a%ED%A0%80b",
    "x" * 5000,
    "0001-01-01T00:00:00%2B14:00",
]
NUMBER_PARAMS = ["2147483648", "9223372036854775808", "-9223372036854775809", "1e400"]

SKIPPED = ("/api/1/me/", "/oauth/", "/.well-known/", "/metrics", "/healthz", "/readyz")
"""Bearer-token and OAuth form routes (their own tests and the fuzz cover them) and probes."""


@dataclass
class Case:
    method: str
    path: str
    params: dict[str, str]
    body: bytes | None
    what: str


def schema_type(schema: dict[str, Any]) -> str:
    """A parameter's type, looking through `anyOf` (optional ones) and arrays' items."""
    for option in schema.get("anyOf", [schema]):
        kind = option.get("type")
        if kind == "array":
            return schema_type(option.get("items", {}))
        if kind and kind != "null":
            return str(kind)
    return "string"


def example_of(param: dict[str, Any], key: str, service: str) -> str:
    name = param["name"]
    if name == "apikey":
        return key
    if name in ("name", "service"):
        return service
    schema = param["schema"]
    for option in schema.get("anyOf", [schema]):
        if option.get("examples"):
            return str(option["examples"][0])
        if option.get("enum"):
            return str(option["enum"][0])
    return {"integer": "1", "number": "1", "boolean": "true"}.get(schema_type(schema), "x1")


def leaves(value: Any, trail: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every leaf of a JSON document (empty containers count) with the path to it."""
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from leaves(v, (*trail, k))
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            yield from leaves(v, (*trail, i))
    else:
        yield trail, value


def replaced(document: Any, trail: tuple[Any, ...], new: Any) -> Any:
    if not trail:
        return new
    head, rest = trail[0], trail[1:]
    if isinstance(document, dict):
        return {**document, head: replaced(document[head], rest, new)}
    copy = list(document)
    copy[head] = replaced(document[head], rest, new)
    return copy


def encoded(document: Any) -> bytes:
    return json.dumps(document).replace(f'"{HUGE}"', "1e400").encode()


def cases(doc: dict[str, Any], key: str, service: str) -> Iterator[Case]:
    for template, operations in doc["paths"].items():
        if template.startswith(SKIPPED):
            continue
        for method, operation in operations.items():
            params = [p for p in operation.get("parameters", []) if p["name"] != "apikey"]
            base = {p["name"]: example_of(p, key, service) for p in operation.get("parameters", [])}
            query = {p["name"]: base[p["name"]] for p in params if p["in"] == "query"}

            def path_of(values: dict[str, str], template: str = template) -> str:
                path = template
                for name, value in values.items():
                    path = path.replace("{" + name + "}", value)
                return path

            content = operation.get("requestBody", {}).get("content", {})
            example = content.get("application/json", {}).get("example")
            body = encoded(example) if example is not None else None
            yield Case(method, path_of(base), query, body, "as documented")
            for param in params:
                kind = schema_type(param["schema"])
                hostile = NUMBER_PARAMS if kind in ("integer", "number") else []
                if kind == "string":
                    hostile = TEXT_PARAMS + NUMBER_PARAMS
                for value in hostile:
                    what = f"{param['name']}={value[:20]}"
                    if param["in"] == "path":
                        path = path_of({**base, param["name"]: value})
                        yield Case(method, path, query, body, what)
                    else:
                        path = path_of(base)
                        yield Case(method, path, {**query, param["name"]: value}, body, what)
            if example is None:
                continue
            for trail, leaf in leaves(example):
                hostile = NUMBER_VALUES if isinstance(leaf, int | float) else TEXT_VALUES
                if isinstance(leaf, bool):
                    hostile = NUMBER_VALUES
                for value in hostile:
                    what = f"body{list(trail)}={str(value)[:20]!r}"
                    yield Case(
                        method, path_of(base), query, encoded(replaced(example, trail, value)), what
                    )


async def test_no_field_takes_a_hostile_value_to_a_5xx(
    api: Api, admin: Admin, db: Database, client: httpx.AsyncClient
) -> None:
    doc = (await client.get("/openapi.json")).json()
    service = (await service_of(db, api)).name
    await admin.put("/catalog/channel/bbc1/", json={"title": "BBC One"})
    failures = []
    for case in cases(doc, api.key, service):
        headers = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        if case.body is not None:
            headers["content-type"] = "application/json"
        where = f"{case.method.upper()} {case.path[:80]} {case.what}"
        try:
            response = await client.request(
                case.method.upper(),
                case.path,
                params=case.params,
                content=case.body,
                headers=headers,
            )
        except Exception as exc:  # an unhandled error, raised through the in-process transport
            failures.append(f"{where}: {type(exc).__name__}: {str(exc)[:200]}")
            continue
        if response.status_code >= 500:
            failures.append(f"{where}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)
