"""The migrations build exactly the schema the code's tables describe, on both backends."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from tanktop import migrations
from tanktop.db import Database
from tanktop.schema import metadata

EXPRESSION_INDEXES = {"ix_event_history_start_stale"}
"""Indexes on an expression: autogenerate cannot compare them (SQLite does not reflect them,
PostgreSQL answers its own spelling of the expression); checked by name instead."""


def _comparable(dialect: str) -> Callable[..., bool]:
    """Whether autogenerate compares an object on `dialect`: not an expression index, nor an
    index the tables create on another dialect only (`Index.ddl_if`)."""

    def include(obj: object, name: str | None, type_: str, *_: object) -> bool:
        if type_ != "index":
            return True
        only = getattr(obj, "_ddl_if", None)
        return name not in EXPRESSION_INDEXES and (only is None or only.dialect == dialect)

    return include


async def test_migrated_schema_matches_tables(db: Database) -> None:
    def diff(connection: Connection) -> list[object]:
        include = _comparable(connection.dialect.name)
        options = {"compare_type": True, "include_object": include}
        context = MigrationContext.configure(connection, opts=options)
        return list(compare_metadata(context, metadata))

    async with db.read() as conn:
        differences = await conn.run_sync(diff)
        catalog = "sqlite_master" if db.is_sqlite else "pg_indexes"
        column = "name" if db.is_sqlite else "indexname"
        names = sa.text(f"SELECT {column} FROM {catalog}")  # noqa: S608 (constants)
        indexes = {row[0] for row in await conn.execute(names)}
    assert differences == []
    assert indexes >= EXPRESSION_INDEXES


async def test_database_is_at_head(db: Database) -> None:
    assert await migrations.current_revision(db) == migrations.head_revision()


async def test_upgrade_is_idempotent(db: Database) -> None:
    await migrations.upgrade(db)
    assert await migrations.current_revision(db) == migrations.head_revision()
