"""Schemathesis hooks for test_fuzz.py: a rejected request (4xx) must store nothing.

Loaded by the schemathesis CLI through `SCHEMATHESIS_HOOKS`. The server under test runs on the
SQLite file named by `TANKTOP_FUZZ_DB`, with no worker, no rate limits and impressions held until
shutdown (the only writes a read makes), and schemathesis sends one request at a time, so any
commit between the start of a call and its answer is that call's. SQLite's `PRAGMA data_version`
moves whenever another connection commits, which catches updates and deletes as well as inserts;
table row counts name the culprit.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import schemathesis

_database = sqlite3.connect(
    f"file:{os.environ['TANKTOP_FUZZ_DB']}?mode=ro", uri=True, check_same_thread=False
)
_before: dict[str, Any] = {}


def _version() -> int:
    version: int = _database.execute("PRAGMA data_version").fetchone()[0]
    return version


def _row_counts() -> dict[str, int]:
    tables = [
        name
        for (name,) in _database.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    # Table names come from sqlite_master, not from a request.
    count = 'SELECT count(*) FROM "{}"'
    return {t: _database.execute(count.format(t)).fetchone()[0] for t in tables}


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    _before["version"] = _version()
    _before["rows"] = _row_counts()


@schemathesis.check
def rejected_request_stores_nothing(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 4xx answer means the request changed nothing: no row added, altered or removed."""
    if not 400 <= response.status_code < 500 or "version" not in _before:
        return None
    if _version() != _before["version"]:
        rows = _row_counts()
        moved = {t: f"{_before['rows'].get(t)} -> {n}" for t, n in rows.items()}
        moved = {t: change for t, change in moved.items() if rows[t] != _before["rows"].get(t)}
        raise AssertionError(
            f"{response.status_code} answer, yet the database changed "
            f"(row counts: {moved or 'same'})"
        )
    return True
