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
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.bookmarks.sessions import (
    ChannelEvent,
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

User = tuple[int, str]
Schedule = dict[str, list[catalog.Airing]]


def _longest(settings: Settings) -> dt.timedelta:
    return dt.timedelta(hours=settings.live_session_max_hours)


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


async def _window(
    conn: AsyncConnection,
    user: User,
    start: dt.datetime,
    end: dt.datetime,
    arriving: Sequence[ChannelEvent],
) -> list[ChannelEvent]:
    stored = await events.channel_events(conn, user[0], user_id=user[1], start=start, end=end)
    return [ChannelEvent(*row) for row in stored] + [e for e in arriving if start <= e.at <= end]


async def _schedule(
    conn: AsyncConnection, found: Sequence[ChannelEvent], start: dt.datetime, end: dt.datetime
) -> Schedule:
    """The airings between `start` and `end` of every channel started then."""
    channels = sorted({e.channel for e in found if e.event == "start" and start <= e.at <= end})
    return {c: await catalog.airings(conn, channel_id=c, start=start, end=end) for c in channels}


async def _rederive_span(
    conn: AsyncConnection,
    user: User,
    span: tuple[dt.datetime, dt.datetime],
    arriving: Sequence[ChannelEvent],
    longest: dt.timedelta,
    now: dt.datetime,
) -> int:
    """Bring the derived events in force for times from `span`'s start to as far as the
    viewings it holds reach (through the slots they overlap) in line with the channel events."""
    first, reach = span
    low = first - longest
    found = await _window(conn, user, low, reach + longest, arriving)
    touched = await _schedule(conn, found, low, reach)
    last = max([reach, *(a.end + longest for slots in touched.values() for a in slots)])
    if last > reach:
        found = await _window(conn, user, low, last + longest, arriving)
    schedule = await _schedule(conn, found, low, last)
    earliest = min([low, *(a.start - longest for slots in schedule.values() for a in slots)])
    if earliest < low:
        found = await _window(conn, user, earliest, last + longest, arriving)
    have = await events.derived_rows(conn, user[0], user_id=user[1], start=first, end=last)
    ended_later = False
    still_open = open_at_end(found)
    if still_open is not None and still_open.at <= last:
        beyond = last + longest
        closed = (still_open.channel, still_open.at + longest)
        ended_later = (
            any((r.item_id, r.at) == closed for r in have if r.event == "end")  # provisionally
            or any(
                e.at > beyond and (e.event == "start" or e.channel == still_open.channel)
                for e in arriving
            )
            or await events.channel_ending(
                conn, user[0], user_id=user[1], channel_id=still_open.channel, after=beyond
            )
        )
    seen = viewings(found, longest=longest, stale_before=now - longest, ended_later=ended_later)
    wanted = Counter(
        (d.event, d.item_type, d.item_id, d.value, d.at)
        for d in derived_events(seen, schedule)
        if first <= d.at <= last
    )
    superseded = []
    for row in have:
        key = (row.event, row.item_type, row.item_id, row.value, row.at)
        if wanted[key] > 0:
            wanted[key] -= 1
        else:
            superseded.append(row.id)
    fresh = [
        EventOp(user[0], user[1], event, item_type, item_id, value, at, "derived")
        for (event, item_type, item_id, value, at), count in wanted.items()
        for _ in range(count)
    ]
    await events.supersede(conn, ids=superseded, now=now)
    await events.write_ops(conn, ops=fresh)
    return len(superseded) + len(fresh)


async def rederive(
    conn: AsyncConnection,
    user: User,
    *,
    times: Sequence[dt.datetime],
    arriving: Sequence[ChannelEvent] = (),
    longest: dt.timedelta,
    now: dt.datetime,
) -> int:
    """Re-derive what channel events at `times` (`arriving`: those not in the history yet)
    can change for `user` (locked by the caller); returns how many derived rows changed."""
    spans = _spans(times, longest)
    opened = [await _left_open(conn, user, first, arriving, longest) for first, _ in spans]
    changed = 0
    for span in sorted({*spans, *_spans([at for at in opened if at is not None], longest)}):
        changed += await _rederive_span(conn, user, span, arriving, longest, now)
    return changed


async def _left_open(
    conn: AsyncConnection,
    user: User,
    first: dt.datetime,
    arriving: Sequence[ChannelEvent],
    longest: dt.timedelta,
) -> dt.datetime | None:
    """The start of a session nothing ended before `first` that began more than the maximum
    before it: events from `first` on end it at its maximum, outside their own span."""
    before = first - longest
    sent = await events.last_channel_start(conn, user[0], user_id=user[1], before=before)
    known = [(e.at, e.channel) for e in arriving if e.event == "start" and e.at < before]
    if sent is not None:
        known.append((sent[1], sent[0]))
    if not known:
        return None
    at, channel = max(known)
    if any(
        at < e.at < first and (e.event == "start" or e.channel == channel) for e in arriving
    ) or await events.channel_ending(
        conn, user[0], user_id=user[1], channel_id=channel, after=at, before=first
    ):
        return None
    return at


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
        for user, new in sorted(arriving.items()):
            times = [e.at for e in new]
            await rederive(conn, user, times=times, arriving=new, longest=longest, now=now)

    return Deriver(_channel_event, derive_viewing)


def _channel_event(op: EventOp) -> bool:
    """A channel start or end: what live viewing is derived from."""
    return op.item_type == "channel" and op.event in ("start", "end") and not op.removed


async def close_stale_sessions(
    db: Database, *, settings: Settings, now: dt.datetime | None = None
) -> int:
    """Worker task: close sessions left open, at start + maximum, provisionally (a late `end`
    or `start` moves the close).

    Open that long by when the server received the `start`, not by the time it carries: a
    viewing synced late is not stale the moment its `start` arrives, its `end` may follow."""
    now = now or utcnow()
    longest = _longest(settings)
    async with db.read() as conn:
        stale = await events.stale_starts(conn, before=now - longest, limit=200)
    closed = 0
    for service_id, user_id, _, start in stale:
        async with db.write() as conn:
            await events.lock_users(conn, users=[(service_id, user_id)])
            user = (service_id, user_id)
            if await rederive(conn, user, times=[start], longest=longest, now=now):
                closed += 1
    return closed


async def rederive_late_schedules(db: Database, *, settings: Settings) -> int:
    """Worker task: a slot written for a time already past counts for those who watched then."""
    now = utcnow()
    longest = _longest(settings)
    async with db.write() as conn:
        changes = await catalog_changes.claim_changes(conn, consumer="live", limit=100, kind="slot")
        if not changes:
            return 0
        starts: dict[User, list[dt.datetime]] = defaultdict(list)
        for change in changes:
            if change.slot_start is None or change.channel_id is None or change.slot_start >= now:
                continue
            slot = next(
                (
                    a
                    for a in await catalog.airings(
                        conn,
                        channel_id=change.channel_id,
                        start=change.slot_start,
                        end=change.slot_start + dt.timedelta(seconds=1),
                    )
                    if a.start == change.slot_start
                ),
                None,
            )
            if slot is None:
                continue
            for service_id, user_id, at in await events.channel_starts(
                conn, channel_id=change.channel_id, start=slot.start - longest, end=slot.end
            ):
                starts[(service_id, user_id)].append(at)
        await events.lock_users(conn, users=list(starts))
        for user, times in sorted(starts.items()):
            await rederive(conn, user, times=times, longest=longest, now=now)
        await catalog_changes.mark_changes_handled(
            conn, consumer="live", ids=[c.id for c in changes], now=now
        )
    return len(changes)
