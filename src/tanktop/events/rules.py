"""What an event is and which values each event name takes (API.md "Events and lists").

Everything here is pure: a request is fully validated before anything is queued or written.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Final, Literal

from pydantic import JsonValue

from tanktop.errors import BadRequest
from tanktop.ids import is_name
from tanktop.storable import INT64_MAX, check_text
from tanktop.timestamps import EARLIEST, to_utc

Origin = Literal["posted", "batch", "derived"]
JsonScalar = None | int | float | str

NO_VALUE_EVENTS: Final = frozenset({"watchlist", "seen", "hide"})
TIMESTAMP_EVENTS: Final = frozenset({"start", "end"})
EVENT_ALIASES: Final = {"stop": "end"}
MAX_VALUE_CHARS: Final = 256
SECTION: Final = "section"
"""The item type of home-page sections (API.md "Section Lists"), whose events have values
of their own: a `pin`'s order among pins, and the item a `click` opened."""
_INT = re.compile(r"^-?(0|[1-9][0-9]{0,17})$")
_NUMBER = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$")


@dataclass(frozen=True, slots=True)
class EventOp:
    """One accepted change to a user's list, and the history row that records it."""

    service_id: int
    user_id: str
    event: str
    item_type: str
    item_id: str
    value: JsonScalar
    at: dt.datetime
    origin: Origin
    removed: bool = False

    @property
    def key(self) -> tuple[int, str, str, str, str]:
        return (self.service_id, self.user_id, self.event, self.item_type, self.item_id)


def canonical_event(name: str) -> str:
    """The stored name of an event (`stop` is kept as `end`)."""
    return EVENT_ALIASES.get(name, name)


def _number(raw: JsonValue, event: str) -> int | float:
    if isinstance(raw, bool):
        raise BadRequest(f"'{event}' needs a number, not {str(raw).lower()}.")
    if isinstance(raw, int):
        if abs(raw) > INT64_MAX:
            raise BadRequest(f"'{event}' needs a number within ±{INT64_MAX}.")
        return raw
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise BadRequest(f"'{event}' needs a finite number.")
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        if _INT.match(text):
            return int(text)
        if _NUMBER.match(text):
            value = float(text)
            if math.isfinite(value):
                return value
    raise BadRequest(f"'{event}' needs a number; {raw!r} is not one.")


def parse_timestamp(raw: JsonValue, what: str = "timestamp") -> dt.datetime:
    """ISO 8601 (offset optional, UTC assumed) or Unix epoch seconds, as an aware datetime."""
    when: dt.datetime | None = None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        seconds: float | None = float(raw)
    elif isinstance(raw, str) and _NUMBER.match(raw.strip()):
        seconds = float(raw)
    else:
        seconds = None
        if isinstance(raw, str):
            try:
                when = dt.datetime.fromisoformat(raw.strip())
            except ValueError:
                when = None
    if seconds is not None and math.isfinite(seconds) and 0 <= seconds < 7.2e9:
        when = EARLIEST + dt.timedelta(seconds=seconds)
    if when is None:
        raise BadRequest(f"{what} must be ISO 8601 or Unix epoch seconds; got {raw!r}.")
    try:
        return to_utc(when, what)
    except ValueError as exc:
        raise BadRequest(f"{exc}: {raw!r}.") from None


def section_click(value: str) -> tuple[str, str] | None:
    """The (item type, item id) a section `click` names (`<itemtype>:<itemid>`), or None."""
    item_type, colon, item_id = value.partition(":")
    if not colon or not is_name(item_type) or not is_name(item_id):
        return None
    return item_type, item_id


def _section_value(event: str, raw: JsonValue) -> JsonScalar:
    if event == "pin":
        if raw is None:
            return None
        try:
            return _number(raw, event)
        except BadRequest:
            raise BadRequest(
                f"'pin' on a section takes an optional number (its order among pins); got {raw!r}."
            ) from None
    if not isinstance(raw, str) or section_click(raw) is None:
        raise BadRequest(
            "'click' on a section needs the item clicked as <itemtype>:<itemid>, "
            f"e.g. /click/section/recommended/movie:24/; got {raw!r}."
        )
    return raw


def event_value(
    event: str, raw: JsonValue, now: dt.datetime, item_type: str | None = None
) -> JsonScalar:
    """The value stored for `event` on an item of `item_type` given what the client sent
    (None when nothing was sent)."""
    if item_type == SECTION and event in ("pin", "click"):
        return _section_value(event, raw)
    if event in NO_VALUE_EVENTS:
        return None
    if event == "rated":
        if raw is None:
            raise BadRequest("'rated' needs a numeric rating, e.g. /rated/movie/1/4/.")
        return _number(raw, event)
    if event == "progress":
        if raw is None:
            raise BadRequest("'progress' needs the minutes watched, e.g. /progress/movie/1/42/.")
        minutes = _number(raw, event)
        if minutes < 0:
            raise BadRequest("'progress' minutes must be 0 or more.")
        return minutes
    if event in TIMESTAMP_EVENTS:
        return (now if raw is None else parse_timestamp(raw, f"'{event}' value")).isoformat()
    if raw is None:
        return None
    if isinstance(raw, str):
        if len(raw) > MAX_VALUE_CHARS:
            raise BadRequest(f"Event values are limited to {MAX_VALUE_CHARS} characters.")
        check_text(raw, f"The '{event}' value")
        try:
            return _number(raw, event)
        except BadRequest:
            return raw
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise BadRequest(f"'{event}' takes an optional number or string, not {raw!r}.")
    return _number(raw, event)
