"""Report zones: a service's local days kept as rows, equal to the hours they merge, across
DST changes, kept by the workers, counted again by a rebuild, and used by reads."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tanktop.analytics import rollup, zones
from tanktop.analytics.tables import analytics_series
from tanktop.config import Settings
from tanktop.db import Database
from tanktop.errors import BadRequest, NotFound
from tests.analytics.helpers import Happened, answered_series, brute_series, catch_up
from tests.analytics.test_rollups import post_all
from tests.conftest import Api, new_api, service_of
from tests.servers import run_cli, tanktop_env

ZONE = "America/New_York"
START = dt.datetime(2026, 3, 1, 5, tzinfo=dt.UTC)  # midnight in New York; DST begins on the 8th
SPAN = f"from={START.isoformat()}&to={(START + dt.timedelta(days=14)).isoformat()}".replace(
    "+", "%2B"
)
EVENT = st.builds(
    Happened,
    user=st.sampled_from([f"u{i}" for i in range(5)]),
    event=st.sampled_from(["seen", "rated"]),
    item_type=st.sampled_from(["movie", "programme"]),
    item_id=st.just("1"),
    at=st.integers(0, 14 * 24 * 60 - 1).map(lambda m: START + dt.timedelta(minutes=m)),
)


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
