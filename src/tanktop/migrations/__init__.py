"""Alembic migrations, shipped inside the package and run programmatically.

`upgrade()` runs in one transaction; on PostgreSQL an advisory lock makes concurrent starts
of several processes take turns instead of racing.

`upgrade_if_behind()` is what every database command runs first: when the stored revision is
already the head the version files declare, it does not start alembic (nor import it, nor the
whole schema), which is most of a light command's database work.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tanktop.db import Database, long_jobs

if TYPE_CHECKING:
    from alembic.config import Config

_MIGRATION_LOCK = 0x74616E6B  # "tank"
_VERSIONS = Path(__file__).parent / "versions"
_VERSION_TABLE = "alembic_version"
_DECLARATION = re.compile(
    r"^(revision|down_revision|branch_labels|depends_on)\b[^=\n]*=\s*"
    r"(?:\"([^\"\n]+)\"|'([^'\n]+)'|None)\s*$",
    re.MULTILINE,
)


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    config.attributes["connection"] = connection
    return config


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema up to `revision`."""

    from alembic import command

    def _run(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        command.upgrade(alembic_config(connection), revision)

    with long_jobs():  # an index on a big table may take long
        async with db.write() as conn:
            await conn.run_sync(_run)


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def _current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with db.read() as conn:
        return await conn.run_sync(_current)


def declared_head() -> str | None:
    """The head revision as the version files declare it, read as text: the one revision no
    other file revises. None (ask alembic) unless every file declares its `revision` and
    `down_revision` as one plain string (or None for the first), no branch labels nor
    dependencies, and exactly one head comes out."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in _VERSIONS.glob("[!_]*.py"):
        declared: dict[str, str | None] = {}
        for match in _DECLARATION.finditer(path.read_text(encoding="utf-8")):
            name, value = match[1], match[2] or match[3]
            if name in declared:
                return None
            declared[name] = value
        revision = declared.get("revision")
        if revision is None or "down_revision" not in declared or revision in revisions:
            return None
        if declared.get("branch_labels") or declared.get("depends_on"):
            return None
        revisions.add(revision)
        if (down := declared["down_revision"]) is not None:
            revised.add(down)
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 and revised <= revisions else None


async def stored_revisions(db: Database) -> set[str]:
    """The revisions the database says it is at (none before its first migration), read as
    alembic reads them, without alembic."""

    def _read(connection: Connection) -> set[str]:
        if not sa.inspect(connection).has_table(_VERSION_TABLE):
            return set()
        query = sa.text(f"SELECT version_num FROM {_VERSION_TABLE}")  # noqa: S608 (a constant)
        return set(connection.execute(query).scalars())

    async with db.read() as conn:
        return await conn.run_sync(_read)


async def upgrade_if_behind(db: Database) -> None:
    """`upgrade(db)` unless the database is already at the declared head. A process that reads
    the head there finds it committed; one that reads anything else, or cannot tell the head
    from the files, runs alembic's upgrade (which takes the lock and checks again)."""
    head = declared_head()
    if head is None or await stored_revisions(db) != {head}:
        await upgrade(db)
