"""Schemathesis hooks for test_fuzz.py: a rejected request (4xx) must store nothing.

Loaded by the schemathesis CLI through `SCHEMATHESIS_HOOKS`. The server under test runs on the
database named by `TANKTOP_FUZZ_DB` (an SQLite file, or a PostgreSQL URL), with no worker, no
rate limits and impressions held until shutdown (the only writes a read makes), and
schemathesis sends one request at a time, so any commit between the start of a call and its
answer is that call's. On SQLite, `PRAGMA data_version` moves whenever another connection
commits; on PostgreSQL each table's row count and newest row version (`xmin`) are compared.
Either catches updates and deletes as well as inserts; the tables that changed are named.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from typing import Any

import asyncpg
import schemathesis


class SqliteWatch:
    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)

    def version(self) -> object:
        return self._db.execute("PRAGMA data_version").fetchone()[0]

    def snapshot(self) -> tuple[object, dict[str, object]]:
        """Something that moves on every commit, and each table's state (to name them)."""
        return self.version(), self.tables()

    def tables(self) -> dict[str, object]:
        names = [
            name
            for (name,) in self._db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        # Table names come from sqlite_master, not from a request.
        count = 'SELECT count(*) FROM "{}"'
        return {t: self._db.execute(count.format(t)).fetchone()[0] for t in names}


class PostgresWatch:
    """One connection on a loop of its own (the hooks are called synchronously)."""

    def __init__(self, url: str) -> None:
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        self._conn: asyncpg.Connection = self._run(asyncpg.connect(url))
        names = self._run(
            self._conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        )
        # Table names come from pg_tables, not from a request. A committed insert or update
        # gives its rows a new xmin; a delete lowers the count (with an insert: a new xmin).
        self._digest = " UNION ALL ".join(
            f"SELECT '{name}', count(*), max(xmin::text::bigint) FROM \"{name}\""  # noqa: S608
            for name in (r["tablename"] for r in names)
        )

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(60)

    def tables(self) -> dict[str, object]:
        return {row[0]: (row[1], row[2]) for row in self._run(self._conn.fetch(self._digest))}

    def version(self) -> object:
        return self.tables()

    def snapshot(self) -> tuple[object, dict[str, object]]:
        tables = self.tables()
        return tables, tables


_target = os.environ["TANKTOP_FUZZ_DB"]
_watch = PostgresWatch(_target) if _target.startswith("postgresql") else SqliteWatch(_target)
_state: dict[str, Any] = {}


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    # The state after the last call is the state before this one (nothing else writes), so
    # each call costs one snapshot, not two.
    _state["before"] = _state.pop("after", None) or _watch.snapshot()


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    _state["after"] = _watch.snapshot()


@schemathesis.check
def rejected_request_stores_nothing(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 4xx answer means the request changed nothing: no row added, altered or removed."""
    if not 400 <= response.status_code < 500 or "before" not in _state or "after" not in _state:
        return None
    (version, tables), (now, tables_now) = _state["before"], _state["after"]
    if now != version:
        changed = sorted(t for t, state in tables_now.items() if state != tables.get(t))
        raise AssertionError(
            f"{response.status_code} answer, yet the database changed (tables: {changed})"
        )
    return True
