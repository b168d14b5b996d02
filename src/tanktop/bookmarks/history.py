"""What one flush's live-TV re-derivation reads, read at once.

A flush (a batch of channel events, a pass of the worker) re-derives many users, each over
spans of time around what arrived. Read span by span, that was hundreds of small queries per
batch, the same week of schedule again and again. Instead `load` reads, in a few set-based
queries: each user's channel events and derived rows for the whole stretch of time the flush
can reach (the arrivals' times, `reach` either side), what lies just outside that stretch, and
the schedule of every channel they started then. The re-derivation asks the views; only what
lies beyond them (a session left open long before) is read when asked.

A `UserHistory` also keeps what the flush will write (rows it supersedes, rows it adds), so a
user's later spans see what the earlier ones changed; `writes` gives them for one write.
"""

from __future__ import annotations

import datetime as dt
import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.bookmarks.sessions import ChannelEvent, Derived
from tanktop.catalog import service as catalog
from tanktop.catalog.service import Airing
from tanktop.events import service as events
from tanktop.events.service import DerivedRow, Edges, EventOp

User = tuple[int, str]
Schedule = dict[str, list[Airing]]


@dataclass
class UserHistory:
    """One user's channel events (stored and arriving) and derived rows in force, as the flush
    sees them; from memory for times in [low, high], from the database beyond."""

    conn: AsyncConnection
    user: User
    low: dt.datetime
    high: dt.datetime
    events: list[ChannelEvent]
    """Stored with a time in [low, high], and every arriving one (all in that span)."""
    arriving: list[ChannelEvent]
    stored_derived: list[DerivedRow]
    edges: Edges
    superseded: set[int] = field(default_factory=set)
    fresh: list[DerivedRow] = field(default_factory=list)
    changes: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(-1, -1))

    def _covers(self, start: dt.datetime, end: dt.datetime) -> bool:
        return self.low <= start and end <= self.high

    async def window(self, start: dt.datetime, end: dt.datetime) -> list[ChannelEvent]:
        """The channel events for times in [start, end]."""
        if self._covers(start, end):
            return [e for e in self.events if start <= e.at <= end]
        service_id, user_id = self.user
        stored = await events.channel_events(
            self.conn, service_id, user_id=user_id, start=start, end=end
        )
        return [ChannelEvent(*row) for row in stored] + [
            e for e in self.arriving if start <= e.at <= end
        ]

    async def last_start(self, before: dt.datetime) -> tuple[dt.datetime, str] | None:
        """(at, channel) of the latest channel start for a time before `before`."""
        known = [(e.at, e.channel) for e in self.events if e.event == "start" and e.at < before]
        if known:
            return max(known)
        outside = self.edges[0]  # the latest stored before `low` (none arrived before it)
        if outside is None or outside[1] < before:
            return None if outside is None else (outside[1], outside[0])
        service_id, user_id = self.user
        sent = await events.last_channel_start(
            self.conn, service_id, user_id=user_id, before=before
        )
        return None if sent is None else (sent[1], sent[0])

    async def ending(
        self, channel: str, *, after: dt.datetime, before: dt.datetime | None = None
    ) -> bool:
        """Whether a start (any channel) or an end of `channel` is there for a time after
        `after` (and before `before`): something that ends a viewing of that channel."""
        if any(
            after < e.at
            and (before is None or e.at < before)
            and (e.event == "start" or e.channel == channel)
            for e in self.events
        ):
            return True
        outside, ended_outside, later = self.edges
        if after < self.low:
            if outside != (channel, after) or (before is not None and before < self.low):
                return await self._stored_ending(channel, after, before)
            if ended_outside:
                return True
        if later and (before is None or before > self.high):
            return await self._stored_ending(channel, max(after, self.high), before)
        return False

    async def _stored_ending(
        self, channel: str, after: dt.datetime, before: dt.datetime | None
    ) -> bool:
        service_id, user_id = self.user
        return await events.channel_ending(
            self.conn, service_id, user_id=user_id, channel_id=channel, after=after, before=before
        )

    async def derived(self, start: dt.datetime, end: dt.datetime) -> list[DerivedRow]:
        """The derived rows in force for times in [start, end], with this flush's changes."""
        if self._covers(start, end):
            stored = [r for r in self.stored_derived if start <= r.at <= end]
        else:
            service_id, user_id = self.user
            stored = await events.derived_rows(
                self.conn, service_id, user_id=user_id, start=start, end=end
            )
        return [r for r in stored if r.id not in self.superseded] + [
            r for r in self.fresh if start <= r.at <= end
        ]

    def change(self, superseded: Iterable[DerivedRow], fresh: Iterable[Derived]) -> None:
        """What a span re-derived: rows no longer derived, and new ones (written at the end
        of the flush; a row added and then withdrawn in one flush is never written)."""
        for row in superseded:
            if row.id < 0:
                self.fresh.remove(row)
            else:
                self.superseded.add(row.id)
            self.changes += 1
        for d in fresh:
            self.fresh.append(
                DerivedRow(next(self._ids), d.event, d.item_type, d.item_id, d.value, d.at)
            )
            self.changes += 1

    def writes(self) -> tuple[list[int], list[EventOp]]:
        """The ids to supersede and the derived events to write."""
        service_id, user_id = self.user
        ops = [
            EventOp(service_id, user_id, r.event, r.item_type, r.item_id, r.value, r.at, "derived")
            for r in self.fresh
        ]
        return sorted(self.superseded), ops


