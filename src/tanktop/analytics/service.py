"""Analytics rules: recording what was served, and (from rollups) what users did."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from types import SimpleNamespace
from typing import Any

from pyroaring import BitMap, FrozenBitMap

from tanktop.analytics import queries, rollup
from tanktop.analytics.buckets import Bucket, Part, Segment
from tanktop.analytics.impressions import Impression, ImpressionRecorder
from tanktop.analytics.schemas import Cohort, EventPoint, EventSeries, TopItem, UsersPoint
from tanktop.analytics.sets import SETS
from tanktop.analytics.tables import LEADER_MIN
from tanktop.db import Database, utcnow
from tanktop.events import service as events
from tanktop.events.service import EventCount
from tanktop.tenants.service import Service

RECOMMENDATION = "recommendation"
SECTION_PREFIX = "section:"
WATCHABLE = ["movie", "episode", "programme"]


def record_impressions(
    recorder: ImpressionRecorder,
    service_id: int,
    user_id: str,
    surface: str,
    items: Sequence[tuple[str, str]],
) -> None:
    """Note that `items` ((item_type, item_id) pairs) were served to the user on `surface`
    (`"recommendation"` or `"section:<sectionid>"`). Cheap: buffered, written in the
    background."""
    if surface != RECOMMENDATION and not (
        surface.startswith(SECTION_PREFIX) and len(surface) > len(SECTION_PREFIX)
    ):
        raise ValueError(f"unknown impression surface {surface!r}")
    if not items:
        return
    now = utcnow()
    recorder.add(
        [
            Impression(service_id, user_id, surface, item_type, item_id, now)
            for item_type, item_id in items
        ]
    )


# -- answers from the rollups -------------------------------------------------------------------

RowsByStart = dict[dt.datetime, Any]


@dataclass(frozen=True, slots=True)
class Engagement:
    surface: str
    impressions: int
    clicks: int
    engaged: int


@dataclass(frozen=True, slots=True)
class UserStats:
    user_id: str
    events: list[EventCount]
    minutes_watched: float
    ratings: list[float]
    first: dt.datetime | None
    last: dt.datetime | None


Grid = dict[str, dict[tuple[str, str], RowsByStart]]
"""Rollup rows by grain, (event, item type) and start."""
Made = list[Segment]
"""What one bucket is made of."""


async def _parts(db: Database, service_id: int, bks: Sequence[Bucket]) -> list[Made]:
    """The rows each bucket is made of: local days where the service keeps its rows of the
    buckets' zone (a report zone), UTC days and hours otherwise."""
    tz = bks[0].start.tzinfo if bks else None
    local = False
    if isinstance(tz, zoneinfo.ZoneInfo):
        async with db.read() as conn:
            local = tz.key in (await queries.select_zones(conn, service_id)).get(service_id, [])
    return [b.parts(local) for b in bks]


def _merges(made: Made) -> bool:
    """Whether a bucket is more than one row, taken whole (then its users are a union)."""
    return len(made) > 1 or len(made[0][0]) > 1 or bool(made[0][1])


async def _grid(
    db: Database,
    service_id: int,
    parts: Sequence[Made],
    *,
    event: str | None,
    item_type: str | None,
    new_members: bool = False,
) -> tuple[Grid, bool]:
    """The rollup rows the buckets are made of, and whether some bucket needs more than one
    row (and so the users' sets, to merge; `new_members` asks for both kinds of sets
    whatever the buckets)."""
    starts: dict[str, set[dt.datetime]] = {}
    for grain, start, _ in (
        part for made in parts for plus, minus in made for part in (*plus, *minus)
    ):
        starts.setdefault(grain, set()).add(start)
    merge = any(_merges(made) for made in parts)
    sets = merge or new_members
    digests = sets and not db.is_sqlite  # SQLite is in process: its bytes cost no transfer
    grid: Grid = {}
    async with db.read() as conn:

        async def select(
            grain: str, at: Sequence[dt.datetime], *, digested: bool
        ) -> list[SimpleNamespace]:
            return [
                SimpleNamespace(**row._asdict())
                for row in await queries.select_series(
                    conn,
                    service_id,
                    grain,
                    at,
                    event=event,
                    item_type=item_type,
                    members=sets,
                    new_members=new_members,
                    digests=digested,
                )
            ]

        for grain, found in starts.items():
            rows = await select(grain, sorted(found), digested=digests)
            if sets:
                columns = queries.set_columns(grain, sets, new_members)
                whole = partial(select, grain, digested=False)
                rows = await _with_sets(rows, columns, digests, whole)
            by_key = grid.setdefault(grain, {})
            for row in rows:
                by_key.setdefault((row.event, row.item_type), {})[row.start] = row
    return grid, merge


