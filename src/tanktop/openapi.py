"""The OpenAPI document as clients read it: every model a body or an answer uses is a named
component, so a generated client gets one class per shape, named as we name it."""

from __future__ import annotations

import json
from typing import Any

Schema = dict[str, Any]
_DEFS = "#/$defs/"
_COMPONENTS = "#/components/schemas/"


def name_inline_models(document: Schema) -> None:
    """Move the models written inline into request bodies and answers (a model's JSON Schema,
    with its `$defs`) into `components/schemas`, leaving references where they were.

    A model's name must mean one shape: two different schemas under one name are an error."""
    components: Schema = document.setdefault("components", {}).setdefault("schemas", {})
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            bodies = [operation.get("requestBody", {})]
            bodies += list(operation.get("responses", {}).values())
            for body in bodies:
                for content in body.get("content", {}).values():
                    if "schema" in content:
                        content["schema"] = _named(content["schema"], components)


def _named(schema: Schema, components: Schema) -> Schema:
    for name, definition in _pop_defs(schema).items():
        _register(name, _refs_to_components(definition), components)
    schema = _refs_to_components(schema)
    title = schema.get("title")
    if isinstance(title, str) and "properties" in schema:
        _register(title, schema, components)
        return {"$ref": _COMPONENTS + title}
    return schema


def _pop_defs(node: Any) -> Schema:
    """Every `$defs` entry in `node` (at any depth), removed from where it was."""
    found: Schema = {}
    if isinstance(node, dict):
        found |= node.pop("$defs", {})
        children = list(node.values())
    else:
        children = node if isinstance(node, list) else []
    for child in children:
        found |= _pop_defs(child)
    return found


def _register(name: str, schema: Schema, components: Schema) -> None:
    if components.setdefault(name, schema) != schema:
        raise ValueError(f"two different schemas are both named {name!r}: rename one model")


def _refs_to_components(schema: Schema) -> Schema:
    result: Schema = json.loads(json.dumps(schema).replace(f'"{_DEFS}', f'"{_COMPONENTS}'))
    return result
