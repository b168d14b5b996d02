"""The migrations build exactly the schema the code's tables describe, on both backends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
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


def test_declared_head_is_alembics() -> None:
    """The head read from the version files' text is the one alembic computes."""
    assert migrations.declared_head() == migrations.head_revision()


FIRST = 'revision: str = "a"\ndown_revision: str | None = None\n'
SECOND = "revision = 'b'\ndown_revision = 'a'\nbranch_labels = None\ndepends_on = None\n"


@pytest.mark.parametrize(
    ("third", "head"),
    [
        (None, "b"),
        ('revision = "c"\ndown_revision = "b"  # a comment\n', None),
        ('revision = "c"\ndown_revision = ("a", "b")\n', None),  # a merge
        ('revision = "c"\ndown_revision = "a"\n', None),  # two heads
        ('revision = "c"\ndown_revision = "b"\nbranch_labels = "x"\n', None),
        ('revision = "c"\ndown_revision = "b"\ndepends_on = "a"\n', None),
        ('revision = "c"\ndown_revision = "z"\n', None),  # revises an unknown revision
        ('revision = "b"\ndown_revision = "a"\n', None),  # a revision twice
        ('"""No declarations."""\n', None),
        ('revision = "c"\ndown_revision = "b"\n', "c"),
    ],
)
def test_declared_head_leaves_what_it_cannot_read_to_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, third: str | None, head: str | None
) -> None:
    """Anything but plain declarations making one chain gives None: alembic decides."""
    (tmp_path / "__init__.py").write_text('revision = "ignored"\n')
    (tmp_path / "0001_a.py").write_text(FIRST)
    (tmp_path / "0002_b.py").write_text(SECOND)
    if third is not None:
        (tmp_path / "0003_c.py").write_text(third)
    monkeypatch.setattr(migrations, "_VERSIONS", tmp_path)
    assert migrations.declared_head() == head


async def test_upgrade_if_behind_runs_alembic_only_when_behind(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the head nothing runs; at an older revision alembic's upgrade does."""
    upgrades: list[Database] = []

    async def recorded(database: Database, revision: str = "head") -> None:
        upgrades.append(database)

    monkeypatch.setattr(migrations, "upgrade", recorded)
    await migrations.upgrade_if_behind(db)
    assert upgrades == []
    head = migrations.head_revision()
    set_version = sa.text("UPDATE alembic_version SET version_num = :version")
    async with db.write() as conn:
        await conn.execute(set_version, {"version": "0001"})
    try:
        await migrations.upgrade_if_behind(db)
    finally:
        async with db.write() as conn:
            await conn.execute(set_version, {"version": head})
    assert upgrades == [db]
    assert await migrations.stored_revisions(db) == {head}
