"""The ids a route takes from its path, with the pattern FastAPI checks and the description and
example the OpenAPI document gives (their alphabet and patterns: `tanktop.ids`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from tanktop.ids import ID_CHARS, NAME_PATTERN, USER_ID_PATTERN

UserId = Annotated[
    str,
    Path(
        pattern=USER_ID_PATTERN,
        description=f"Your id for the user: 1-32 characters from {ID_CHARS}.",
        examples=["7"],
    ),
]
"""A user id in a path: 1-32 characters from the id alphabet."""

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
