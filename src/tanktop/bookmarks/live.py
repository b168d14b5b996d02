"""Live TV: channel `start`/`end` events and the schedule become `progress`, `seen` and `end`
events (origin `derived`), whatever order and delay the channel events arrive with.

The rules are `tanktop.bookmarks.sessions`, a function of the user's channel events. Here each
arrival (and the worker, for sessions left open and schedules written late) re-derives the span
of time it can change, from the user's channel events in the history and the schedule, and
brings the derived events in force there in line: a row no longer derived is superseded (it
stays in the history, marked, and a correction row follows it), a new one is written, in the
transaction of the events that caused them. Deriving from one user's events is serialised
(`events.lock_users`), so concurrent flushes see each other's events.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.bookmarks.history import Schedules, User, UserHistory, load
from tanktop.bookmarks.sessions import (
    ChannelEvent,
    Derived,
    derived_events,
    open_at_end,
    viewings,
)
from tanktop.catalog import changes as catalog_changes
from tanktop.catalog import service as catalog
from tanktop.config import Settings
from tanktop.db import Database, utcnow
from tanktop.events import service as events
from tanktop.events.service import Deriver, EventOp


def _longest(settings: Settings) -> dt.timedelta:
    return dt.timedelta(hours=settings.live_session_max_hours)


def _reach(longest: dt.timedelta) -> dt.timedelta:
    """How far from an arrival a re-derivation reads, as a rule: a viewing's span, the
    viewings and slots around it, and slots up to a day long (longer ones, and sessions
    left open before, are read when met)."""
    return 3 * longest + dt.timedelta(days=1)


JOINED = dt.timedelta(days=14)
"""Spans this close are re-derived as one: more rows read, far fewer statements (an offline
log of a week is one span, not one per evening)."""


def _spans(
    times: Sequence[dt.datetime], longest: dt.timedelta
) -> list[tuple[dt.datetime, dt.datetime]]:
    """[t, t + longest] around each time, overlapping ones (and ones within `JOINED` of the
    first of their run) merged: where events at those times can change a viewing."""
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    for at in sorted(times):
        if spans and (at <= spans[-1][1] or at + longest - spans[-1][0] <= JOINED):
            spans[-1] = (spans[-1][0], at + longest)
        else:
            spans.append((at, at + longest))
    return spans


async def _rederive_span(
    history: UserHistory,
    schedules: Schedules,
    span: tuple[dt.datetime, dt.datetime],
    longest: dt.timedelta,
    now: dt.datetime,
) -> None:
    """Bring the derived events in force for times from `span`'s start to as far as the
    viewings it holds reach (through the slots they overlap) in line with the channel events."""
    first, reach = span
    low = first - longest
    found = await history.window(low, reach + longest)
    touched = await schedules.of(found, low, reach)
    last = max([reach, *(a.end + longest for slots in touched.values() for a in slots)])
    if last > reach:
        found = await history.window(low, last + longest)
    schedule = await schedules.of(found, low, last)
    earliest = min([low, *(a.start - longest for slots in schedule.values() for a in slots)])
    if earliest < low:
        found = await history.window(earliest, last + longest)
    have = await history.derived(first, last)
    ended_later = False
    still_open = open_at_end(found)
    if still_open is not None and still_open.at <= last:
        closed = (still_open.channel, still_open.at + longest)
        ended_later = any(
            (r.item_id, r.at) == closed
            for r in have
            if r.event == "end"  # provisionally
        ) or await history.ending(still_open.channel, after=last + longest)
    seen = viewings(found, longest=longest, stale_before=now - longest, ended_later=ended_later)
    wanted = Counter(d for d in derived_events(seen, schedule) if first <= d.at <= last)
    superseded = []
    for row in have:
        key = Derived(row.event, row.item_type, row.item_id, row.value, row.at)
        if wanted[key] > 0:
            wanted[key] -= 1
        else:
            superseded.append(row)
    history.change(superseded, [d for d, count in wanted.items() for _ in range(count)])


async def _rederive_user(
    history: UserHistory,
    schedules: Schedules,
    times: Sequence[dt.datetime],
    longest: dt.timedelta,
    now: dt.datetime,
) -> None:
    spans = _spans(times, longest)
    opened = [await _left_open(history, first, longest) for first, _ in spans]
    for span in sorted({*spans, *_spans([at for at in opened if at is not None], longest)}):
        await _rederive_span(history, schedules, span, longest, now)


async def _left_open(
    history: UserHistory, first: dt.datetime, longest: dt.timedelta
) -> dt.datetime | None:
    """The start of a session nothing ended before `first` that began more than the maximum
    before it: events from `first` on end it at its maximum, outside their own span."""
    known = await history.last_start(first - longest)
    if known is None:
        return None
    at, channel = known
    return None if await history.ending(channel, after=at, before=first) else at


async def rederive(
    conn: AsyncConnection,
    times: Mapping[User, Sequence[dt.datetime]],
    *,
    arriving: Mapping[User, Sequence[ChannelEvent]] | None = None,
    longest: dt.timedelta,
    now: dt.datetime,
) -> dict[User, int]:
    """Re-derive what channel events at `times` (`arriving`: those not in the history yet)
    can change for each user (locked by the caller), reading and writing for all of them at
    once; returns how many derived rows changed for each."""
    if not times:
        return {}
    histories, schedules = await load(conn, times, arriving=arriving or {}, reach=_reach(longest))
    for user, history in sorted(histories.items()):
        await _rederive_user(history, schedules, times[user], longest, now)
    superseded: list[int] = []
    fresh: list[EventOp] = []
    for history in histories.values():
        ids, ops = history.writes()
        superseded += ids
        fresh += ops
    await events.supersede(conn, ids=superseded, now=now)
    await events.write_ops(conn, ops=fresh)
    return {user: history.changes for user, history in histories.items()}


def viewing_deriver(settings: Settings) -> Deriver:
    """The event writer's hook: what the channel starts and ends of a flush change."""
    longest = _longest(settings)

    async def derive_viewing(conn: AsyncConnection, ops: Sequence[EventOp]) -> None:
        now = utcnow()
        arriving: dict[User, list[ChannelEvent]] = defaultdict(list)
        for op in ops:
            if _channel_event(op):
                event = ChannelEvent(op.event, op.item_id, op.at, now)
                arriving[(op.service_id, op.user_id)].append(event)
        if not arriving:
            return
        await events.lock_users(conn, users=list(arriving))
        times = {user: [e.at for e in new] for user, new in arriving.items()}
        await rederive(conn, times, arriving=arriving, longest=longest, now=now)

    return Deriver(_channel_event, derive_viewing)


