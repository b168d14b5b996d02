"""JSON Schemas of our successful answers, for the OpenAPI document.

Handlers build their JSON by hand (ids as numbers when they are canonical integers, timestamps
as ISO 8601), so the shapes are written out here once. Client generators read them, and the fuzz
test checks every answer against them, so a schema that drifts from the code fails CI.
"""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic import BaseModel

Schema = dict[str, Any]

JSON_ID: Schema = {
    "type": ["string", "integer"],
    "description": "An id; one that is a canonical integer is sent as a number.",
}
TIMESTAMP: Schema = {"type": "string", "format": "date-time"}
SCALAR: Schema = {"type": ["number", "string", "boolean", "null"]}
CURSOR: Schema = {"type": "string", "description": "Pass as `cursor` for the next page."}


def nullable(schema: Schema) -> Schema:
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    return {**schema, "type": [*types, "null"]}


def record(
    required: dict[str, Schema], optional: dict[str, Schema] | None = None, *, open_: bool = False
) -> Schema:
    """An object with these fields (and no others unless `open_`)."""
    return {
        "type": "object",
        "required": list(required),
        "properties": required | (optional or {}),
        "additionalProperties": open_,
    }


def array_of(item: Schema) -> Schema:
    return {"type": "array", "items": item}


def model_answer(description: str, example: Any, model: type[BaseModel]) -> dict[str, Any]:
    """A `responses` entry for an answer typed by a model: what it means and an example."""
    return {
        "model": model,
        "description": description,
        "content": {"application/json": {"example": example}},
    }


def model_json(model: BaseModel, status_code: int = 200, *, exclude_none: bool = False) -> Response:
    """The answer serialised once, straight from the model (no second validation pass)."""
    return Response(
        model.model_dump_json(exclude_none=exclude_none),
        status_code=status_code,
        media_type="application/json",
    )


def answer(description: str, schema: Schema, example: Any) -> dict[str, Any]:
    """A `responses` entry: what the answer means, its schema and an example of it."""
    return {
        "description": description,
        "content": {"application/json": {"schema": schema, "example": example}},
    }


SLOT_FIELDS: dict[str, Schema] = {
    "start": TIMESTAMP,
    "end": TIMESTAMP,
    "item_type": {"type": "string"},
    "item_id": JSON_ID,
}
"""What aired when: a schedule slot, and the core of a live recommendation."""
REASONS = array_of(record({"type": {"type": "string"}}, open_=True))
RECOMMENDATION = record(
    {
        "item_type": {"type": "string"},
        "item_id": JSON_ID,
        "score": {"type": "number"},
        "reasons": REASONS,
    }
)
