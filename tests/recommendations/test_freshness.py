"""Fresh models: a service's first model within seconds of its first events (debounced), and a
new model served by API processes as soon as it is announced."""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa

from tanktop import migrations
from tanktop.client import AsyncClient
from tanktop.config import Settings
from tanktop.db import Database
from tanktop.events import service as events
from tanktop.recommendations.cache import ModelCache
from tanktop.recommendations.schedule import RetrainSchedule
from tanktop.recommendations.tables import rec_models
from tanktop.recommendations.training import train_service
from tanktop.tenants import service as tenants
from tests.conftest import POSTGRES_ADMIN_URL, TEST_DATABASE, Admin, Api, service_of
from tests.servers import (
    SLOW_START,
    SLOW_STOP,
    create_key,
    pg_fetch,
    run_cli,
    running_server,
    start_worker,
    tanktop_env,
)


@pytest.fixture
async def fresh_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the test's own (on the run's backend): the worker task looks at
    every service, and the shared test database has hundreds from other tests."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"{TEST_DATABASE}_fresh_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await admin.close()


def seen(user: str, item: str) -> dict[str, Any]:
    return {"user_id": user, "event": "seen", "item_type": "movie", "item_id": item}


async def post(db: Database, service: tenants.Service, body: list[dict[str, Any]]) -> None:
    async with db.write() as conn:
        await events.write_ops(conn, ops=events.batch_ops(service, body=list(body)))


async def models_of(db: Database, service_id: int) -> int:
    async with db.read() as conn:
        count = await conn.scalar(
            sa.select(sa.func.count()).where(rec_models.c.service_id == service_id)
        )
    return int(count or 0)


async def test_first_model_trains_once_events_stop_coming(
    fresh_url: str, settings: Settings
) -> None:
    db = Database(fresh_url)
    schedule = RetrainSchedule()
    quiet = 1.5  # a round on a loaded machine (load 10) can take most of a second
    config = settings.model_copy(
        update={"first_model_quiet_seconds": quiet, "retrain_check_seconds": 3600}
    )

    async def round_trained() -> int:
        """One worker round, its training (if it started one) waited for: models stored."""
        await schedule(db, settings=config)
        await schedule.idle()
        return await schedule(db, settings=config)

    try:
        await migrations.upgrade(db)
        busy = await tenants.find_service(db, key=await tenants.create_key(db, name="busy"))
        idle = await tenants.find_service(db, key=await tenants.create_key(db, name="idle"))
        assert busy is not None
        assert idle is not None
        await post(db, busy, [seen(f"u{u}", f"m{u % 3}") for u in range(20)])
        assert await round_trained() == 0, "first sight: wait for quiet"
        for n in range(3):  # events keep coming: no model yet
            await asyncio.sleep(quiet * 0.6)
            await post(db, busy, [seen("late", f"m{n}")])
            assert await round_trained() == 0
        await asyncio.sleep(quiet * 1.1)
        assert await round_trained() == 1, "quiet long enough: trained"
        assert await models_of(db, busy.id) == 1
        assert await models_of(db, idle.id) == 0, "no events, no model"
        await post(db, busy, [seen("later", "m1")])
        for _ in range(2):
            await asyncio.sleep(quiet * 1.1)
            assert await round_trained() == 0, "later models come from the schedule"
        assert await models_of(db, busy.id) == 1
    finally:
        await schedule.aclose()
        await db.dispose()


ANNOUNCED_WITHIN = 60.0
"""Seconds an announced model may take to be served on a busy machine: a sixtieth of the API's
hour-long poll, so only the announcement can make it."""


def together(prefix: str, items: list[str], event: str = "seen") -> list[dict[str, Any]]:
    """Ten users who each do `event` on all of `items`."""
    return [
        {"user_id": f"{prefix}{u}", "event": event, "item_type": "movie", "item_id": item}
        for u in range(10)
        for item in items
    ]


