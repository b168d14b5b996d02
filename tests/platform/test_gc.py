"""A started API process collects its young objects in large batches, so that what a request
still holds is not moved to the old generation mid-request (whose full passes were the
section page's p99: see `tanktop.app.GC_THRESHOLDS`)."""

from __future__ import annotations

import gc

from tanktop.app import GC_THRESHOLDS, create_app
from tanktop.config import Settings


async def test_a_started_app_collects_young_objects_in_large_batches(settings: Settings) -> None:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # Python's defaults
    try:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] >= 10_000
    finally:
        gc.set_threshold(*before)
