"""Sections: a service's definitions, and each user's order of them (shaped by their section
events, which are ordinary events on item type `section`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pydantic import JsonValue

from tanktop.auth import Service
from tanktop.db import Database, utcnow
from tanktop.errors import BadRequest, NotFound
from tanktop.events import service as events
from tanktop.events.rules import SECTION
from tanktop.sections import queries
from tanktop.sections.definitions import DEFAULT_PAGE, KINDS, MAX_SECTIONS, parse_definition
from tanktop.sections.ordering import CLICK_DAYS, Pin, SectionPrefs, page_order
from tanktop.sections.schemas import Section

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


async def section_prefs(db: Database, service: Service, *, user_id: str) -> SectionPrefs:
    """The user's hidden, pinned and rated sections, and their recent clicks on each."""
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
    prefs.clicks = await events.event_counts(
        db,
        service,
        user_id=user_id,
        event="click",
        item_type=SECTION,
        since=utcnow() - dt.timedelta(days=CLICK_DAYS),
    )
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
