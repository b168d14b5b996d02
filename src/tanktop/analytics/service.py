"""Analytics rules: recording what was served, and (from rollups) what users did."""

from __future__ import annotations

from collections.abc import Sequence

from tanktop.analytics.impressions import Impression, ImpressionRecorder
from tanktop.db import utcnow

RECOMMENDATION = "recommendation"
SECTION_PREFIX = "section:"


def record_impressions(
    recorder: ImpressionRecorder,
    service_id: int,
    user_id: str,
    surface: str,
    items: Sequence[tuple[str, str]],
) -> None:
    """Note that `items` ((item_type, item_id) pairs) were served to the user on `surface`
    (`"recommendation"` or `"section:<sectionid>"`). Cheap: buffered, written in the
    background."""
    if surface != RECOMMENDATION and not (
        surface.startswith(SECTION_PREFIX) and len(surface) > len(SECTION_PREFIX)
    ):
        raise ValueError(f"unknown impression surface {surface!r}")
    if not items:
        return
    now = utcnow()
    recorder.add(
        [
            Impression(service_id, user_id, surface, item_type, item_id, now)
            for item_type, item_id in items
        ]
    )
