"""All SQL of the sections domain: a service's section definitions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.db import dialect_insert
from tanktop.sections.tables import sections

_COLUMNS = ("title", "kind", "item_type", "params", "position", "max_items", "locked")

_SELECT_ALL = (
    sa.select(sections)
    .where(sections.c.service_id == sa.bindparam("service_id"))
    .order_by(sections.c.position, sections.c.section_id)
)


async def select_sections(conn: AsyncConnection, service_id: int) -> list[sa.Row[Any]]:
    """The service's definitions in position order."""
    return list((await conn.execute(_SELECT_ALL, {"service_id": service_id})).all())


async def upsert_section(
    conn: AsyncConnection, service_id: int, section_id: str, row: dict[str, Any], now: dt.datetime
) -> None:
    values = {name: row[name] for name in _COLUMNS}
    stmt = dialect_insert(conn, sections).values(
        service_id=service_id, section_id=section_id, updated_at=now, **values
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[sections.c.service_id, sections.c.section_id],
        set_={**values, "updated_at": now},
    )
    await conn.execute(stmt)


async def delete_section(conn: AsyncConnection, service_id: int, section_id: str) -> bool:
    result = await conn.execute(
        sa.delete(sections).where(
            sections.c.service_id == service_id, sections.c.section_id == section_id
        )
    )
    return result.rowcount > 0
