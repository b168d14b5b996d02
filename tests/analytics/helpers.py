"""Shared by the analytics tests: catching the rollups up, and the brute-force answers."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from tanktop.analytics.rollup import roll_up
from tanktop.db import Database


async def catch_up(db: Database) -> None:
    """Roll up until every stream is read (what a worker does within seconds)."""
    while await roll_up(db) > 0:
        pass


@dataclass(frozen=True)
class Happened:
    user: str
    event: str
    item_type: str
    item_id: str
    at: dt.datetime


def local_start(at: dt.datetime, interval: str, tz: str = "UTC") -> str:
    """The start of `at`'s bucket in `tz`, computed the plain way (wall clock, then back)."""
    zone = ZoneInfo(tz)
    local = at.astimezone(zone)
    if interval == "hour":
        return at.replace(minute=0, second=0, microsecond=0).astimezone(zone).isoformat()
    day = local.date()
    if interval == "week":
        day -= dt.timedelta(days=day.weekday())
    elif interval == "month":
        day = day.replace(day=1)
    return dt.datetime.combine(day, dt.time(), zone).isoformat()


def brute_series(
    happened: Iterable[Happened], interval: str, tz: str = "UTC"
) -> dict[tuple[str, str], dict[str, tuple[int, int]]]:
    """(event, item_type) -> bucket start -> (events, distinct users), from the raw list."""
    counts: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    users: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for h in happened:
        start = local_start(h.at, interval, tz)
        counts[(h.event, h.item_type)][start].append(1)
        users[(h.event, h.item_type)][start].add(h.user)
    return {
        key: {start: (len(n), len(users[key][start])) for start, n in by_start.items()}
        for key, by_start in counts.items()
    }


def answered_series(body: dict[str, object]) -> dict[tuple[str, str], dict[str, tuple[int, int]]]:
    """The same shape from an `/analytics/events/` answer, zero buckets left out."""
    found: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}
    for series in body["series"]:  # type: ignore[attr-defined]
        points = {p["start"]: (p["events"], p["users"]) for p in series["points"] if p["events"]}
        if points:
            found[(series["event"], series["item_type"])] = points
    return found
