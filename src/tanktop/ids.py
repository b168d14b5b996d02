"""Identifiers: what a path id may contain, and how ids are written in JSON.

The path parameters made of them (`UserId`, `ItemId`, ...) are `tanktop.parameters`. Ids are
strings everywhere inside; on the way out an id that is a canonical decimal integer
(`1`, `24`, not `007`) becomes a JSON number, as in the public document's examples.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import Field, PlainSerializer, WithJsonSchema

ID_CHARS: Final = "A-Z a-z 0-9 _ . : @ -"
_ID_CLASS: Final = r"[A-Za-z0-9_.:@\-]"
USER_ID_PATTERN: Final = rf"^{_ID_CLASS}{{1,32}}$"
NAME_PATTERN: Final = rf"^{_ID_CLASS}{{1,64}}$"


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


AS_JSON_ID: Final = PlainSerializer(json_id, return_type=int | str, when_used="json")
"""Writes a text id the way `json_id` says, in a model's JSON (`JsonId`, section params)."""

JsonId = Annotated[
    str,
    Field(coerce_numbers_to_str=True),  # ids arrive as JSON numbers too; inside they are text
    AS_JSON_ID,
    WithJsonSchema(
        {
            "type": ["integer", "string"],
            "description": "An id; one that is a canonical integer is sent as a number.",
        }
    ),
]
"""An id field of a response model: text inside, written as JSON the way `json_id` says."""

_USER_ID = re.compile(USER_ID_PATTERN)
_NAME = re.compile(NAME_PATTERN)


def is_user_id(value: str) -> bool:
    return bool(_USER_ID.match(value))


def is_name(value: str) -> bool:
    """Event names, item types and item ids share this alphabet and length."""
    return bool(_NAME.match(value))
