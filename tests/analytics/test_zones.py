"""Report zones: a service's local days kept as rows, equal to the hours they merge, across
DST changes, kept by the workers, counted again by a rebuild, and used by reads."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tanktop.analytics import rollup, zones
from tanktop.analytics.sets import SETS
from tanktop.analytics.tables import analytics_series
from tanktop.config import Settings
from tanktop.db import Database
from tanktop.errors import BadRequest, NotFound
from tests.analytics.helpers import Happened, answered_series, brute_series, catch_up
from tests.analytics.test_rollups import brute_retention, brute_users, post_all
from tests.conftest import Api, new_api, service_of
from tests.servers import run_cli, tanktop_env

ZONE = "America/New_York"
START = dt.datetime(2026, 3, 1, 5, tzinfo=dt.UTC)  # midnight in New York; DST begins on the 8th
SPAN = f"from={START.isoformat()}&to={(START + dt.timedelta(days=14)).isoformat()}".replace(
    "+", "%2B"
)


def happenings(start: dt.datetime, days: int, users: int) -> st.SearchStrategy[Happened]:
    """Events of a few users on one item, at any minute of `days` days from `start`."""
    return st.builds(
        Happened,
        user=st.sampled_from([f"u{i}" for i in range(users)]),
        event=st.sampled_from(["seen", "rated"]),
        item_type=st.sampled_from(["movie", "programme"]),
        item_id=st.just("1"),
        at=st.integers(0, days * 24 * 60 - 1).map(lambda m: start + dt.timedelta(minutes=m)),
    )


EVENT = happenings(START, 14, 5)


async def zone_answers(api: Api) -> dict[str, Any]:
    found = {}
    for name, path in {
        "day": f"/analytics/events/?{SPAN}&interval=day&tz={ZONE}",
        "week": f"/analytics/events/?{SPAN}&interval=week&tz={ZONE}",
        "users": f"/analytics/users/?{SPAN}&interval=day&tz={ZONE}",
        "retention": f"/analytics/retention/?{SPAN}&interval=week&tz={ZONE}",
    }.items():
        response = await api.get(path)
        assert response.status_code == 200, response.text
        found[name] = response.json()
    return found


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(happened=st.lists(EVENT, min_size=1, max_size=40), split=st.integers(0, 40))
async def test_local_day_rows_equal_the_hours_they_merge(
    happened: list[Happened], split: int, api: Api, db: Database
) -> None:
    """Whatever the history: the answers in the zone are the same whether they merge hours
    or read its local days, built from the hours (added midway) or kept by the worker as
    events arrive, or counted again by a rebuild; and they equal a count over the events."""
    service = await new_api(db, api.http)
    service_id = (await service_of(db, service)).id
    await post_all(service, happened[:split])
    await catch_up(db)
    merged_hours = await zone_answers(service)
    assert await zones.add(db, service_id, zone=ZONE) == ZONE
    assert await zone_answers(service) == merged_hours
    await post_all(service, happened[split:])
    await catch_up(db)
    kept = await zone_answers(service)
    assert answered_series(kept["day"]) == brute_series(happened, "day", ZONE)
    assert answered_series(kept["week"]) == brute_series(happened, "week", ZONE)
    await rollup.rebuild(db, [service_id])
    assert await zone_answers(service) == kept
    await zones.remove(db, service_id, zone=ZONE)
    assert await zone_answers(service) == kept


OTHER_ZONES = ["Europe/Berlin", "Europe/London", "America/Los_Angeles", "Asia/Tokyo", "UTC"]
"""Zones that are not report zones, with offsets from -8 to +9 hours; Europe's clocks go
forward on 2026-03-29, within the range below (short, so that users come back within days)."""
DST_START = dt.datetime(2026, 3, 27, tzinfo=dt.UTC)
DST_SPAN = f"from={DST_START.isoformat()}&to={(DST_START + dt.timedelta(days=4)).isoformat()}"
SPREAD = happenings(DST_START, 4, 6)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    happened=st.lists(SPREAD, min_size=1, max_size=60),
    split=st.integers(0, 60),
    zone=st.sampled_from(OTHER_ZONES),
)
async def test_days_in_other_zones_equal_brute_force(
    happened: list[Happened], split: int, zone: str, api: Api, db: Database
) -> None:
    """In a zone the service does not keep, a day is parts of two UTC days, read as their
    hours' users of first or last activity in the day (or the day's less the other hours'):
    whatever the history, in whatever order it arrives and however the rounds cut it, the
    answers equal a count over the events, and a rebuild gives the same."""
    service = await new_api(db, api.http)
    span = DST_SPAN.replace("+", "%2B") + f"&tz={zone}"
    paths = {
        "day": f"/analytics/events/?{span}&interval=day",
        "week": f"/analytics/events/?{span}&interval=week",
        "users": f"/analytics/users/?{span}&interval=day",
        "retention": f"/analytics/retention/?{span}&interval=day",
    }
    await post_all(service, happened[:split])
    await catch_up(db)
    early = (await service.get(paths["day"])).json()  # its sets cached: they must not linger
    assert answered_series(early) == brute_series(happened[:split], "day", zone)
    await post_all(service, happened[split:])
    await catch_up(db)
    found = {name: (await service.get(path)).json() for name, path in paths.items()}
    assert answered_series(found["day"]) == brute_series(happened, "day", zone)
    assert answered_series(found["week"]) == brute_series(happened, "week", zone)
    points = {p["start"]: (p["active"], p["new"]) for p in found["users"]["points"]}
    assert {s: v for s, v in points.items() if v != (0, 0)} == brute_users(happened, "day", zone)
    starts = [c["start"] for c in found["retention"]["cohorts"]]
    assert [(c["users"], c["retained"]) for c in found["retention"]["cohorts"]] == (
        brute_retention(happened, starts, "day", zone)
    )
    await rollup.rebuild(db, [(await service_of(db, service)).id])
    assert {name: (await service.get(path)).json() for name, path in paths.items()} == found


async def test_reads_use_the_local_days(api: Api, db: Database) -> None:
    """With the zone's rows kept, a day in that zone no longer needs its hours."""
    service_id = (await service_of(db, api)).id
    happened = [
        Happened(f"u{i % 3}", "seen", "movie", "1", START + dt.timedelta(hours=7 * i))
        for i in range(40)
    ]
    await post_all(api, happened)
    await zones.add(db, service_id, zone=ZONE)
    await catch_up(db)
    async with db.write() as conn:
        table = analytics_series
        await conn.execute(
            sa.delete(table).where(table.c.service_id == service_id, table.c.grain == "h")
        )
    body = (await api.get(f"/analytics/events/?{SPAN}&interval=day&tz={ZONE}")).json()
    assert answered_series(body) == brute_series(happened, "day", ZONE)
    hours = (await api.get(f"/analytics/events/?{SPAN}&interval=hour&tz={ZONE}")).json()
    assert answered_series(hours) == {}, "the hours are gone indeed"


