"""The per-user time-ordered holdout that `recs tune` and `recs evaluate --split temporal`
share: each user's latest share of their own acts is what the rest must predict.

It is the "temporal user-based split" (leave the last x% out per user) of Meng et al.,
"Exploring Data Splitting Strategies for the Evaluation of Recommendation Models" (RecSys
2020): every user with enough history is tested, and no user's own future is trained on.
Other users' later acts are (the training part of one user can be later than another's
test): an item's popularity may see the future. A global cutoff does not leak, but on a
small history it leaves few users active after it (`recs evaluate --split global`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

HOLDOUT: Final = 0.2
MIN_EVENTS: Final = 5
"""Users with fewer acts are only trained on."""

Act = TypeVar("Act")


def latest_per_user(
    acts: Sequence[Act],
    user_of: Callable[[Act], str],
    *,
    holdout: float = HOLDOUT,
    min_events: int = MIN_EVENTS,
) -> tuple[list[Act], list[Act]]:
    """(training part, test part) of `acts` (in time order; both parts keep it): each user's
    latest `holdout` of their acts, at least one, for users with `min_events` or more."""
    mine: dict[str, list[int]] = defaultdict(list)
    for n, act in enumerate(acts):
        mine[user_of(act)].append(n)
    tested: set[int] = set()
    for positions in mine.values():
        if len(positions) >= min_events:
            tested.update(positions[len(positions) - max(1, round(len(positions) * holdout)) :])
    return (
        [act for n, act in enumerate(acts) if n not in tested],
        [act for n, act in enumerate(acts) if n in tested],
    )
