"""Live TV as a function: a user's channel events and the schedule give their viewings, and
the viewings give the derived events, whatever order the channel events arrived in.

Pure: no clock and no database (`tanktop.bookmarks.live` loads the events and writes the
result). The rules, in the order of the events' own times (at one instant, `end`s before
`start`s, then by channel, so "stop 21:00, start 21:00" is a zap, not an empty viewing):

- every `start` begins a viewing of its channel; a duplicate `start` (same channel, same time)
  is one `start`;
- the viewing ends at the first later `start` (any channel) or `end` of its channel, but never
  lasts more than `longest` (`TANKTOP_LIVE_SESSION_MAX_HOURS`): past it, it ends at its start
  plus `longest`. When no later event of that kind exists at all the viewing is still open,
  until its `start` was received `longest` ago: then it too ends at start plus `longest`,
  provisionally (a late `end` or `start` moves it);
- a viewing ended by a `start` on another channel, or at the maximum, derives an `end` of its
  channel at that time;
- each viewing that overlaps a movie's or episode's slot derives `progress` on it at the
  viewing's end: the minutes of the slot watched in this and the user's earlier viewings of that
  channel; and `seen` too once that reaches 90% of the slot. A viewing over two airings of one
  item derives the later airing's progress (one value per item and time).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from tanktop.bookmarks.rules import FINISHED
from tanktop.catalog.service import Airing

WATCHABLE = ("movie", "episode")
Ending = Literal["end", "same", "switch", "longest"]


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """A channel `start` or `end` the user sent: when it happened and when it arrived."""

    event: str
    channel: str
    at: dt.datetime
    received: dt.datetime

    @property
    def order(self) -> tuple[dt.datetime, bool, str]:
        return (self.at, self.event != "end", self.channel)


@dataclass(frozen=True, slots=True)
class Viewing:
    channel: str
    start: dt.datetime
    end: dt.datetime
    ended_by: Ending


@dataclass(frozen=True, slots=True)
class Derived:
    """One derived event (origin `derived`): what the user's viewings say they did."""

    event: str
    item_type: str
    item_id: str
    value: float | str | None
    at: dt.datetime


def _timeline(events: Iterable[ChannelEvent]) -> list[ChannelEvent]:
    """The events in order, duplicates as one (arrived when the first of them did)."""
    first: dict[tuple[str, str, dt.datetime], ChannelEvent] = {}
    for event in events:
        key = (event.event, event.channel, event.at)
        known = first.get(key)
        if known is None or event.received < known.received:
            first[key] = event
    return sorted(first.values(), key=lambda e: e.order)


def viewings(
    events: Iterable[ChannelEvent],
    *,
    longest: dt.timedelta,
    stale_before: dt.datetime,
    ended_later: bool = False,
) -> list[Viewing]:
    """The viewings the events make, in time order; `stale_before` is when a `start` must
    have happened and arrived by for its viewing to be closed at the maximum with nothing
    ending it.

    `ended_later`: the last viewing here is known to end at the maximum: an event beyond
    those given ends it (the caller gives a window of the user's events; only the last `start`
    of a window can lack its ending), or it was closed there already (the clock only moves
    on, so a session once stale stays so)."""
    timeline = _timeline(events)
    found: list[Viewing] = []
    next_start: ChannelEvent | None = None
    next_on: dict[str, ChannelEvent] = {}
    for event in reversed(timeline):
        if event.event == "start":
            closing = min(
                (e for e in (next_start, next_on.get(event.channel)) if e is not None),
                key=lambda e: e.order,
                default=None,
            )
            cap = event.at + longest
            if closing is not None and closing.at <= cap:
                ending: Ending = "end" if closing.event == "end" else "switch"
                if closing.event == "start" and closing.channel == event.channel:
                    ending = "same"
                found.append(Viewing(event.channel, event.at, closing.at, ending))
            elif (
                closing is not None or ended_later or max(event.received, event.at) <= stale_before
            ):
                found.append(Viewing(event.channel, event.at, cap, "longest"))
            next_start = event
        next_on[event.channel] = event
    found.reverse()
    return found


def open_at_end(events: Iterable[ChannelEvent]) -> ChannelEvent | None:
    """The last `start` when nothing given ends it (the viewing that may still be open)."""
    timeline = _timeline(events)
    for index in range(len(timeline) - 1, -1, -1):
        event = timeline[index]
        if event.event == "start":
            after = timeline[index + 1 :]
            return None if any(e.channel == event.channel for e in after) else event
    return None


def _overlap(viewing: Viewing, airing: Airing) -> float:
    return max(
        0.0, (min(viewing.end, airing.end) - max(viewing.start, airing.start)).total_seconds()
    )


def derived_events(
    found: Sequence[Viewing], schedule: Mapping[str, Sequence[Airing]]
) -> list[Derived]:
    """What the viewings derive (`schedule`: each channel's airings around them, in time
    order). A viewing that overlaps two airings of one item derives the later one's progress
    (one value per item and time: which of two the list kept would depend on write order)."""
    derived = [
        Derived("end", "channel", v.channel, v.end.isoformat(), v.end)
        for v in found
        if v.ended_by in ("switch", "longest")
    ]
    progress: dict[tuple[str, str, dt.datetime], Derived] = {}
    for channel, airings in schedule.items():
        on_channel = [v for v in found if v.channel == channel]
        ends = [v.end for v in on_channel]  # in time order: viewings never overlap
        for airing in airings:
            if airing.item_type not in WATCHABLE:
                continue
            length = (airing.end - airing.start).total_seconds()
            watched = 0.0
            for viewing in on_channel[bisect_right(ends, airing.start) :]:
                if viewing.start >= airing.end:
                    break
                seconds = _overlap(viewing, airing)
                if seconds <= 0:
                    continue
                watched += seconds
                item = (airing.item_type, airing.item_id)
                progress.pop((*item, viewing.end), None)
                progress[(*item, viewing.end)] = Derived(
                    "progress", *item, round(watched / 60, 2), viewing.end
                )
                if watched >= FINISHED * length:
                    derived.append(Derived("seen", *item, None, viewing.end))
    return derived + list(progress.values())
