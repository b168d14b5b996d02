"""The database: one engine per process, SQLite or PostgreSQL behind the same Core API.

Writes on SQLite are serialised inside the process (one writer, `BEGIN IMMEDIATE`, WAL and a
busy timeout for other processes) because SQLite allows one writer at a time and SQLAlchemy's
pool would otherwise answer concurrent writes with "database is locked".

A write that creates work for the worker (a catalog change, a webhook to send) calls
`announce_work`, so workers start on it at once rather than at their next poll: on PostgreSQL
by `NOTIFY`, which reaches the workers of every process when the transaction commits; in the
process itself (the SQLite set-up, worker inside the API process) by an event set after commit.
Other news travels the same way on channels of its own (`announce`, `Database.on_announcement`):
a new recommendation model reaches every API process's cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import asyncpg
import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    DateTime,
    MetaData,
    Row,
    Select,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    event,
    func,
    literal,
    select,
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy import insert as table_insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from tanktop import faults

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
_TIMEOUT_SET = "tanktop_statement_timeout"
_UNSEEN = object()
_LONG_JOBS: ContextVar[bool] = ContextVar("tanktop_long_jobs", default=False)
_DEADLINE: ContextVar[asyncio.Timeout | None] = ContextVar("tanktop_db_deadline", default=None)

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
        if value.tzinfo is dt.UTC:  # asyncpg's answer: nothing to do (the hot case)
            return value
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
    """The process's engine plus the two ways in: `read()` and `write()`.

    A database error leaving either block as a fault (`tanktop.faults`) is raised as a
    `DatabaseFault`. Broken connections are dropped at checkout (asyncpg knows when the server
    closed one, so this costs no round trip); a failed connect makes the next ones wait a
    growing moment (0.05 s doubling to 1 s) and fail at once meanwhile, so an outage is not met
    with a storm of connects; waiting for a pooled connection (SQLite: for the write lock) is
    bounded by `pool_timeout`; on PostgreSQL every statement by `statement_timeout_ms` (none
    when not given, and none inside `long_jobs()`).
    """

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        pool_timeout: float = 3.0,
        statement_timeout_ms: int | None = None,
    ) -> None:
        self.url = async_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self.pool_timeout = pool_timeout
        self._write_lock = asyncio.Lock()
        self._statement_timeout_ms = 0 if self.is_sqlite else statement_timeout_ms or 0
        self._answer_within = self._statement_timeout_ms / 1000 + 1.0
        self._reconnect = _Backoff()
        self.work_announced = asyncio.Event()
        """Set after a committed write announced work (and on every PostgreSQL NOTIFY heard)."""
        self._handlers: dict[str, list[Callable[[str], None]]] = {}
        self._listening = False
        self._listened: frozenset[str] = frozenset()
        """Channels this process hears by NOTIFY right now (the rest it is told locally)."""
        self.on_announcement(WORK_CHANNEL, lambda _payload: self.work_announced.set())
        if self.is_sqlite:
            self.engine: AsyncEngine = create_async_engine(
                self.url, pool_size=pool_size, pool_timeout=pool_timeout, hide_parameters=True
            )
            _configure_sqlite(self.engine, busy_timeout_ms=round(pool_timeout * 1000))
        else:
            settings = {"statement_timeout": str(self._statement_timeout_ms)}
            self.engine = create_async_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=0,
                pool_pre_ping=False,
                pool_timeout=pool_timeout,
                hide_parameters=True,  # errors are logged: no user data or key hashes in them
                connect_args={"timeout": pool_timeout, "server_settings": settings},
            )
            _configure_postgresql(self.engine, self._statement_timeout_ms)
            if self._statement_timeout_ms:
                for moment in ("before_cursor_execute", "commit"):
                    event.listen(self.engine.sync_engine, moment, self._answer_deadline_moves_on)
        _configure_reconnects(self.engine, self._reconnect)
        self._autocommit: dict[str, Any] = (
            {"sqlite_begin": None} if self.is_sqlite else {"isolation_level": "AUTOCOMMIT"}
        )

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    @asynccontextmanager
    async def read(self, *, snapshot: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection for reading.

        Each statement runs on its own (autocommit: no BEGIN/ROLLBACK, on SQLite a thread
        hop less each) unless `snapshot` asks for one transaction across several statements.
        """
        with faults.FaultBoundary():
            async with self._answered_in_time(), self.engine.connect() as conn:
                await self._fit_statement_timeout(conn)
                if not snapshot:
                    conn = await conn.execution_options(**self._autocommit)
                yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction, committed when the block ends without error.

        The commit happens before the block's caller answers, so a 2xx always follows a
        durable commit. A fault met while committing is marked so (`committing`): whether the
        transaction was applied is then unknown.
        """
        with faults.FaultBoundary() as boundary:
            async with self._answered_in_time(), self._transaction() as conn:
                try:
                    yield conn
                except BaseException:
                    if not conn.invalidated:  # (an invalidated one forgets its info anyway)
                        conn.info.pop(_ANNOUNCED, None)
                    raise
                announced: set[tuple[str, str]] = conn.info.pop(_ANNOUNCED, set())
                boundary.committing = True
        for channel, payload in announced:  # only reached once the transaction has committed
            if channel not in self._listened:  # else its NOTIFY comes back to this process
                self.heard(channel, payload)

    @asynccontextmanager
    async def driver(self) -> AsyncIterator[asyncpg.Connection]:
        """PostgreSQL: a pooled connection's asyncpg connection, each statement committed on
        its own (autocommit), for the few hottest statements.

        The same pool, faults, statement timeout and answer deadline as `read()`, without
        SQLAlchemy's connection, transaction and execution-option bookkeeping (about 110 us of
        CPU per block against 20 us). A block whose statement did not end in an error of the
        server's own (a lost connection, a timeout, a cancellation) drops the connection."""
        with faults.FaultBoundary():
            async with self._answered_in_time():
                raw = await self.engine.raw_connection()
                driver: asyncpg.Connection = raw.driver_connection
                try:
                    await self._fit_statement_timeout(driver, raw.info)
                    yield driver
                except BaseException as exc:
                    if not isinstance(exc, asyncpg.PostgresError) or driver.is_in_transaction():
                        raw.invalidate(exc if isinstance(exc, Exception) else None)
                    raise
                finally:
                    raw.close()

    async def append_rows(
        self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """INSERT `rows` (tuples in `columns` order, of plain columns: numbers, strings,
        booleans, times) in one transaction, for bulk appends made off the request path.

        PostgreSQL: a binary COPY; SQLite: executemany with each column's own conversion.
        Neither does SQLAlchemy's per-row work, which is most of a batch's CPU in the process
        (5,000 rows: 27 -> 6 ms on PostgreSQL, 30 -> 7 ms on SQLite), paid by the requests
        the event loop serves meanwhile."""
        if not rows:
            return
        if not self.is_sqlite:
            async with self.driver() as driver:
                await driver.copy_records_to_table(table.name, records=rows, columns=columns)
            return
        async with self.write() as conn:
            dialect = conn.dialect
            insert = table_insert(table).compile(dialect=dialect, column_keys=list(columns))
            order = [columns.index(name) for name in insert.positiontup or ()]
            converters = [
                table.c[columns[i]].type.dialect_impl(dialect).bind_processor(dialect)
                for i in order
            ]
            # Each distinct value converted once (a batch's rows share few times): the
            # conversion runs on the event loop, stalling the requests it serves meanwhile.
            done: list[dict[Any, Any]] = [{} for _ in order]

            def converted(f: Callable[[Any], Any], value: Any, seen: dict[Any, Any]) -> Any:
                found = seen.get(value, _UNSEEN)
                if found is _UNSEEN:
                    found = seen[value] = f(value)
                return found

            await conn.exec_driver_sql(
                str(insert),
                [
                    tuple(
                        row[i] if f is None else converted(f, row[i], seen)
                        for f, i, seen in zip(converters, order, done, strict=True)
                    )
                    for row in rows
                ],
            )

    def on_announcement(self, channel: str, handler: Callable[[str], None]) -> None:
        """Call `handler(payload)` for each announcement on `channel`: this process's own after
        they commit, and on PostgreSQL every process's once `listen` runs (register first).
        The payload is "" after (re)connecting: anything may have been missed meanwhile."""
        self._handlers.setdefault(channel, []).append(handler)

    def heard(self, channel: str, payload: str) -> None:
        for handler in self._handlers.get(channel, ()):
            handler(payload)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        if self.is_sqlite:
            async with self._write_locked(), self.engine.connect() as conn:
                conn = await conn.execution_options(sqlite_begin="IMMEDIATE")
                async with conn.begin():
                    yield conn
        else:
            async with self.engine.connect() as conn:
                await self._fit_statement_timeout(conn)
                async with conn.begin():
                    yield conn

    @asynccontextmanager
    async def _write_locked(self) -> AsyncIterator[None]:
        """SQLite's one writer in this process, waited for at most `pool_timeout`."""
        if self._write_lock.locked():
            try:
                async with asyncio.timeout(self.pool_timeout):
                    await self._write_lock.acquire()
            except TimeoutError:
                raise sa_exc.TimeoutError("waited too long for the SQLite write lock") from None
        else:
            await self._write_lock.acquire()
        try:
            yield
        finally:
            self._write_lock.release()

    @asynccontextmanager
    async def _answered_in_time(self) -> AsyncIterator[None]:
        """PostgreSQL, API work: a block waits for the database at most a second past the
        statement timeout at a time (checkout, each statement, the commit: the deadline moves
        on with every statement sent, so a long block of quick statements is not cut short).
        The server's own timeout answers before that while it runs; one that is frozen or cut
        off by the network would otherwise hold the request and its pool slot until TCP gives
        up (minutes). The connection is dropped (SQLAlchemy invalidates one whose statement
        was cancelled) and the block raises `NoAnswer`."""
        if not self._statement_timeout_ms or _LONG_JOBS.get():
            yield
            return
        deadline = asyncio.timeout(self._answer_within)
        token = _DEADLINE.set(deadline)
        try:
            async with deadline:
                yield
        except TimeoutError:
            if deadline.expired():
                raise faults.NoAnswer(f"no answer within {self._answer_within:g} s") from None
            raise
        finally:
            _DEADLINE.reset(token)

    def _answer_deadline_moves_on(self, *_args: Any) -> None:
        """Before each statement and commit: the task's deadline (if any) starts over."""
        deadline = _DEADLINE.get()
        if deadline is not None and not deadline.expired():
            deadline.reschedule(asyncio.get_running_loop().time() + self._answer_within)

    async def _fit_statement_timeout(
        self,
        conn: AsyncConnection | asyncpg.Connection,
        info: dict[Any, Any] | None = None,
    ) -> None:
        """Set the connection's statement timeout to what this task wants, when it differs
        (only where workers and API requests share a process: one round trip per switch).
        A driver connection comes with its pool record's `info`."""
        if not self._statement_timeout_ms:
            return
        want = 0 if _LONG_JOBS.get() else self._statement_timeout_ms
        if info is None:
            assert isinstance(conn, AsyncConnection)
            info = conn.info
        if info.get(_TIMEOUT_SET) != want:
            driver = await driver_of(conn) if isinstance(conn, AsyncConnection) else conn
            await driver.execute(f"SET statement_timeout = {int(want)}")
            info[_TIMEOUT_SET] = want

    async def listen(self, stop: asyncio.Event, retry_seconds: float = 5.0) -> None:
        """PostgreSQL: LISTEN on every channel with a handler, on a connection of its own,
        until `stop`; a lost connection is opened again (polling covers the gap). One listener
        per process: a second call while one runs returns at once."""
        if self.is_sqlite or self._listening:
            return
        self._listening = True
        try:
            await self._listen_until(stop, retry_seconds)
        finally:
            self._listening = False

    async def _listen_until(self, stop: asyncio.Event, retry_seconds: float) -> None:
        dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not stop.is_set():
            try:
                conn = await asyncpg.connect(dsn, timeout=retry_seconds)
                try:
                    await self._listen(conn, stop)
                finally:
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
            except Exception as exc:  # everyone still polls; listening is only a shortcut
                log.warning(
                    "not listening for announcements (%s); polling until it reconnects", exc
                )
                await first_of(stop.wait(), asyncio.sleep(retry_seconds))

    async def _listen(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        """Until `stop` or until the connection is lost."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        for channel in self._handlers:
            await conn.add_listener(
                channel, lambda _conn, _pid, channel, payload: self.heard(channel, payload)
            )
        self._listened = frozenset(self._handlers)
        try:
            for channel in self._handlers:
                self.heard(channel, "")  # whatever was announced while nobody listened
            await first_of(stop.wait(), lost.wait())
        finally:
            self._listened = frozenset()

    async def dispose(self) -> None:
        await self.engine.dispose()


async def announce_work(conn: AsyncConnection) -> None:
    """Within a `Database.write()` transaction: wake the workers once it commits."""
    await announce(conn, WORK_CHANNEL)


async def announce(conn: AsyncConnection, channel: str, payload: str = "") -> None:
    """Within a `Database.write()` transaction: once it commits, call the handlers of
    `channel` (`Database.on_announcement`) with `payload` in every process listening (on
    PostgreSQL, by `NOTIFY`), and in this one (directly, unless its NOTIFY reaches it). Said
    once per transaction, however often asked."""
    pending: set[tuple[str, str]] = conn.info.setdefault(_ANNOUNCED, set())
    if (channel, payload) in pending:
        return
    pending.add((channel, payload))
    if conn.dialect.name == "postgresql":
        await conn.execute(
            text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": payload}
        )


async def first_of(*waits: Awaitable[Any], within: float | None = None) -> None:
    """Wait until the first of `waits` finishes (or `within` seconds), cancelling the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _configure_sqlite(engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
    """WAL, a busy timeout, foreign keys, and BEGIN under our control (not pysqlite's):
    the `sqlite_begin` execution option's mode (DEFERRED unless given; None: no transaction,
    each statement on its own)."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode is not None:
            conn.exec_driver_sql(f"BEGIN {mode}")


BIND_CHUNK = 2000
"""Values bound per `IN (...)` statement (SQLite allows at most 32,766 bound values)."""
ARRAY_CHUNK = 50_000
"""Values per array parameter on PostgreSQL (bounded, so one statement stays short)."""


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
    """The rows of `query` whose `column` is one of `values`, a statement per chunk of them.

    On PostgreSQL the values go as one array parameter (`= ANY($1)`): one prepared statement
    whatever their number, where an `IN` list is a statement of its own per length and costs
    more to render and plan than to run."""
    rows: list[Row[Any]] = []
    for chunk in chunks(values, ARRAY_CHUNK if conn.dialect.name == "postgresql" else size):
        rows += (await conn.execute(query.where(one_of(conn, column, chunk)))).all()
    return rows


def one_of(
    conn: AsyncConnection, column: ColumnElement[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """`column IN values`; on PostgreSQL one array parameter (`= ANY($1)`), the same prepared
    statement whatever the number of values (an `IN` list is a statement of its own per
    length: one more round trip to prepare, and a churning statement cache)."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(list(values))


def id_list(conn: AsyncConnection, ids: Sequence[int]) -> Select[Any]:
    """SELECT of these ids, sent as one text value: `unnest` of an array on PostgreSQL,
    `json_each` on SQLite (one value, not a parameter per id; as a subquery, PostgreSQL
    hashes it for `NOT IN`, where `<> ALL(array)` in a generic plan compares every row with
    every id)."""
    text_value = orjson.dumps(list(ids)).decode()
    if conn.dialect.name == "postgresql":
        array = cast(literal("{" + text_value[1:-1] + "}", Text), postgresql.ARRAY(BigInteger))
        return select(func.unnest(array))
    each = func.json_each(text_value).table_valued("value")
    return select(each.c.value)


def _configure_postgresql(engine: AsyncEngine, statement_timeout_ms: int) -> None:
    """Drop connections the server has closed when they are checked out, and remember the
    statement timeout each connection was opened with."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(_dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info[_TIMEOUT_SET] = statement_timeout_ms

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: ConnectionPoolEntry, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise sa_exc.DisconnectionError("the server closed this connection")


class _Backoff:
    """After a failed connect, the next may start only after a delay (0.05 s, doubling up to
    1 s); until then connects fail at once with the last failure's kind. A success resets."""

    FIRST, LONGEST = 0.05, 1.0

    def __init__(self) -> None:
        self._delay = 0.0
        self._next_at = 0.0
        self._kind = faults.Kind.UNREACHABLE

    def check(self) -> None:
        if self._delay and time.monotonic() < self._next_at:
            raise faults.new_fault(self._kind)

    def failed(self, kind: faults.Kind) -> None:
        self._kind = kind
        self._delay = min(self.LONGEST, self._delay * 2) if self._delay else self.FIRST
        self._next_at = time.monotonic() + self._delay

    def succeeded(self) -> None:
        self._delay = 0.0


def _configure_reconnects(engine: AsyncEngine, backoff: _Backoff) -> None:
    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
        backoff.check()
        try:
            connection = dialect.connect(*cargs, **cparams)
        except Exception as exc:
            kind = faults.classify(exc)
            if kind is not None:
                backoff.failed(kind)
            raise
        backoff.succeeded()
        return connection


@contextlib.contextmanager
def long_jobs() -> Iterator[None]:
    """Within (and in tasks started within): no statement timeout. For workers and migrations,
    whose work may rightly take long where an API request's may not."""
    token = _LONG_JOBS.set(True)
    try:
        yield
    finally:
        _LONG_JOBS.reset(token)


async def driver_of(conn: AsyncConnection) -> asyncpg.Connection:
    """PostgreSQL: the connection's asyncpg connection, for the few hottest statements, which
    skip SQLAlchemy's per-call work (one prepared statement each, rows as plain records)."""
    driver = (await conn.get_raw_connection()).driver_connection
    assert isinstance(driver, asyncpg.Connection)
    return driver


def dialect_insert(conn: AsyncConnection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT with `on_conflict_do_*` for the connection's backend (same API on both)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


Insert = postgresql.Insert | sqlite.Insert


async def insert_many(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    on_conflict: Callable[[Insert], Insert],
) -> None:
    """SQLite: INSERT `rows` (dicts with the same keys) with `on_conflict(insert)`'s conflict
    clause, executemany in chunks (in process, nothing to send). PostgreSQL takes such rows as
    one document (`json_rows`)."""
    for chunk in chunks(rows, 5000):
        await conn.execute(on_conflict(sqlite.insert(table)), chunk)


def json_rows(rows: Sequence[object], default: Callable[[Any], Any] | None = None) -> str:
    """Rows (dicts or dataclasses) as one JSON document for PostgreSQL's `json_to_recordset`
    or `json_populate_recordset`, which give each value its column's type: one bound value
    instead of an array per column, whose every element asyncpg encodes on its own. A naive
    time is UTC, as `UTCDateTime` stores it; `default` writes what orjson does not."""
    option = orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS
    return orjson.dumps(rows, default=default, option=option).decode()
