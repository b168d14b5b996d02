"""Identifiers: what a path id may contain, and how ids are written in JSON.

Ids are strings everywhere inside; on the way out an id that is a canonical decimal integer
(`1`, `24`, not `007`) becomes a JSON number, as in the public document's examples.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from fastapi import Path
from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

ID_CHARS: Final = "A-Z a-z 0-9 _ . : @ -"
_ID_CLASS: Final = r"[A-Za-z0-9_.:@\-]"
USER_ID_PATTERN: Final = rf"^{_ID_CLASS}{{1,32}}$"
NAME_PATTERN: Final = rf"^{_ID_CLASS}{{1,64}}$"
_CANONICAL_INT = re.compile(r"^(0|-?[1-9][0-9]{0,17})$")

UserId = Annotated[
    str,
    Path(
        pattern=USER_ID_PATTERN,
        description=f"Your id for the user: 1-32 characters from {ID_CHARS}.",
        examples=["7"],
    ),
]
"""A user id in a path: 1-32 characters from the id alphabet."""


def json_id(value: str) -> int | str:
    """An id as JSON wants it: canonical integers as numbers, everything else as text."""
    return int(value) if _CANONICAL_INT.match(value) else value


def _id_text(value: Any) -> Any:
    """Ids arrive as JSON numbers too (`"item_id": 1`); inside they are always text."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


JsonId = Annotated[
    str,
    BeforeValidator(_id_text),
    PlainSerializer(json_id, return_type=int | str, when_used="json"),
    WithJsonSchema(
        {
            "type": ["integer", "string"],
            "description": "An id; one that is a canonical integer is sent as a number.",
        }
    ),
]
"""An id field of a response model: text inside, written as JSON the way `json_id` says."""

EventName = Annotated[
    str,
    Path(
        pattern=NAME_PATTERN, description=f"Event name, 1-64 of {ID_CHARS}.", examples=["watchlist"]
    ),
]
ItemType = Annotated[
    str,
    Path(pattern=NAME_PATTERN, description=f"Item type, 1-64 of {ID_CHARS}.", examples=["movie"]),
]
ItemId = Annotated[
    str,
    Path(pattern=NAME_PATTERN, description=f"Item id, 1-64 of {ID_CHARS}.", examples=["1"]),
]

_USER_ID = re.compile(USER_ID_PATTERN)
_NAME = re.compile(NAME_PATTERN)


def is_user_id(value: str) -> bool:
    return bool(_USER_ID.match(value))


def is_name(value: str) -> bool:
    """Event names, item types and item ids share this alphabet and length."""
    return bool(_NAME.match(value))