async def test_zones_are_checked(api: Api, db: Database) -> None:
    service_id = (await service_of(db, api)).id
    for name, words in (
        ("Asia/Kolkata", "whole number"),
        ("Mars/Base", "time zone"),
        ("UTC", "UTC"),
    ):
        with pytest.raises(BadRequest, match=words):
            await zones.add(db, service_id, zone=name)
    with pytest.raises(NotFound):
        await zones.remove(db, service_id, zone="Europe/London")
    assert await zones.zones_of(db, service_id) == []


async def test_the_zones_command(api: Api, db: Database, settings: Settings) -> None:
    if not db.is_sqlite:
        pytest.skip("the command is the same on both")
    name = (await service_of(db, api)).name
    env = tanktop_env(settings.database_url)

    def zones_command(*args: str) -> tuple[int, str]:
        result = run_cli(env, "analytics", "zones", "--service", name, *args)
        return result.returncode, (result.stdout + result.stderr).strip()

    added = await asyncio.to_thread(zones_command, "--add", "Europe/London", "--add", ZONE)
    assert added == (0, f"report zones of {name}: {ZONE}, Europe/London")
    code, message = await asyncio.to_thread(zones_command, "--add", "Asia/Kathmandu")
    assert code == 1
    assert message.startswith("error:")
    assert "whole number" in message
    removed = await asyncio.to_thread(zones_command, "--remove", ZONE)
    assert removed == (0, f"report zones of {name}: Europe/London")


async def test_sets_are_read_once_then_from_the_cache(api: Api, db: Database) -> None:
    """A day in a zone that is not a report zone merges its rows' users: the sets are read
    and deserialised once, then (PostgreSQL) only their digests are read."""
    happened = [
        Happened(f"u{i % 9}", "seen", "movie", "1", START + dt.timedelta(hours=i))
        for i in range(72)
    ]
    await post_all(api, happened)
    await catch_up(db)
    path = f"/analytics/events/?{SPAN}&interval=day&tz=Europe/Berlin".replace("+", "%2B")
    SETS.clear()
    first = (await api.get(path)).json()
    kept = SETS.size
    assert kept > 0
    assert (await api.get(path)).json() == first
    assert SETS.size == kept, "nothing deserialised again"
    assert answered_series(first) == brute_series(happened, "day", "Europe/Berlin")


async def test_rows_at_many_starts_are_read_by_start(
    api: Api, db: Database, postgres_url: str
) -> None:
    """A day in a zone that is not a report zone reads every series' rows at 62 hours: by
    start, not by scanning the grain's range once per hour asked (the key leads with the
    event and item type)."""
    if db.is_sqlite:
        pytest.skip("the plan asked of is PostgreSQL's")
    await post_all(api, [Happened("a", "seen", "movie", "1", START)])
    await catch_up(db)
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute("SET enable_seqscan = off")  # a table this small is read whole
        plan = await conn.fetchval(
            "EXPLAIN (FORMAT JSON) SELECT event, item_type, start, digest FROM analytics_series "
            "WHERE service_id = $1 AND grain = 'h' AND event != '*' AND start = ANY($2)",
            (await service_of(db, api)).id,
            [START + dt.timedelta(hours=n) for n in range(62)],
        )
    finally:
        await conn.close()
    assert "ix_analytics_series_start" in plan, plan
