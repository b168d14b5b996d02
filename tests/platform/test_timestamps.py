"""`Timestamp` writes every time exactly as `datetime.isoformat` does: its fast path for UTC
(pydantic-core's writer, `Z` spelled `+00:00`) must never change what a client reads."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from tanktop.timestamps import Timestamp

WRITE = TypeAdapter(Timestamp | None)
ZONES = st.sampled_from(
    [
        dt.UTC,
        dt.timezone(dt.timedelta(0)),  # +00:00, but not the UTC object: the slow path
        dt.timezone(dt.timedelta(hours=5, minutes=30)),
        dt.timezone(-dt.timedelta(minutes=44, seconds=30)),  # Monrovia until 1972
        zoneinfo.ZoneInfo("Europe/London"),
        zoneinfo.ZoneInfo("Africa/Monrovia"),
    ]
)


@given(
    at=st.datetimes(
        min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2199, 12, 30), timezones=ZONES
    )
)
def test_a_time_is_written_as_isoformat_writes_it(at: dt.datetime) -> None:
    assert WRITE.dump_json(at).decode() == f'"{at.isoformat()}"'


def test_utc_is_written_with_its_offset() -> None:
    at = dt.datetime(2026, 11, 27, 21, 5, tzinfo=dt.UTC)
    assert WRITE.dump_json(at) == b'"2026-11-27T21:05:00+00:00"'
    assert WRITE.dump_json(at.replace(microsecond=7)) == b'"2026-11-27T21:05:00.000007+00:00"'
    assert WRITE.dump_json(None) == b"null"
    assert WRITE.dump_python(at) is at, "only JSON is written as text"
