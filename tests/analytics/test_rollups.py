"""Rollups against brute force over random histories, buckets, time zones, workers, rebuild."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections import defaultdict
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyroaring import BitMap

from tanktop.analytics import queries, rollup, streams, upkeep
from tanktop.analytics.tables import analytics_streams, analytics_user_events, analytics_users
from tanktop.app import worker_tasks
from tanktop.config import Settings
from tanktop.db import Database
from tanktop.events import service as events
from tests.analytics.helpers import (
    Happened,
    answered_series,
    brute_series,
    catch_up,
    local_start,
)
from tests.conftest import Api, assert_problem, new_api, service_of
from tests.servers import run_cli, tanktop_env

BASE = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)  # a Monday
USERS = [f"u{i}" for i in range(6)]
EVENT = st.builds(
    Happened,
    user=st.sampled_from(USERS),
    event=st.sampled_from(["seen", "rated", "watchlist", "click"]),
    item_type=st.sampled_from(["movie", "programme"]),
    item_id=st.sampled_from(["1", "2", "3"]),
    at=st.integers(0, 20 * 24 * 60).map(lambda m: BASE + dt.timedelta(minutes=m)),
)


def entry(h: Happened) -> dict[str, Any]:
    value = 4 if h.event == "rated" else None
    return {
        "user_id": h.user,
        "event": h.event,
        "item_type": h.item_type,
        "item_id": h.item_id,
        "value": value,
        "at": h.at.isoformat(),
    }


async def post_all(api: Api, happened: list[Happened]) -> None:
    for first in range(0, len(happened), 1000):
        batch = [entry(h) for h in happened[first : first + 1000]]
        response = await api.post("/events/", json=batch)
        assert response.status_code == 204, response.text


def span(days: int = 21) -> str:
    end = BASE + dt.timedelta(days=days)
    return f"from={BASE.isoformat()}&to={end.isoformat()}".replace("+", "%2B")


async def answers(api: Api) -> dict[str, Any]:
    """Every rollup answer over the test range, for comparisons."""
    found = {}
    for name, path in {
        "day": f"/analytics/events/?{span()}&interval=day",
        "week": f"/analytics/events/?{span()}&interval=week",
        "hour": f"/analytics/events/?{span(2)}&interval=hour",
        "users": f"/analytics/users/?{span()}&interval=day",
        "users_week": f"/analytics/users/?{span()}&interval=week",
        "retention": f"/analytics/retention/?{span()}&interval=week",
        "top": f"/analytics/top/movie/?event=seen&{span()}&n=5",
        **{f"user {user}": f"/analytics/user/{user}/" for user in USERS},
    }.items():
        response = await api.get(path)
        assert response.status_code == 200, response.text
        found[name] = response.json()
    return found


def brute_user(happened: list[Happened], user: str) -> dict[str, Any]:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    times = [h.at for h in happened if h.user == user]
    for h in happened:
        if h.user == user:
            counts[(h.event, h.item_type)] += 1
    return {
        "events": [
            {"event": e, "item_type": t, "count": n} for (e, t), n in sorted(counts.items())
        ],
        "first_activity": min(times).isoformat() if times else None,
        "last_activity": max(times).isoformat() if times else None,
    }


def brute_users(
    happened: list[Happened], interval: str, tz: str = "UTC"
) -> dict[str, tuple[int, int]]:
    first: dict[str, dt.datetime] = {}
    active: dict[str, set[str]] = defaultdict(set)
    for h in happened:
        first[h.user] = min(first.get(h.user, h.at), h.at)
        active[local_start(h.at, interval, tz)].add(h.user)
    new: dict[str, int] = defaultdict(int)
    for at in first.values():
        new[local_start(at, interval, tz)] += 1
    return {s: (len(active[s]), new[s]) for s in set(active) | set(new)}


def brute_retention(
    happened: list[Happened], starts: list[str], interval: str = "week", tz: str = "UTC"
) -> list[tuple[int, list[int]]]:
    first: dict[str, dt.datetime] = {}
    active: dict[str, set[str]] = defaultdict(set)
    for h in happened:
        first[h.user] = min(first.get(h.user, h.at), h.at)
        active[local_start(h.at, interval, tz)].add(h.user)
    cohorts = []
    for i, start in enumerate(starts):
        members = {u for u, at in first.items() if local_start(at, interval, tz) == start}
        cohorts.append((len(members), [len(members & active[later]) for later in starts[i + 1 :]]))
    return cohorts


def brute_top(happened: list[Happened]) -> list[tuple[str, int, int]]:
    counts: dict[str, int] = defaultdict(int)
    users: dict[str, set[str]] = defaultdict(set)
    for h in happened:
        if h.event == "seen" and h.item_type == "movie":
            counts[h.item_id] += 1
            users[h.item_id].add(h.user)
    ranked = sorted(counts, key=lambda i: (-counts[i], i))[:5]
    return [(i, counts[i], len(users[i])) for i in ranked]


def check(found: dict[str, Any], happened: list[Happened]) -> None:
    assert answered_series(found["day"]) == brute_series(happened, "day")
    assert answered_series(found["week"]) == brute_series(happened, "week")
    early = [h for h in happened if h.at < BASE + dt.timedelta(days=2)]
    assert answered_series(found["hour"]) == brute_series(early, "hour")
    for name, interval in (("users", "day"), ("users_week", "week")):
        points = {p["start"]: (p["active"], p["new"]) for p in found[name]["points"]}
        expected = brute_users(happened, interval)
        assert {s: v for s, v in points.items() if v != (0, 0)} == expected
    starts = [c["start"] for c in found["retention"]["cohorts"]]
    assert [(c["users"], c["retained"]) for c in found["retention"]["cohorts"]] == (
        brute_retention(happened, starts)
    )
    top = [(str(i["item_id"]), i["events"], i["users"]) for i in found["top"]["items"]]
    assert top == brute_top(happened)
    for user in USERS:
        stats = found[f"user {user}"]
        assert {k: stats[k] for k in ("events", "first_activity", "last_activity")} == (
            brute_user(happened, user)
        )


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(happened=st.lists(EVENT, min_size=1, max_size=60), split=st.integers(0, 60))
async def test_rollups_equal_brute_force(
    happened: list[Happened], split: int, api: Api, db: Database
) -> None:
    """Whatever the history and however it is cut into worker rounds, the answers equal a
    count over the raw events; and a rebuild from history gives the same answers."""
    service = await new_api(db, api.http)
    await post_all(service, happened[:split])
    await catch_up(db)
    await post_all(service, happened[split:])
    await catch_up(db)
    found = await answers(service)
    check(found, happened)
    await rollup.rebuild(db, [(await service_of(db, service)).id])
    assert await answers(service) == found


async def test_distinct_users_merge_across_hours_days_and_weeks(api: Api, db: Database) -> None:
    at = [BASE + dt.timedelta(hours=h) for h in (1, 5, 30, 200)]
    happened = [Happened("a", "seen", "movie", "1", t) for t in at]
    happened.append(Happened("b", "seen", "movie", "1", at[0]))
    await post_all(api, happened)
    await catch_up(db)
    body = (await api.get(f"/analytics/events/?{span(14)}&interval=week")).json()
    points = body["series"][0]["points"]
    assert [(p["events"], p["users"]) for p in points] == [(4, 2), (1, 1)]
    body = (await api.get(f"/analytics/events/?{span(2)}&interval=day")).json()
    assert [(p["events"], p["users"]) for p in body["series"][0]["points"]] == [(3, 2), (1, 1)]
    month = (await api.get(f"/analytics/users/?{span(14)}&interval=month")).json()
    assert [(p["active"], p["new"]) for p in month["points"]] == [(2, 2)]


async def test_distinct_users_are_exact_at_thousands_of_users(api: Api, db: Database) -> None:
    """The error of distinct users is zero, not a sketch's 2%: 5,000 users on each of two days,
    2,500 on both (each day's set past a roaring array container's 4,096), 7,500 in the
    week; and new users are those of the first day, then the 2,500 not seen before."""
    happened = [
        Happened(f"u{i}", "seen", "movie", str(i % 50), BASE + dt.timedelta(seconds=i))
        for i in range(5000)
    ] + [
        Happened(f"u{i}", "seen", "movie", str(i % 50), BASE + dt.timedelta(days=1, seconds=i))
        for i in range(2500, 7500)
    ]
    await post_all(api, happened)
    await catch_up(db)
    days = (await api.get(f"/analytics/events/?{span(2)}&interval=day")).json()
    assert [(p["events"], p["users"]) for p in days["series"][0]["points"]] == [
        (5000, 5000),
        (5000, 5000),
    ]
    week = (await api.get(f"/analytics/events/?{span(7)}&interval=week")).json()
    assert [(p["events"], p["users"]) for p in week["series"][0]["points"]] == [(10000, 7500)]
    users = (await api.get(f"/analytics/users/?{span(2)}&interval=day")).json()
    assert [(p["active"], p["new"]) for p in users["points"]] == [(5000, 5000), (5000, 2500)]
    top = (await api.get(f"/analytics/top/movie/?event=seen&{span(7)}&n=1")).json()
    assert top["items"] == [{"item_id": 0, "events": 200, "users": 150}]


def thrice_on_one_day(days: int, items: int) -> list[Happened]:
    """Each day, `items` items of that day only, each seen by 3 users."""
    return [
        Happened(f"u{k}", "seen", "movie", f"d{day}i{i}", BASE + dt.timedelta(days=day, hours=k))
        for day in range(days)
        for i in range(items)
        for k in range(3)
    ]


async def test_a_top_item_that_leads_no_single_day_is_found(api: Api, db: Database) -> None:
    """Each of 10 days: 30 items seen 3 times that day only, and item "x" seen twice. The top
    list reads each day's leaders first; "x" is none of them, yet with 20 it beats them all."""
    happened = thrice_on_one_day(days=10, items=30)
    happened += [
        Happened(f"u{k}", "seen", "movie", "x", BASE + dt.timedelta(days=day, hours=k))
        for day in range(10)
        for k in range(2)
    ]
    await post_all(api, happened)
    await catch_up(db)
    body = (await api.get(f"/analytics/top/movie/?event=seen&{span(10)}&n=1")).json()
    assert body["items"] == [{"item_id": "x", "events": 20, "users": 2}]
    body = (await api.get(f"/analytics/top/movie/?event=seen&{span(10)}&n=3")).json()
    assert [(i["item_id"], i["events"]) for i in body["items"]] == [
        ("x", 20),
        ("d0i0", 3),
        ("d0i1", 3),
    ]