def _read_sets(row: SimpleNamespace, columns: Sequence[str]) -> SimpleNamespace:
    """A row read whole: its sets deserialised in place of their bytes, through the cache
    (a row written before digests were kept is deserialised and not kept)."""
    for column in columns:
        raw = getattr(row, column)
        if row.digest is not None:
            users = SETS.put(f"{row.digest}/{column}", raw or b"")
        else:
            users = FrozenBitMap.deserialize(raw) if raw else FrozenBitMap()
        setattr(row, column, users)
    return row


async def _with_sets(
    rows: list[SimpleNamespace],
    columns: Sequence[str],
    digested: bool,
    whole: Callable[[Sequence[dt.datetime]], Awaitable[list[SimpleNamespace]]],
) -> list[SimpleNamespace]:
    """The rows with their users' sets `columns` (deserialised, shared: never changed in
    place): read whole, or (`digested`: rows read with their digest only) from the process's
    cache (`tanktop.analytics.sets`), the rows holding sets it has not seen read again
    `whole`, once."""
    if not digested:
        return [_read_sets(row, columns) for row in rows]
    found: dict[tuple[str, str, dt.datetime, str], FrozenBitMap] = {}
    unseen = set()
    for row in rows:
        for column in columns:
            cached = None if row.digest is None else SETS.get(f"{row.digest}/{column}")
            if cached is None:
                unseen.add(row.start)
            else:
                found[(row.event, row.item_type, row.start, column)] = cached
    again = {
        (row.event, row.item_type, row.start): _read_sets(row, columns)
        for row in (await whole(sorted(unseen)) if unseen else [])
    }
    kept = []
    for row in rows:
        key = (row.event, row.item_type, row.start)
        if key in again:
            kept.append(again.pop(key))
        elif row.start not in unseen:
            for column in columns:
                setattr(row, column, found[(*key, column)])
            kept.append(row)
    return kept  # (a row gone since the first read is left out: nothing happened there)


def _rows_of(grid: Grid, key: tuple[str, str], parts: Sequence[Part]) -> list[tuple[Any, str]]:
    """The rows of `parts` there are (no row: nothing happened), each with its users' column."""
    found = [
        (grid.get(grain, {}).get(key, {}).get(start), column) for grain, start, column in parts
    ]
    return [(row, column) for row, column in found if row is not None]


def _total(grid: Grid, key: tuple[str, str], made: Made, field: str) -> int:
    """A count that adds up over rows (events, new users), over a bucket's segments."""
    return sum(
        sum(int(getattr(row, field)) for row, _ in _rows_of(grid, key, plus))
        - sum(int(getattr(row, field)) for row, _ in _rows_of(grid, key, minus))
        for plus, minus in made
    )


def _members(grid: Grid, key: tuple[str, str], made: Made, new: bool = False) -> BitMap:
    """A bucket's users (`new`: its new users), the union of its segments' users."""
    found = BitMap()
    for plus, minus in made:
        sets = [
            [
                users
                for row, column in _rows_of(grid, key, rows)
                if (users := getattr(row, "new_members" if new else column)) is not None
            ]
            for rows in (plus, minus)
        ]
        segment = BitMap.union(*sets[0]) if sets[0] else BitMap()
        if sets[1]:
            segment -= BitMap.union(*sets[1])
        found |= segment
    return found


