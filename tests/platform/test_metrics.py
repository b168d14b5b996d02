"""Prometheus metrics: requests by route template (never by key), events, webhooks."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Api


def sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


async def test_metrics_count_requests_and_events(api: Api) -> None:
    before = (await api.http.get("/metrics")).text
    route = "/api/1/{apikey}/event/{userid}/{event}/{itemtype}/{itemid}/"
    for item in range(3):
        assert (await api.post(f"/event/7/seen/movie/{item}/")).status_code == 204
    await api.get("/user/nobody/")
    response = await api.http.get("/metrics")
    assert response.status_code == 200
    after = response.text
    posted = {"method": "POST", "route": route, "status": "204"}  # DELETE shares route and status
    counted = sample(after, "tanktop_http_requests_total", **posted)
    assert counted - sample(before, "tanktop_http_requests_total", **posted) == 3
    assert (
        sample(
            after,
            "tanktop_http_requests_total",
            route="/api/1/{apikey}/user/{userid}/",
            status="404",
        )
        >= 1
    )
    assert (
        sample(after, "tanktop_events_ingested_total", origin="posted")
        - sample(before, "tanktop_events_ingested_total", origin="posted")
        == 3
    )
    latency = sample(
        after, "tanktop_http_request_duration_seconds_count", method="POST", route=route
    )
    assert latency >= 3
    assert api.key not in after
    assert not re.search(r"tt_[A-Za-z0-9_-]{8,}", after), "no API key in any label"