async def test_a_top_item_of_one_event_a_day_is_found(api: Api, db: Database) -> None:
    """The rank index holds only item rows of two events or more: "y", seen once on each of
    10 days, is in none of it, yet with 10 it beats items seen 3 times on one day; and where
    no item has two events on a day (a flat catalogue) every item's total decides, ties by
    id."""
    happened = thrice_on_one_day(days=10, items=30)
    happened += [
        Happened("u9", "seen", "movie", "y", BASE + dt.timedelta(days=day, hours=5))
        for day in range(10)
    ]
    happened += [  # one event a day each, the items of the second week
        Happened(f"u{day}", "seen", "movie", f"f{i}", BASE + dt.timedelta(days=day, hours=i))
        for day in range(14, 16)
        for i in range(3)
    ]
    await post_all(api, happened)
    await catch_up(db)
    body = (await api.get(f"/analytics/top/movie/?event=seen&{span(10)}&n=2")).json()
    assert [(i["item_id"], i["events"], i["users"]) for i in body["items"]] == [
        ("y", 10, 1),
        ("d0i0", 3, 3),
    ]
    week = (
        f"from={(BASE + dt.timedelta(days=14)).isoformat()}&to="
        + (BASE + dt.timedelta(days=16)).isoformat()
    )
    body = await api.get(f"/analytics/top/movie/?event=seen&{week}&n=2".replace("+", "%2B"))
    assert [(i["item_id"], i["events"]) for i in body.json()["items"]] == [("f0", 2), ("f1", 2)]


