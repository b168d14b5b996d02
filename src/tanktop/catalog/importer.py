"""`tanktop catalog import`: JSON Lines of catalog objects, a thousand per transaction.

A line is one item: `{"item_type": "movie", "item_id": "1", "title": …}` with, optionally,
`"offers": [...]` (replacing the item's offers) or, for a channel, `"schedule": [...]`. A line
with only `item_type`, `item_id` and `offers`/`schedule` leaves the item itself as it is.
Bad lines are reported with their numbers and reasons; the good ones are kept. Importing the
same file twice changes nothing the second time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tanktop.catalog import queries
from tanktop.catalog.admin import Entry, apply_entries
from tanktop.catalog.schemas import Offer, Slot, parse_item, parse_list
from tanktop.db import Database
from tanktop.errors import BadRequest
from tanktop.ids import is_name
from tanktop.storable import check_json

CHUNK = 1000
_REFRESH_AFTER = frozenset({2, 5, 10, 20})  # chunks written, then every 50th


@dataclass
class ImportReport:
    lines: int = 0
    items: int = 0
    created: int = 0
    changes: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def parse_line(text: str) -> Entry:
    """One line as an `Entry`, or BadRequest saying what is wrong with it."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"not JSON: {exc.msg} at column {exc.colno}") from None
    check_json(raw)
    if not isinstance(raw, dict):
        raise BadRequest("a line must be a JSON object")
    fields: dict[str, Any] = dict(raw)
    item_type = fields.pop("item_type", None)
    item_id = fields.pop("item_id", None)
    if isinstance(item_id, int) and not isinstance(item_id, bool):
        item_id = str(item_id)
    if not isinstance(item_type, str) or not isinstance(item_id, str) or not is_name(item_id):
        raise BadRequest(
            "item_type and a valid item_id (1-64 of A-Z a-z 0-9 _ . : @ -) are required"
        )
    offers = fields.pop("offers", None)
    schedule = fields.pop("schedule", None)
    entry = Entry(item_type, item_id)
    if fields or (offers is None and schedule is None):
        entry.item = parse_item(item_type, fields)
    if offers is not None:
        if item_type == "channel":
            raise BadRequest("channels have schedules, not offers")
        entry.offers = parse_list(Offer, offers, "offers")
    if schedule is not None:
        if item_type != "channel":
            raise BadRequest("only channels have a schedule")
        entry.schedule = parse_list(Slot, schedule, "schedule")
    return entry


async def import_lines(
    db: Database, lines: Iterable[str], on_line: Callable[[str], None] | None = None
) -> ImportReport:
    """Import `lines`; `on_line` is told of each line read (for a progress bar)."""
    report = ImportReport()
    chunk: list[tuple[int, Entry]] = []
    written = 0
    for number, text in enumerate(lines, start=1):
        report.lines += 1
        if on_line:
            on_line(text)
        if not text.strip():
            continue
        try:
            chunk.append((number, parse_line(text)))
        except BadRequest as exc:
            report.rejected.append((number, exc.detail))
        if len(chunk) >= CHUNK:
            await _write(db, chunk, report)
            chunk = []
            written += 1
            if written in _REFRESH_AFTER or written % 50 == 0:
                async with db.write() as conn:
                    await queries.refresh_statistics(conn)
    if chunk:
        await _write(db, chunk, report)
    return report


async def _write(db: Database, chunk: list[tuple[int, Entry]], report: ImportReport) -> None:
    """One transaction for the chunk; if a line breaks it, each line alone to find which."""
    try:
        async with db.write() as conn:
            applied = await apply_entries(conn, entries=[entry for _, entry in chunk])
    except BadRequest:
        if len(chunk) == 1:
            raise
        for number, entry in chunk:
            try:
                await _write(db, [(number, entry)], report)
            except BadRequest as exc:
                report.rejected.append((number, exc.detail))
        return
    report.items += sum(1 for _, e in chunk if e.item is not None)
    report.created += len(applied.created)
    report.changes += applied.changes
