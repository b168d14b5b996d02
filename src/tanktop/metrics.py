"""Prometheus metrics: requests by route and status, events ingested, webhook outcomes and lag,
database faults by kind.

Routes are labelled by their template (`/api/1/{apikey}/user/{userid}/`), never by the path, so
keys and ids stay out of the metrics and the label set stays small. With several processes per
host, set `PROMETHEUS_MULTIPROC_DIR` and `/metrics` aggregates them (prometheus-client's
multiprocess mode). The `/metrics` route is `tanktop.operations.metrics`.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "tanktop_http_requests", "HTTP requests answered.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "tanktop_http_request_duration_seconds",
    "Time to answer, by route.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS = Counter("tanktop_events_ingested", "Events committed, by origin.", ["origin"])
DELIVERIES = Counter("tanktop_webhook_deliveries", "Webhook attempts, by outcome.", ["outcome"])
DELIVERY_LAG = Histogram(
    "tanktop_webhook_delivery_lag_seconds",
    "From queued to delivered (2xx).",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 7200, 86400),
)
IMPRESSIONS = Counter(
    "tanktop_impressions",
    "Items served (impressions), by outcome: stored, or dropped when the buffer was full.",
    ["outcome"],
)

DB_ERRORS = Counter(
    "tanktop_db_errors",
    "Database faults met (connection lost, unreachable, timeouts, ...), by kind.",
    ["kind"],
)

REDIS_ERRORS = Counter(
    "tanktop_redis_errors",
    "Rate-limit tokens Redis could not give (unreachable, timed out); granted unmetered.",
)
MODEL_AGE = Gauge(
    "tanktop_model_age_seconds",
    "Age of the recommendation model a process serves, by service.",
    ["service_id"],
    multiprocess_mode="max",
)

_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
"""The labelled series of each (method, route, status): `labels()` is a lookup of its own."""


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count and time one answered request, by its route template."""
    series = _children.get((method, route, status))
    if series is None:
        series = (REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route))
        _children[(method, route, status)] = series
    series[0].inc()
    series[1].observe(seconds)