def flat(days: int, items: int, catalogue: int) -> list[Happened]:
    """Each day, `items` of `catalogue` items seen once (a flat catalogue: no item has two
    events on a day, so no day's leaders settle a top list and every item is summed)."""
    return [
        Happened(
            f"u{day % 4}",
            "seen",
            "movie",
            f"m{(i * 7 + day * 11) % catalogue}",
            BASE + dt.timedelta(days=day, minutes=i),
        )
        for day in range(days)
        for i in range(items)
    ]


async def test_a_flat_catalogues_top_list_counts_its_days_only(api: Api, db: Database) -> None:
    """On a flat catalogue a top list sums every item over its range, read by day on
    PostgreSQL (`ix_analytics_items_day`): the days before and after it do not count."""
    happened = flat(days=12, items=40, catalogue=60)
    await post_all(api, happened)
    await catch_up(db)
    first, end = BASE + dt.timedelta(days=3), BASE + dt.timedelta(days=9)
    week = f"from={first.isoformat()}&to={end.isoformat()}".replace("+", "%2B")
    body = (await api.get(f"/analytics/top/movie/?event=seen&{week}&n=5")).json()
    inside = [h for h in happened if first <= h.at < end]
    assert [(i["item_id"], i["events"], i["users"]) for i in body["items"]] == brute_top(inside)


