"""0032: editorial sections stored before ids were written as JSON ids are answered like new
ones (a canonical integer as a number), and go back to text on a downgrade."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from tanktop import migrations
from tanktop.db import Database
from tanktop.sections import service as sections_service
from tanktop.sections.tables import sections
from tanktop.tenants.service import Service
from tanktop.tenants.tables import services

AT = dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)


def section(section_id: str, kind: str, params: dict[str, object]) -> dict[str, object]:
    return {
        "service_id": 1,
        "section_id": section_id,
        "title": section_id,
        "kind": kind,
        "item_type": "movie",
        "params": params,
        "position": 0,
        "max_items": 20,
        "locked": False,
        "updated_at": AT,
    }


async def stored(db: Database) -> dict[str, object]:
    async with db.read() as conn:
        rows = await conn.execute(sa.select(sections.c.section_id, sections.c.params))
        return {row.section_id: row.params for row in rows}


async def test_0032_writes_editorial_ids_as_json_ids(empty_db: Database) -> None:
    def downgrade(connection: Connection) -> None:
        command.downgrade(migrations.alembic_config(connection), "0031")

    await migrations.upgrade(empty_db, "0031")
    async with empty_db.write() as conn:
        await conn.execute(sa.insert(services), [{"id": 1, "name": "s", "created_at": AT}])
        await conn.execute(
            sa.insert(sections),
            [
                section("old", "editorial", {"ids": ["5", "x", "05"]}),
                section("genre", "genre", {"genre": "5"}),
            ],
        )
    await migrations.upgrade(empty_db)
    assert await stored(empty_db) == {"old": {"ids": [5, "x", "05"]}, "genre": {"genre": "5"}}
    service = Service(id=1, name="s", webhook_url=None)
    answered = await sections_service.get_section(empty_db, service, section_id="old")
    assert answered.model_dump(mode="json")["params"] == {"ids": [5, "x", "05"]}
    async with empty_db.write() as conn:
        await conn.run_sync(downgrade)
    assert await stored(empty_db) == {"old": {"ids": ["5", "x", "05"]}, "genre": {"genre": "5"}}
