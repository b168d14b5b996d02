"""Opaque page cursors: a few strings packed into URL-safe text, and checked on the way back."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json

from tanktop.errors import BadRequest
from tanktop.storable import INT64_MAX, is_storable
from tanktop.timestamps import to_utc


def encode_cursor(*parts: str) -> str:
    """The position after which (or before which) the next page starts."""
    raw = json.dumps(list(parts), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _not_ours() -> BadRequest:
    return BadRequest("The cursor is not one this API gave out.")


def decode_cursor(cursor: str, count: int) -> list[str]:
    """The `count` parts of a cursor this API gave out; 400 for anything else (a forged one
    never reaches SQL with text or numbers a database would refuse)."""
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        parts = None
    if not isinstance(parts, list) or len(parts) != count:
        raise _not_ours()
    texts = [str(part) for part in parts]
    if not all(is_storable(text) for text in texts):
        raise _not_ours()
    return texts


def cursor_time(part: str) -> dt.datetime:
    """A cursor's timestamp part, timezone-aware and in range; 400 otherwise."""
    try:
        return to_utc(dt.datetime.fromisoformat(part))
    except ValueError:
        raise _not_ours() from None


def cursor_id(part: str) -> int:
    """A cursor's row-id part (a 64-bit integer); 400 otherwise."""
    if not (part.isascii() and part.isdigit()) or int(part) > INT64_MAX:
        raise _not_ours()
    return int(part)
