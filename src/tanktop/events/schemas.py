"""The events domain's answers (one model per shape)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import MISSING, BaseModel, RootModel, WithJsonSchema

from tanktop.events.rules import JsonScalar
from tanktop.ids import JsonId

_CURSOR_SCHEMA = {"type": "string", "description": "Pass as `cursor` for the next page."}


class EventList(
    RootModel[
        Annotated[
            dict[str, Any],  # `of` types it; unions here would double this hot read's cost
            WithJsonSchema(
                {
                    "type": "object",
                    "properties": {"next_cursor": _CURSOR_SCHEMA},
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": {"type": ["number", "string", "null"]},
                    },
                }
            ),
        ]
    ]
):
    """`{<event>: {<item id>: value}}` (the seed's shape: the key is the event's name), and
    `next_cursor` when a page was cut short."""

    @classmethod
    def of(cls, event: str, values: dict[str, JsonScalar], next_cursor: str | None) -> EventList:
        root: dict[str, Any] = {event: values}
        if next_cursor:
            root["next_cursor"] = next_cursor
        return cls(root)


class PersonalizedList(BaseModel):
    """The kept ids (the given ones in their order, or catalog items in id order); a page cut
    short carries `next_cursor`."""

    items: list[JsonId]
    next_cursor: Annotated[str, WithJsonSchema(_CURSOR_SCHEMA)] | MISSING = MISSING
