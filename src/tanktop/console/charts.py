"""Chart specs for the console's uPlot charts: plain JSON (times as Unix seconds, one list of
values per series) that `console.js` draws; the page carries it in a JSON data block."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import JsonValue

from tanktop.analytics.schemas import EventSeries, UsersPoint
from tanktop.notifications.service import WebhookDay

PALETTE = ("#2f5bea", "#1f8a4c", "#d97706", "#9333ea", "#0891b2", "#c23b32", "#64748b")
MAX_SERIES = 6


@dataclass(frozen=True)
class Chart:
    """One chart: its element id and what `console.js` draws."""

    id: str
    spec: dict[str, JsonValue]


def _seconds(times: Sequence[dt.datetime]) -> list[JsonValue]:
    return [int(t.timestamp()) for t in times]


def events_by_type(series: Sequence[EventSeries]) -> Chart:
    """Events per day of the most frequent event names (others summed as `other`)."""
    totals: dict[str, list[int]] = {}
    times: list[dt.datetime] = []
    for one in series:
        times = [p.start for p in one.points]
        counts = totals.setdefault(one.event, [0] * len(one.points))
        for i, point in enumerate(one.points):
            counts[i] += point.events
    ranked = sorted(totals, key=lambda name: -sum(totals[name]))
    shown = ranked[:MAX_SERIES]
    lines: list[tuple[str, list[int]]] = [(name, totals[name]) for name in shown]
    rest = ranked[MAX_SERIES:]
    if rest:
        lines.append(("other", [sum(totals[n][i] for n in rest) for i in range(len(times))]))
    return Chart(
        "chart-events",
        {
            "kind": "lines",
            "x": _seconds(times),
            "series": [
                {"label": name, "values": list(values), "color": PALETTE[i % len(PALETTE)]}
                for i, (name, values) in enumerate(lines)
            ],
        },
    )


def active_users(points: Sequence[UsersPoint]) -> Chart:
    return Chart(
        "chart-users",
        {
            "kind": "lines",
            "x": _seconds([p.start for p in points]),
            "series": [
                {"label": "active", "values": [p.active for p in points], "color": PALETTE[0]},
                {"label": "new", "values": [p.new for p in points], "color": PALETTE[1]},
            ],
        },
    )


def webhook_outcomes(days: Sequence[WebhookDay]) -> Chart:
    """Webhooks queued per day: stacked bars (failed and pending drawn over delivered)."""
    starts = [dt.datetime.combine(d.day, dt.time(), tzinfo=dt.UTC) for d in days]
    delivered = [d.succeeded for d in days]
    failed = [d.succeeded + d.failed for d in days]
    pending = [d.succeeded + d.failed + d.pending for d in days]
    return Chart(
        "chart-webhooks",
        {
            "kind": "bars",
            "x": _seconds(starts),
            "series": [
                {"label": "pending", "values": list(pending), "color": "#f2b84b"},
                {"label": "failed", "values": list(failed), "color": "#e0645c"},
                {"label": "delivered", "values": list(delivered), "color": "#3fa66a"},
            ],
        },
    )
