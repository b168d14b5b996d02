"""Database faults: the errors that mean "the database is away, starting or overloaded" rather
than a bug, what each kind is called, and whether a request that met one may run again.

`Database` turns every such error raised inside its `read()`/`write()` blocks into one
`DatabaseFault` (counted in `tanktop_db_errors_total{kind}` and logged once per kind and
interval, with a traceback only the first time); the HTTP layer answers it `503` with
`Retry-After`, the group commit answers every request of the failed batch with it, and the
worker waits and tries again. Classification runs only once something was raised: the happy
path pays nothing for it.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import exc as sa_exc

from tanktop.metrics import DB_ERRORS

log = logging.getLogger("tanktop.db")


class Kind(StrEnum):
    """What went wrong, as `tanktop_db_errors_total` labels it."""

    CONNECTION_LOST = "connection_lost"
    UNREACHABLE = "unreachable"
    NOT_READY = "not_ready"
    """Starting, shutting down or recovering (PostgreSQL 57P03, or a standby)."""
    TOO_MANY_CONNECTIONS = "too_many_connections"
    STATEMENT_TIMEOUT = "statement_timeout"
    UNRESPONSIVE = "unresponsive"
    """No answer a second past the statement timeout: the server is frozen or cut off (its own
    timeout would have answered), so the connection is dropped rather than waited on."""
    CONFLICT = "conflict"
    """Serialization failure or deadlock: rolled back, and running it again works."""
    LOCKED = "locked"
    """SQLite busy or locked past its busy timeout; a PostgreSQL lock timeout."""
    DISK_FULL = "disk_full"
    READ_ONLY = "read_only"
    IO_ERROR = "io_error"
    OUT_OF_RESOURCES = "out_of_resources"
    POOL_TIMEOUT = "pool_timeout"
    """No connection (SQLite: the write lock) came free within `TANKTOP_DB_POOL_TIMEOUT_SECONDS`."""
    OVERLOADED = "overloaded"
    """The group commit's queue is full."""


RETRYABLE = frozenset({Kind.CONNECTION_LOST, Kind.CONFLICT})
"""Kinds that running the same work again at once, on a fresh connection, is likely to cure.
The others (the server away or overloaded) would only fail again, or add to the load."""

_SQLSTATE_CLASSES = {"08": Kind.CONNECTION_LOST, "53": Kind.OUT_OF_RESOURCES, "58": Kind.IO_ERROR}
_SQLSTATES = {
    "57P01": Kind.CONNECTION_LOST,  # admin shutdown
    "57P02": Kind.CONNECTION_LOST,  # crash shutdown
    "25P03": Kind.CONNECTION_LOST,  # idle-in-transaction timeout ended the session
    "57P03": Kind.NOT_READY,  # cannot connect now
    "53300": Kind.TOO_MANY_CONNECTIONS,
    "53100": Kind.DISK_FULL,
    "57014": Kind.STATEMENT_TIMEOUT,  # query canceled
    "40001": Kind.CONFLICT,  # serialization failure
    "40P01": Kind.CONFLICT,  # deadlock detected
    "55P03": Kind.LOCKED,  # lock not available
    "25006": Kind.READ_ONLY,
}
_SQLITE = {
    "SQLITE_BUSY": Kind.LOCKED,
    "SQLITE_LOCKED": Kind.LOCKED,
    "SQLITE_FULL": Kind.DISK_FULL,
    "SQLITE_READONLY": Kind.READ_ONLY,
    "SQLITE_IOERR": Kind.IO_ERROR,
    "SQLITE_CANTOPEN": Kind.UNREACHABLE,
    "SQLITE_NOMEM": Kind.OUT_OF_RESOURCES,
}


class NoAnswer(TimeoutError):
    """The database did not answer an API request's work in time (`Kind.UNRESPONSIVE`)."""


class DatabaseFault(Exception):
    """The database could not do the work; `committing` when it failed during the commit, so
    whether the work was applied is unknown."""

    def __init__(self, kind: Kind, *, committing: bool = False) -> None:
        super().__init__(f"database fault: {kind}")
        self.kind = kind
        self.committing = committing

    @property
    def retryable(self) -> bool:
        """Safe and worth running again once: a kind a retry cures, and nothing committed."""
        return self.kind in RETRYABLE and not self.committing

    def again(self, *, committing: bool | None = None) -> DatabaseFault:
        """The same fault for another waiter (not counted or logged again)."""
        uncertain = self.committing if committing is None else committing
        copy = DatabaseFault(self.kind, committing=uncertain)
        copy.__cause__ = self.__cause__
        return copy

    @property
    def detail(self) -> str:
        """What a client is told."""
        if self.committing:
            outcome = "the request may or may not have been applied"
        else:
            outcome = "the request was not applied"
        return f"The database is unavailable ({self.kind}); {outcome}. Retry shortly."


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and what it wraps: SQLAlchemy's error, the driver adapter's, the driver's own."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 6 and current not in chain:
        chain.append(current)
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return chain


