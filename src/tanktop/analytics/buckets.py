"""Time buckets of an analytics answer: hours, days, weeks (Monday) or months, in a time zone.

Rollups are kept per UTC hour and per UTC day, so a bucket is answered from the day rows it
covers whole and the hour rows of the rest; a zone whose offset is not a whole number of hours
(India, Nepal, Newfoundland...) has buckets that do not fall on hours, and is refused.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from tanktop.errors import BadRequest

INTERVALS = ("hour", "day", "week", "month")
MAX_BUCKETS = 10_000
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


ZONE_GRAIN = "z:"
"""Rollup rows of a service's report zone's local days: grain `z:<zone>`."""

Part = tuple[str, dt.datetime, str]
"""A rollup row's (grain, start) and which of its users to take (`members`, or an hour's
`first_members` or `last_members`): grain `h` a UTC hour, `d` a UTC day, `z:<zone>` a local
day."""
Segment = tuple[list[Part], list[Part]]
"""A stretch of a bucket within one UTC day: the rows it adds up, and the rows it takes away
(a day's last hours, from the day: their events, and their users of first or last activity
in the day, who were active in those hours only)."""


@dataclass(frozen=True, slots=True)
class Bucket:
    start: dt.datetime
    """In the asked zone (what the answer shows)."""
    begin: dt.datetime
    end: dt.datetime
    """[begin, end) in UTC."""

    def parts(self, local_days: bool = False) -> list[Segment]:
        """The rollup rows that together make up the bucket exactly: with `local_days` (the
        service keeps its rows of the bucket's zone), the local days it spans; otherwise UTC
        days it covers whole, and of the UTC days it covers in part, the hours it covers or
        the day less those it does not, whichever is fewer rows."""
        if local_days and self.end - self.begin >= DAY - HOUR:  # a day, maybe of 23 hours
            tz = self.start.tzinfo
            assert tz is not None
            grain = zone_grain(str(tz))
            found: list[Segment] = []
            day = self.start.date()
            while (at := _local_midnight(day, tz).astimezone(dt.UTC)) < self.end:
                found.append(([(grain, at, "members")], []))
                day += DAY
            return found
        segments: list[Segment] = []
        at = self.begin
        while at < self.end:
            midnight = at.replace(hour=0) + DAY
            stop = min(midnight, self.end)
            segments.append(_within_day(at, stop))
            at = stop
        return segments


def _within_day(begin: dt.datetime, end: dt.datetime) -> Segment:
    """The rows of the hours [begin, end) of one UTC day (`end` at most its next midnight).

    A run of hours from midnight (a prefix) has as users its hours' users of first activity
    in the day, or the day's less the other hours' (they partition the day's users); a run
    up to midnight (a suffix), the same with last activity. Hours within the day touching
    neither midnight merge their users."""
    day = begin.replace(hour=0)
    first, stop = begin.hour, (end - day) // HOUR
    hours = [day + n * HOUR for n in range(first, stop)]
    if len(hours) == 24:
        return [("d", day, "members")], []
    if len(hours) == 1 or (first > 0 and stop < 24):
        return [("h", at, "members") for at in hours], []
    column = "first_members" if first == 0 else "last_members"
    others = [day + n * HOUR for n in range(24) if not first <= n < stop]
    if len(hours) <= len(others) + 1:
        return [("h", at, column) for at in hours], []
    return [("d", day, "members")], [("h", at, column) for at in others]


def zone_grain(name: str) -> str:
    return f"{ZONE_GRAIN}{name}"


def local_day_floor(name: str) -> Callable[[dt.datetime], dt.datetime]:
    """`at` -> the UTC instant its local day (in zone `name`) begins. Remembered per hour: a
    report zone is a whole number of hours from UTC, so an hour lies in one local day."""
    tz = zoneinfo.ZoneInfo(name)
    known: dict[dt.datetime, dt.datetime] = {}

    def floor(at: dt.datetime) -> dt.datetime:
        hour = at.replace(minute=0, second=0, microsecond=0)
        found = known.get(hour)
        if found is None:
            found = known[hour] = _local_midnight(hour.astimezone(tz).date(), tz).astimezone(dt.UTC)
        return found

    return floor


def report_zone(name: str) -> str:
    """A zone a service may keep local-day rows for: an IANA name, a whole number of hours
    from UTC (now, in summer and in winter)."""
    found = zone(name)
    if not isinstance(found, zoneinfo.ZoneInfo):
        raise BadRequest("UTC days are kept anyway: name a zone other than UTC.")
    year = dt.datetime.now(dt.UTC).year
    for month in (1, 7):
        offset = dt.datetime(year, month, 1, tzinfo=found).utcoffset() or dt.timedelta()
        if offset % HOUR:
            raise BadRequest(
                f"Time zone {name!r} is not a whole number of hours from UTC; analytics "
                "rollups are hourly."
            )
    return found.key


def zone(name: str | None) -> zoneinfo.ZoneInfo | dt.timezone:
    if name is None or name == "UTC":
        return dt.UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise BadRequest(
            f"Unknown time zone {name!r}: use an IANA name such as Europe/London."
        ) from None


def _local_midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """The first instant of a local date (a DST jump at midnight moves it to 01:00)."""
    naive = dt.datetime.combine(day, dt.time())
    local = naive.replace(tzinfo=tz)
    utc = local.astimezone(dt.UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != naive:  # midnight did not exist
        return utc.astimezone(tz)
    return local


def _next_start(start: dt.date, interval: str) -> dt.date:
    if interval == "day":
        return start + DAY
    if interval == "week":
        return start + 7 * DAY
    return (start.replace(day=28) + 4 * DAY).replace(day=1)


def _first_date(at: dt.datetime, interval: str) -> dt.date:
    day = at.date()
    if interval == "week":
        return day - dt.timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def buckets(
    start: dt.datetime, end: dt.datetime, interval: str, tz_name: str | None
) -> list[Bucket]:
    """The buckets from the one holding `start` to the last beginning before `end`."""
    if interval not in INTERVALS:
        raise BadRequest(f"interval must be one of {', '.join(INTERVALS)}; got {interval!r}.")
    if start > end:
        raise BadRequest("from is after to.")
    tz = zone(tz_name)
    found: list[Bucket] = []

    def refuse_fractional() -> None:
        raise BadRequest(
            f"Time zone {tz_name!r} is not a whole number of hours from UTC in this range; "
            "analytics buckets are whole hours."
        )

    def add(begin: dt.datetime, finish: dt.datetime) -> None:
        if len(found) == MAX_BUCKETS:
            raise BadRequest(
                f"That is more than {MAX_BUCKETS:,} buckets; ask for a shorter range or a "
                "longer interval."
            )
        if any(edge.minute or edge.second or edge.microsecond for edge in (begin, finish)):
            refuse_fractional()
        found.append(Bucket(begin.astimezone(tz), begin, finish))

    if interval == "hour":
        for edge in (start, end):
            if (edge.astimezone(tz).utcoffset() or dt.timedelta()) % HOUR:
                refuse_fractional()
        at = start.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
        while at < end or not found:
            add(at, at + HOUR)
            at += HOUR
            if at >= end:
                break
        return found
    day = _first_date(start.astimezone(tz), interval)
    begin = _local_midnight(day, tz).astimezone(dt.UTC)
    while True:
        following = _next_start(day, interval)
        finish = _local_midnight(following, tz).astimezone(dt.UTC)
        add(begin, finish)
        if finish >= end:
            break
        day, begin = following, finish
    return found
