"""`Database.read()`: each statement on its own, as of its own moment, on both databases (no
BEGIN: on SQLite a statement and a thread hop less per read)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from tanktop.analytics.tables import impressions
from tanktop.db import Database
from tests.conftest import Api, service_of

COLUMNS = ("service_id", "user_id", "surface", "item_type", "item_id", "at")


async def test_each_statement_of_a_read_sees_what_committed_before_it(
    api: Api, db: Database
) -> None:
    service = await service_of(db, api)
    count = sa.select(sa.func.count()).where(impressions.c.service_id == service.id)
    row = (service.id, "u", "recommendation", "movie", "1", dt.datetime.now(dt.UTC))
    async with db.read() as conn:
        assert (await conn.execute(count)).scalar_one() == 0
        await db.append_rows(impressions, COLUMNS, [row])
        assert (await conn.execute(count)).scalar_one() == 1
