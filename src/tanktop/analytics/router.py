"""HTTP for analytics (API.md "Analytics"): answers from the rollups, per service."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Query

from tanktop.analytics import schemas
from tanktop.analytics import service as analytics
from tanktop.analytics.buckets import Bucket, buckets
from tanktop.auth import ServiceDep
from tanktop.db import utcnow
from tanktop.dependencies import DatabaseDep
from tanktop.errors import BadRequest, problem_responses
from tanktop.events.service import parse_timestamp
from tanktop.ids import NAME_PATTERN
from tanktop.parameters import ItemType, UserId

router = APIRouter(prefix="/api/1/{apikey}/analytics", tags=["Analytics"])

_ERRORS = problem_responses(400, 401)


def _answers(example: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """`responses`: an example of the answer, and the problems the endpoint can give."""
    return {200: {"content": {"application/json": {"example": example}}}, **_ERRORS}


From = Annotated[
    str | None, Query(alias="from", description="ISO 8601 or Unix seconds (default: 30 days ago).")
]
To = Annotated[str | None, Query(description="ISO 8601 or Unix seconds (default: now).")]
Interval = Annotated[str, Query(description="hour, day, week (from Monday) or month.")]
Zone = Annotated[str | None, Query(description="IANA time zone of the buckets (default UTC).")]
Name = Annotated[str | None, Query(pattern=NAME_PATTERN)]
DEFAULT_RANGE = dt.timedelta(days=30)


def _range(start: str | None, end: str | None) -> tuple[dt.datetime, dt.datetime]:
    until = utcnow() if end is None else parse_timestamp(end, "to")
    since = until - DEFAULT_RANGE if start is None else parse_timestamp(start, "from")
    if since > until:
        raise BadRequest("from is after to.")
    return since, until


def _buckets(start: str | None, end: str | None, interval: str, tz: str | None) -> list[Bucket]:
    since, until = _range(start, end)
    return buckets(since, until, interval, tz)


_POINT = {"start": "2026-11-02T00:00:00+00:00", "events": 120, "users": 31}


@router.get(
    "/events/",
    name="analytics.events",
    summary="Events and distinct users over time, per event and item type",
    response_model=schemas.EventsAnswer,
    responses=_answers(
        {
            "interval": "day",
            "series": [{"event": "seen", "item_type": "movie", "points": [_POINT]}],
        }
    ),
)
async def events_over_time(
    service: ServiceDep,
    db: DatabaseDep,
    start: From = None,
    to: To = None,
    interval: Interval = "day",
    event: Name = None,
    item_type: Name = None,
    tz: Zone = None,
) -> schemas.EventsAnswer:
    bks = _buckets(start, to, interval, tz)
    found = await analytics.event_series(db, service, bks=bks, event=event, item_type=item_type)
    return schemas.EventsAnswer(interval=interval, series=found)


@router.get(
    "/users/",
    name="analytics.users",
    summary="Active users (any event) and new users (first event ever) over time",
    response_model=schemas.UsersAnswer,
    responses=_answers(
        {
            "interval": "day",
            "points": [{"start": "2026-11-02T00:00:00+00:00", "active": 31, "new": 4}],
        }
    ),
)
async def users_over_time(
    service: ServiceDep,
    db: DatabaseDep,
    start: From = None,
    to: To = None,
    interval: Interval = "day",
    tz: Zone = None,
) -> schemas.UsersAnswer:
    points = await analytics.user_activity(db, service, bks=_buckets(start, to, interval, tz))
    return schemas.UsersAnswer(interval=interval, points=points)


@router.get(
    "/top/{itemtype}/",
    name="analytics.top",
    summary="The items with the most events of one kind (whole UTC days)",
    response_model=schemas.TopAnswer,
    responses=_answers(
        {
            "item_type": "movie",
            "event": "seen",
            "items": [{"item_id": 24, "events": 312, "users": 290}],
        }
    ),
)
async def top(
    itemtype: ItemType,
    service: ServiceDep,
    db: DatabaseDep,
    event: Annotated[str, Query(pattern=NAME_PATTERN)] = "seen",
    start: From = None,
    to: To = None,
    n: Annotated[int, Query(ge=1, le=100)] = 10,
) -> schemas.TopAnswer:
    since, until = _range(start, to)
    items = await analytics.top_items(
        db, service, item_type=itemtype, event=event, start=since, end=until, n=n
    )
    return schemas.TopAnswer(item_type=itemtype, event=event, items=items)


@router.get(
    "/retention/",
    name="analytics.retention",
    summary="Cohorts by first event, and how many of each are active in later buckets",
    response_model=schemas.RetentionAnswer,
    responses=_answers(
        {
            "interval": "week",
            "cohorts": [{"start": "2026-11-02T00:00:00+00:00", "users": 40, "retained": [22]}],
        }
    ),
)
async def retention(
    service: ServiceDep,
    db: DatabaseDep,
    start: From = None,
    to: To = None,
    interval: Interval = "week",
    tz: Zone = None,
) -> schemas.RetentionAnswer:
    cohorts = await analytics.retention(db, service, bks=_buckets(start, to, interval, tz))
    return schemas.RetentionAnswer(interval=interval, cohorts=cohorts)


@router.get(
    "/engagement/",
    name="analytics.engagement",
    summary="Impressions, clicks and engaged items of recommendations and of each section",
    response_model=schemas.EngagementAnswer,
    responses=_answers(
        {
            "recommendations": {"impressions": 1000, "clicks": 52, "engaged": 130},
            "sections": [
                {
                    "section_id": "home-new",
                    "impressions": 800,
                    "clicks": 40,
                    "engaged": 61,
                }
            ],
        }
    ),
)
async def engagement(
    service: ServiceDep, db: DatabaseDep, start: From = None, to: To = None
) -> schemas.EngagementAnswer:
    since, until = _range(start, to)
    totals = await analytics.engagement(db, service, start=since, end=until)
    found = {e.surface: e for e in totals}
    zero = analytics.Engagement(analytics.RECOMMENDATION, 0, 0, 0)
    recs = found.pop(analytics.RECOMMENDATION, zero)
    return schemas.EngagementAnswer(
        recommendations=schemas.SurfaceEngagement(
            impressions=recs.impressions, clicks=recs.clicks, engaged=recs.engaged
        ),
        sections=[
            schemas.SectionEngagement(
                section_id=surface.removeprefix(analytics.SECTION_PREFIX),
                impressions=e.impressions,
                clicks=e.clicks,
                engaged=e.engaged,
            )
            for surface, e in sorted(found.items())
        ],
    )


@router.get(
    "/user/{userid}/",
    name="analytics.user",
    summary="One user's counts, minutes watched, ratings, first and last activity",
    response_model=schemas.UserStatsAnswer,
    responses=_answers(
        {
            "user_id": "7",
            "events": [{"event": "seen", "item_type": "movie", "count": 12}],
            "minutes_watched": 1460.5,
            "ratings": {"count": 3, "mean": 3.67, "distribution": {"3": 1, "4": 2}},
            "first_activity": "2026-10-01T19:02:00+00:00",
            "last_activity": "2026-11-27T21:40:00+00:00",
        }
    ),
)
async def user_stats(
    userid: UserId, service: ServiceDep, db: DatabaseDep
) -> schemas.UserStatsAnswer:
    stats = await analytics.user_stats(db, service, user_id=userid)
    distribution: Counter[str] = Counter(_rating_key(r) for r in stats.ratings)
    mean = round(sum(stats.ratings) / len(stats.ratings), 4) if stats.ratings else None
    return schemas.UserStatsAnswer(
        user_id=stats.user_id,
        events=[
            schemas.EventCount(event=c.event, item_type=c.item_type, count=c.count)
            for c in stats.events
        ],
        minutes_watched=stats.minutes_watched,
        ratings=schemas.Ratings(
            count=len(stats.ratings), mean=mean, distribution=dict(sorted(distribution.items()))
        ),
        first_activity=stats.first,
        last_activity=stats.last,
    )


def _rating_key(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
