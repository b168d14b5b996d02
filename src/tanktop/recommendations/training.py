"""Training a service's model from its whole history and storing it as a new version."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from tanktop.db import Database, utcnow
from tanktop.events import service as events
from tanktop.recommendations import queries
from tanktop.recommendations.items import (
    CONTENT,
    fold_episodes,
    model_genres,
    model_years,
    programmes_of,
)
from tanktop.recommendations.schemas import RecommenderVersion
from tanktop.recommendations.settings import current_settings
from tanktop.recommendations.weighing import fit, weigh

KEEP_VERSIONS = 3


async def train_service(
    db: Database, service_id: int, *, settings: RecommenderVersion | None = None
) -> int:
    """Train on the service's whole history under `settings` (event weights, the model's
    parameters; by default the service's version in use) and store a new model version;
    returns it."""
    if settings is None:
        settings = await current_settings(db, service_id)
    count = 0

    async def counted() -> list[events.HistoryEvent]:
        nonlocal count
        found = []
        async for event in events.stream_history(db, service_id):
            count += 1
            if event.item_type in CONTENT and event.in_force:  # not live-TV corrections
                found.append(event)
        return found

    history = weigh(await counted(), settings, item_types=CONTENT)
    programmes = await programmes_of(
        db, episode_ids=(i for _, t, i, _ in history if t == "episode")
    )
    genres, years = await model_genres(db), await model_years(db)
    folded = fold_episodes(history, programmes)
    model = await asyncio.to_thread(fit, folded, settings, genres, years)
    arrays = model.to_bytes()
    for _ in range(10):  # trainings racing for the same service take the next free version
        try:
            async with db.write() as conn:
                version = (await queries.latest_version(conn, service_id) or 0) + 1
                await queries.store(
                    conn,
                    service_id,
                    version=version,
                    created_at=utcnow(),
                    events=count,
                    arrays=arrays,
                    keep=KEEP_VERSIONS,
                )
            return version
        except sa.exc.IntegrityError:
            continue
    raise RuntimeError(f"could not store a model version for service {service_id}")