async def write_flat_item_rows(postgres_url: str, sid: int, days: int, first: int = 0) -> None:
    """PostgreSQL: item rows written straight, `days` days from BASE + `first` of 300 items of
    one event (one user each), beside a second item type, in day order as rounds write them."""
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute(
            "INSERT INTO analytics_items (service_id, event, item_type, day, item_id, events, "
            "members) SELECT $1, 'seen', t, $2::timestamptz + d * interval '1 day', "
            "((n * 7 + d * 31) % 2000)::text, 1, $5 "
            "FROM generate_series($4::int, $4::int + $3::int - 1) d, "
            "(VALUES ('movie'), ('episode')) ty(t), "
            "generate_series(1, 300) n ORDER BY d, n, t",
            sid,
            BASE,
            days,
            first,
            BitMap([0]).serialize(),
        )
    finally:
        await conn.close()


async def test_a_flat_catalogues_top_list_reads_the_rows_of_its_days(
    api: Api, db: Database, postgres_url: str
) -> None:
    """The sum of every item over a range reads the range's rows by day (BRIN), not through
    the key, which leads with the item and so reads the event's and item type's rows of every
    day there are (a flat catalogue of 3,000 items a day over 180: 309 to 551 ms)."""
    if db.is_sqlite:
        pytest.skip("the plan asked of is PostgreSQL's")
    sid = (await service_of(db, api)).id
    await write_flat_item_rows(postgres_url, sid, days=120)
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute("VACUUM ANALYZE analytics_items")  # as autovacuum would
    finally:
        await conn.close()
    query = queries.top_totals_query(
        sid, "seen", "movie", BASE + dt.timedelta(days=113), BASE + dt.timedelta(days=120), 10
    )
    async with db.read() as read:
        sql = str(query.compile(read.sync_connection, compile_kwargs={"literal_binds": True}))
        plan = "\n".join(str(row[0]) for row in await read.execute(sa.text(f"EXPLAIN {sql}")))
    assert "ix_analytics_items_day" in plan, plan


async def test_a_worker_summarises_the_day_indexs_new_ranges(
    api: Api, db: Database, settings: Settings, postgres_url: str
) -> None:
    """A BRIN range not summarised is read whole by every top list that sums its range, and
    where autovacuum is off (as on the test server) nothing else summarises them: a worker
    does, once a minute."""
    if db.is_sqlite:
        pytest.skip("BRIN is PostgreSQL's")
    sid = (await service_of(db, api)).id
    await write_flat_item_rows(postgres_url, sid, days=20)
    task = upkeep.SummariseItemDays()
    assert await task(db, settings=settings) > 0
    await write_flat_item_rows(postgres_url, sid, days=20, first=20)
    assert await task(db, settings=settings) == 0, "not due again within the minute"
    async with db.write() as conn:
        assert await queries.summarise_item_days(conn) > 0, "the rows written since"
        assert await queries.summarise_item_days(conn) == 0


