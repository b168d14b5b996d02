"""The demo catalog a newcomer gets from `make run`: packaged items plus today's schedules."""

from __future__ import annotations

import datetime as dt
import json

from tanktop.catalog.importer import ImportReport, import_lines
from tanktop.catalog.service import demo_lines
from tanktop.db import Database

# (channel, [(item_type, item_id, minutes), …]) repeated to fill a day from 06:00 UTC.
_LINE_UP = {
    "bbc1": [
        ("episode", "1001-s1e1", 55),
        ("episode", "1001-s1e2", 55),
        ("movie", "", 0),
        ("episode", "1003-s1e1", 50),
        ("episode", "1003-s1e2", 50),
    ],
    "itv": [
        ("episode", "1004-s1e1", 30),
        ("episode", "1002-s1e1", 45),
        ("movie", "", 0),
        ("episode", "1002-s1e2", 45),
    ],
    "sky-sports": [
        ("episode", "1005-s1e1", 110),
        ("episode", "1006-s1e1", 150),
        ("episode", "1005-s1e2", 110),
    ],
}


def schedule_lines(lines: list[str], day: dt.date) -> list[str]:
    """One `schedule` line per demo channel, covering `day` from 06:00 UTC for 24 hours."""
    movies = [json.loads(line) for line in lines if '"item_type": "movie"' in line]
    start_of_day = dt.datetime.combine(day, dt.time(6), tzinfo=dt.UTC)
    result = []
    for index, (channel, pattern) in enumerate(_LINE_UP.items()):
        slots = []
        at, turn = start_of_day, 0
        while at < start_of_day + dt.timedelta(days=1):
            item_type, item_id, minutes = pattern[turn % len(pattern)]
            if item_type == "movie":
                movie = movies[(turn * 7 + index) % len(movies)]
                item_id, minutes = str(movie["item_id"]), int(movie["duration"])
            end = at + dt.timedelta(minutes=minutes + 5)
            slots.append(
                {
                    "start": at.isoformat(),
                    "end": end.isoformat(),
                    "item_type": item_type,
                    "item_id": item_id,
                }
            )
            at, turn = end, turn + 1
        result.append(json.dumps({"item_type": "channel", "item_id": channel, "schedule": slots}))
    return result


async def load_demo(db: Database, today: dt.date | None = None) -> ImportReport:
    """The catalog, with the schedules of the broadcast day (from 06:00 UTC) airing now."""
    lines = demo_lines()
    day = today or (dt.datetime.now(dt.UTC) - dt.timedelta(hours=6)).date()
    return await import_lines(db, [*lines, *schedule_lines(lines, day)])
