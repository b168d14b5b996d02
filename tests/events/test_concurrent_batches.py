"""Concurrent batches that touch the same list items in different orders all commit."""

from __future__ import annotations

import asyncio
import random

from tests.conftest import Api


async def test_overlapping_batches_in_any_order_never_deadlock(api: Api) -> None:
    """Each transaction locks list rows in one global order (by key), so two flushers writing
    the same items in opposite orders wait for each other instead of deadlocking (a 500)."""
    items = [{"user_id": f"u{i % 5}", "event": "seen", "item_type": "movie", "item_id": i}
             for i in range(1000)]  # fmt: skip
    rng = random.Random(7)
    for _ in range(3):
        batches = [rng.sample(items, len(items)) for _ in range(8)]
        answers = await asyncio.gather(*(api.post("/events/", json=b) for b in batches))
        assert [a.status_code for a in answers] == [204] * 8, answers[0].text