async def test_item_rows_add_up_over_rounds(api: Api, db: Database) -> None:
    """A later round finds the item rows an earlier one wrote (their events and users grow),
    beside rows of its own it writes new."""
    first = [Happened(f"u{k}", "seen", "movie", "a", BASE + dt.timedelta(hours=k)) for k in (1, 2)]
    later = [Happened(f"u{k}", "seen", "movie", "a", BASE + dt.timedelta(hours=k)) for k in (2, 3)]
    later += [Happened("u4", "seen", "movie", "b", BASE + dt.timedelta(hours=4))]
    await post_all(api, first)
    await catch_up(db)
    await post_all(api, later)
    await catch_up(db)
    body = (await api.get(f"/analytics/top/movie/?event=seen&{span(1)}&n=2")).json()
    assert [(i["item_id"], i["events"], i["users"]) for i in body["items"]] == [
        ("a", 4, 3),
        ("b", 1, 1),
    ]


async def test_buckets_follow_the_time_zone_across_dst(api: Api, db: Database) -> None:
    """London moves to summer time on 29 March 2026: that local day has 23 hours, and the
    day after starts at 23:00 UTC."""
    times = [
        "2026-03-28T23:30:00+00:00",  # 28th in London (GMT)
        "2026-03-29T00:30:00+00:00",  # 29th
        "2026-03-29T22:30:00+00:00",  # 29th, 23:30 BST
        "2026-03-29T23:30:00+00:00",  # 30th, 00:30 BST
    ]
    happened = [
        Happened(f"u{i}", "seen", "movie", "1", dt.datetime.fromisoformat(t))
        for i, t in enumerate(times)
    ]
    await post_all(api, happened)
    await catch_up(db)
    query = "from=2026-03-28T00:00:00Z&to=2026-03-30T23:00:00Z&interval=day&tz=Europe/London"
    body = (await api.get(f"/analytics/events/?{query}")).json()
    points = [(p["start"], p["events"], p["users"]) for p in body["series"][0]["points"]]
    assert points == [
        ("2026-03-28T00:00:00+00:00", 1, 1),
        ("2026-03-29T00:00:00+00:00", 2, 2),
        ("2026-03-30T00:00:00+01:00", 1, 1),
    ]
    assert answered_series(body) == brute_series(happened, "day", "Europe/London")
    utc = (await api.get(f"/analytics/events/?{query.replace('Europe/London', 'UTC')}")).json()
    assert [p["events"] for p in utc["series"][0]["points"]] == [1, 3, 0]
    hours = "from=2026-03-29T00:00:00Z&to=2026-03-29T02:00:00Z&interval=hour&tz=Europe/London"
    starts = [p["start"] for p in (await api.get(f"/analytics/users/?{hours}")).json()["points"]]
    assert starts == ["2026-03-29T00:00:00+00:00", "2026-03-29T02:00:00+01:00"]


async def test_bad_ranges_are_refused(api: Api) -> None:
    cases = [
        ("from=2026-03-02&to=2026-03-01", "after"),
        ("from=2026-03-01&to=2026-03-02&interval=fortnight", "interval"),
        ("from=2026-03-01&to=2026-03-02&tz=Mars/Olympus", "time zone"),
        ("from=2000-01-01&to=2026-03-02&interval=hour", "10,000"),
        ("from=2026-03-01&to=2026-03-02&tz=Asia/Kolkata", "whole number of hours"),
        ("from=2026-03-01&to=2026-03-02&interval=hour&tz=Asia/Kathmandu", "whole number"),
        ("from=yesterday", "from"),
    ]
    for query, words in cases:
        for path in ("events", "users", "retention"):
            assert_problem(await api.get(f"/analytics/{path}/?{query}"), 400, words)
    assert_problem(await api.get("/analytics/top/movie/?from=2026-03-02&to=2026-03-01"), 400)
    assert_problem(await api.get("/analytics/engagement/?from=2026-03-02&to=2026-03-01"), 400)


async def test_removals_and_other_services_do_not_count(
    api: Api, other_api: Api, db: Database
) -> None:
    await post_all(api, [Happened("a", "watchlist", "movie", "1", BASE)])
    await post_all(other_api, [Happened("a", "watchlist", "movie", "1", BASE)] * 3)
    assert (await api.delete("/event/a/watchlist/movie/1/")).status_code == 204
    await catch_up(db)
    body = (await api.get(f"/analytics/events/?{span(1)}&interval=day")).json()
    assert answered_series(body) == {("watchlist", "movie"): {local_start(BASE, "day"): (1, 1)}}
    top = (await api.get(f"/analytics/top/movie/?event=watchlist&{span(1)}")).json()
    assert top["items"] == [{"item_id": 1, "events": 1, "users": 1}]
    other = (await other_api.get(f"/analytics/events/?{span(1)}&interval=day")).json()
    assert answered_series(other) == {("watchlist", "movie"): {local_start(BASE, "day"): (3, 1)}}


