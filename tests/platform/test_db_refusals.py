"""PostgreSQL refusing work: connections past a limit (here a role's CONNECTION LIMIT, the same
refusal, SQLSTATE 53300, as `max_connections` gives), and writes on a read-only database (as a
standby is, when a failover leaves the servers pointing at the old primary). What is refused
gets 503 naming the fault, never 500; what can be done is served."""

from __future__ import annotations

import asyncio
from collections import Counter

import asyncpg
import httpx
import pytest
import sqlalchemy as sa

from tanktop.app import create_app
from tanktop.config import Settings
from tanktop.tenants import service as tenants
from tests.clusters import PrivatePostgres

pytestmark = pytest.mark.e2e


async def test_connections_past_the_limit_are_503(private_pg: PrivatePostgres) -> None:
    url = await private_pg.create_database("limit")
    database = url.rsplit("/", 1)[1]
    role = f"role_{database}"
    admin = await asyncpg.connect(private_pg.url())
    try:
        # Not a superuser (they are exempt from the limit); owning the database lets it migrate.
        await admin.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 2")
        await admin.execute(f"ALTER DATABASE {database} OWNER TO {role}")
    finally:
        await admin.close()
    settings = Settings(
        database_url=url.replace("postgres@", f"{role}@"),
        run_worker=False,
        db_pool_size=6,
        key_cache_seconds=60,
        rate_limit_reads=0,
        rate_limit_writes=0,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        db = app.state.db
        key = await tenants.create_key(db, name="limited")

        async def slow() -> dict[str, str]:
            async with db.read() as conn:  # holds a connection while the others arrive
                await conn.execute(sa.text("SELECT pg_sleep(0.5)"))
            return {"done": "yes"}

        app.add_api_route("/test/slow", slow)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            answers = await asyncio.gather(*(http.get("/test/slow") for _ in range(6)))
            statuses = Counter(answer.status_code for answer in answers)
            refused = [a.json()["detail"] for a in answers if a.status_code == 503]
            after = await http.get(f"/api/1/{key}/event/7/seen/movie/")
    assert set(statuses) == {200, 503}, statuses
    assert all("too_many_connections" in detail for detail in refused), refused
    assert after.status_code == 200


async def test_writes_to_a_read_only_database_are_503(private_pg: PrivatePostgres) -> None:
    url = await private_pg.create_database("readonly")
    app = create_app(Settings(database_url=url, run_worker=False, key_cache_seconds=60))
    async with app.router.lifespan_context(app):
        key = await tenants.create_key(app.state.db, name="readonly")
    admin = await asyncpg.connect(private_pg.url())
    try:
        database = url.rsplit("/", 1)[1]
        await admin.execute(f"ALTER DATABASE {database} SET default_transaction_read_only = on")
    finally:
        await admin.close()
    app = create_app(Settings(database_url=url, run_worker=False, key_cache_seconds=60))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://t/api/1/{key}") as api:
            event = await api.post("/event/7/seen/movie/1/")
            profile = await api.put("/user/7/", json={"name": "Sam"})
            read = await api.get("/event/7/seen/movie/")
    for refused in (event, profile):
        assert refused.status_code == 503, refused.text
        assert "read_only" in refused.json()["detail"]
    assert read.status_code == 200
