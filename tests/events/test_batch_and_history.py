"""Batch ingestion (all or nothing) and the history other domains read."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tanktop.db import Database
from tanktop.events.queries import HISTORY_COLUMNS
from tanktop.events.service import HistoryEvent, stream_history
from tanktop.events.tables import event_history, list_items
from tests.conftest import Api, assert_problem, service_of


def entry(**fields: Any) -> dict[str, Any]:
    return {"user_id": "7", "event": "watchlist", "item_type": "movie", "item_id": 1, **fields}


async def test_batch_is_recorded(api: Api, db: Database) -> None:
    batch = [
        entry(item_id=1),
        entry(item_id="24"),
        entry(event="rated", item_id=3, value=4.5, at="2026-01-01T00:00:00Z"),
        entry(user_id=8, event="progress", item_id=5, value="30", at=1767225600),
    ]
    assert (await api.post("/events/", json=batch)).status_code == 204
    assert (await api.get("/event/7/watchlist/movie/")).json() == {
        "watchlist": {"24": None, "1": None}
    }
    assert (await api.get("/event/7/rated/movie/")).json() == {"rated": {"3": 4.5}}
    assert (await api.get("/event/8/progress/movie/")).json() == {"progress": {"5": 30}}
    history = [e async for e in stream_history(db, (await service_of(db, api)).id)]
    assert {e.origin for e in history} == {"batch"}
    assert history[0].at.isoformat() == "2026-01-01T00:00:00+00:00", "time order"
    assert len(history) == 4


async def test_invalid_batch_stores_nothing(api: Api, db: Database) -> None:
    cases: list[tuple[Any, str]] = [
        ([entry(), entry(event="rated")], "events[1]"),
        ([entry(), entry(item_id="a b")], "events[1].item_id"),
        ([entry(user_id="u" * 33)], "user_id"),
        ([entry(extra=1)], "unknown fields"),
        ([entry(at="not a time")], "events[0]"),
        ([entry(), "x"], "events[1]"),
        ({"user_id": "7"}, "array"),
        ([], "empty"),
        ([entry(item_id=i) for i in range(1001)], "1000"),
        ([entry(event="progress", value=True)], "number"),
    ]
    for body, words in cases:
        assert_problem(await api.post("/events/", json=body), 400, words)
    assert_problem(await api.post("/events/"), 400, "body")
    service = await service_of(db, api)
    assert [e async for e in stream_history(db, service.id)] == []
    assert (await api.get("/event/7/watchlist/movie/")).json() == {"watchlist": {}}


async def test_batch_of_1000_is_accepted(api: Api) -> None:
    batch = [entry(item_id=i) for i in range(1000)]
    assert (await api.post("/events/", json=batch)).status_code == 204
    body = (await api.get("/event/7/watchlist/movie/?limit=1000")).json()
    assert len(body["watchlist"]) == 1000


async def test_backfill_never_overwrites_a_newer_value(api: Api) -> None:
    await api.post("/event/7/rated/movie/1/5/")
    old = [entry(event="rated", value=1, at="2020-01-01T00:00:00Z")]
    assert (await api.post("/events/", json=old)).status_code == 204
    assert (await api.get("/event/7/rated/movie/")).json() == {"rated": {"1": 5}}


async def test_history_keeps_every_event_with_its_origin(api: Api, db: Database) -> None:
    await api.post("/event/7/rated/movie/1/3/")
    await api.post("/event/7/rated/movie/1/4/")
    await api.delete("/event/7/rated/movie/1/")
    await api.post("/events/", json=[entry(user_id="9")])
    service = await service_of(db, api)
    history = [e async for e in stream_history(db, service.id, page_size=2)]
    assert [(e.user_id, e.event, e.value, e.removed, e.origin) for e in history] == [
        ("7", "rated", 3, False, "posted"),
        ("7", "rated", 4, False, "posted"),
        ("7", "rated", None, True, "posted"),
        ("9", "watchlist", None, False, "batch"),
    ]
    mine = [e async for e in stream_history(db, service.id, user_id="9")]
    assert [e.user_id for e in mine] == ["9"]


async def test_each_value_and_time_is_stored_as_sent(api: Api, db: Database) -> None:
    """Every kind of value and a time to the microsecond, in the lists and the history; a
    valueless event stores the JSON `null`, never a missing value."""
    batch = [
        entry(item_id=1),
        entry(event="rated", item_id=2, value=4.5, at="2026-01-01T00:00:00.123456Z"),
        entry(event="rated", item_id=3, value=-7),
        entry(event="note", item_id=4, value='café ☕ "quoted" \\ 1e3'),
        entry(event="progress", item_id=5, value="30.25"),
        entry(event="start", item_type="channel", item_id="c1", value="2026-01-01T20:00:00+01:00"),
    ]
    assert (await api.post("/events/", json=batch)).status_code == 204
    assert (await api.post("/event/7/note/movie/6/%C3%A9t%C3%A9/")).status_code == 204
    expected = {
        ("watchlist", "1"): None,
        ("rated", "2"): 4.5,
        ("rated", "3"): -7,
        ("note", "4"): 'café ☕ "quoted" \\ 1e3',
        ("progress", "5"): 30.25,
        ("start", "c1"): "2026-01-01T19:00:00+00:00",
        ("note", "6"): "été",
    }
    service = await service_of(db, api)
    history = [e async for e in stream_history(db, service.id)]
    assert {(e.event, e.item_id): e.value for e in history} == expected
    rated = next(e for e in history if e.item_id == "2")
    assert rated.at.isoformat() == "2026-01-01T00:00:00.123456+00:00"
    for event, item_type in (("note", "movie"), ("rated", "movie"), ("start", "channel")):
        listed = (await api.get(f"/event/7/{event}/{item_type}/")).json()[event]
        assert listed == {i: v for (e, i), v in expected.items() if e == event}
    async with db.read() as conn:
        for table in (list_items, event_history):
            missing = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(table)
                .where(table.c.service_id == service.id, table.c.value.is_(None))
            )
            assert missing == 0, table.name


async def test_history_is_per_service(api: Api, other_api: Api, db: Database) -> None:
    await api.post("/event/7/seen/movie/1/")
    other = await service_of(db, other_api)
    assert [e async for e in stream_history(db, other.id)] == []


async def test_batch_body_limit_is_its_own(api: Api) -> None:
    huge = [entry(item_id=i, value="v" * 256, event="note") for i in range(1000)]
    assert_problem(await api.post("/events/", json=huge * 5), 413, "bytes")


def test_history_rows_are_named_tuples_of_the_columns_read() -> None:
    """Readers build `HistoryEvent(*row)` from rows of `HISTORY_COLUMNS`, by the hundred
    thousand (analytics, training): a named tuple, five times cheaper to create than the
    frozen dataclass it was, whose fields are those columns in that order."""
    assert HistoryEvent._fields == HISTORY_COLUMNS
    assert isinstance(HistoryEvent(*range(len(HISTORY_COLUMNS))), tuple)
