"""The migrations build exactly the schema the code's tables describe, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from tanktop import migrations
from tanktop.db import Database
from tanktop.schema import metadata


async def test_migrated_schema_matches_tables(db: Database) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with db.read() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


async def test_database_is_at_head(db: Database) -> None:
    assert await migrations.current_revision(db) == migrations.head_revision()


async def test_upgrade_is_idempotent(db: Database) -> None:
    await migrations.upgrade(db)
    assert await migrations.current_revision(db) == migrations.head_revision()
