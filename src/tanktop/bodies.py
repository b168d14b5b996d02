"""Reading request bodies: JSON objects with clear errors for everything a client can get wrong."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, cast

from pydantic import JsonValue

from tanktop.errors import BadRequest, UnsupportedMediaType
from tanktop.storable import check_json

if TYPE_CHECKING:  # the parsing is for the command line too (profiles' and rules' JSON)
    from fastapi import Request

MAX_JSON_DEPTH = 32

JsonObject = dict[str, JsonValue]
"""A JSON object as parsed: text keys, any JSON values."""


def is_json_media_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a parsed JSON value, stopping early once past `limit`."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    deepest = 0
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    return deepest


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def parse_json(raw: bytes | str, *, what: str = "Request body") -> JsonValue:
    """Parse strict JSON (no NaN/Infinity, no number out of a double's range, no text a
    database cannot store), turning every failure into a 400 that says where."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"{what} is not UTF-8 (byte {exc.start}).") from None
    else:
        text = raw
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}."
        ) from None
    except ValueError as exc:
        raise BadRequest(f"{what} is not acceptable JSON: {exc}.") from None
    except RecursionError:
        value = None
        too_deep = True
    else:
        too_deep = _depth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH
    if too_deep:
        raise BadRequest(f"{what} nests deeper than {MAX_JSON_DEPTH} levels.")
    if "\\u" in text:  # NUL and lone surrogates can only come from \u escapes
        check_json(value)
    return cast(JsonValue, value)


async def json_body(
    request: Request, *, when_empty: JsonValue = None, required: bool = True
) -> JsonValue:
    """The parsed JSON body; an empty body is `when_empty`, or a 400 when `required`."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise BadRequest("A JSON body is required.")
        return when_empty
    content_type = request.headers.get("content-type")
    if content_type is not None and not is_json_media_type(content_type):
        raise UnsupportedMediaType(
            f"Send the body as application/json (got {content_type.split(';')[0]!r})."
        )
    return parse_json(raw)


async def json_object(request: Request) -> JsonObject:
    """The body as a JSON object; an empty body is `{}`."""
    value = await json_body(request, when_empty={}, required=False)
    if not isinstance(value, dict):
        raise BadRequest(f"Request body must be a JSON object, not {type(value).__name__}.")
    return value


def json_body_openapi(
    schema: dict[str, Any], example: Any, description: str, *, required: bool = True
) -> dict[str, Any]:
    """`openapi_extra` documenting a JSON body that the handler reads itself (with `json_body`),
    so clients and schemathesis see the same shape our validation accepts."""
    return {
        "requestBody": {
            "required": required,
            "description": description,
            "content": {"application/json": {"schema": schema, "example": example}},
        }
    }


def json_object_openapi(example: dict[str, Any], description: str) -> dict[str, Any]:
    """`openapi_extra` for endpoints that read a JSON object with `json_object`."""
    return json_body_openapi(
        {"type": "object", "additionalProperties": True}, example, description, required=False
    )
