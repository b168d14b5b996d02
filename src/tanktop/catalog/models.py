"""What the operator may write into the catalog, validated before anything is stored.

Unknown fields are refused so a typo never silently drops data.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from tanktop.errors import BadRequest
from tanktop.ids import NAME_PATTERN
from tanktop.timestamps import to_utc

ITEM_TYPES = ("movie", "programme", "episode", "channel")
ItemTypeName = Literal["movie", "programme", "episode", "channel"]
CONTENT_TYPES = ("movie", "programme", "episode")
MAX_PRICE = 10_000_000
"""Prices are whole pence/cents; this bound keeps them inside every database's integers."""


def _id_text(value: Any) -> Any:
    """Ids may be sent as numbers; they are stored as text."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Id = Annotated[
    str,
    BeforeValidator(_id_text),
    Field(pattern=NAME_PATTERN),
    WithJsonSchema({"type": ["string", "integer"], "pattern": NAME_PATTERN}),
]
Minutes = Annotated[float, Field(gt=0, le=100_000)]
Names = Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=50)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Movie(_Strict):
    title: Annotated[str, Field(min_length=1, max_length=500)]
    duration: Minutes | None = None
    genres: Names = []
    year: Annotated[int, Field(ge=1870, le=2200)] | None = None


class Programme(_Strict):
    title: Annotated[str, Field(min_length=1, max_length=500)]
    genres: Names = []
    sport: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    teams: Names = []


class Episode(_Strict):
    programme_id: Id
    season: Annotated[int, Field(ge=0, le=10_000)]
    number: Annotated[int, Field(ge=0, le=100_000)]
    duration: Minutes | None = None
    title: Annotated[str, Field(max_length=500)] = ""
    sport: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    teams: Names = []


class Channel(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=500)]


ItemModel = Movie | Programme | Episode | Channel
MODELS: dict[str, type[ItemModel]] = {
    "movie": Movie,
    "programme": Programme,
    "episode": Episode,
    "channel": Channel,
}


class Offer(_Strict):
    source_id: Id
    price: Annotated[int, Field(ge=0, le=MAX_PRICE, strict=True)] = 0
    hd: bool = False
    available_from: dt.datetime | None = None
    available_until: dt.datetime | None = None

    @model_validator(mode="after")
    def _window(self) -> Offer:
        for name in ("available_from", "available_until"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, to_utc(value, name))
        if (
            self.available_from
            and self.available_until
            and self.available_until <= self.available_from
        ):
            raise ValueError("available_until must be after available_from")
        return self


class Slot(_Strict):
    start: dt.datetime
    end: dt.datetime
    item_type: Literal["movie", "programme", "episode"]
    item_id: Id

    @model_validator(mode="after")
    def _ordered(self) -> Slot:
        self.start, self.end = to_utc(self.start, "start"), to_utc(self.end, "end")
        if self.end <= self.start:
            raise ValueError("a slot's end must be after its start")
        return self


def describe(error: ValidationError, prefix: str = "") -> str:
    """Pydantic's errors as one line a developer can act on."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{prefix}{where}: {message}" if where else f"{prefix}{message}")
    return "; ".join(parts)


def parse_item(item_type: str, body: Any) -> ItemModel:
    if item_type not in MODELS:
        raise BadRequest(f"Item type must be one of {', '.join(ITEM_TYPES)}; got {item_type!r}.")
    if not isinstance(body, dict):
        raise BadRequest("The item must be a JSON object.")
    try:
        return MODELS[item_type].model_validate(body)
    except ValidationError as exc:
        raise BadRequest(describe(exc)) from None


MAX_LIST = 10_000


def list_schema(model: type[Offer] | type[Slot]) -> dict[str, Any]:
    """The JSON schema of a body that `parse_list` reads, for the OpenAPI document."""
    return {"type": "array", "maxItems": MAX_LIST, "items": model.model_json_schema()}


def parse_list(model: type[Offer] | type[Slot], body: Any, what: str) -> list[Any]:
    if not isinstance(body, list):
        raise BadRequest(f"Send the {what} as a JSON array.")
    if len(body) > MAX_LIST:
        raise BadRequest(f"At most {MAX_LIST:,} {what} at once.")
    parsed = []
    for index, entry in enumerate(body):
        try:
            parsed.append(model.model_validate(entry))
        except ValidationError as exc:
            raise BadRequest(describe(exc, f"{what}[{index}].")) from None
    return parsed
