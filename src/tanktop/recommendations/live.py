"""Live TV ranked for the user: what airs in a window on the channels they have not hidden."""

from __future__ import annotations

import datetime as dt

from tanktop.catalog import service as catalog
from tanktop.catalog.facts import CatalogFacts
from tanktop.db import Database
from tanktop.events import service as events
from tanktop.recommendations.cache import ModelCache
from tanktop.recommendations.items import model_key, programmes_of
from tanktop.recommendations.schemas import LiveRecommendation, Reason
from tanktop.recommendations.serving import user_scores
from tanktop.tenants.service import Service


async def recommend_live(
    db: Database,
    service: Service,
    *,
    cache: ModelCache,
    user_id: str,
    at: dt.datetime,
    window: dt.timedelta,
    n: int,
    facts: CatalogFacts | None = None,
) -> list[LiveRecommendation]:
    """What airs in the window on channels the user has not hidden, ranked for the user
    (`facts`: as for `recommend`)."""
    hidden = {
        i.item_id
        for i in await events.user_items(
            db, service, user_id=user_id, events=["hide"], item_types=["channel"]
        )
    }
    airing = [
        a
        for a in await catalog.airing_between(db, start=at, end=at + window)
        if a.channel_id not in hidden
    ]
    user = await user_scores(db, service, cache=cache, user_id=user_id, facts=facts)
    model = user.model
    scored = [(0.0, a) for a in airing]
    personal = False
    if model is not None:
        personal = user.taste.personal
        values = user.scores
        index = model.index()
        programmes = await programmes_of(
            db,
            episode_ids=(a.airing.item_id for a in airing if a.airing.item_type == "episode"),
            facts=facts,
        )
        columns = [
            index.get(model_key(a.airing.item_type, a.airing.item_id, programmes) or "")
            for a in airing
        ]
        scored = [
            (0.0 if column is None else float(values[column]), a)
            for column, a in zip(columns, airing, strict=True)
        ]
    scored.sort(key=lambda pair: (-pair[0], pair[1].airing.start, pair[1].channel_id))
    reason = Reason(type="for_you" if personal else "popular" if model else "on_now")
    return [
        LiveRecommendation(
            channel_id=a.channel_id,
            start=a.airing.start,
            end=a.airing.end,
            item_type=a.airing.item_type,
            item_id=a.airing.item_id,
            score=round(score, 6),
            reasons=[reason],
        )
        for score, a in scored[:n]
    ]
