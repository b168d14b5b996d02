"""Database faults met by requests: each answered 503 with Retry-After (never 500), retried
once when that is safe and may help, bounded in time, and nothing acknowledged lost.

The faults are real: a statement outlasting the statement timeout, our own backend terminated
mid-request, a pool with one connection held, SQLite locked by another process. Test routes
added to a fresh app reach them through `Database` as the product's own routes do.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from tanktop.app import create_app
from tanktop.config import Settings
from tanktop.db import Database, long_jobs
from tanktop.events.service import new_op
from tanktop.events.writer import EventWriter
from tanktop.faults import DatabaseFault, FaultLog, Kind, classify
from tanktop.tenants import service as tenants
from tests.conftest import assert_problem


@asynccontextmanager
async def app_client(settings: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh app (with `changes` to its settings) and a client for it."""
    app = create_app(settings.model_copy(update=changes))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


def app_of(client: httpx.AsyncClient) -> FastAPI:
    app: FastAPI = client._transport.app  # type: ignore[attr-defined]
    return app


def database_of(client: httpx.AsyncClient) -> Database:
    db: Database = app_of(client).state.db
    return db


async def sleep_in_database(db: Database, seconds: float) -> None:
    async with db.read() as conn:
        await conn.execute(sa.text("SELECT pg_sleep(:s)"), {"s": seconds})


@pytest.fixture
def postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")


@pytest.mark.usefixtures("postgres_only")
async def test_a_statement_past_the_timeout_is_503(settings: Settings) -> None:
    async with app_client(settings, db_statement_timeout_ms=200) as client:
        db = database_of(client)

        async def slow() -> dict[str, str]:
            await sleep_in_database(db, 5)
            return {"done": "yes"}

        app_of(client).add_api_route("/test/slow", slow)
        started = time.monotonic()
        response = await client.get("/test/slow")
        assert time.monotonic() - started < 3
        assert_problem(response, 503, "statement_timeout", "not applied")
        assert response.headers["retry-after"] == "1"
        with long_jobs():  # workers and migrations: no timeout
            await sleep_in_database(db, 0.4)
        # and the connection that switched is set back for API work
        with pytest.raises(Exception, match="statement_timeout"):
            await sleep_in_database(db, 5)


@pytest.mark.usefixtures("postgres_only")
async def test_a_long_block_of_quick_statements_is_not_cut_short(settings: Settings) -> None:
    """The deadline for an answer (statement timeout + 1 s) starts over with each statement."""
    async with app_client(settings, db_statement_timeout_ms=200) as client:
        db = database_of(client)

        async def steps() -> dict[str, int]:
            async with db.write() as conn:
                for _ in range(10):  # 1.5 s in all, each step 0.15 s
                    await conn.execute(sa.text("SELECT pg_sleep(0.15)"))
            return {"steps": 10}

        app_of(client).add_api_route("/test/steps", steps, methods=["POST"])
        response = await client.post("/test/steps")
    assert response.status_code == 200, response.text


@pytest.mark.usefixtures("postgres_only")
async def test_a_connection_lost_before_commit_is_run_again(
    settings: Settings, postgres_url: str
) -> None:
    """Our own backend is terminated mid-request: the request runs again on a new connection."""
    runs: list[int] = []
    async with app_client(settings) as client:
        db = database_of(client)
        key = await tenants.create_key(db, name="retried")

        async def cut_off() -> dict[str, int]:
            async with db.write() as conn:
                pid = await conn.scalar(sa.text("SELECT pg_backend_pid()"))
                await conn.execute(sa.text("CREATE TEMP TABLE IF NOT EXISTS t (x int)"))
                runs.append(pid)
                if len(runs) == 1:
                    admin = await asyncpg.connect(postgres_url)
                    try:
                        await admin.execute("SELECT pg_terminate_backend($1)", pid)
                    finally:
                        await admin.close()
                await conn.execute(sa.text("SELECT 1"))
            return {"runs": len(runs)}

        app_of(client).add_api_route("/test/cut-off", cut_off, methods=["POST"])
        response = await client.post("/test/cut-off", content=b'{"x": 1}')
        assert response.status_code == 200, response.text
        assert response.json() == {"runs": 2}
        assert runs[0] != runs[1], "the second run had a connection of its own"
        # the pool holds no dead connection: the next requests are served at once
        for _ in range(3):
            response = await client.get(f"/api/1/{key}/event/7/seen/movie/")
            assert response.status_code == 200


