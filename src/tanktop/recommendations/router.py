"""HTTP for recommendations (seed section 4, "coming soon"; API.md "Recommendations")."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request

from tanktop.analytics import service as analytics
from tanktop.analytics.impressions import ImpressionRecorder
from tanktop.answers import model_answer
from tanktop.auth import ServiceDep
from tanktop.catalog.dependencies import CatalogFactsDep
from tanktop.catalog.facts import CatalogFacts
from tanktop.catalog.filters import AvailabilityQuery
from tanktop.catalog.service import Availability
from tanktop.db import utcnow
from tanktop.dependencies import DatabaseDep
from tanktop.errors import problem_responses
from tanktop.events.service import parse_timestamp
from tanktop.parameters import ItemId, ItemType, UserId
from tanktop.recommendations import service as recs
from tanktop.recommendations.schemas import (
    LiveRecommendationList,
    RecommendationList,
    SimilarList,
)
from tanktop.recommendations.service import ModelCache

router = APIRouter(prefix="/api/1/{apikey}", tags=["Recommendations"])

Count = Annotated[int, Query(ge=1, le=100, description="How many.")]
_EXAMPLE = {
    "recommendations": [
        {
            "item_type": "movie",
            "item_id": 24,
            "score": 0.42,
            "reasons": [{"type": "similar_to", "item_type": "movie", "item_id": 1}],
        }
    ]
}
_LIVE_EXAMPLE = {
    "recommendations": [
        {
            "channel_id": "bbc1",
            "start": "2026-11-27T20:00:00+00:00",
            "end": "2026-11-27T21:00:00+00:00",
            "item_type": "episode",
            "item_id": "s1e1",
            "score": 0.42,
            "reasons": [{"type": "for_you"}],
        }
    ]
}


def cache_of(request: Request) -> ModelCache:
    cache: ModelCache = request.app.state.model_cache
    return cache


def recorder_of(request: Request) -> ImpressionRecorder:
    recorder: ImpressionRecorder = request.app.state.impression_recorder
    return recorder


async def _recommend(
    request: Request,
    db: DatabaseDep,
    service: ServiceDep,
    userid: str,
    itemtype: str | None,
    n: int,
    availability: Availability,
    facts: CatalogFacts,
) -> RecommendationList:
    found = await recs.recommend(
        db,
        service,
        cache=cache_of(request),
        user_id=userid,
        item_type=itemtype,
        n=n,
        availability=availability,
        content=facts,
    )
    analytics.record_impressions(
        recorder_of(request),
        service.id,
        userid,
        analytics.RECOMMENDATION,
        [(r.item_type, r.item_id) for r in found],
    )
    return RecommendationList(recommendations=found)


@router.get(
    "/recommendation/{userid}/live/",
    name="recommendations.live",
    summary="What to watch on live TV in a time window, ranked for the user",
    response_model=LiveRecommendationList,
    responses={
        200: model_answer(
            "Airings in the window, best first.", _LIVE_EXAMPLE, LiveRecommendationList
        ),
        **problem_responses(400, 401),
    },
)
async def recommend_live(
    request: Request,
    userid: UserId,
    service: ServiceDep,
    db: DatabaseDep,
    n: Count = 10,
    at: Annotated[str | None, Query(description="Window start (ISO 8601 or epoch; now).")] = None,
    window: Annotated[int, Query(ge=1, le=1440, description="Minutes.")] = 180,
) -> LiveRecommendationList:
    start = utcnow() if at is None else parse_timestamp(at, "at")
    picks = await recs.recommend_live(
        db,
        service,
        cache=cache_of(request),
        user_id=userid,
        at=start,
        window=dt.timedelta(minutes=window),
        n=n,
    )
    analytics.record_impressions(
        recorder_of(request),
        service.id,
        userid,
        analytics.RECOMMENDATION,
        [(p.item_type, p.item_id) for p in picks],
    )
    return LiveRecommendationList(recommendations=picks)


@router.get(
    "/recommendation/{userid}/",
    name="recommendations.get",
    summary="Recommendations for a user, best first",
    response_model=RecommendationList,
    responses={
        200: model_answer("Best first, with reasons.", _EXAMPLE, RecommendationList),
        **problem_responses(400, 401),
    },
)
async def recommend_any(
    request: Request,
    userid: UserId,
    service: ServiceDep,
    db: DatabaseDep,
    availability: AvailabilityQuery,
    facts: CatalogFactsDep,
    n: Count = 10,
) -> RecommendationList:
    return await _recommend(request, db, service, userid, None, n, availability, facts)


@router.get(
    "/recommendation/{userid}/{itemtype}/",
    name="recommendations.get_type",
    summary="Recommendations of one item type for a user, best first",
    response_model=RecommendationList,
    responses={
        200: model_answer("Best first, with reasons.", _EXAMPLE, RecommendationList),
        **problem_responses(400, 401),
    },
)
async def recommend_type(
    request: Request,
    userid: UserId,
    itemtype: ItemType,
    service: ServiceDep,
    db: DatabaseDep,
    availability: AvailabilityQuery,
    facts: CatalogFactsDep,
    n: Count = 10,
) -> RecommendationList:
    return await _recommend(request, db, service, userid, itemtype, n, availability, facts)


@router.get(
    "/similar/{itemtype}/{itemid}/",
    name="recommendations.similar",
    summary="Items similar to one item",
    response_model=SimilarList,
    responses={
        200: model_answer(
            "Most similar first.", {"similar": _EXAMPLE["recommendations"]}, SimilarList
        ),
        **problem_responses(400, 401, 404),
    },
)
async def similar(
    request: Request,
    itemtype: ItemType,
    itemid: ItemId,
    service: ServiceDep,
    db: DatabaseDep,
    facts: CatalogFactsDep,
    n: Count = 10,
) -> SimilarList:
    found = await recs.similar(
        db,
        service,
        cache=cache_of(request),
        item_type=itemtype,
        item_id=itemid,
        n=n,
        content=facts,
    )
    return SimilarList(similar=found)
