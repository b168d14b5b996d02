"""Users' sets of rollup rows, kept deserialised by each API process, keyed by their content.

A bucket that is more than one row (a day in a zone that is not a report zone, a week, a
retention cohort) merges its rows' sets, so its answer reads every row's set: a day's users are
kilobytes, and 30 days of 10 series some megabytes to send, decode and deserialise per call.
Rows of past hours and days rarely change, so each row keeps a digest of its sets (`digest`,
written with them), the database sends that in their place, and the process deserialises only
the sets it has not seen: keyed by content, not by row, a cached set is never stale, whatever
was rolled up or rebuilt since."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

from pyroaring import FrozenBitMap

SET_COLUMNS = ("members", "new_members", "first_members", "last_members")


def with_digest(row: dict[str, Any]) -> dict[str, Any]:
    """A series row to write, with the digest of its sets (16 bytes of BLAKE2b, hex)."""
    found = hashlib.blake2b(digest_size=16)
    for column in SET_COLUMNS:
        raw = row.get(column)
        found.update(len(raw).to_bytes(8, "little") if raw is not None else b"none")
        found.update(raw or b"")
    return {**row, "digest": found.hexdigest()}


class SetCache:
    """Deserialised sets by digest, the least recently used dropped beyond `limit` bytes
    (their serialised size: about what they take in memory). Frozen: callers share them."""

    def __init__(self, limit: int = 128 * 1024 * 1024) -> None:
        self.limit = limit
        self.size = 0
        self._sets: OrderedDict[str, tuple[FrozenBitMap, int]] = OrderedDict()

    def clear(self) -> None:
        self._sets.clear()
        self.size = 0

    def get(self, key: str) -> FrozenBitMap | None:
        found = self._sets.get(key)
        if found is None:
            return None
        self._sets.move_to_end(key)
        return found[0]

    def put(self, key: str, raw: bytes) -> FrozenBitMap:
        """Deserialise `raw` (once) and keep it under `key` (`b""`: an empty set)."""
        found = self.get(key)
        if found is not None:
            return found
        users = FrozenBitMap.deserialize(raw) if raw else FrozenBitMap()  # b"": no set (NULL)
        self._sets[key] = (users, len(raw))
        self.size += len(raw)
        while self.size > self.limit and len(self._sets) > 1:
            _, (_, size) = self._sets.popitem(last=False)
            self.size -= size
        return users


SETS = SetCache()
