"""Rollups: the event history and the impressions, counted into per-hour and per-day rows.

One path counts everything, events posted one at a time, in batches (`POST /events/`) and
derived from live TV alike: it follows `event_history` and `impressions` by id
(`tanktop.analytics.streams`). Each round a worker leases the streams, reads the next rows, and
writes what they add in one transaction that also moves the streams. Removals (a `DELETE` of a
list item) are not events: they are not counted, and they take nothing away from what was.

Users are numbered per service (`analytics_users.uid`) so that "which users" is a roaring
bitmap: a user active in two hours of a day is one user of the day, exactly, and any set of
buckets merges by union. Engagement marks each impression once (`engaged`, `clicked`), from
whichever side arrives second: a positive event finds the impressions served to that user in
the 7 days before it, and an impression finds the positive events of the 7 days after it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pyroaring import BitMap

from tanktop.analytics import partitions, queries, streams
from tanktop.analytics.buckets import local_day_floor, zone_grain
from tanktop.analytics.sets import with_digest
from tanktop.analytics.tables import analytics_series, analytics_users
from tanktop.config import Settings
from tanktop.db import Database
from tanktop.events import service as events
from tanktop.events.service import HistoryEvent
from tanktop.faults import DatabaseFault

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
ENGAGEMENT_WINDOW = dt.timedelta(days=7)
ANY = "*"
"""The event and item type of the any-event rows (not a valid name, so never a real one)."""
POSITIVE = frozenset({"seen", "watchlist", "progress", "click"})
BATCH = 100_000
"""Rows a round reads at most, while behind (a caught-up worker reads what 2 s brought).
Larger rounds amortise their statements and, above all, write each item's and user's row
once per round however many of its events the round holds: `bench.rollup_pass`, 120,000
uniform events, CPU (worker and PostgreSQL) per 1,000 events: rounds of 30,000 43 ms, of
60,000 36 ms, of 120,000 27-29 ms; the worker's RSS 164 -> 249 MB."""
SQLITE_BATCH = 30_000
"""SQLite's rounds stay smaller: a round's transaction holds the one write lock, which the
API's writes wait for (up to `db_pool_timeout_seconds`)."""
BESIDE_API_BATCH = 30_000
"""So do those of the worker an API process runs itself (`tanktop serve` without
`--no-worker`): a round's Python runs on the event loop that answers the requests, which it
held for up to 300 ms in rounds of 30,000 and 580-620 ms in rounds of 100,000 (200,000
uniform events, a 5 ms ticker's worst lateness, load 3.2-3.4; 146-227 and 394-398 ms with
`YIELD_EVERY`). `tanktop worker` processes read full rounds."""
LEASE = dt.timedelta(seconds=60)
YIELD_EVERY = 5_000
"""Events a round counts between two turns of the event loop it shares, in an API process,
with requests."""


class UserCache:
    """Each process remembers users' numbers and first events, valid while no other worker
    has moved the rollups since this one last wrote (the stream's version says so), so a
    worker reads the users of a batch from the database only when they are new to it."""

    def __init__(self, limit: int = 2_000_000) -> None:
        self.version: int | None = None
        self.users: dict[int, dict[str, tuple[int, dt.datetime]]] = {}
        self.limit = limit
        self.size = 0

    def of(self, service_id: int) -> dict[str, tuple[int, dt.datetime]]:
        return self.users.get(service_id, {})

    def check(self, version: int) -> None:
        if version != self.version:
            self.clear()

    def clear(self) -> None:
        self.version, self.users, self.size = None, {}, 0

    def learn(self, deltas: Sequence[Delta], version: int) -> None:
        """After a write that moved the stream to `version`: what its batch taught."""
        for delta in deltas:
            known = self.users.setdefault(delta.service_id, {})
            self.size += len(set(delta.seen) - set(known))
            known.update(delta.seen)
        if self.size > self.limit:
            self.clear()
            return
        self.version = version


