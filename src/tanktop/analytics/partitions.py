"""A UTC day's users split by the hour of their first and of their last activity that day.

Kept on each hour row (`first_members`, `last_members`) beside the hour's users, so that a day
in a zone that is not a report zone is a few rows, not 24: its part of one UTC day is a prefix
or a suffix of hours, and the users of a prefix are the union of its hours' first-activity sets
(or the day's users less the first-activity sets of the other hours: they partition the day's
users), those of a suffix likewise with the last-activity sets.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyroaring import BitMap


def first_and_last(hours: Sequence[BitMap]) -> tuple[list[BitMap], list[BitMap]]:
    """For the users of a day's hours in time order: those of each hour active in no earlier
    hour of the day, and those active in no later one."""
    first: list[BitMap] = []
    seen = BitMap()
    for users in hours:
        first.append(users - seen)
        seen |= users
    last: list[BitMap] = []
    seen = BitMap()
    for users in reversed(hours):
        last.append(users - seen)
        seen |= users
    last.reverse()
    return first, last