def _users(grid: Grid, key: tuple[str, str], made: Made, merge: bool) -> int:
    if not merge:
        rows = _rows_of(grid, key, made[0][0])
        return int(rows[0][0].users) if rows else 0
    return len(_members(grid, key, made))


async def event_series(
    db: Database,
    service: Service,
    *,
    bks: Sequence[Bucket],
    event: str | None = None,
    item_type: str | None = None,
) -> list[EventSeries]:
    """Events and distinct users per bucket, per event and item type."""
    parts = await _parts(db, service.id, bks)
    grid, merge = await _grid(db, service.id, parts, event=event, item_type=item_type)
    keys = sorted({key for by_key in grid.values() for key in by_key})
    if not keys and event is not None and item_type is not None:
        keys = [(event, item_type)]
    series = []
    for key in keys:
        points = [
            EventPoint(
                bucket.start, _total(grid, key, made, "events"), _users(grid, key, made, merge)
            )
            for bucket, made in zip(bks, parts, strict=True)
        ]
        series.append(EventSeries(key[0], key[1], points))
    return series


async def user_activity(
    db: Database, service: Service, *, bks: Sequence[Bucket]
) -> list[UsersPoint]:
    """Active users (any event) and new users (first event ever) per bucket."""
    any_ = (rollup.ANY, rollup.ANY)
    parts = await _parts(db, service.id, bks)
    grid, merge = await _grid(db, service.id, parts, event=any_[0], item_type=any_[1])
    return [
        UsersPoint(
            bucket.start, _users(grid, any_, made, merge), _total(grid, any_, made, "new_users")
        )
        for bucket, made in zip(bks, parts, strict=True)
    ]


async def retention(db: Database, service: Service, *, bks: Sequence[Bucket]) -> list[Cohort]:
    """Per bucket, the users whose first event falls in it and how many of them are active in
    each later bucket of the range."""
    any_ = (rollup.ANY, rollup.ANY)
    parts = await _parts(db, service.id, bks)
    grid, _ = await _grid(db, service.id, parts, event=any_[0], item_type=any_[1], new_members=True)
    active = [_members(grid, any_, made) for made in parts]
    cohorts = [_members(grid, any_, made, new=True) for made in parts]
    return [
        Cohort(
            bucket.start,
            len(cohorts[i]),
            [cohorts[i].intersection_cardinality(later) for later in active[i + 1 :]],
        )
        for i, bucket in enumerate(bks)
    ]


async def top_items(
    db: Database,
    service: Service,
    *,
    item_type: str,
    event: str,
    start: dt.datetime,
    end: dt.datetime,
    n: int,
) -> list[TopItem]:
    """The items with the most `event`s in the UTC days that overlap [start, end), most first
    (then by id), exact.

    Not a sum over every item of every day: each day's leaders are read (`depth` of them),
    and the exact totals of those candidates that can still make the list. An item no day
    lists among its leaders has at most the sum of each full day's last leader count and,
    of each day that listed fewer (its leaders are only rows of `LEADER_MIN` events or
    more), `LEADER_MIN` - 1: `bound`; once the n-th candidate has more than that, nothing
    unread can take its place. Popularity is skewed, so a depth of a few times n almost
    always settles it; if not, the full days are read deeper, and when no day is full
    (a flat catalogue: items of one event a day) every item's total is summed."""
    first = rollup.day_of(start)
    days: list[dt.datetime] = []
    while first + len(days) * rollup.DAY < end:
        days.append(first + len(days) * rollup.DAY)
    if not days:
        return []
    depth = 2 * n + 10
    async with db.read() as conn:
        while True:
            leaders = await queries.day_leaders(conn, service.id, event, item_type, days, depth)
            candidates, bound, deeper = _contenders(leaders, days, depth, n)
            totals = await queries.item_totals(
                conn, service.id, event, item_type, candidates, first, end
            )
            ranked = _most(totals, n)
            if len(ranked) == n and ranked[-1][1] > bound:
                break
            if not deeper:  # the leaders cannot settle it: every item's total
                totals = await queries.top_totals(conn, service.id, event, item_type, first, end, n)
                ranked = _most(totals, n)
                break
            depth *= 4
        members = await queries.item_members(
            conn, service.id, event, item_type, [i for i, _ in ranked], first, end
        )
    users: dict[str, BitMap] = {}
    for item_id, raw in members:
        users.setdefault(item_id, BitMap()).update(BitMap.deserialize(raw))
    return [TopItem(i, count, len(users.get(i, ()))) for i, count in ranked]