def hour_of(at: dt.datetime) -> dt.datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def day_of(at: dt.datetime) -> dt.datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


Floor = Callable[[dt.datetime], dt.datetime]
GRAINS: dict[str, Floor] = {"h": hour_of, "d": day_of}
"""The grains every service keeps; a service's report zones add one each (local days)."""
_LOCAL_DAYS: dict[str, Floor] = {}


def grains(zones: Sequence[str]) -> dict[str, Floor]:
    """The grains of a service with these report zones."""
    found = dict(GRAINS)
    for name in zones:
        if name not in _LOCAL_DAYS:
            _LOCAL_DAYS[name] = local_day_floor(name)
        found[zone_grain(name)] = _LOCAL_DAYS[name]
    return found


def bitmap(raw: bytes | None) -> BitMap:
    return BitMap.deserialize(raw) if raw else BitMap()


@dataclass(frozen=True, slots=True)
class Target:
    """What a positive event acts on: an item, clicked or not, from a section or not."""

    user_id: str
    item_type: str
    item_id: str
    at: dt.datetime
    click: bool
    section: str | None


def target_of(event: HistoryEvent) -> Target | None:
    """The item a counted event engages with, if it is a positive one."""
    if event.item_type == "section":
        if event.event != "click" or not isinstance(event.value, str) or ":" not in event.value:
            return None
        item_type, item_id = event.value.split(":", 1)
        return Target(event.user_id, item_type, item_id, event.at, True, event.item_id)
    positive = event.event in POSITIVE or (
        event.event == "rated" and isinstance(event.value, (int, float)) and event.value > 0
    )
    if not positive:
        return None
    return Target(
        event.user_id, event.item_type, event.item_id, event.at, event.event == "click", None
    )


def matches(impression: Any, target: Target) -> tuple[bool, bool]:
    """(engaged, clicked): does `target` act on what `impression` served, within the window?"""
    if (
        impression.user_id != target.user_id
        or impression.item_type != target.item_type
        or impression.item_id != target.item_id
        or not impression.at <= target.at <= impression.at + ENGAGEMENT_WINDOW
    ):
        return False, False
    clicked = target.click and (
        target.section is None or impression.surface == f"section:{target.section}"
    )
    return True, clicked


def counted(rows: Sequence[HistoryEvent]) -> list[HistoryEvent]:
    """The rows that count: events (not removals), and corrections, each of which takes back
    the derived event it withdraws (`supersedes`)."""
    return [e for e in rows if not e.removed or e.supersedes is not None]


def correction(event: HistoryEvent) -> bool:
    return event.supersedes is not None