async def test_api_process_serves_a_new_model_when_it_is_announced(
    fresh_url: str, database_url: str
) -> None:
    """PostgreSQL, a separate worker process, API polls an hour apart: the first model is
    served as soon as it is stored, because it is announced (LISTEN/NOTIFY). Both waits are
    bounded generously for a busy machine (a quiet one takes about a second for each), yet
    far below the hour the API would take to poll for it."""
    if database_url.startswith("sqlite"):
        pytest.skip("API and worker in separate processes share PostgreSQL")
    env = tanktop_env(
        fresh_url,
        TANKTOP_MODEL_REFRESH_SECONDS="3600",
        TANKTOP_FIRST_MODEL_QUIET_SECONDS="1",
        TANKTOP_RETRAIN_CHECK_SECONDS="3600",
    )
    run_cli(env, "migrate")
    key = create_key(env, "fresh")
    worker = start_worker(env)
    try:
        with running_server(env, "--no-worker") as server:
            async with AsyncClient(server.base_url, key) as tanktop:
                batch = together("a", ["a1", "a2"]) + together("b", ["b1", "b2"])
                assert await tanktop.post_events(batch) == len(batch)
                await tanktop.post_event("new", "seen", "movie", "a1")
                first = await tanktop.recommendations("new")
                assert {r.reasons[0].type for r in first} <= {"available"}, "no model yet"
                rows: list[Any] = []

                async def stored() -> bool:
                    rows[:] = await pg_fetch(fresh_url, "SELECT created_at FROM rec_models")
                    return bool(rows)

                deadline = time.monotonic() + SLOW_START
                while not await stored():
                    assert time.monotonic() < deadline, "the worker trained no first model"
                    await asyncio.sleep(0.05)
                trained_at = time.monotonic()
                while True:
                    body = await tanktop.recommendations("new")
                    if body and body[0].reasons[0].type == "similar_to":
                        break
                    waited = time.monotonic() - trained_at
                    assert waited < ANNOUNCED_WITHIN, "the new model is not served"
                    await asyncio.sleep(0.05)
                assert body[0].item_id == "a2"
    finally:
        worker.terminate()
        worker.wait(SLOW_STOP)


async def test_training_and_serving_use_the_services_settings(
    api: Api, admin: Admin, db: Database, settings: Settings
) -> None:
    """A custom event counts once the operator weighs it: the version in use is the one a
    retrain (due as soon as the settings are newer than the model) and every answer read."""
    service = await service_of(db, api)
    batch = together("a", ["a1", "a2"], "like") + together("b", ["b1", "b2"], "like")
    assert (await api.post("/events/", json=batch)).status_code == 204
    await api.post("/event/new/like/movie/a1/")
    await train_service(db, service.id)
    unweighed = (await api.get("/recommendation/new/")).json()["recommendations"]
    assert {r["reasons"][0]["type"] for r in unweighed} <= {"available"}, "like weighs 0"

    path = f"/service/{service.name}/recommender/"
    scale = {"rating_min": 1, "rating_max": 5, "rating_neutral": 3}
    weighed = {"weights": {"like": 1}, "params": scale}
    assert (await admin.put(path, json=weighed)).status_code == 201
    schedule = RetrainSchedule(services=[service.id])  # other tests' services are due too
    config = settings.model_copy(update={"retrain_check_seconds": 0})
    try:
        for _ in range(3):
            await schedule(db, settings=config)
            await schedule.idle()
            if await models_of(db, service.id) == 2:
                break
        assert await models_of(db, service.id) == 2, "settings newer than the model: retrain"
    finally:
        await schedule.aclose()
    body = (await api.get("/recommendation/new/")).json()["recommendations"]
    assert body[0]["item_id"] == "a2"
    assert body[0]["reasons"] == [{"type": "similar_to", "item_type": "movie", "item_id": "a1"}]

    await api.post("/event/critic/rated/movie/a1/1/")  # one star: a dislike on this scale
    await api.post("/event/critic/like/movie/b1/")
    disliked = (await api.get("/recommendation/critic/")).json()["recommendations"]
    assert disliked[0]["item_id"] == "b2"
    assert disliked[-1]["item_id"] == "a2", "like what they disliked: last"


async def test_a_loaded_model_is_kept_out_of_the_collectors_full_passes(
    api: Api, db: Database
) -> None:
    service = await service_of(db, api)
    batch = together("a", ["a1", "a2"], "seen")
    assert (await api.post("/events/", json=batch)).status_code == 204
    await train_service(db, service.id)
    cache = ModelCache(db, refresh=0)
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    model = await cache.get(service.id)
    assert model is not None
    assert model.items
    assert gc.get_freeze_count() > 0, "the model and what else lives on, frozen"