@dataclass
class Schedules:
    """The channels' slots for the flush's stretches of time; other times and channels are
    read when asked."""

    conn: AsyncConnection
    slots: Schedule
    covered: list[tuple[dt.datetime, dt.datetime]]
    _starts: dict[str, list[dt.datetime]] = field(default_factory=dict)
    _longest: dict[str, dt.timedelta] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for channel, slots in self.slots.items():
            self._starts[channel] = [a.start for a in slots]
            self._longest[channel] = max((a.end - a.start for a in slots), default=dt.timedelta())

    async def airings(self, channel: str, start: dt.datetime, end: dt.datetime) -> list[Airing]:
        """`channel`'s slots overlapping [start, end), in time order."""
        if channel not in self.slots or not any(
            low <= start and end <= high for low, high in self.covered
        ):
            return await catalog.airings(self.conn, channel_id=channel, start=start, end=end)
        starts = self._starts[channel]
        first = bisect_right(starts, start - self._longest[channel])
        last = bisect_left(starts, end)
        return [a for a in self.slots[channel][first:last] if a.end > start]

    async def of(
        self, found: Sequence[ChannelEvent], start: dt.datetime, end: dt.datetime
    ) -> Schedule:
        """The airings between `start` and `end` of every channel started then."""
        channels = sorted({e.channel for e in found if e.event == "start" and start <= e.at <= end})
        return {c: await self.airings(c, start, end) for c in channels}


def _merged(
    spans: Iterable[tuple[dt.datetime, dt.datetime]],
) -> list[tuple[dt.datetime, dt.datetime]]:
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for low, high in sorted(spans):
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return merged


async def load(
    conn: AsyncConnection,
    times: Mapping[User, Sequence[dt.datetime]],
    *,
    arriving: Mapping[User, Sequence[ChannelEvent]],
    reach: dt.timedelta,
) -> tuple[dict[User, UserHistory], Schedules]:
    """Each user's view for times within `reach` of theirs, and the schedule of the channels
    started then: four statements on PostgreSQL, whatever the number of users."""
    windows = [
        (service_id, user_id, min(at) - reach, max(at) + reach)
        for (service_id, user_id), at in sorted(times.items())
    ]
    stored = await events.channel_events_of(conn, windows=windows)
    derived = await events.derived_rows_of(conn, windows=windows)
    edges = await events.channel_edges(conn, windows=windows)
    histories = {}
    for service_id, user_id, low, high in windows:
        user = (service_id, user_id)
        new = list(arriving.get(user, ()))
        histories[user] = UserHistory(
            conn,
            user,
            low,
            high,
            [ChannelEvent(*row) for row in stored[user]] + new,
            new,
            derived[user],
            edges[user],
        )
    channels = sorted(
        {e.channel for h in histories.values() for e in h.events if e.event == "start"}
    )
    covered = _merged((low, high) for _, _, low, high in windows)
    slots = await catalog.airings_of(
        conn, ranges=[(c, low, high) for c in channels for low, high in covered]
    )
    return histories, Schedules(conn, slots, covered)