async def test_two_workers_never_count_twice(api: Api, db: Database, settings: Settings) -> None:
    """Two worker processes' databases (engines of their own) roll up at once."""
    happened = [
        Happened(f"u{i % 7}", "seen", "movie", str(i % 5), BASE + dt.timedelta(minutes=i))
        for i in range(3000)
    ]
    await post_all(api, happened)
    workers = [Database(settings.database_url), Database(settings.database_url)]
    try:

        async def work(worker: Database) -> None:
            while await rollup.roll_up(worker, limit=200) > 0 or await rollup.roll_up(worker) > 0:
                pass

        await asyncio.gather(*(work(w) for w in workers))
    finally:
        for worker in workers:
            await worker.dispose()
    await catch_up(db)
    body = (await api.get(f"/analytics/events/?{span(3)}&interval=day")).json()
    assert answered_series(body) == brute_series(happened, "day")


async def test_a_worker_whose_lease_was_taken_writes_nothing(api: Api, db: Database) -> None:
    await catch_up(db)
    slow = await streams.claim(db, rollup.LEASE)
    assert slow is not None
    assert await streams.claim(db, rollup.LEASE) is None, "leased"
    async with db.write() as conn:  # the lease runs out
        await conn.execute(
            sa.update(analytics_streams).values(lease_until=BASE - dt.timedelta(days=1))
        )
    await post_all(api, [Happened("a", "seen", "movie", "1", BASE)])
    await catch_up(db)  # another worker takes over and counts it
    with pytest.raises(streams.LostLease):
        async with db.write() as conn:
            await streams.save(conn, slow, None)
    body = (await api.get(f"/analytics/events/?{span(1)}&interval=day")).json()
    assert answered_series(body) == {("seen", "movie"): {local_start(BASE, "day"): (1, 1)}}


async def test_a_round_whose_lease_is_taken_over_mid_round_writes_nothing(
    api: Api, db: Database
) -> None:
    """The round read the item's row missing, so it would INSERT it; another worker counted
    it meanwhile. Its transaction checks the lease first, so it ends in `LostLease`, not a
    duplicate key, and counts nothing twice."""
    await catch_up(db)
    await post_all(api, [Happened("a", "seen", "movie", "1", BASE)])
    slow = await streams.claim(db, rollup.LEASE)
    assert slow is not None
    history = await events.history_after(db, after_id=slow[0].hwm, limit=rollup.BATCH)
    rows = queries.Round(slow[0].hwm, history[-1].id)
    deltas = await rollup.compute(db, history, [])
    assert [len(d.new_items) for d in deltas] == [1]
    async with db.write() as conn:  # the lease runs out
        await conn.execute(
            sa.update(analytics_streams).values(lease_until=BASE - dt.timedelta(days=1))
        )
    await catch_up(db)  # another worker takes over and counts it
    with pytest.raises(streams.LostLease):
        await rollup.write_deltas(db, deltas, slow, None, rows)
    body = (await api.get(f"/analytics/events/?{span(1)}&interval=day")).json()
    assert answered_series(body) == {("seen", "movie"): {local_start(BASE, "day"): (1, 1)}}
    top = (await api.get(f"/analytics/top/movie/?event=seen&{span(1)}")).json()
    assert top["items"] == [{"item_id": 1, "events": 1, "users": 1}]


def test_gaps_are_kept_until_no_transaction_can_fill_them() -> None:
    stream = streams.Stream("events", 10, [], 0)
    stream.advance([11, 12, 15, 17], now=100.0)
    assert (stream.hwm, [g.id for g in stream.gaps]) == (17, [13, 14, 16])
    stream.settle(xmin=50, xmax=60, now=100.5)
    assert [g.horizon for g in stream.gaps] == [None, None, None], "too fresh for a horizon"
    stream.advance([14], now=101.0)
    stream.settle(xmin=55, xmax=70, now=101.5)
    assert [(g.id, g.horizon) for g in stream.gaps] == [(13, 70), (16, 70)]
    stream.settle(xmin=69, xmax=80, now=102.0)
    assert [g.id for g in stream.gaps] == [13, 16], "a transaction below 70 may still run"
    stream.settle(xmin=70, xmax=80, now=102.5)
    assert stream.gaps == []
    sqlite = streams.Stream("events", 0, [], 0)
    sqlite.advance([1, 3], now=0.0)
    sqlite.settle(None, None, now=0.0)
    assert (sqlite.hwm, sqlite.gaps) == (3, [])


