"""What both databases can store, checked before anything reaches SQL, so hostile input gets
the same `400` on SQLite and PostgreSQL instead of a driver error.

Text: PostgreSQL's `text` and `jsonb` refuse U+0000, and an unpaired surrogate (which JSON's
`\\ud800` escape can produce) is not UTF-8 at all, so neither is accepted anywhere. Numbers:
JSON numbers must be finite; integers bound for a column are checked against it where they are
read (`INT32_MAX`, `INT64_MAX`).
"""

from __future__ import annotations

import re
from typing import Final

from pydantic import JsonValue

from tanktop.errors import BadRequest

INT32_MAX: Final = 2**31 - 1
INT64_MAX: Final = 2**63 - 1

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _what(match: re.Match[str]) -> str:
    char = match.group()
    return "U+0000 (NUL)" if char == "\x00" else f"an unpaired surrogate (U+{ord(char):04X})"


def is_storable(text: str) -> bool:
    return _UNSTORABLE.search(text) is None


def check_text(value: str, field: str) -> str:
    """`value` unchanged, or a 400 naming `field` when a database could not store it."""
    match = _UNSTORABLE.search(value)
    if match:
        raise BadRequest(f"{field} contains {_what(match)}, which cannot be stored.")
    return value


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def check_json(value: JsonValue, field: str = "") -> None:
    """Every string and key in a parsed JSON document is storable; a 400 names the first that
    is not by its path (`favourites.genres[2]`) within `field`."""
    stack: list[tuple[JsonValue, str]] = [(value, field)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            check_text(node, where or "the body")
        elif isinstance(node, dict):
            for key, child in node.items():
                check_text(key, f"a key in {where}" if where else "a top-level key")
                stack.append((child, _path(where, key)))
        elif isinstance(node, list):
            stack.extend((child, _path(where, i)) for i, child in enumerate(node))


def printable(text: str) -> str:
    """Text from elsewhere (a webhook receiver's answer) made storable: U+FFFD for each
    character a database would refuse."""
    return _UNSTORABLE.sub("\ufffd", text)
