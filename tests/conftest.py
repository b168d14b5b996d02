"""Fixtures: the app on each backend (SQLite file, real PostgreSQL), a client, a fresh service.

Every test gets a service of its own, so tests never see each other's data and need no
clean-up. PostgreSQL tests use their own database, recreated once per run; in CI a PostgreSQL
that cannot be reached fails the run instead of skipping it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from tanktop.app import create_app
from tanktop.config import Settings
from tanktop.db import Database
from tanktop.tenants import service as tenants
from tests.clusters import (
    PrivatePostgres,
    PrivateRedis,
    postgres_available,
    private_postgres,
    private_redis,
    redis_available,
)
from tests.receiver import Receiver, receiver

POSTGRES_ADMIN_URL = os.environ.get(
    "TANKTOP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
"""`gw0`, `gw1`, ... in a pytest-xdist worker (`make test` runs several); empty otherwise."""
TEST_DATABASE = os.environ.get("TANKTOP_TEST_DATABASE", "tanktop_test") + (
    f"_{XDIST_WORKER}" if XDIST_WORKER else ""
)
"""Override to run two checkouts' suites side by side on one PostgreSQL; each xdist worker
has a database of its own."""


def worker_number() -> int:
    """This xdist worker's number (0 outside xdist), for what workers must not share."""
    return int(XDIST_WORKER.removeprefix("gw") or 0)


ADMIN_TOKEN = "test-admin-token"


@pytest.fixture(scope="session")
async def postgres_url() -> str:
    """A freshly created PostgreSQL database for this run."""
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        message = f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {TEST_DATABASE} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {TEST_DATABASE}")
    finally:
        await admin.close()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + TEST_DATABASE


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'tanktop.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        key_cache_seconds=0,
        run_worker=False,
        admin_token=ADMIN_TOKEN,
        model_refresh_seconds=0,
        first_model_quiet_seconds=3600,  # a schedule a test runs trains only what it asks
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def db(app: FastAPI) -> Database:
    database: Database = app.state.db
    return database


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@dataclass
class Api:
    """A client bound to one service's key: `api.get("/user/7/")` means `/api/1/<key>/user/7/`."""

    http: httpx.AsyncClient
    key: str

    @property
    def base(self) -> str:
        return f"/api/1/{self.key}"

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, self.base + path, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)


async def new_api(db: Database, http: httpx.AsyncClient) -> Api:
    return Api(http, await tenants.create_key(db, name=f"test-{uuid.uuid4().hex[:12]}"))


@pytest.fixture
async def api(db: Database, client: httpx.AsyncClient) -> Api:
    """A brand-new service of this test's own."""
    return await new_api(db, client)


def assert_problem(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with `status` whose detail mentions `words`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    for word in words:
        assert word.lower() in body["detail"].lower(), body["detail"]
    return body


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture
async def other_api(db: Database, client: httpx.AsyncClient) -> Api:
    """A second service, for isolation tests."""
    return await new_api(db, client)


async def service_of(db: Database, api: Api) -> tenants.Service:
    """The service behind a test's key, for checks that read tables directly."""
    service = await tenants.find_service(db, key=api.key)
    assert service is not None
    return service


@dataclass
class Admin:
    """The operator: `admin.put("/catalog/movie/1/", json=…)` means `/admin/1/catalog/movie/1/`."""

    http: httpx.AsyncClient

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {ADMIN_TOKEN}", **kwargs.pop("headers", {})}
        return await self.http.request(method, "/admin/1" + path, headers=headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)


@pytest.fixture
def admin(client: httpx.AsyncClient) -> Admin:
    return Admin(client)


def unique(prefix: str) -> str:
    """A catalog id no other test uses (the catalog is shared by every test's service)."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def hook() -> AsyncIterator[Receiver]:
    """A real webhook receiver on loopback."""
    async with receiver() as r:
        yield r


def _unavailable(message: str) -> None:
    """Skip locally, fail in CI: CI must run every test."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def _postgres_cluster() -> Iterator[PrivatePostgres]:
    if not postgres_available():
        _unavailable("PostgreSQL binaries not found (set TANKTOP_TEST_PG_BIN)")
    with private_postgres() as cluster:
        yield cluster


@pytest.fixture
def private_pg(_postgres_cluster: PrivatePostgres) -> PrivatePostgres:
    """A PostgreSQL cluster of the run's own, running, for tests that stop or restart it
    (create a database in it with `await private_pg.create_database()`)."""
    if not _postgres_cluster.running():
        _postgres_cluster.start()
    return _postgres_cluster


@pytest.fixture
def private_redis_server() -> Iterator[PrivateRedis]:
    """A Redis of the test's own, for tests that stop it."""
    if not redis_available():
        _unavailable("redis-server not found")
    with private_redis() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database with no tables yet, on each backend, for tests that migrate it step by step."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrate.db'}"
    else:
        name = f"{TEST_DATABASE}_migrate"
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            await admin.execute(f"CREATE DATABASE {name}")
        finally:
            await admin.close()
        url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    db = Database(url, pool_size=2)
    try:
        yield db
    finally:
        await db.dispose()
