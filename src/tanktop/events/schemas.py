"""The events domain's answers (one model per shape)."""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import MISSING, BaseModel, Field, RootModel, WithJsonSchema

from tanktop.events.rules import JsonScalar
from tanktop.ids import JsonId
from tanktop.timestamps import Timestamp

MAX_BATCH: Final = 1000
"""Events one `POST /events/` may carry."""

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
        list_: EventList = cls.__pydantic_validator__.validate_python(root)  # half of cls(root)
        return list_

    def values_of(self, event: str) -> dict[str, JsonScalar]:
        """The items in the list and their values (a client reading the answer)."""
        values: dict[str, JsonScalar] = self.root.get(event, {})
        return values

    @property
    def next_cursor(self) -> str | None:
        """Pass it as `cursor` for the next page; None on the last one."""
        cursor = self.root.get("next_cursor")
        return cursor if isinstance(cursor, str) else None


class PersonalizedList(BaseModel):
    """The kept ids (the given ones in their order, or catalog items in id order); a page cut
    short carries `next_cursor`."""

    items: list[JsonId]
    next_cursor: Annotated[str, WithJsonSchema(_CURSOR_SCHEMA)] | MISSING = MISSING


class BatchEvent(BaseModel):
    """One event of a batch (`POST /events/`)."""

    user_id: str
    event: str
    item_type: str
    item_id: Annotated[str, Field(coerce_numbers_to_str=True)]
    value: int | float | str | MISSING | None = MISSING
    at: Timestamp | float | str | MISSING = MISSING
    """When it happened (ISO 8601 or Unix seconds; default: when the server receives it)."""
