"""The sections domain's request and answer shapes (one model per shape)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StrictBool, StrictInt, StrictStr

from tanktop.ids import NAME_PATTERN, JsonId
from tanktop.recommendations.schemas import Reason
from tanktop.timestamps import Timestamp

MAX_ITEMS = 100
MAX_POSITION = 1_000_000


class SectionBody(BaseModel):
    """What a service sends to define a section (`PUT /section/<sectionid>/`)."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    kind: StrictStr
    item_type: Annotated[StrictStr, Field(pattern=NAME_PATTERN)] | None = None
    params: dict[str, JsonValue] = {}
    position: Annotated[StrictInt, Field(ge=0, le=MAX_POSITION)] | None = None
    max_items: Annotated[StrictInt, Field(ge=1, le=MAX_ITEMS)] = 20
    locked: StrictBool = False


class Section(BaseModel):
    """A section definition as stored (params with their defaults filled in)."""

    section_id: JsonId
    title: str
    kind: str
    item_type: str | None
    params: dict[str, JsonValue]
    position: int
    max_items: int
    locked: bool


class SectionList(BaseModel):
    sections: list[Section]


class SectionIds(BaseModel):
    """The user's section ids in page order (`GET /list/<userid>/section/`)."""

    items: list[JsonId]


class RowItem(BaseModel):
    """One item of a row; the fields after `item_id` come from the row's source (a bookmark's
    position, a recommendation's score and reasons, an airing's channel and times)."""

    item_type: str
    item_id: JsonId
    score: float | None = None
    reasons: list[Reason] | None = None
    position: float | None = None
    duration: float | None = None
    episode_id: JsonId | None = None
    season: int | None = None
    number: int | None = None
    status: str | None = None
    updated_at: Timestamp | None = None
    channel_id: JsonId | None = None
    start: Timestamp | None = None
    end: Timestamp | None = None


class BasedOn(BaseModel):
    """The item a `because_you_watched` row is built from."""

    item_type: str
    item_id: JsonId
    title: str


class Row(BaseModel):
    """One section of a user's page, filled for them."""

    section_id: JsonId
    title: str
    kind: str
    items: list[RowItem]
    based_on: BasedOn | None = None
    next_cursor: str | None = None


class Page(BaseModel):
    sections: list[Row]