def _channel_event(op: EventOp) -> bool:
    """A channel start or end: what live viewing is derived from."""
    return op.item_type == "channel" and op.event in ("start", "end") and not op.removed


async def close_stale_sessions(
    db: Database, *, settings: Settings, now: dt.datetime | None = None
) -> int:
    """Worker task: close sessions left open, at start + maximum, provisionally (a late `end`
    or `start` moves the close); returns how many starts it looked at.

    Open that long by when the server received the `start`, not by the time it carries: a
    viewing synced late is not stale the moment its `start` arrives, its `end` may follow.
    Each start is looked at once, when it goes stale (the starts since the last pass, read
    from an index: the cost of a pass does not grow with the history); re-deriving around it
    closes its session if nothing ended it."""
    now = now or utcnow()
    longest = _longest(settings)
    async with db.write() as conn:
        stale = await events.claim_stale_starts(conn, before=now - longest, limit=200)
        starts: dict[User, list[dt.datetime]] = defaultdict(list)
        for service_id, user_id, start in stale:
            starts[(service_id, user_id)].append(start)
        await events.lock_users(conn, users=list(starts))
        await rederive(conn, starts, longest=longest, now=now)
    return len(stale)


async def rederive_late_schedules(db: Database, *, settings: Settings) -> int:
    """Worker task: a slot written for a time already past counts for those who watched then,
    and one removed (with nothing in its place) no longer does."""
    now = utcnow()
    longest = _longest(settings)
    async with db.write() as conn:
        changes = await catalog_changes.claim_changes(
            conn, consumer="live", limit=100, kinds=("slot", "unslot")
        )
        if not changes:
            return 0
        starts: dict[User, list[dt.datetime]] = defaultdict(list)
        for change in changes:
            if change.slot_start is None or change.channel_id is None or change.slot_start >= now:
                continue
            span = await _changed_span(conn, change, change.slot_start, change.channel_id)
            if span is None:
                continue
            for service_id, user_id, at in await events.channel_starts(
                conn, channel_id=change.channel_id, start=span[0] - longest, end=span[1]
            ):
                starts[(service_id, user_id)].append(at)
        await events.lock_users(conn, users=list(starts))
        await rederive(conn, starts, longest=longest, now=now)
        await catalog_changes.mark_changes_handled(
            conn, consumer="live", ids=[c.id for c in changes], now=now
        )
    return len(changes)


async def _changed_span(
    conn: AsyncConnection, change: catalog_changes.CatalogChange, start: dt.datetime, channel: str
) -> tuple[dt.datetime, dt.datetime] | None:
    """The time a slot change is about: a removed slot's, or a written one's while it is still
    there (a later change covers its replacement). Rows from before slot ends were logged name
    a start only: the slot's end is looked up, and a removal cannot be followed."""
    if change.kind == "unslot":
        return None if change.slot_end is None else (start, change.slot_end)
    end = change.slot_end or start + dt.timedelta(seconds=1)
    found = await catalog.airings(conn, channel_id=channel, start=start, end=end)
    slot = next((a for a in found if a.start == start), None)
    return None if slot is None else (slot.start, slot.end)
