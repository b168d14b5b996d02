"""Impressions: what recommendations served is recorded in the background, never lost quietly."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from tanktop.analytics.impressions import ImpressionRecorder
from tanktop.analytics.service import record_impressions
from tanktop.analytics.tables import impressions
from tanktop.db import Database
from tests.conftest import Admin, Api, service_of, unique
from tests.platform.test_metrics import sample


async def stored(db: Database, service_id: int) -> list[tuple[str, str, str, str]]:
    async with db.read() as conn:
        rows = await conn.execute(
            sa.select(
                impressions.c.user_id,
                impressions.c.surface,
                impressions.c.item_type,
                impressions.c.item_id,
            )
            .where(impressions.c.service_id == service_id)
            .order_by(impressions.c.id)
        )
        return [(r.user_id, r.surface, r.item_type, r.item_id) for r in rows]


async def test_recommendations_record_what_they_served(
    api: Api, admin: Admin, db: Database, app: FastAPI
) -> None:
    for _ in range(3):
        movie = unique("imp")
        assert (await admin.put(f"/catalog/movie/{movie}/", json={"title": movie})).is_success
        offers = [{"source_id": 1, "price": 0, "hd": True}]
        assert (await admin.put(f"/catalog/movie/{movie}/offers/", json=offers)).is_success
    answer = (await api.get("/recommendation/7/movie/?n=3")).json()["recommendations"]
    assert len(answer) == 3
    service = await service_of(db, api)
    recorder: ImpressionRecorder = app.state.impression_recorder
    while recorder.pending:
        await recorder.flush()
    assert await stored(db, service.id) == [
        ("7", "recommendation", "movie", str(r["item_id"])) for r in answer
    ]


async def test_a_full_buffer_drops_and_counts(api: Api, db: Database) -> None:
    service = await service_of(db, api)
    surface = "recommendation"
    recorder = ImpressionRecorder(db, max_buffer=3, flush_seconds=3600)
    metrics_before = (await api.http.get("/metrics")).text
    record_impressions(recorder, service.id, "u", "section:home", [("movie", "1"), ("movie", "2")])
    record_impressions(recorder, service.id, "u", surface, [("movie", "3"), ("movie", "4")])
    assert recorder.pending == 3
    metrics_after = (await api.http.get("/metrics")).text
    dropped = sample(metrics_after, "tanktop_impressions_total", outcome="dropped") - sample(
        metrics_before, "tanktop_impressions_total", outcome="dropped"
    )
    assert dropped == 1
    assert await recorder.flush() == 3
    assert [row[1:] for row in await stored(db, service.id)] == [
        ("section:home", "movie", "1"),
        ("section:home", "movie", "2"),
        ("recommendation", "movie", "3"),
    ]


async def test_closing_writes_what_is_buffered(api: Api, db: Database) -> None:
    service = await service_of(db, api)
    recorder = ImpressionRecorder(db, flush_seconds=3600, batch=2)
    recorder.start()
    items = [("movie", str(i)) for i in range(5)]
    record_impressions(recorder, service.id, "u", "recommendation", items)
    await recorder.close()
    assert [row[3] for row in await stored(db, service.id)] == ["0", "1", "2", "3", "4"]
    record_impressions(recorder, service.id, "u", "recommendation", items)
    assert recorder.pending == 0, "a closed recorder takes nothing more"


async def test_a_failed_flush_keeps_its_rows(db: Database) -> None:
    recorder = ImpressionRecorder(db, flush_seconds=3600)
    record_impressions(recorder, 2**31 - 1, "u", "recommendation", [("movie", "1")])
    assert await recorder.flush() == 0  # no such service: the insert fails
    assert recorder.pending == 1


def test_surfaces_are_checked(db: Database) -> None:
    recorder = ImpressionRecorder(db)
    for surface in ("home", "section:", "Recommendation"):
        with pytest.raises(ValueError, match="surface"):
            record_impressions(recorder, 1, "u", surface, [("movie", "1")])
