"""The catalog's shapes: what the operator may write (validated before anything is stored;
unknown fields are refused so a typo never silently drops data), and the same shapes as the
admin API answers them (ids written as `JsonId`s are, times as `Timestamp`s are)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    MISSING,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PlainSerializer,
    RootModel,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from tanktop.errors import BadRequest
from tanktop.ids import NAME_PATTERN, JsonId, json_id
from tanktop.timestamps import Timestamp, to_utc

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
    PlainSerializer(json_id, return_type=int | str, when_used="json"),
    WithJsonSchema({"type": ["string", "integer"], "pattern": NAME_PATTERN}),
]
"""An id the operator sends (a number or text); written back as `json_id` says."""
Minutes = Annotated[float, Field(gt=0, le=100_000)]
Names = Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=50)]


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_serialization_defaults_required=True,  # answers always carry them
    )


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
    available_from: Timestamp | None = None
    available_until: Timestamp | None = None

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
    start: Timestamp
    end: Timestamp
    item_type: Literal["movie", "programme", "episode"]
    item_id: Id

    @model_validator(mode="after")
    def _ordered(self) -> Slot:
        self.start, self.end = to_utc(self.start, "start"), to_utc(self.end, "end")
        if self.end <= self.start:
            raise ValueError("a slot's end must be after its start")
        return self


class _Stored(BaseModel):
    """An item as the admin API answers it: its key, then the fields of its type."""

    item_type: str
    item_id: JsonId


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    offers: list[Offer] | MISSING = MISSING
    """With `GET` only."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Every field but `offers` is in every answer (the request models' defaults too)."""
        schema = handler(core_schema)
        required = handler.resolve_ref_schema(schema).get("required", [])
        if "offers" in required:
            required.remove("offers")
        return schema


class StoredMovie(_Answer, Movie, _Stored):
    model_config = ConfigDict(extra="ignore")
    item_type: Literal["movie"] = "movie"


class StoredProgramme(_Answer, Programme, _Stored):
    model_config = ConfigDict(extra="ignore")
    item_type: Literal["programme"] = "programme"


class StoredEpisode(_Answer, Episode, _Stored):
    model_config = ConfigDict(extra="ignore")
    item_type: Literal["episode"] = "episode"


class StoredChannel(_Answer, Channel, _Stored):
    model_config = ConfigDict(extra="ignore")
    item_type: Literal["channel"] = "channel"


StoredItem = StoredMovie | StoredProgramme | StoredEpisode | StoredChannel
STORED: dict[str, type[StoredItem]] = {
    "movie": StoredMovie,
    "programme": StoredProgramme,
    "episode": StoredEpisode,
    "channel": StoredChannel,
}


class CatalogItem(RootModel[Annotated[StoredItem, Field(discriminator="item_type")]]):
    """A catalog item as stored: `item_type`, `item_id` and the fields of its type; with
    `GET`, its `offers` too."""


class OfferList(BaseModel):
    offers: list[Offer]


class Schedule(BaseModel):
    """A channel's slots, in time order."""

    slots: list[Slot]


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
