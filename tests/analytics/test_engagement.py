"""Engagement: impressions of recommendations and sections, clicks, and engaged items."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import FastAPI

from tanktop.analytics.impressions import ImpressionRecorder
from tanktop.analytics.service import RECOMMENDATION, record_impressions
from tanktop.db import Database, utcnow
from tests.analytics.helpers import catch_up
from tests.conftest import Api, service_of


async def flush(app: FastAPI) -> None:
    recorder: ImpressionRecorder = app.state.impression_recorder
    while recorder.pending:
        await recorder.flush()


def event(
    user: str, name: str, item_type: str, item_id: str, at: dt.datetime, value: Any = None
) -> dict[str, Any]:
    return {
        "user_id": user,
        "event": name,
        "item_type": item_type,
        "item_id": item_id,
        "value": value,
        "at": at.isoformat(),
    }


async def engagement(api: Api, now: dt.datetime) -> dict[str, Any]:
    start = (now - dt.timedelta(hours=1)).timestamp()
    end = (now + dt.timedelta(hours=1)).timestamp()
    response = await api.get(f"/analytics/engagement/?from={start:.0f}&to={end:.0f}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_served_items_clicked_and_engaged(api: Api, db: Database, app: FastAPI) -> None:
    service = (await service_of(db, api)).id
    recorder: ImpressionRecorder = app.state.impression_recorder
    now = utcnow()
    served = [("movie", "m1"), ("movie", "m2"), ("movie", "m3")]
    record_impressions(recorder, service, "u", RECOMMENDATION, served)
    record_impressions(recorder, service, "u", "section:home", [("movie", "m1"), ("movie", "m4")])
    record_impressions(recorder, service, "u", "section:new", [("movie", "m5")])
    await flush(app)
    await catch_up(db)
    soon = now + dt.timedelta(minutes=5)
    batch = [
        event("u", "click", "movie", "m1", soon),  # a click on the item, wherever it was
        event("u", "watchlist", "movie", "m2", now + dt.timedelta(days=8)),  # too late
        event("u", "rated", "movie", "m3", soon, -2),  # not positive
        event("u", "click", "section", "home", soon, "movie:m4"),  # clicked in the section
        event("u", "seen", "movie", "m5", soon),  # engaged, not clicked
        event("u", "seen", "movie", "m5", soon + dt.timedelta(hours=1)),  # the same item again
        event("other", "seen", "movie", "m5", soon),  # someone it was not served to
    ]
    assert (await api.post("/events/", json=batch)).status_code == 204
    await catch_up(db)
    assert await engagement(api, now) == {
        "recommendations": {"impressions": 3, "clicks": 1, "engaged": 1},
        "sections": [
            {"section_id": "home", "impressions": 2, "clicks": 2, "engaged": 2},
            {"section_id": "new", "impressions": 1, "clicks": 0, "engaged": 1},
        ],
    }


async def test_an_impression_stored_after_its_event_still_engages(
    api: Api, db: Database, app: FastAPI
) -> None:
    """The event is counted first; the impression, written later, finds it."""
    service = (await service_of(db, api)).id
    now = utcnow()
    recorder = ImpressionRecorder(db, flush_seconds=3600)
    record_impressions(recorder, service, "u", RECOMMENDATION, [("movie", "late")])
    batch = [event("u", "click", "movie", "late", now + dt.timedelta(minutes=1))]
    assert (await api.post("/events/", json=batch)).status_code == 204
    await catch_up(db)
    await recorder.close()
    await catch_up(db)
    assert (await engagement(api, now))["recommendations"] == {
        "impressions": 1,
        "clicks": 1,
        "engaged": 1,
    }
    assert (await engagement(api, now - dt.timedelta(days=2)))["recommendations"] == {
        "impressions": 0,
        "clicks": 0,
        "engaged": 0,
    }


async def test_a_round_looks_for_impressions_up_to_its_latest_event(
    api: Api, db: Database, app: FastAPI
) -> None:
    """A round's events span a day: the impressions read reach its latest event, not its
    earliest."""
    service = (await service_of(db, api)).id
    now = utcnow()
    record_impressions(
        app.state.impression_recorder, service, "u", RECOMMENDATION, [("movie", "m1")]
    )
    await flush(app)
    await catch_up(db)  # the impression is counted; the events then look for it
    batch = [
        event("u", "hide", "movie", "other", now - dt.timedelta(days=1)),
        event("u", "seen", "movie", "m1", now + dt.timedelta(minutes=5)),
    ]
    assert (await api.post("/events/", json=batch)).status_code == 204
    await catch_up(db)
    assert (await engagement(api, now))["recommendations"]["engaged"] == 1
