"""A user's page: their sections in page order, each filled from its source, less what they
have hidden, seen or finished (continue watching aside) and what an earlier row shows.

Every request reads what it needs afresh (the catalog and model copies are exact or
versioned, never the user's data), so an event changes the next page at once. The rows'
first reads run concurrently; the de-duplication then walks them in page order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tanktop import cursors
from tanktop.catalog.service import ItemKey
from tanktop.errors import BadRequest
from tanktop.sections.context import PageContext
from tanktop.sections.rows import FETCHERS, Fetched
from tanktop.sections.schemas import Row, Section

SLACK = 10
"""Candidates asked for beyond what a row shows, for those the page will leave out."""
FIRST_ASK = 3
"""A row first asks for at least this many times what it shows: the rows are fetched at once,
before de-duplication says how many the rows above take, and a ranked source (the model, a
genre, popularity) costs about the same for 60 as for 30 while a second ask costs it all
again."""
MAX_FETCH = 1000
"""A row asks its source for at most this many candidates."""


@dataclass(frozen=True)
class Window:
    """Which part of a row to show: items `offset` to `offset + limit`; earlier rows show
    their first `width` (the page's `items`), which this row does not repeat."""

    offset: int
    limit: int
    width: int


def encode_cursor(section_id: str, window: Window) -> str:
    return cursors.encode_cursor(section_id, str(window.offset), str(window.width))


def decode_cursor(cursor: str, section_id: str, limit: int) -> Window:
    """The window a cursor points at, `limit` long; a cursor of another row is a 400."""
    named, offset, width = cursors.decode_cursor(cursor, 3)
    if not (offset.isdigit() and width.isdigit() and int(offset) > 0 and int(width) > 0):
        raise BadRequest("The cursor is not one this API gave out.")
    if named != section_id:
        raise BadRequest(f"That cursor pages section {named!r}, not {section_id!r}.")
    return Window(int(offset), limit, int(width))


async def _fetch(context: PageContext, section: Section, limit: int) -> Fetched:
    return await FETCHERS[section.kind](context, section, min(limit, MAX_FETCH))


@dataclass
class _Filled:
    """A row's items that the page may show (keys, and what the source answered for each),
    before any is made a row item."""

    section: Section
    keys: list[ItemKey]
    found: list[Any]
    fetched: Fetched


async def _fill(
    context: PageContext,
    section: Section,
    first: Fetched,
    want: int,
    used: set[ItemKey],
    asked: int,
) -> _Filled:
    """The row's first `want` items that the page may show, asking its source for more
    while it came up short and has more."""
    fetched = first
    everything = section.kind == "continue_watching"  # keeps what the user saw or finished
    while True:
        kept = [
            p
            for p, k in enumerate(fetched.keys)
            if k not in used and (everything or k not in context.excluded)
        ]
        if len(kept) >= want or not fetched.more or asked >= MAX_FETCH:
            kept = kept[:want]
            return _Filled(
                section,
                [fetched.keys[p] for p in kept],
                [fetched.found[p] for p in kept],
                fetched,
            )
        asked = min(MAX_FETCH, asked * 2)
        fetched = await _fetch(context, section, asked)


async def _rows(
    context: PageContext,
    sections: Sequence[Section],
    wants: Sequence[int],
    used: set[ItemKey],
    shown: Sequence[int],
) -> list[_Filled]:
    """Fill `sections` in order, each with up to its `want` items, of which the first
    `shown` join `used` (what later rows leave out)."""
    asks = [max(want + len(used) + SLACK, FIRST_ASK * want) for want in wants]
    firsts = await asyncio.gather(
        *(_fetch(context, s, a) for s, a in zip(sections, asks, strict=True))
    )
    rows = []
    for section, first, want, ask, show in zip(sections, firsts, wants, asks, shown, strict=True):
        filled = await _fill(context, section, first, want, used, ask)
        used.update(filled.keys[:show])
        rows.append(filled)
    return rows


def _page_of(filled: _Filled, window: Window) -> Row:
    """The window of a row filled past it, with the cursor of what follows: row items are
    made here, of the window only."""
    section, fetched = filled.section, filled.fetched
    end = min(window.offset + window.limit, section.max_items)
    more = len(filled.keys) > end and end < section.max_items
    cursor = (
        encode_cursor(str(section.section_id), Window(end, window.limit, window.width))
        if more
        else None
    )
    title = section.title
    if fetched.based_on is not None:
        title = title.replace("{title}", fetched.based_on.title)
    return Row(
        section_id=section.section_id,
        title=title,
        kind=section.kind,
        items=[fetched.item(found) for found in filled.found[window.offset : end]],
        based_on=fetched.based_on,
        next_cursor=cursor,
    )


async def build_page(
    context: PageContext, ordered: Sequence[Section], *, rows: int, items: int
) -> list[Row]:
    """Up to `rows` non-empty rows of up to `items` items each, in page order."""
    used: set[ItemKey] = set()
    page: list[Row] = []
    start = 0
    while len(page) < rows and start < len(ordered):
        batch = ordered[start : start + rows - len(page)]
        start += len(batch)
        widths = [min(items, s.max_items) for s in batch]
        filled = await _rows(context, batch, [w + 1 for w in widths], used, widths)
        page += [_page_of(row, Window(0, items, items)) for row in filled if row.keys]
    return page


async def build_row(
    context: PageContext, ordered: Sequence[Section], index: int, window: Window
) -> Row:
    """One row's window, de-duplicated against the rows before it as the page shows them."""
    earlier = ordered[:index]
    section = ordered[index]
    widths = [min(window.width, s.max_items) for s in earlier]
    want = min(window.offset + window.limit, section.max_items) + 1
    filled = await _rows(context, [*earlier, section], [*widths, want], set(), [*widths, 0])
    return _page_of(filled[-1], window)
