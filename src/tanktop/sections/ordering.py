"""The order of a user's sections: locked ones keep their slot, pinned ones come next, and the
rest follow the service's positions moved by the user's affinity. Pure functions.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from tanktop.sections.schemas import Section

CLICK_DAYS: Final = 30
"""Clicks on a section in this many days count towards its affinity."""


@dataclass(frozen=True)
class Pin:
    order: float | None
    """The pin's value: its place among pins (lowest first); pins without one come after."""
    at: dt.datetime


@dataclass
class SectionPrefs:
    """What one user did with the service's sections."""

    hidden: set[str] = field(default_factory=set)
    pins: dict[str, Pin] = field(default_factory=dict)
    ratings: dict[str, float] = field(default_factory=dict)
    clicks: dict[str, int] = field(default_factory=dict)

    def affinity(self, section_id: str) -> float:
        """How many places the user's ratings and clicks move a section up (down if negative):
        its rating, plus log2(1 + clicks in the last `CLICK_DAYS` days)."""
        return self.ratings.get(section_id, 0.0) + math.log2(1 + self.clicks.get(section_id, 0))


def by_position(definitions: Iterable[Section]) -> list[Section]:
    """The service's order: position, then section id."""
    return sorted(definitions, key=lambda s: (s.position, str(s.section_id)))


def page_order(definitions: Sequence[Section], prefs: SectionPrefs) -> list[Section]:
    """The user's sections in page order, hidden ones left out (locked ones cannot be hidden).

    A locked section keeps its slot (its index in the service's order); the other slots go to
    the pinned sections in pin order, then to the rest by their index minus their affinity (a
    section moved to another's place goes ahead of it).
    """
    ordered = by_position(definitions)
    locked = {slot: s for slot, s in enumerate(ordered) if s.locked}
    free = [
        (slot, s)
        for slot, s in enumerate(ordered)
        if not s.locked and s.section_id not in prefs.hidden
    ]
    pinned = sorted(
        (pair for pair in free if pair[1].section_id in prefs.pins),
        key=lambda pair: _pin_key(prefs.pins[pair[1].section_id], pair[0]),
    )
    rest = sorted(
        (pair for pair in free if pair[1].section_id not in prefs.pins),
        key=lambda pair: _rank_key(pair[0], prefs.affinity(pair[1].section_id)),
    )
    queue = [s for _, s in (*pinned, *rest)]
    page: list[Section] = []
    slot = 0
    while locked or queue:
        if slot in locked:
            page.append(locked.pop(slot))
        elif queue:
            page.append(queue.pop(0))
        else:  # fewer free sections than slots before a locked one: close the gap
            page.extend(locked[k] for k in sorted(locked))
            break
        slot += 1
    return page


def _rank_key(slot: int, affinity: float) -> tuple[float, float, int]:
    """Moved up `affinity` places: ahead of the section whose place it takes."""
    return (slot - affinity, -affinity, slot)


def _pin_key(pin: Pin, slot: int) -> tuple[int, float, float, int]:
    """Pins with an order by order; then the others, latest pinned first."""
    if pin.order is not None:
        return (0, pin.order, -pin.at.timestamp(), slot)
    return (1, 0.0, -pin.at.timestamp(), slot)