@pytest.mark.usefixtures("postgres_only")
async def test_a_full_pool_is_503_within_the_wait_bound(settings: Settings) -> None:
    async with app_client(settings, db_pool_size=1, db_pool_timeout_seconds=0.3) as client:
        db = database_of(client)
        key = await tenants.create_key(db, name="pool")
        holder = asyncio.create_task(sleep_in_database(db, 1.5))
        await asyncio.sleep(0.2)  # (not a wait for an outcome: the holder takes the connection)
        started = time.monotonic()
        response = await client.get(f"/api/1/{key}/event/7/seen/movie/")
        waited = time.monotonic() - started
        await holder
        assert_problem(response, 503, "pool_timeout")
        assert waited < 1.2
        assert (await client.get(f"/api/1/{key}/event/7/seen/movie/")).status_code == 200


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


@asynccontextmanager
async def locked_by_another_process(path: Path) -> AsyncIterator[None]:
    """Another process holds a write transaction on the SQLite file until the block ends."""
    locker = subprocess.Popen(  # noqa: ASYNC220 - started once, not waited on here
        [sys.executable, "-c", LOCKER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdout is not None
    assert locker.stdin is not None
    try:
        assert await asyncio.to_thread(locker.stdout.readline) == "locked\n"
        yield
    finally:
        locker.stdin.write("\n")
        locker.stdin.flush()
        locker.wait(10)


async def test_sqlite_locked_by_another_process_is_503(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    settings = Settings(
        database_url=f"sqlite:///{path}",
        run_worker=False,
        key_cache_seconds=60,
        db_pool_timeout_seconds=0.5,
        event_queue_limit=4,
        rate_limit_reads=0,
        rate_limit_writes=0,
    )
    async with app_client(settings) as client:
        key = await tenants.create_key(database_of(client), name="locked")
        api = f"/api/1/{key}"
        assert (await client.get(f"{api}/event/u/seen/movie/")).status_code == 200  # key cached
        statuses: dict[str, int] = {}

        async def post(item: str) -> None:
            statuses[item] = (await client.post(f"{api}/event/u/seen/movie/{item}/")).status_code

        async with locked_by_another_process(path):
            started = time.monotonic()
            await asyncio.gather(*(post(f"during-{i}") for i in range(12)))
            waited = time.monotonic() - started
            profile = await client.put(f"{api}/user/7/", json={"name": "Sam"})
        for i in range(5):
            await post(f"after-{i}")
        stored = (await client.get(f"{api}/event/u/seen/movie/")).json()["seen"]

    assert waited < 5, "waits are bounded"
    during = [statuses[f"during-{i}"] for i in range(12)]
    assert set(during) == {503}, during
    assert_problem(profile, 503, "not applied")
    assert [statuses[f"after-{i}"] for i in range(5)] == [204] * 5
    accepted = {item for item, status in statuses.items() if status == 204}
    assert accepted <= set(stored), "every 204 is stored"


@pytest.mark.usefixtures("postgres_only")
async def test_a_driver_block_keeps_only_a_connection_the_server_answered(
    database_url: str, postgres_url: str
) -> None:
    """`Database.driver()` (the hot statements' way past SQLAlchemy): an error the server sent
    leaves the connection pooled; a cancelled statement or a terminated backend does not, and
    faults are classified as in `read()` and `write()`."""
    db = Database(database_url, pool_size=1, statement_timeout_ms=200)

    async def backend() -> int:
        async with db.driver() as driver:
            pid: int = await driver.fetchval("SELECT pg_backend_pid()")
            return pid

    try:
        first = await backend()
        with pytest.raises(asyncpg.DivisionByZeroError):
            async with db.driver() as driver:
                await driver.execute("SELECT 1/0")
        with pytest.raises(DatabaseFault) as timeout:
            async with db.driver() as driver:
                await driver.execute("SELECT pg_sleep(5)")
        assert timeout.value.kind is Kind.STATEMENT_TIMEOUT
        assert await backend() == first, "kept after the server's own errors"

        async def sleep() -> None:
            async with db.driver() as driver:
                await driver.execute("SELECT pg_sleep(0.1)")

        cancelled = asyncio.create_task(sleep())
        await asyncio.sleep(0.03)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        second = await backend()
        assert second != first, "a cancelled statement's connection is dropped"

        admin = await asyncpg.connect(postgres_url)
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", second)
        finally:
            await admin.close()
        await asyncio.sleep(0.1)
        assert await backend() not in (first, second), "a terminated backend is not reused"
    finally:
        await db.dispose()


async def test_a_full_group_commit_queue_refuses_at_once(db: Database) -> None:
    """While the flushers are busy (here: not started) the queue fills; past its bound a write
    is refused with an `overloaded` fault instead of waiting."""
    writer = EventWriter(db, max_queued=3)
    service = tenants.Service(1, "queue", None)
    ops = [
        new_op(
            service,
            user_id="u",
            event="seen",
            item_type="movie",
            item_id=str(i),
            value=None,
            origin="posted",
        )
        for i in range(4)
    ]
    waiting = asyncio.create_task(writer.write(ops[:3]))
    await asyncio.sleep(0)  # (let it queue: one loop turn, no outcome awaited)
    assert writer.queued == 3
    with pytest.raises(DatabaseFault) as refused:
        await writer.write(ops[3:])
    assert refused.value.kind is Kind.OVERLOADED
    assert not refused.value.committing
    waiting.cancel()


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (asyncpg.exceptions.ConnectionDoesNotExistError("closed mid-way"), Kind.CONNECTION_LOST),
        (asyncpg.exceptions.AdminShutdownError("terminating"), Kind.CONNECTION_LOST),
        (asyncpg.exceptions.CannotConnectNowError("starting up"), Kind.NOT_READY),
        (asyncpg.exceptions.TooManyConnectionsError("too many"), Kind.TOO_MANY_CONNECTIONS),
        (asyncpg.exceptions.QueryCanceledError("statement timeout"), Kind.STATEMENT_TIMEOUT),
        (asyncpg.exceptions.SerializationError("could not serialize"), Kind.CONFLICT),
        (asyncpg.exceptions.DeadlockDetectedError("deadlock"), Kind.CONFLICT),
        (asyncpg.exceptions.DiskFullError("no space"), Kind.DISK_FULL),
        (asyncpg.exceptions.ReadOnlySQLTransactionError("read-only"), Kind.READ_ONLY),
        (asyncpg.exceptions.LockNotAvailableError("lock timeout"), Kind.LOCKED),
        (ConnectionRefusedError(111, "refused"), Kind.UNREACHABLE),
        (ConnectionResetError(104, "reset"), Kind.CONNECTION_LOST),
        (TimeoutError(), Kind.UNREACHABLE),
        (sa.exc.TimeoutError("QueuePool limit reached"), Kind.POOL_TIMEOUT),
        (asyncpg.exceptions.UntranslatableCharacterError("\\u0000"), None),
        (asyncpg.exceptions.UniqueViolationError("duplicate"), None),
        (ValueError("a bug"), None),
    ],
)
def test_classification(error: Exception, kind: Kind | None) -> None:
    assert classify(error) == kind
    wrapped = sa.exc.DBAPIError("SELECT 1", None, error)  # as SQLAlchemy raises it
    assert classify(wrapped) == kind


def test_sqlite_errors_are_classified_by_their_code(tmp_path: Path) -> None:
    path = tmp_path / "codes.db"
    first = sqlite3.connect(path, isolation_level=None, timeout=0)
    second = sqlite3.connect(path, isolation_level=None, timeout=0)
    first.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError) as busy:
        second.execute("BEGIN IMMEDIATE")
    first.execute("ROLLBACK")
    readonly = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as refused:
        readonly.execute("CREATE TABLE t (x)")
    with pytest.raises(sqlite3.OperationalError) as syntax:
        first.execute("SELEC 1")
    assert classify(busy.value) is Kind.LOCKED
    assert classify(refused.value) is Kind.READ_ONLY
    assert classify(syntax.value) is None, "a bug is no fault"


def test_the_fault_log_says_each_kind_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    log = FaultLog(interval=3600)
    with caplog.at_level(logging.WARNING, logger="tanktop.db"):
        for _ in range(50):
            log.record(Kind.UNREACHABLE, ConnectionRefusedError(111, "refused"))
        log.record(Kind.NOT_READY, asyncpg.exceptions.CannotConnectNowError("starting"))
    lines = [r for r in caplog.records if r.name == "tanktop.db"]
    assert [r.getMessage().split(":")[0] for r in lines] == [
        "database fault unreachable",
        "database fault not_ready",
    ]
    assert all(r.exc_info for r in lines), "the first of a kind carries its traceback"
    log.interval = 0
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tanktop.db"):
        log.record(Kind.UNREACHABLE, ConnectionRefusedError(111, "refused"))
    (summary,) = caplog.records
    assert "50 in the last" in summary.getMessage()  # 49 held back, and this one
    assert not summary.exc_info
