"""Live TV is a function of the user's channel events: any order, batching and delay of their
arrival (with the worker closing sessions and re-deriving late schedules in between) ends in
the same lists and bookmarks as posting them in time order."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tanktop.config import Settings
from tanktop.db import Database
from tests.bookmarks.test_live import close_until_done, later, rederive_until_done
from tests.conftest import Admin, Api, new_api, unique

DAY = dt.datetime(2026, 11, 10, 19, 30, tzinfo=dt.UTC)
CHANNELS = 2


@dataclass(frozen=True)
class Sent:
    event: str
    channel: int
    minute: int

    @property
    def at(self) -> str:
        return (DAY + dt.timedelta(minutes=self.minute)).isoformat()


SLOT_MINUTES = st.lists(st.sampled_from([20, 30, 45, 60, 90]), min_size=2, max_size=5)
VIEWING = st.tuples(
    st.integers(0, CHANNELS - 1),
    st.integers(0, 300),
    st.one_of(st.none(), st.integers(0, 150)),
    st.booleans(),
)
"""(channel, start minute, minutes until its end (None: no end sent), start sent twice)."""


def channel_events(viewings: list[tuple[int, int, int | None, bool]]) -> list[Sent]:
    sent: set[Sent] = set()
    for channel, minute, length, _ in viewings:
        sent.add(Sent("start", channel, minute))
        if length is not None:
            sent.add(Sent("end", channel, minute + length))
    ordered = sorted(sent, key=lambda s: (s.minute, s.event != "end", s.channel))
    twice = [Sent("start", c, m) for c, m, _, again in viewings if again]
    return ordered + twice if twice else ordered


@dataclass
class World:
    """One service and its own channels (schedules are global), airing the shared items."""

    api: Api
    channels: list[str]


async def schedule(admin: Admin, world: World, slots: list[list[tuple[int, str, str]]]) -> None:
    for channel, plan in zip(world.channels, slots, strict=True):
        body, minute = [], 0
        for length, item_type, item_id in plan:
            start = DAY + dt.timedelta(minutes=minute)
            end = start + dt.timedelta(minutes=length)
            body.append(
                {
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "item_type": item_type,
                    "item_id": item_id,
                }
            )
            minute += length
        assert (await admin.put(f"/schedule/{channel}/", json=body)).status_code == 200


async def new_world(db: Database, api: Api, admin: Admin) -> World:
    # In the same order in every world: starts at one instant are taken in channel id order.
    channels = [unique(f"c{index}-") for index in range(CHANNELS)]
    for channel in channels:
        await admin.put(f"/catalog/channel/{channel}/", json={"name": channel})
    return World(await new_api(db, api.http), channels)


async def send(world: World, arrival: list[Sent], single: bool) -> None:
    if single and len(arrival) == 1:
        s = arrival[0]
        path = f"/event/7/{s.event}/channel/{world.channels[s.channel]}/{s.at}/"
        assert (await world.api.post(path)).status_code == 204
        return
    batch = [
        {
            "user_id": "7",
            "event": s.event,
            "item_type": "channel",
            "item_id": world.channels[s.channel],
            "value": s.at,
        }
        for s in arrival
    ]
    assert (await world.api.post("/events/", json=batch)).status_code == 204


async def run_worker(db: Database, config: Settings, *, schedules: bool = False) -> None:
    """Close every session open (by the worker's clock, moved past the maximum) and, when
    asked, re-derive for schedules written late."""
    await close_until_done(db, config, now=later(config))
    if schedules:
        await rederive_until_done(db, config)


async def outcome(world: World) -> dict[str, Any]:
    """The user's progress, seen and channel-end lists and bookmarks, channels by position."""
    found: dict[str, Any] = {}
    for event, item_type in (
        ("progress", "movie"),
        ("progress", "episode"),
        ("seen", "movie"),
        ("seen", "episode"),
        ("end", "channel"),
    ):
        response = await world.api.get(f"/event/7/{event}/{item_type}/?limit=1000")
        found[f"{event}/{item_type}"] = response.json()[event]
    ends = found.pop("end/channel")
    found["ends"] = {world.channels.index(c): at for c, at in ends.items()}
    found["bookmarks"] = (await world.api.get("/bookmark/7/")).json()
    return found


async def catalog_items(admin: Admin, count: int) -> tuple[list[tuple[str, str]], str]:
    """`count` items (movies and episodes of one programme, 45-minute durations)."""
    programme = unique("p")
    await admin.put(f"/catalog/programme/{programme}/", json={"title": "Show"})
    items = []
    for index in range(count):
        if index % 2:
            item = unique("e")
            body = {"programme_id": programme, "season": 1, "number": index, "duration": 45}
            await admin.put(f"/catalog/episode/{item}/", json=body)
            items.append(("episode", item))
        else:
            item = unique("m")
            await admin.put(f"/catalog/movie/{item}/", json={"title": item, "duration": 45})
            items.append(("movie", item))
    return items, programme


@settings(
    max_examples=int(os.environ.get("LIVE_EXAMPLES", "8")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    slot_lengths=st.lists(SLOT_MINUTES, min_size=CHANNELS, max_size=CHANNELS),
    viewings=st.lists(VIEWING, min_size=1, max_size=5),
    data=st.data(),
)
async def test_any_arrival_gives_what_posting_in_order_gives(
    slot_lengths: list[list[int]],
    viewings: list[tuple[int, int, int | None, bool]],
    data: st.DataObject,
    api: Api,
    admin: Admin,
    db: Database,
    settings: Settings,
) -> None:
    items, _ = await catalog_items(admin, sum(len(lengths) for lengths in slot_lengths))
    pool = iter(items)
    slots = [[(length, *next(pool)) for length in lengths] for lengths in slot_lengths]
    sent = channel_events(viewings)

    in_order = await new_world(db, api, admin)
    await schedule(admin, in_order, slots)
    for s in sent:
        await send(in_order, [s], single=True)
    await run_worker(db, settings)
    expected = await outcome(in_order)

    shuffled = data.draw(st.permutations(sent), label="arrival order")
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(sent) - 1))), label="batches"))
    arrivals = [
        shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True) if a < b
    ]
    worker_after = data.draw(st.lists(st.booleans(), min_size=len(arrivals)), label="worker")
    singles = data.draw(st.lists(st.booleans(), min_size=len(arrivals)), label="single posts")
    late_schedule = data.draw(st.integers(0, len(arrivals)), label="schedule after arrival")
    world = await new_world(db, api, admin)
    for index, arrival in enumerate(arrivals):
        if index == late_schedule:
            await schedule(admin, world, slots)
            await run_worker(db, settings, schedules=True)
        await send(world, arrival, singles[index])
        if worker_after[index]:
            await run_worker(db, settings)
    if late_schedule == len(arrivals):
        await schedule(admin, world, slots)
    await run_worker(db, settings, schedules=True)
    assert await outcome(world) == expected
