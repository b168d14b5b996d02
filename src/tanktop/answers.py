"""How a route documents and writes its typed answer.

Every answer is a Pydantic model from its domain's `schemas.py`, given as the route's
`response_model`: FastAPI writes it with pydantic-core, and the OpenAPI document names its
schema (`Bookmark`, `EventList`, …), so client generators read it and the fuzz test checks
every answer against it.
"""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic import BaseModel


def model_answer(description: str, example: Any, model: type[object]) -> dict[str, Any]:
    """A `responses` entry for an answer typed by a model (or a dataclass pydantic writes):
    what it means and an example."""
    return {
        "model": model,
        "description": description,
        "content": {"application/json": {"example": example}},
    }


def model_json(model: BaseModel, status_code: int = 200, *, exclude_none: bool = False) -> Response:
    """The answer as a response of its own, for a route that must leave out its null fields,
    or one too hot for FastAPI to check again the model it was just given (returning the
    model itself is the usual way)."""
    body = model.__pydantic_serializer__.to_json(model, exclude_none=exclude_none)  # no frames
    return Response(body, status_code=status_code, media_type="application/json")
