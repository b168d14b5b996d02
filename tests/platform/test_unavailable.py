"""A database that cannot be reached gives 503 problems, never a 500 or a hang."""

from __future__ import annotations

import httpx

from tanktop.app import create_app
from tanktop.config import Settings
from tests.conftest import assert_problem


async def test_unreachable_database_is_503() -> None:
    settings = Settings(
        database_url="postgresql://postgres@127.0.0.1:9/nowhere",
        migrate_on_start=False,
        run_worker=False,
        key_cache_seconds=0,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/api/1/tt_somekey12345678/user/7/")
    body = assert_problem(response, 503, "retry")
    assert response.headers["retry-after"] == "1"
    assert body["title"] == "Service unavailable"


async def test_probes(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


async def test_readyz_without_database() -> None:
    settings = Settings(
        database_url="postgresql://postgres@127.0.0.1:9/nowhere",
        migrate_on_start=False,
        run_worker=False,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/healthz")).status_code == 200
            assert_problem(await client.get("/readyz"), 503, "unreachable")


async def test_readyz_with_an_old_schema(tmp_path: object) -> None:
    from tanktop import migrations
    from tanktop.db import Database

    url = f"sqlite:///{tmp_path}/old.db"
    db = Database(url)
    await migrations.upgrade(db, "0001")
    await db.dispose()
    app = create_app(Settings(database_url=url, migrate_on_start=False, run_worker=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert_problem(await client.get("/readyz"), 503, "tanktop migrate")
