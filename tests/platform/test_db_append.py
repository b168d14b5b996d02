"""`Database.append_rows`: bulk appends without SQLAlchemy's per-row work store what an
ordinary insert would (the same text for a time on SQLite, so comparisons still match)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from tanktop.analytics.tables import impressions
from tanktop.db import Database
from tests.conftest import Api, service_of

COLUMNS = ("service_id", "user_id", "surface", "item_type", "item_id", "at")


async def test_appended_rows_read_back_and_compare_as_inserted_ones(api: Api, db: Database) -> None:
    service = await service_of(db, api)
    at = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)  # no microseconds: SQLite's text
    later = at + dt.timedelta(microseconds=1)
    rows = [(service.id, "u", "recommendation", "movie", str(n), at) for n in range(3)]
    await db.append_rows(
        impressions, COLUMNS, [*rows, (service.id, "u", "recommendation", "movie", "3", later)]
    )
    await db.append_rows(impressions, COLUMNS, [])
    async with db.write() as conn:
        await conn.execute(sa.insert(impressions).values(dict(zip(COLUMNS, rows[0], strict=True))))
    async with db.read() as conn:
        found = (
            await conn.execute(
                sa.select(impressions.c.item_id, impressions.c.at, impressions.c.clicked)
                .where(impressions.c.service_id == service.id, impressions.c.at == at)
                .order_by(impressions.c.id)
            )
        ).all()
    assert [tuple(row) for row in found] == [(str(n), at, False) for n in (0, 1, 2, 0)]