async def test_the_rebuild_command_recounts_a_service(
    api: Api, db: Database, settings: Settings
) -> None:
    if not db.is_sqlite:
        pytest.skip("the command is the same on both; rebuilds run on both in the property test")
    happened = [
        Happened(f"u{i % 4}", "seen", "movie", str(i % 3), BASE + dt.timedelta(hours=i))
        for i in range(40)
    ]
    await post_all(api, happened)
    await catch_up(db)
    before = await answers(api)
    name = (await service_of(db, api)).name
    env = tanktop_env(settings.database_url)
    result = await asyncio.to_thread(run_cli, env, "analytics", "rebuild", "--service", name)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("analytics rebuilt from 40 events")
    assert await answers(api) == before
    check(before, happened)
    unknown = await asyncio.to_thread(run_cli, env, "analytics", "rebuild", "--service", "nosuch")
    assert unknown.returncode != 0


async def test_a_worker_rolls_up_round_after_round_while_behind_then_every_few_seconds(
    api: Api, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rollup, "BATCH", 2)
    rare = settings.model_copy(update={"analytics_rollup_seconds": 3600})
    schedule = rollup.RollupSchedule()
    await post_all(api, [Happened("a", "seen", "movie", str(i), BASE) for i in range(5)])
    assert [await schedule(db, settings=rare) for _ in range(4)] == [2, 2, 1, 0]
    await post_all(api, [Happened("b", "seen", "movie", "1", BASE)])
    assert await schedule(db, settings=rare) == 0, "caught up: not due for an hour"
    assert await rollup.RollupSchedule()(db, settings=rare) == 1, "another worker's schedule"


async def test_rows_asked_for_twice_come_once(api: Api, db: Database) -> None:
    """`select_joined` joins the values asked as a set: a value twice is still one match."""
    assert (await api.post("/event/7/seen/movie/1/")).status_code == 204
    await catch_up(db)
    service = (await service_of(db, api)).id
    query = sa.select(analytics_users.c.user_id).where(analytics_users.c.service_id == service)
    async with db.read() as conn:
        rows = await queries.select_joined(conn, query, analytics_users.c.user_id, ["7", "7"])
    assert [row.user_id for row in rows] == ["7"]


async def test_the_database_counts_a_rounds_rows_per_user_as_the_round_read_them(
    api: Api, db: Database
) -> None:
    """Per-user counts come from the database (`add_round_user_events`) over the round's id
    range: a row the round saw as a gap (`skipped`) is left to the round that reads it, an
    earlier gap read now (`filled`) counts, and removals do not."""
    start = max([0, *(e.id for e in await events.history_after(db, after_id=0, limit=10**6))])
    await post_all(api, [Happened("u", "seen", "movie", str(n), BASE) for n in range(4)])
    assert (await api.delete("/event/u/seen/movie/3/")).status_code == 204
    service = (await service_of(db, api)).id
    ids = [e.id for e in await events.history_after(db, after_id=start, limit=10)]
    assert len(ids) == 5, "four events and a removal"

    async def counted(rows: queries.Round) -> int:
        async with db.write() as conn:
            await queries.add_round_user_events(conn, rows, [service])
            found = await queries.select_user_events(conn, service, "u")
            await conn.execute(sa.delete(analytics_user_events))
        return sum(row.events for row in found)

    assert await counted(queries.Round(start, ids[-1])) == 4
    assert await counted(queries.Round(ids[0], ids[-1], skipped=[ids[2]])) == 2
    assert await counted(queries.Round(ids[1], ids[-1], filled=[ids[0]])) == 3