class Delta:
    """What one batch adds to one service's rollups, computed before its transaction."""

    def __init__(self, service_id: int, zones: Sequence[str] = ()) -> None:
        self.service_id = service_id
        self.grains = grains(zones)
        self.has_events = False
        """The batch has events of this service: the database adds their per-user counts
        (`write_deltas`, one statement for all the round's services)."""
        self.users: list[dict[str, Any]] = []
        self.series: list[dict[str, Any]] = []
        self.items: list[queries.ItemRow] = []
        self.new_items: list[queries.ItemRow] = []
        """Item rows the batch's read found no row for (`queries.write_items`)."""
        self.impressions: dict[tuple[str, dt.datetime], int] = defaultdict(int)
        self.flag: dict[str, set[int]] = {"engaged": set(), "clicked": set()}
        self.seen: dict[str, tuple[int, dt.datetime]] = {}

    async def count_events(self, db: Database, rows: Sequence[HistoryEvent]) -> None:
        """Each event adds one to its buckets and its user to their members; a correction
        takes one away from the buckets of the event it withdraws (same name, type, item and
        time) and leaves the members: the user was active then all the same.

        Events are first gathered per event, item type and hour (a few groups a batch), and
        only the groups spread over the grains: the work per event is two dictionary
        entries, not one per grain. Per-user counts are the database's (`write_deltas`)."""
        self.has_events = True
        async with db.read() as conn:
            uids = await self._users(conn, [e for e in rows if not correction(e)])
            hours: dict[int, tuple[dt.datetime, dt.datetime]] = {}
            groups: dict[tuple[str, str, int], tuple[list[int], list[int]]] = {}
            by_day: dict[tuple[str, str, int, str], tuple[list[int], list[int]]] = {}
            for n, event in enumerate(rows):  # keys of ints and strings (an aware datetime
                if n % YIELD_EVERY == YIELD_EVERY - 1:  # hashes slowly)
                    await asyncio.sleep(0)  # requests of an API process's loop go on
                undo = correction(event)
                step = -1 if undo else 1
                hour = int(event.at.timestamp() // 3600)
                if hour not in hours:
                    hours[hour] = (hour_of(event.at), day_of(event.at))
                key = (event.event, event.item_type, hour)
                group = groups.get(key)
                if group is None:  # (setdefault would build a default per event)
                    group = groups[key] = ([0], [])
                item_key = (event.event, event.item_type, hour // 24, event.item_id)
                item = by_day.get(item_key)
                if item is None:
                    item = by_day[item_key] = ([0], [])
                group[0][0] += step
                item[0][0] += step
                if not undo:
                    uid = uids[event.user_id]
                    group[1].append(uid)
                    item[1].append(uid)
            days = {hour // 24: day for hour, (_, day) in hours.items()}
            items = {(e, t, days[d], i): found for (e, t, d, i), found in by_day.items()}
            series: dict[tuple[str, str, str, dt.datetime], tuple[list[int], BitMap]] = {}
            for (name, item_type, hour), (count, members) in groups.items():
                users = BitMap(members)
                for grain, floor in self.grains.items():
                    start = floor(hours[hour][0])
                    for row in ((grain, name, item_type, start), (grain, ANY, ANY, start)):
                        entry = series.setdefault(row, ([0], BitMap()))
                        entry[0][0] += count[0]
                        entry[1].update(users)
            await self._merge_series(conn, series)
            await self._merge_items(conn, items)

    async def _users(self, conn: Any, rows: Sequence[HistoryEvent]) -> dict[str, int]:
        """Number the batch's users, and note whose first event moves to which buckets."""
        firsts: dict[str, dt.datetime] = {}
        for event in rows:
            firsts[event.user_id] = min(firsts.get(event.user_id, event.at), event.at)
        cached = USERS.of(self.service_id)
        known = {u: cached[u] for u in firsts if u in cached}
        missing = [u for u in firsts if u not in known]
        for row in await queries.select_users(conn, self.service_id, missing):
            known[row.user_id] = (row.uid, row.first_at)
        self.seen = dict(known)
        next_uid = 0
        if len(known) < len(firsts):
            next_uid = await queries.max_uid(conn, self.service_id) + 1
        uids: dict[str, int] = {}
        self.moved_first: list[tuple[int, dt.datetime | None, dt.datetime]] = []
        for user_id, first in sorted(firsts.items()):
            uid, old_first = known.get(user_id, (next_uid, None))
            if old_first is None:
                next_uid += 1
            uids[user_id] = uid
            if old_first is None or first < old_first:  # first seen, or earlier
                self.moved_first.append((uid, old_first, first))
                self.users.append(
                    {
                        "service_id": self.service_id,
                        "user_id": user_id,
                        "uid": uid,
                        "first_at": first,
                    }
                )
                self.seen[user_id] = (uid, first)
        return uids

    async def _merge_series(
        self, conn: Any, series: dict[tuple[str, str, str, dt.datetime], tuple[list[int], BitMap]]
    ) -> None:
        news: dict[tuple[str, dt.datetime], tuple[BitMap, BitMap]] = {}
        moved: dict[tuple[dt.datetime, int], list[int]] = defaultdict(list)  # a few hours
        for uid, old, new in self.moved_first:  # per user: its hours, not its buckets
            moved[(hour_of(new), 0)].append(uid)
            if old is not None:
                moved[(hour_of(old), 1)].append(uid)
        for (hour, side), users in moved.items():  # side 0: first seen there; 1: no longer
            for grain, floor in self.grains.items():  # grains are whole hours
                news.setdefault((grain, floor(hour)), (BitMap(), BitMap()))[side].update(users)
                series.setdefault((grain, ANY, ANY, floor(hour)), ([0], BitMap()))
        existing: dict[tuple[str, str, str, dt.datetime], Any] = {}
        for grain in self.grains:
            starts = sorted({k[3] for k in series if k[0] == grain})
            if grain == "h":  # every hour of their days: the days' first and last hours move
                starts = sorted({day_of(at) + n * HOUR for at in starts for n in range(24)})
            for row in await queries.select_series_at(conn, self.service_id, grain, starts):
                existing[(grain, row.event, row.item_type, row.start)] = row
        written: dict[tuple[str, str, str, dt.datetime], dict[str, Any]] = {}
        for key, (count, uids) in series.items():
            old = existing.get(key)
            members = bitmap(old.members if old else None) | uids
            values: dict[str, Any] = {
                "service_id": self.service_id,
                "grain": key[0],
                "event": key[1],
                "item_type": key[2],
                "start": key[3],
                "events": (old.events if old else 0) + count[0],
                "users": len(members),
                "members": members.serialize(),
                "new_users": old.new_users if old else 0,
                "new_members": old.new_members if old else None,
                "first_members": None,  # hour rows: set below
                "last_members": None,
            }
            if key[1] == ANY and (key[0], key[3]) in news:
                added, removed = news[(key[0], key[3])]
                new_members = (bitmap(values["new_members"]) - removed) | added
                values["new_users"] = len(new_members)
                values["new_members"] = new_members.serialize()
            written[key] = values
        self.series += written.values()
        self.series += _first_and_last_hours(written, existing)

    async def _merge_items(
        self, conn: Any, items: dict[tuple[str, str, dt.datetime, str], tuple[list[int], list[int]]]
    ) -> None:
        existing = await queries.select_items_at(conn, self.service_id, list(items))
        for key, (count, uids) in items.items():
            row = existing.get(key)
            members = bitmap(row[1] if row else None)
            members.update(uids)
            (self.items if row else self.new_items).append(
                (*key, (row[0] if row else 0) + count[0], members.serialize())
            )

    async def engage_from_events(self, db: Database, rows: Sequence[HistoryEvent]) -> None:
        """Positive events mark the impressions that served their item in the week before
        (a correction marks none, and unmarks none: engagement once seen stays)."""
        acts = [e for e in rows if not correction(e)]
        if not acts:
            return
        async with db.read() as conn:  # most users were served nothing: no targets to build
            served = await queries.select_user_impressions(
                conn,
                self.service_id,
                sorted({e.user_id for e in acts}),
                min(e.at for e in acts) - ENGAGEMENT_WINDOW,
                max(e.at for e in acts),
            )
        if not served:
            return
        users = {impression.user_id for impression in served}
        targets = [t for t in (target_of(e) for e in acts if e.user_id in users) if t]
        by_item: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
        for impression in served:
            by_item[(impression.user_id, impression.item_type, impression.item_id)].append(
                impression
            )
        for target in targets:
            for impression in by_item.get((target.user_id, target.item_type, target.item_id), []):
                self._mark(impression, target)

    def _mark(self, impression: Any, target: Target) -> None:
        engaged, clicked = matches(impression, target)
        if engaged and not impression.engaged:
            self.flag["engaged"].add(impression.id)
        if clicked and not impression.clicked:
            self.flag["clicked"].add(impression.id)

    async def count_impressions(self, db: Database, rows: Sequence[Any]) -> None:
        """New impressions count where they were served, and find what was done with them."""
        for impression in rows:
            self.impressions[(impression.surface, hour_of(impression.at))] += 1
        history = await events.users_history(
            db,
            self.service_id,
            user_ids=sorted({r.user_id for r in rows}),
            start=min(r.at for r in rows),
            end=max(r.at for r in rows) + ENGAGEMENT_WINDOW,
        )
        targets: dict[tuple[str, str, str], list[Target]] = defaultdict(list)
        for event in history:
            target = target_of(event)
            if target is not None:
                targets[(target.user_id, target.item_type, target.item_id)].append(target)
        for impression in rows:
            for target in targets.get(
                (impression.user_id, impression.item_type, impression.item_id), []
            ):
                self._mark(impression, target)

    async def write(self, conn: Any) -> None:
        await queries.upsert(conn, analytics_users, self.users)
        await write_series(conn, self.series)
        await queries.write_items(conn, self.service_id, self.items, self.new_items)
        engagement: dict[tuple[str, dt.datetime], list[int]] = defaultdict(lambda: [0, 0, 0])
        for (surface, hour), count in self.impressions.items():
            engagement[(surface, hour)][0] += count
        for column, flag in ((2, "engaged"), (1, "clicked")):
            for row in await queries.flag_impressions(conn, flag, sorted(self.flag[flag])):
                engagement[(row.surface, hour_of(row.at))][column] += 1
        await queries.add_engagement(
            conn,
            [
                {
                    "service_id": self.service_id,
                    "surface": surface,
                    "start": hour,
                    "impressions": counts[0],
                    "clicks": counts[1],
                    "engaged": counts[2],
                }
                for (surface, hour), counts in engagement.items()
            ],
        )


async def write_series(conn: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or replace series rows, each with the digest of its sets (readers cache them
    by it: `tanktop.analytics.sets`)."""
    await queries.upsert(conn, analytics_series, [with_digest(row) for row in rows])


def _first_and_last_hours(
    written: dict[tuple[str, str, str, dt.datetime], dict[str, Any]],
    existing: dict[tuple[str, str, str, dt.datetime], Any],
) -> list[dict[str, Any]]:
    """Give the hour rows being written their users of first and last activity in the day
    (`tanktop.analytics.partitions`), recounted over each written series' whole day; returns
    the day's other hour rows whose sets that moves (an earlier hour's last users, when
    they come back later), to write too."""
    days: dict[tuple[str, str, dt.datetime], set[dt.datetime]] = {}
    for grain, event, item_type, start in written:
        if grain == "h":
            days.setdefault((event, item_type, day_of(start)), set()).add(start)
    for grain, event, item_type, start in existing:
        if grain == "h" and (event, item_type, day_of(start)) in days:
            days[(event, item_type, day_of(start))].add(start)
    moved = []
    for (event, item_type, _), starts in days.items():
        keys = [("h", event, item_type, start) for start in sorted(starts)]
        hours = [
            bitmap(written[key]["members"] if key in written else existing[key].members)
            for key in keys
        ]
        first, last = partitions.first_and_last(hours)
        for key, starting, ending in zip(keys, first, last, strict=True):
            values = {"first_members": starting.serialize(), "last_members": ending.serialize()}
            if key in written:
                written[key].update(values)
            elif (existing[key].first_members, existing[key].last_members) != (
                values["first_members"],
                values["last_members"],
            ):
                moved.append({**existing[key]._asdict(), **values})
    return moved


async def compute(
    db: Database, history: Sequence[HistoryEvent], served: Sequence[Any]
) -> list[Delta]:
    """What these rows add to every service they belong to (reads only)."""
    by_service: dict[int, tuple[list[HistoryEvent], list[Any]]] = defaultdict(lambda: ([], []))
    for event in counted(history):
        by_service[event.service_id][0].append(event)
    for impression in served:
        by_service[impression.service_id][1].append(impression)
    async with db.read() as conn:
        zones = await queries.select_zones(conn)
    deltas = []
    for service_id, (its_events, impressions) in sorted(by_service.items()):
        delta = Delta(service_id, zones.get(service_id, ()))
        if impressions:
            await delta.count_impressions(db, impressions)
        if its_events:
            await delta.count_events(db, its_events)
            await delta.engage_from_events(db, its_events)
        deltas.append(delta)
    return deltas


async def _read_streams(
    db: Database, ev: streams.Stream, im: streams.Stream, limit: int
) -> tuple[list[HistoryEvent], list[Any], queries.Round]:
    """The round's history rows (and the same as a `Round`, for the database to count them
    too) and impressions."""
    xmin, xmax = await streams.snapshot_horizon(db)  # before the reads: see streams.py
    after = ev.hwm
    history = await events.history_after(db, after_id=after, limit=limit)
    filled = await events.history_by_ids(db, ids=[g.id for g in ev.gaps])
    async with db.read() as conn:
        served = await queries.select_impressions_after(conn, im.hwm, limit)
        served += await queries.select_impressions_ids(conn, [g.id for g in im.gaps])
    now = streams.now()
    ev.advance((e.id for e in [*history, *filled]), now)
    im.advance((r.id for r in served), now)
    skipped = [g.id for g in ev.gaps if g.id > after]  # not visible yet: counted when they are
    ev.settle(xmin, xmax, now)
    im.settle(xmin, xmax, now)
    rows = queries.Round(after, ev.hwm, skipped, [e.id for e in filled])
    return [*history, *filled], served, rows


def batch_size(db: Database) -> int:
    """Rows a round reads at most on this database."""
    return SQLITE_BATCH if db.is_sqlite else BATCH


class RollupSchedule:
    """Worker task: roll up at most every `analytics_rollup_seconds` once caught up, and
    round after round while behind (a full batch read).

    A round has a fixed cost (a dozen statements, the day's hour rows read and written
    again) beside its cost per event, so a worker following a trickle of single POSTs round
    after round spent most of its time on the fixed part; a round every couple of seconds
    folds the trickle into one."""

    __name__ = "roll_up_analytics"

    def __init__(self, rows: int | None = None) -> None:
        self._due = float("-inf")
        self.rows = rows
        """Rows a round reads at most (None: `batch_size`)."""

    async def __call__(self, db: Database, /, *, settings: Settings) -> int:
        started = time.monotonic()
        if started < self._due:
            return 0
        limit = min(self.rows or BATCH, batch_size(db))
        done = await roll_up(db, limit)
        self._due = started if done >= limit else started + settings.analytics_rollup_seconds
        return done


_UNRELEASED: list[streams.Stream] = []
"""Leases a database fault kept this process from giving back: given back as soon as the
database answers again, so the rollups go on then rather than when the lease runs out."""


async def _give_back(db: Database, stream: streams.Stream) -> None:
    try:
        await streams.release(db, stream)
    except DatabaseFault:
        _UNRELEASED.append(stream)


async def write_deltas(
    db: Database,
    deltas: Sequence[Delta],
    claimed: tuple[streams.Stream, streams.Stream],
    lease: dt.timedelta | None,
    rows: queries.Round | None,
) -> None:
    """One transaction: move the streams, then write what the deltas add. The streams come
    first: their UPDATE checks the lease (`LostLease` if another worker took it over) and
    locks their row until the commit, so no other worker writes rollups in between, and the
    item rows the deltas found missing are still missing (written as plain INSERTs).

    The per-user counts of every service with events in the round (`rows`, the round's
    history rows named to the database) are one statement: each scans the round's whole id
    range."""
    services = [d.service_id for d in deltas if d.has_events]
    async with db.write() as conn:
        await streams.save(conn, claimed, lease)
        for delta in deltas:
            await delta.write(conn)
        if rows is not None and services:
            await queries.add_round_user_events(conn, rows, services)


async def roll_up(db: Database, limit: int | None = None) -> int:
    """One round: count the next rows (at most `limit`, or `batch_size`); returns how many."""
    limit = limit or batch_size(db)
    while _UNRELEASED:
        await streams.release(db, _UNRELEASED[0])  # only while this process still holds it
        _UNRELEASED.pop(0)
    claimed = await streams.claim(db, LEASE)
    if claimed is None:
        return 0
    ev, im = claimed
    USERS.check(ev.version)
    try:
        history, served, rows = await _read_streams(db, ev, im, limit)
        deltas = await compute(db, history, served)
        await write_deltas(db, deltas, claimed, None, rows)
    except streams.LostLease:
        USERS.clear()
        return 0
    except BaseException:
        USERS.clear()
        await _give_back(db, ev)
        raise
    USERS.learn(deltas, ev.version)
    return len(history) + len(served)


async def _apply(
    db: Database,
    history: Sequence[HistoryEvent],
    served: Sequence[Any],
    claimed: tuple[streams.Stream, streams.Stream],
    rows: queries.Round | None = None,
) -> None:
    """Count rows during a rebuild, keeping the lease (the streams do not move)."""
    USERS.check(claimed[0].version)
    deltas = await compute(db, history, served)
    await write_deltas(db, deltas, claimed, LEASE, rows)
    USERS.learn(deltas, claimed[0].version)


async def hold_lease(db: Database) -> tuple[streams.Stream, streams.Stream]:
    """The rollup lease, waiting for the worker that holds it to finish its round."""
    while (claimed := await streams.claim(db, LEASE)) is None:  # noqa: ASYNC110 - another process
        await asyncio.sleep(0.5)
    return claimed


async def rebuild(
    db: Database, service_ids: Sequence[int], progress: Callable[[int], None] | None = None
) -> int:
    """Recount the services' rollups from their whole history; returns the events read
    (`progress` is told of each batch).

    Holds the rollup lease throughout, so workers pause (ingestion does not) and count what
    arrives meanwhile once it is over: the rebuild counts the rows the streams had passed when
    it began, the workers everything after. The history is read by id, as the workers read
    it, only the services' rows: a page is a range of ids (up to its last row) the database
    can count per user as well."""
    claimed = await hold_lease(db)
    ev, im = claimed
    done = 0
    try:
        async with db.write() as conn:
            for service_id in service_ids:
                await queries.delete_rollups(conn, service_id)
            await streams.save(conn, claimed, LEASE)
        USERS.clear()
        USERS.version = ev.version
        skip_events = {g.id for g in ev.gaps}
        skip_impressions = {g.id for g in im.gaps}
        size = batch_size(db)
        for service_id in service_ids:
            after = 0
            while True:
                async with db.read() as conn:
                    rows = await queries.select_impressions_after(conn, after, size, service_id)
                if not rows:
                    break
                after = rows[-1].id
                kept = [r for r in rows if r.id <= im.hwm and r.id not in skip_impressions]
                await _apply(db, [], kept, claimed)
        after = 0
        while after < ev.hwm:  # the history by id, as the workers read it
            page = await events.history_after(
                db, after_id=after, limit=size, service_ids=service_ids
            )
            if not page:
                break
            upto = min(page[-1].id, ev.hwm)
            ours = [e for e in page if e.id <= upto]
            skipped = sorted(i for i in skip_events if after < i <= upto)
            gone = set(skipped)
            batch = [e for e in ours if e.id not in gone]
            await _apply(db, batch, [], claimed, queries.Round(after, upto, skipped))
            after, done = upto, done + len(ours)
            if progress:
                progress(len(ours))
    finally:
        await streams.release(db, ev)
    return done


USERS = UserCache()
