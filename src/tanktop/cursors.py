"""Opaque page cursors: a few strings packed into URL-safe text, and checked on the way back."""

from __future__ import annotations

import base64
import binascii
import json

from tanktop.errors import BadRequest


def encode_cursor(*parts: str) -> str:
    """The position after which (or before which) the next page starts."""
    raw = json.dumps(list(parts), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, count: int) -> list[str]:
    """The `count` parts of a cursor this API gave out; 400 for anything else."""
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        parts = None
    if not isinstance(parts, list) or len(parts) != count:
        raise BadRequest("The cursor is not one this API gave out.")
    return [str(part) for part in parts]
