"""Sections: a service's definitions, and each user's order of them (shaped by their section
events, which are ordinary events on item type `section`)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager

from pydantic import JsonValue

from tanktop.catalog.facts import catalog_moment
from tanktop.db import Database, utcnow
from tanktop.errors import BadRequest, NotFound
from tanktop.events import service as events
from tanktop.events.rules import SECTION
from tanktop.sections import queries
from tanktop.sections.context import PageContext, PageSources, load_context
from tanktop.sections.definitions import DEFAULT_PAGE, KINDS, MAX_SECTIONS, parse_definition
from tanktop.sections.ordering import CLICK_DAYS, Pin, SectionPrefs, page_order
from tanktop.sections.page import Window, build_page, build_row, decode_cursor
from tanktop.sections.schemas import Page, Row, Section
from tanktop.tenants.service import Service

SECTION_EVENTS = ("hide", "pin", "rated")


def kinds() -> list[str]:
    """The kinds a section may be (for forms that define one)."""
    return list(KINDS)


def _section(row: object) -> Section:
    return Section.model_validate(row, from_attributes=True)


async def definitions(db: Database, service: Service) -> list[Section]:
    """The service's sections in position order, or the default page if it defined none."""
    async with db.read() as conn:
        rows = await queries.select_sections(conn, service.id)
    return [_section(row) for row in rows] if rows else list(DEFAULT_PAGE)


async def defines_any(db: Database, service: Service) -> bool:
    """Whether the service has defined sections (else it gets the default page)."""
    async with db.read() as conn:
        return bool(await queries.select_sections(conn, service.id))


async def get_section(db: Database, service: Service, *, section_id: str) -> Section:
    for section in await definitions(db, service):
        if section.section_id == section_id:
            return section
    raise NotFound(f"No section {section_id!r}; GET /section/ lists them.")


async def put_section(
    db: Database, service: Service, *, section_id: str, body: JsonValue
) -> tuple[Section, bool]:
    """Create or replace a definition; True when it is new."""
    async with db.write() as conn:
        stored = {row.section_id: row for row in await queries.select_sections(conn, service.id)}
        current = stored.get(section_id)
        if current is None and len(stored) >= MAX_SECTIONS:
            raise BadRequest(f"A service has at most {MAX_SECTIONS} sections; delete one first.")
        default_position = (
            current.position
            if current is not None
            else 1 + max((row.position for row in stored.values()), default=-1)
        )
        section = parse_definition(section_id, body, default_position=default_position)
        await queries.upsert_section(conn, service.id, section_id, section.model_dump(), utcnow())
    return section, current is None


async def delete_section(db: Database, service: Service, *, section_id: str) -> None:
    async with db.write() as conn:
        if not await queries.delete_section(conn, service.id, section_id):
            raise NotFound(
                f"No section {section_id!r} is defined"
                " (a service that defines none gets the default page)."
            )


async def _clicks(db: Database, service: Service, *, user_id: str) -> dict[str, int]:
    """The user's clicks on each section in the last `CLICK_DAYS` days (from the history,
    not the lists: it is read beside a page's snapshot of the lists, not after it)."""
    return await events.event_counts(
        db,
        service,
        user_id=user_id,
        event="click",
        item_type=SECTION,
        since=utcnow() - dt.timedelta(days=CLICK_DAYS),
    )


async def section_prefs(
    db: Database,
    service: Service,
    *,
    user_id: str,
    clicks: Awaitable[dict[str, int]] | None = None,
) -> SectionPrefs:
    """The user's hidden, pinned and rated sections, and their recent clicks on each (read
    now, or by `clicks` when the caller started reading them already)."""
    prefs = SectionPrefs()
    for item in await events.user_items(
        db, service, user_id=user_id, events=SECTION_EVENTS, item_types=[SECTION]
    ):
        if item.event == "hide":
            prefs.hidden.add(item.item_id)
        elif item.event == "pin":
            order = item.value if isinstance(item.value, (int, float)) else None
            prefs.pins[item.item_id] = Pin(order, item.at)
        elif isinstance(item.value, (int, float)):
            prefs.ratings[item.item_id] = float(item.value)
    prefs.clicks = await (clicks or _clicks(db, service, user_id=user_id))
    return prefs


async def user_sections(db: Database, service: Service, *, user_id: str) -> list[Section]:
    """The user's sections in page order, hidden ones left out."""
    return page_order(
        await definitions(db, service), await section_prefs(db, service, user_id=user_id)
    )


async def section_ids(
    db: Database,
    service: Service,
    *,
    user_id: str,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> list[str]:
    """The user's section list in page order, kept by the personalized-list filters."""
    ordered = [str(s.section_id) for s in await user_sections(db, service, user_id=user_id)]
    if not (include or exclude):
        return ordered
    if not ordered:
        events.event_names([*include, *exclude])  # still a 400 for a malformed filter
        return []
    kept, _ = await events.personalized_list(
        db,
        service,
        user_id=user_id,
        item_type=SECTION,
        ids=ordered,
        include=include,
        exclude=exclude,
    )
    return kept


@asynccontextmanager
async def _user_page(
    db: Database,
    service: Service,
    *,
    user_id: str,
    sources: PageSources,
) -> AsyncIterator[tuple[list[Section], list[Section], PageContext]]:
    """Within one snapshot of the user's lists (see `events.user_lists_snapshot`): the
    service's definitions, the user's order of them, and what their rows read. The reads that
    need no list (the definitions, the clicks) go alongside the snapshot's, not after it."""
    defined = asyncio.ensure_future(definitions(db, service))
    clicks = asyncio.ensure_future(_clicks(db, service, user_id=user_id))
    try:
        with catalog_moment():
            async with events.user_lists_snapshot(db, service, user_id=user_id):
                prefs, context = await asyncio.gather(
                    section_prefs(db, service, user_id=user_id, clicks=clicks),
                    load_context(db, service, user_id=user_id, sources=sources),
                )
                sections = await defined
                yield sections, page_order(sections, prefs), context
    finally:
        for task in (defined, clicks):
            task.cancel()  # (done already, unless the snapshot's read failed)
        await asyncio.gather(defined, clicks, return_exceptions=True)


async def page(
    db: Database,
    service: Service,
    *,
    user_id: str,
    sources: PageSources,
    rows: int,
    items: int,
) -> Page:
    """The user's page: up to `rows` non-empty rows of up to `items` items each.

    The user's lists are read once, for every domain the rows come from (one moment, one
    query)."""
    async with _user_page(db, service, user_id=user_id, sources=sources) as (_, ordered, context):
        return Page(sections=await build_page(context, ordered, rows=rows, items=items))


async def row(
    db: Database,
    service: Service,
    *,
    user_id: str,
    section_id: str,
    sources: PageSources,
    limit: int,
    cursor: str | None,
) -> Row:
    """One row of the user's page, `limit` items from where `cursor` points (the start)."""
    window = decode_cursor(cursor, section_id, limit) if cursor else Window(0, limit, limit)
    async with _user_page(db, service, user_id=user_id, sources=sources) as (
        defined,
        ordered,
        context,
    ):
        index = next((i for i, s in enumerate(ordered) if s.section_id == section_id), None)
        if index is None:
            if any(s.section_id == section_id for s in defined):
                raise NotFound(f"User {user_id!r} has hidden section {section_id!r}.")
            raise NotFound(f"No section {section_id!r}; GET /section/ lists them.")
        return await build_row(context, ordered, index, window)