async def test_rounds_are_larger_on_postgresql_than_under_sqlites_one_write_lock(
    db: Database,
) -> None:
    """A round writes each item's and user's row once, so larger rounds cost less per event
    while catching up; on SQLite its transaction holds the lock the API's writes wait for."""
    assert rollup.batch_size(db) == (30_000 if db.is_sqlite else 100_000)


async def test_item_rows_are_read_by_key_once_whatever_is_asked(api: Api, db: Database) -> None:
    """A round reads its item rows by (event, type, day, item): each one once (asked twice or
    not), none of another day, nothing for an item without a row."""
    await post_all(api, [Happened("a", "seen", "movie", "1", BASE)] * 2)
    await catch_up(db)
    service = (await service_of(db, api)).id
    day = rollup.day_of(BASE)
    asked = [("seen", "movie", day, "1"), ("seen", "movie", day, "1")]
    asked += [("seen", "movie", day + rollup.DAY, "1"), ("seen", "movie", day, "2")]
    async with db.read() as conn:
        found = await queries.select_items_at(conn, service, asked)
    assert list(found) == [("seen", "movie", day, "1")]
    events, members = found[("seen", "movie", day, "1")]
    assert (events, len(rollup.bitmap(members))) == (2, 1), "two events of one user"


async def test_the_worker_of_an_api_process_reads_smaller_rounds(
    api: Api, db: Database, settings: Settings
) -> None:
    """Its rounds' Python runs on the event loop that answers the process's requests."""
    schedules = {
        beside: [t for t in worker_tasks(beside_api=beside) if isinstance(t, rollup.RollupSchedule)]
        for beside in (True, False)
    }
    assert [t.rows for t in schedules[True]] == [rollup.BESIDE_API_BATCH]
    assert [t.rows for t in schedules[False]] == [None]
    await post_all(api, [Happened("a", "seen", "movie", str(i), BASE) for i in range(3)])
    rare = settings.model_copy(update={"analytics_rollup_seconds": 3600})
    schedule = rollup.RollupSchedule(rows=2)
    assert [await schedule(db, settings=rare) for _ in range(3)] == [2, 1, 0]


async def test_a_round_lets_the_event_loop_turn_while_it_counts(
    api: Api, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An API process's own worker counts on the loop that answers its requests: a round
    gives the loop a turn every `YIELD_EVERY` events (a round of 30,000 held it 300 ms)."""
    turns: list[float] = []
    sleep = asyncio.sleep

    async def noted(delay: float, *args: Any) -> Any:
        if sys._getframe(1).f_globals["__name__"] == rollup.__name__:
            turns.append(delay)
        return await sleep(delay, *args)

    await post_all(api, [Happened("a", "seen", "movie", str(i), BASE) for i in range(10)])
    monkeypatch.setattr(rollup, "YIELD_EVERY", 3)
    monkeypatch.setattr(asyncio, "sleep", noted)
    await catch_up(db)
    assert turns == [0, 0, 0], "after the 3rd, 6th and 9th of 10 events"


async def test_per_user_counts_of_several_services_in_one_round_and_a_rebuild_of_one(
    api: Api, other_api: Api, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round's per-user counts are one statement for all its services (`write_deltas`):
    each service's counts are its own; a rebuild of one service reads and counts its rows
    alone, leaving the other's counts as they were (counted again, they would double)."""
    await post_all(api, [Happened("a", "seen", "movie", str(n), BASE) for n in range(2)])
    await post_all(other_api, [Happened("a", "seen", "movie", "1", BASE)] * 3)
    await catch_up(db)
    ours, theirs = (await service_of(db, api)).id, (await service_of(db, other_api)).id

    async def per_user() -> tuple[int, int]:
        async with db.read() as conn:
            return (
                sum(r.events for r in await queries.select_user_events(conn, ours, "a")),
                sum(r.events for r in await queries.select_user_events(conn, theirs, "a")),
            )

    assert await per_user() == (2, 3)
    read: set[int] = set()
    history_after = events.history_after

    async def spied(db: Database, **asked: Any) -> list[events.HistoryEvent]:
        page = await history_after(db, **asked)
        read.update(e.service_id for e in page)
        return page

    monkeypatch.setattr(events, "history_after", spied)
    assert await rollup.rebuild(db, [ours]) == 2
    assert await per_user() == (2, 3)
    assert read == {ours}, "the rebuild read its service's rows only"