def _most(totals: Sequence[tuple[str, int]], n: int) -> list[tuple[str, int]]:
    """The n (item, events) with the most events, then by id: a top list's order."""
    return sorted(totals, key=lambda t: (-t[1], t[0]))[:n]


def _contenders(
    leaders: Sequence[Any], days: Sequence[dt.datetime], depth: int, n: int
) -> tuple[list[str], int, bool]:
    """From each day's leaders: the items that may be among the n with the most events (what
    each has among the leaders is a floor of its total; that plus, for each day it is missing
    from, the most an unlisted item can have there, a ceiling), the ceiling of any item not
    listed, and whether reading deeper can tell more (some day returned `depth` rows).

    An unlisted item has at most a full day's last leader count there, and under
    `LEADER_MIN` on a day that listed fewer (the rank index holds only rows from
    `LEADER_MIN` up)."""
    per_day: dict[dt.datetime, list[int]] = {day: [] for day in days}
    floor: dict[str, int] = {}
    present: dict[str, int] = {}
    for row in leaders:
        per_day.setdefault(row.day, []).append(int(row.events))
        floor[row.item_id] = floor.get(row.item_id, 0) + int(row.events)
    last = {
        day: min(counts) if len(counts) == depth else LEADER_MIN - 1
        for day, counts in per_day.items()
    }
    bound = sum(last.values())
    for row in leaders:
        present[row.item_id] = present.get(row.item_id, 0) + last[row.day]
    nth = sorted(floor.values(), reverse=True)[n - 1] if len(floor) >= n else 0
    ceiling = {item: floor[item] + bound - present.get(item, 0) for item in floor}
    full = any(len(counts) == depth for counts in per_day.values())
    return sorted(i for i in floor if ceiling[i] >= nth), bound, full


async def engagement(
    db: Database, service: Service, *, start: dt.datetime, end: dt.datetime
) -> list[Engagement]:
    """Per surface: items served in the hours that overlap [start, end), and of them those
    clicked and those engaged with (a positive event within 7 days)."""
    async with db.read() as conn:
        rows = await queries.engagement_totals(conn, service.id, rollup.hour_of(start), end)
    return [Engagement(r.surface, int(r.impressions), int(r.clicks), int(r.engaged)) for r in rows]


async def user_stats(db: Database, service: Service, *, user_id: str) -> UserStats:
    """One user's counts per event and item type (rollups), minutes watched and ratings (their
    lists, summed by the database), first and last activity."""
    async with db.read() as conn:
        rows = await queries.select_user_events(conn, service.id, user_id)
    counts = [EventCount(r.event, r.item_type, int(r.events), r.first_at, r.last_at) for r in rows]
    values = await events.list_value_counts(
        db, service, user_id=user_id, events=["progress", "rated"], item_types=WATCHABLE
    )
    minutes = sum(
        number * v.count
        for v in values
        if v.event == "progress" and v.item_type != "programme"
        if (number := _number(v.value)) is not None
    )
    ratings = [
        number
        for v in values
        if v.event == "rated"
        if (number := _number(v.value)) is not None
        for _ in range(v.count)
    ]
    return UserStats(
        user_id,
        counts,
        round(minutes, 2),
        ratings,
        min((c.first for c in counts), default=None),
        max((c.last for c in counts), default=None),
    )


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
