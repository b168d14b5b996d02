"""The database: one engine per process, SQLite or PostgreSQL behind the same Core API.

Writes on SQLite are serialised inside the process (one writer, `BEGIN IMMEDIATE`, WAL and a
busy timeout for other processes) because SQLite allows one writer at a time and SQLAlchemy's
pool would otherwise answer concurrent writes with "database is locked".

A write that creates work for the worker (a catalog change, a webhook to send) calls
`announce_work`, so workers start on it at once rather than at their next poll: on PostgreSQL
by `NOTIFY`, which reaches the workers of every process when the transaction commits; in the
process itself (the SQLite set-up, worker inside the API process) by an event set after commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import JSON, ColumnElement, DateTime, MetaData, Row, Select, Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

log = logging.getLogger("tanktop.db")
T = TypeVar("T")

WORK_CHANNEL = "tanktop_work"
_ANNOUNCED = "tanktop_work_announced"

JSONDocument = JSON().with_variant(postgresql.JSONB(), "postgresql")
"""JSON everywhere, JSONB on PostgreSQL (indexable, compact)."""


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timestamps stored in UTC and always read back timezone-aware, on both backends."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    """The current time, timezone-aware, the only clock domains use."""
    return dt.datetime.now(dt.UTC)


def async_url(url: str) -> str:
    """Map the operator's plain URL (`sqlite:///x.db`, `postgresql://…`) to its async driver."""
    scheme, _sep, rest = url.partition("://")
    if "+" in scheme:
        return url
    if scheme == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+asyncpg://{rest}"
    raise ValueError(f"unsupported database URL scheme {scheme!r}")


class Database:
    """The process's engine plus the two ways in: `read()` and `write()`."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = async_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self._write_lock = asyncio.Lock()
        self.work_announced = asyncio.Event()
        """Set after a committed write announced work (and on every PostgreSQL NOTIFY heard)."""
        if self.is_sqlite:
            self.engine: AsyncEngine = create_async_engine(self.url, pool_size=pool_size)
            _configure_sqlite(self.engine)
        else:
            self.engine = create_async_engine(
                self.url, pool_size=pool_size, max_overflow=0, pool_pre_ping=False
            )

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    @asynccontextmanager
    async def read(self, *, snapshot: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection for reading.

        On PostgreSQL each statement runs on its own (autocommit: one round trip, no
        BEGIN/ROLLBACK) unless `snapshot` asks for one transaction across several statements.
        """
        async with self.engine.connect() as conn:
            if not self.is_sqlite and not snapshot:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction, committed when the block ends without error.

        The commit happens before the block's caller answers, so a 2xx always follows a
        durable commit.
        """
        async with self._transaction() as conn:
            try:
                yield conn
            finally:
                announced = conn.info.pop(_ANNOUNCED, False)
        if announced:  # only reached once the transaction has committed
            self.work_announced.set()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        if self.is_sqlite:
            async with self._write_lock, self.engine.connect() as conn:
                conn = await conn.execution_options(sqlite_begin="IMMEDIATE")
                async with conn.begin():
                    yield conn
        else:
            async with self.engine.begin() as conn:
                yield conn

    async def listen_for_work(self, stop: asyncio.Event, retry_seconds: float = 5.0) -> None:
        """PostgreSQL: LISTEN on a connection of its own until `stop`, setting `work_announced`
        on each NOTIFY; a lost connection is opened again (polling covers the gap)."""
        if self.is_sqlite:
            return
        dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not stop.is_set():
            try:
                conn = await asyncpg.connect(dsn, timeout=retry_seconds)
                try:
                    await self._listen(conn, stop)
                finally:
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
            except Exception as exc:  # the worker still polls; listening is only a shortcut
                log.warning("not listening for work (%s); polling until it reconnects", exc)
                await first_of(stop.wait(), asyncio.sleep(retry_seconds))

    async def _listen(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        """Until `stop` or until the connection is lost."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(WORK_CHANNEL, lambda *_: self.work_announced.set())
        self.work_announced.set()  # whatever was announced while nobody listened
        await first_of(stop.wait(), lost.wait())

    async def dispose(self) -> None:
        await self.engine.dispose()


async def announce_work(conn: AsyncConnection) -> None:
    """Within a `Database.write()` transaction: wake the workers once it commits."""
    if conn.info.get(_ANNOUNCED):
        return
    conn.info[_ANNOUNCED] = True
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": WORK_CHANNEL})


async def first_of(*waits: Awaitable[Any], within: float | None = None) -> None:
    """Wait until the first of `waits` finishes (or `within` seconds), cancelling the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, a busy timeout, foreign keys, and BEGIN under our control (not pysqlite's)."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


BIND_CHUNK = 2000
"""Values bound per `IN (...)` statement (SQLite allows at most 32,766 bound values)."""


def chunks(values: Sequence[T], size: int = BIND_CHUNK) -> list[list[T]]:
    """`values` cut into lists of at most `size`, for one statement each."""
    return [list(values[i : i + size]) for i in range(0, len(values), size)]


async def select_in(
    conn: AsyncConnection,
    query: Select[Any],
    column: ColumnElement[Any],
    values: Sequence[Any],
    size: int = BIND_CHUNK,
) -> list[Row[Any]]:
    """The rows of `query` whose `column` is one of `values`, a statement per chunk of them."""
    rows: list[Row[Any]] = []
    for chunk in chunks(values, size):
        rows += (await conn.execute(query.where(column.in_(chunk)))).all()
    return rows


def dialect_insert(conn: AsyncConnection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT with `on_conflict_do_*` for the connection's backend (same API on both)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


DatabaseDep = Annotated[Database, Depends(get_database)]
