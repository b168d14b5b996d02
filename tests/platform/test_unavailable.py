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
