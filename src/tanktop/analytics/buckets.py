"""Time buckets of an analytics answer: hours, days, weeks (Monday) or months, in a time zone.

Rollups are kept per UTC hour and per UTC day, so a bucket is answered from the day rows it
covers whole and the hour rows of the rest; a zone whose offset is not a whole number of hours
(India, Nepal, Newfoundland...) has buckets that do not fall on hours, and is refused.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from tanktop.errors import BadRequest

INTERVALS = ("hour", "day", "week", "month")
MAX_BUCKETS = 10_000
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Bucket:
    start: dt.datetime
    """In the asked zone (what the answer shows)."""
    begin: dt.datetime
    end: dt.datetime
    """[begin, end) in UTC."""

    def parts(self) -> tuple[list[dt.datetime], list[dt.datetime]]:
        """(UTC days, UTC hours) that together make up the bucket exactly."""
        days: list[dt.datetime] = []
        hours: list[dt.datetime] = []
        at = self.begin
        while at < self.end:
            if at.hour == 0 and at + DAY <= self.end:
                days.append(at)
                at += DAY
            else:
                hours.append(at)
                at += HOUR
        return days, hours


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
