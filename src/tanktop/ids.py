"""Identifiers: what a path id may contain, and how ids are written in JSON.

Ids are strings everywhere inside; on the way out an id that is a canonical decimal integer
(`1`, `24`, not `007`) becomes a JSON number, as in the public document's examples.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from fastapi import Path
from pydantic import Field, PlainSerializer, WithJsonSchema

ID_CHARS: Final = "A-Z a-z 0-9 _ . : @ -"
_ID_CLASS: Final = r"[A-Za-z0-9_.:@\-]"
USER_ID_PATTERN: Final = rf"^{_ID_CLASS}{{1,32}}$"
NAME_PATTERN: Final = rf"^{_ID_CLASS}{{1,64}}$"

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
    """An id as JSON wants it: canonical integers (`0`, `24`, `-3`, at most 18 digits; not
    `007`) as numbers, everything else as text. Called for every id of every answer, so string
    tests rather than a regular expression."""
    digits = value[1:] if value[:1] == "-" else value
    if (
        digits.isdigit()
        and digits.isascii()
        and len(digits) <= 18
        and (digits[0] != "0" or value == "0")
    ):
        return int(value)
    return value


JsonId = Annotated[
    str,
    Field(coerce_numbers_to_str=True),  # ids arrive as JSON numbers too; inside they are text
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