def _classify_one(exc: BaseException) -> Kind | None:
    if isinstance(exc, DatabaseFault):
        return exc.kind
    if isinstance(exc, NoAnswer):
        return Kind.UNRESPONSIVE
    if isinstance(exc, sa_exc.TimeoutError):
        return Kind.POOL_TIMEOUT
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return Kind.CONNECTION_LOST
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return _SQLSTATES.get(sqlstate) or _SQLSTATE_CLASSES.get(sqlstate[:2])
    if isinstance(exc, sqlite3.Error):
        # Extended codes name their primary one first: SQLITE_IOERR_WRITE, SQLITE_BUSY_SNAPSHOT.
        primary = "_".join(getattr(exc, "sqlite_errorname", "").split("_")[:2])
        return _SQLITE.get(primary)
    name = type(exc).__name__
    if name == "TargetServerAttributeNotMatched":  # asyncpg: a standby or a server in recovery
        return Kind.NOT_READY
    if name == "InterfaceError" and "closed" in str(exc):  # asyncpg: "connection is closed"
        return Kind.CONNECTION_LOST
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return Kind.CONNECTION_LOST
    if isinstance(exc, (OSError, TimeoutError)):  # refused, no route, DNS, connect timeout
        return Kind.UNREACHABLE
    return None


def classify(exc: BaseException) -> Kind | None:
    """The fault kind of a database error, or None when it is not a fault (a bug, bad data)."""
    for cause in _causes(exc):
        kind = _classify_one(cause)
        if kind is not None:
            return kind
    return None


def describe(exc: BaseException) -> str:
    """The driver's own message, without SQLAlchemy's statement and parameters: the innermost
    cause that says something (a timeout's cancellation says nothing)."""
    causes = _causes(exc)
    root = next((c for c in reversed(causes) if str(c)), None)
    if root is None:
        return type(causes[0]).__name__
    return f"{type(root).__name__}: {str(root).splitlines()[0]}"[:300]


@dataclass
class _Tally:
    logged_at: float
    count: int = 0
    latest: str = ""


class FaultLog:
    """One log line per kind and `interval`: the first fault of a kind with its traceback, then
    how many there were since the last line."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._tallies: dict[Kind, _Tally] = {}

    def record(self, kind: Kind, exc: BaseException | None) -> None:
        DB_ERRORS.labels(kind.value).inc()
        now = time.monotonic()
        message = describe(exc) if exc is not None else str(kind)
        tally = self._tallies.get(kind)
        if tally is None:
            self._tallies[kind] = _Tally(now)
            log.warning("database fault %s: %s", kind, message, exc_info=exc)
            return
        tally.count += 1
        tally.latest = message
        if now - tally.logged_at >= self.interval:
            log.warning(
                "database fault %s: %d in the last %.0f s (latest: %s)",
                kind,
                tally.count,
                now - tally.logged_at,
                tally.latest,
            )
            tally.logged_at, tally.count = now, 0


FAULT_LOG = FaultLog()


def fault_of(exc: BaseException, *, committing: bool = False) -> DatabaseFault | None:
    """The fault `exc` stands for (counted and logged), or None when it is no database fault."""
    if isinstance(exc, DatabaseFault):
        return exc
    kind = classify(exc)
    if kind is None:
        return None
    FAULT_LOG.record(kind, exc)
    fault = DatabaseFault(kind, committing=committing)
    fault.__cause__ = exc
    return fault


def new_fault(kind: Kind, cause: BaseException | None = None) -> DatabaseFault:
    """A fault we detect ourselves (a full queue, a backoff in progress), counted and logged."""
    FAULT_LOG.record(kind, cause)
    fault = DatabaseFault(kind)
    fault.__cause__ = cause
    return fault


class FaultBoundary:
    """`with FaultBoundary():` raises a database error leaving the block as a `DatabaseFault`
    (counted and logged once); anything else passes unchanged. Set `committing` once the block
    has reached its commit. `Database.read()` and `write()` are such blocks."""

    __slots__ = ("committing",)

    def __init__(self) -> None:
        self.committing = False

    def __enter__(self) -> FaultBoundary:
        return self

    def __exit__(self, _type: object, exc: BaseException | None, _tb: object) -> None:
        if not isinstance(exc, Exception) or isinstance(exc, DatabaseFault):
            return
        fault = fault_of(exc, committing=self.committing)
        if fault is not None:
            raise fault from exc
