"""Live TV: channel `start`/`end` events and the schedule become `progress` and `seen` events.

A viewing session runs from a channel's `start` to its `end`, to a `start` on another
channel, or, if neither comes, to the worker's cut-off (`TANKTOP_LIVE_SESSION_MAX_HOURS`).
Minutes watched of each scheduled movie or episode = the overlap of the user's sessions on that
channel with its slot, summed (zapping away during the adverts and back loses nothing); 90% of
the slot watched is `seen`. Derived events carry origin `derived` and are written in the
transaction of the event that caused them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.bookmarks.rules import FINISHED
from tanktop.catalog import changes as catalog_changes
from tanktop.catalog import service as catalog
from tanktop.config import Settings
from tanktop.db import Database, utcnow
from tanktop.events import service as events
from tanktop.events.service import EventOp

Session = tuple[str, dt.datetime]  # channel, start
Viewing = tuple[dt.datetime, dt.datetime]  # from, to
WATCHABLE = ("movie", "episode")
LOOKBACK = dt.timedelta(hours=24)
"""How long before a slot an earlier viewing of it may have begun (sessions are shorter)."""


def _time(value: object) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


async def open_session(conn: AsyncConnection, service_id: int, user_id: str) -> Session | None:
    """The user's channel session still open (latest start with no end after it)."""
    starts: dict[str, dt.datetime] = {}
    ends: dict[str, dt.datetime] = {}
    for event, channel, value in await events.channel_times(conn, service_id, user_id=user_id):
        when = _time(value)
        if when is not None:
            (starts if event == "start" else ends)[channel] = when
    open_ = [(at, ch) for ch, at in starts.items() if ch not in ends or ends[ch] < at]
    if not open_:
        return None
    at, channel = max(open_)
    return channel, at


def airing_events(
    cause: EventOp, airing: catalog.Airing, viewings: Sequence[Viewing]
) -> list[EventOp]:
    """Progress (and seen) of one airing watched during `viewings` (which do not overlap)."""
    overlap = sum(
        max(0.0, (min(end, airing.end) - max(start, airing.start)).total_seconds())
        for start, end in viewings
    )
    if airing.item_type not in WATCHABLE or overlap <= 0:
        return []
    length = (airing.end - airing.start).total_seconds()
    base = replace(
        cause,
        item_type=airing.item_type,
        item_id=airing.item_id,
        origin="derived",
        removed=False,
    )
    derived = [replace(base, event="progress", value=round(overlap / 60, 2))]
    if overlap >= FINISHED * length:
        derived.append(replace(base, event="seen", value=None))
    return derived


async def watched(
    conn: AsyncConnection, cause: EventOp, channel: str, start: dt.datetime, end: dt.datetime
) -> list[EventOp]:
    """Progress (and seen) of what aired on `channel` between `start` and `end`, counting the
    user's earlier viewings of the same airings too."""
    airings = await catalog.airings(conn, channel_id=channel, start=start, end=end)
    if not airings:
        return []
    earlier = [
        (began, ended)
        for _, _, began, ended in await events.channel_viewings(
            conn,
            channel_id=channel,
            start=min(a.start for a in airings) - LOOKBACK,
            end=max(a.end for a in airings),
            user=(cause.service_id, cause.user_id),
        )
        if ended <= start
    ]
    derived: list[EventOp] = []
    for airing in airings:
        derived += airing_events(cause, airing, [*earlier, (start, end)])
    return derived


async def derive_viewing(conn: AsyncConnection, ops: Sequence[EventOp]) -> list[EventOp]:
    """The events that channel starts and ends in `ops` cause (the writer's `derive` hook)."""
    sessions: dict[tuple[int, str], Session | None] = {}
    derived: list[EventOp] = []
    for op in ops:
        if op.item_type != "channel" or op.event not in ("start", "end") or op.removed:
            continue
        when = _time(op.value)
        if when is None:
            continue
        key = (op.service_id, op.user_id)
        if key not in sessions:
            sessions[key] = await open_session(conn, *key)
        session = sessions[key]
        if (
            session is not None
            and session[1] < when
            and (op.event == "start" or session[0] == op.item_id)
        ):
            derived += await watched(conn, op, session[0], session[1], when)
            if op.event == "start" and session[0] != op.item_id:
                derived.append(replace(op, event="end", item_id=session[0], origin="derived"))
        if op.event == "start":
            sessions[key] = (op.item_id, when)
        elif session is not None and session[0] == op.item_id:
            sessions[key] = None
    return derived


async def close_stale_sessions(
    db: Database, *, settings: Settings, now: dt.datetime | None = None
) -> int:
    """Worker task: end sessions left open longer than the maximum, at start + maximum.

    Open that long by when the server received the `start`, not by the time it carries: a
    viewing synced late is not stale the moment its `start` arrives, its `end` may follow."""
    limit = dt.timedelta(hours=settings.live_session_max_hours)
    cutoff = (now or utcnow()) - limit
    closed = 0
    async with db.write() as conn:
        stale = await events.stale_starts(conn, before=cutoff, limit=200)
        for service_id, user_id, channel, start in stale:
            session = await open_session(conn, service_id, user_id)
            if session is None or session != (channel, dt.datetime.fromisoformat(start)):
                continue
            end = session[1] + limit
            op = EventOp(
                service_id, user_id, "end", "channel", channel, end.isoformat(), utcnow(), "derived"
            )
            await events.write_ops(conn, ops=[op], derive=derive_viewing)
            closed += 1
    return closed


async def rederive_late_schedules(db: Database, *, settings: Settings) -> int:
    """Worker task: a slot written for a time already past counts for those who watched then."""
    now = utcnow()
    longest = dt.timedelta(hours=settings.live_session_max_hours)
    async with db.write() as conn:
        changes = await catalog_changes.claim_changes(conn, consumer="live", limit=100, kind="slot")
        if not changes:
            return 0
        derived: list[EventOp] = []
        for change in changes:
            if change.slot_start is None or change.channel_id is None or change.slot_start >= now:
                continue
            airing = next(
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
            if airing is None:
                continue
            by_user: dict[tuple[int, str], list[Viewing]] = {}
            for service_id, user_id, start, end in await events.channel_viewings(
                conn, channel_id=change.channel_id, start=airing.start - longest, end=airing.end
            ):
                by_user.setdefault((service_id, user_id), []).append((start, end))
            for (service_id, user_id), viewings in by_user.items():
                last = max(end for _, end in viewings)
                cause = EventOp(
                    service_id,
                    user_id,
                    "end",
                    "channel",
                    change.channel_id,
                    last.isoformat(),
                    last,
                    "derived",
                )
                derived += airing_events(cause, airing, viewings)
        await events.write_ops(conn, ops=derived)
        await catalog_changes.mark_changes_handled(
            conn, consumer="live", ids=[c.id for c in changes], now=now
        )
    return len(changes)
