"""GET with ids costs lookups per id asked, not a scan of the list or the history."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from tanktop.db import Database
from tanktop.events import queries
from tanktop.events.rules import EventOp
from tests.conftest import Api, service_of


async def test_get_with_ids_uses_the_primary_key(api: Api, db: Database) -> None:
    service = await service_of(db, api)
    now = dt.datetime.now(dt.UTC)
    ops = [
        EventOp(service.id, "big", "watchlist", "movie", str(i), None, now, "batch")
        for i in range(20_000)
    ]
    async with db.write() as conn:
        await queries.apply_ops(conn, ops)
    params = {
        "service_id": service.id,
        "user_id": "big",
        "event": "watchlist",
        "item_type": "movie",
        "item_ids": ["1", "2", "3"],
    }
    query = queries.VALUES_QUERY.params(params)
    async with db.write() as conn:
        await conn.execute(sa.text("ANALYZE"))
        sql = str(query.compile(conn.sync_connection, compile_kwargs={"literal_binds": True}))
        explain = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN "
        plan = " ".join(str(row[-1]) for row in await conn.execute(sa.text(explain + sql)))
    if db.is_sqlite:
        assert "USING PRIMARY KEY" in plan or "USING INDEX" in plan, plan
        assert "SCAN" not in plan, plan
    else:
        assert "Index" in plan, plan
        assert "Seq Scan" not in plan, plan
    got = await api.get("/event/big/watchlist/movie/?id=1&id=2&id=99999")
    assert got.json() == {"watchlist": {"1": None, "2": None}}
