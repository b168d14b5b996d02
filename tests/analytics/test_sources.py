"""Where counted events come from: derived live-TV events, transactions that commit late, a
running worker (freshness), and one user's own figures."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import asyncpg
import pytest
import sqlalchemy as sa

from tanktop.analytics.tables import analytics_streams
from tanktop.config import Settings
from tanktop.db import Database
from tanktop.events.service import stream_history
from tests.analytics.helpers import Happened, answered_series, brute_series, catch_up
from tests.bookmarks.test_live import at, evening
from tests.conftest import Admin, Api, service_of
from tests.servers import start_worker, tanktop_env


def day_range(day: str) -> str:
    return f"from={day}T00:00:00Z&to={day}T23:59:59Z"


async def test_derived_live_tv_events_count_like_posted_ones(
    api: Api, admin: Admin, db: Database
) -> None:
    channel, film, _show, _episode = await evening(admin)
    await api.post(f"/event/7/start/channel/{channel}/{at(20)}/")
    await api.post(f"/event/7/end/channel/{channel}/{at(21, 30)}/")
    await catch_up(db)
    history = [
        Happened(e.user_id, e.event, e.item_type, e.item_id, e.at)
        async for e in stream_history(db, (await service_of(db, api)).id)
    ]
    assert {(h.event, h.item_type) for h in history} >= {("seen", "movie"), ("progress", "episode")}
    body = (await api.get(f"/analytics/events/?{day_range('2026-11-20')}&interval=day")).json()
    assert answered_series(body) == brute_series(history, "day")
    top = (await api.get(f"/analytics/top/movie/?event=seen&{day_range('2026-11-20')}")).json()
    assert top["items"] == [{"item_id": film, "events": 1, "users": 1}]


async def test_a_transaction_that_commits_late_is_still_counted(
    api: Api, db: Database, postgres_url: str, settings: Settings
) -> None:
    """PostgreSQL hands out ids before commit: a row committed after a larger id was counted
    is counted when it appears, and an id rolled back is forgotten."""
    if db.is_sqlite:
        pytest.skip("SQLite writes one transaction at a time")
    service = (await service_of(db, api)).id
    insert = (
        "INSERT INTO event_history (service_id, user_id, event, item_type, item_id, value, at, "
        "origin, removed) VALUES ($1, $2, 'seen', 'movie', '1', 'null', $3, 'posted', false)"
    )
    when = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
    late, undone = await asyncpg.connect(postgres_url), await asyncpg.connect(postgres_url)
    try:
        late_tx, undone_tx = late.transaction(), undone.transaction()
        await late_tx.start()
        await undone_tx.start()
        await late.execute(insert, service, "late", when)
        await undone.execute(insert, service, "undone", when)
        batch = [{"user_id": "early", "event": "seen", "item_type": "movie", "item_id": 1,
                  "at": when.isoformat()}]  # fmt: skip
        assert (await api.post("/events/", json=batch)).status_code == 204
        await catch_up(db)
        day = day_range("2026-05-01")
        body = (await api.get(f"/analytics/events/?{day}&interval=day")).json()
        assert body["series"][0]["points"][0]["events"] == 1
        await late_tx.commit()
        await undone_tx.rollback()
        await catch_up(db)
        body = (await api.get(f"/analytics/events/?{day}&interval=day")).json()
        assert body["series"][0]["points"][0] == {
            "start": "2026-05-01T00:00:00+00:00",
            "events": 2,
            "users": 2,
        }
    finally:
        await late.close()
        await undone.close()
    deadline = time.monotonic() + 30
    while True:  # the rolled-back id is let go once no transaction can still write it
        await catch_up(db)
        async with db.read() as conn:
            gaps = await conn.scalar(
                sa.select(analytics_streams.c.gaps).where(analytics_streams.c.name == "events")
            )
        if gaps == []:
            break
        assert time.monotonic() < deadline, gaps
        await asyncio.sleep(0.2)


async def test_a_running_worker_shows_an_event_within_5_seconds(
    api: Api, db: Database, settings: Settings
) -> None:
    worker = start_worker(tanktop_env(settings.database_url, TANKTOP_MIGRATE_ON_START="0"))
    try:
        day = day_range("2026-06-01")

        async def shown(user: str) -> float:
            batch = [{"user_id": user, "event": "seen", "item_type": "movie", "item_id": 1,
                      "at": "2026-06-01T10:00:00Z"}]  # fmt: skip
            assert (await api.post("/events/", json=batch)).status_code == 204
            posted = time.monotonic()
            while True:
                body = (await api.get(f"/analytics/users/?{day}")).json()
                if body["points"][0]["active"] >= int(user[1:]):
                    return time.monotonic() - posted
                assert time.monotonic() - posted < 60, "the worker never counted it"
                await asyncio.sleep(0.05)

        await shown("u1")  # the worker has started and caught up
        assert await shown("u2") < 5
    finally:
        worker.terminate()
        worker.wait(10)


async def test_a_users_values_are_counted_from_the_index_alone(
    api: Api, db: Database, postgres_url: str
) -> None:
    """User stats sum a user's list values: on PostgreSQL an index-only scan (the values are
    in the recent-items index), not one heap page per item of a long list."""
    if db.is_sqlite:
        pytest.skip("INCLUDE columns are PostgreSQL's")
    batch = [
        {"user_id": "7", "event": "progress", "item_type": "movie", "item_id": i, "value": i}
        for i in range(200)
    ]
    assert (await api.post("/events/", json=batch)).status_code == 204
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute("VACUUM list_items")  # what autovacuum does: pages all-visible
        await conn.execute("SET enable_seqscan = off")  # a table this small is read whole
        plan = await conn.fetchval(
            "EXPLAIN (FORMAT JSON) SELECT event, item_type, value, count(*) FROM list_items "
            "WHERE service_id = $1 AND user_id = '7' AND event IN ('progress', 'rated') "
            "AND item_type IN ('movie', 'episode', 'programme') GROUP BY 1, 2, 3",
            (await service_of(db, api)).id,
        )
    finally:
        await conn.close()
    assert '"Index Only Scan"' in plan, plan
    assert (await api.get("/analytics/user/7/")).json()["minutes_watched"] == sum(range(200))


async def test_one_users_figures(api: Api, db: Database) -> None:
    batch = [
        {"user_id": "7", "event": "rated", "item_type": "movie", "item_id": 1, "value": 4,
         "at": "2026-01-01T10:00:00Z"},
        {"user_id": "7", "event": "rated", "item_type": "movie", "item_id": 2, "value": 4},
        {"user_id": "7", "event": "rated", "item_type": "movie", "item_id": 3, "value": 2.5},
        {"user_id": "7", "event": "progress", "item_type": "movie", "item_id": 1, "value": 30},
        {"user_id": "7", "event": "progress", "item_type": "movie", "item_id": 1, "value": 95},
        {"user_id": "7", "event": "progress", "item_type": "episode", "item_id": "e", "value": 20},
        {"user_id": "8", "event": "rated", "item_type": "movie", "item_id": 1, "value": 1},
    ]  # fmt: skip
    assert (await api.post("/events/", json=batch)).status_code == 204
    assert (await api.delete("/event/7/rated/movie/2/")).status_code == 204
    await catch_up(db)
    body = (await api.get("/analytics/user/7/")).json()
    assert body["events"] == [
        {"event": "progress", "item_type": "episode", "count": 1},
        {"event": "progress", "item_type": "movie", "count": 2},
        {"event": "rated", "item_type": "movie", "count": 3},
    ]
    assert body["minutes_watched"] == 115
    assert body["ratings"] == {"count": 2, "mean": 3.25, "distribution": {"2.5": 1, "4": 1}}
    assert body["first_activity"] == "2026-01-01T10:00:00+00:00"
    assert body["last_activity"] > body["first_activity"]
    nobody = (await api.get("/analytics/user/nobody/")).json()
    assert nobody["events"] == []
    assert nobody["first_activity"] is None


async def test_a_users_first_and_last_activity_widen_across_rounds(api: Api, db: Database) -> None:
    """A later round's earlier event moves the first activity back, its later one the last on."""

    def seen(item: int, at: str) -> dict[str, object]:
        return {"user_id": "7", "event": "seen", "item_type": "movie", "item_id": item, "at": at}

    assert (await api.post("/events/", json=[seen(1, "2026-01-02T10:00:00Z")])).status_code == 204
    await catch_up(db)
    later = [seen(2, "2026-01-01T10:00:00Z"), seen(3, "2026-01-03T10:00:00Z")]
    assert (await api.post("/events/", json=later)).status_code == 204
    await catch_up(db)
    body = (await api.get("/analytics/user/7/")).json()
    assert body["first_activity"] == "2026-01-01T10:00:00+00:00"
    assert body["last_activity"] == "2026-01-03T10:00:00+00:00"
