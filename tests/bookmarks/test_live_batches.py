"""Offline syncs of channel events in big batches, several at once: every batch is taken (a
flush re-derives all of its users in a few statements, not user by user), and what they derive
is what the same events posted in time order derive."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from typing import Any

import sqlalchemy as sa

from tanktop.config import Settings
from tanktop.db import Database
from tanktop.events.tables import list_items
from tests.bookmarks.test_live import close_all
from tests.conftest import Admin, Api, new_api, service_of, unique

DAY = dt.datetime(2026, 10, 5, tzinfo=dt.UTC)
DAYS = 7
BATCH = 1000
Sent = tuple[str, str, dt.datetime]  # event, channel, time


async def week_of_schedules(admin: Admin, channels: int = 4) -> list[str]:
    """Channels airing 30-90 minute slots of a few movies for the week and a day after."""
    rng = random.Random(20)
    movies = [unique("m") for _ in range(12)]
    for movie in movies:
        await admin.put(f"/catalog/movie/{movie}/", json={"title": movie, "duration": 60})
    names = []
    for _ in range(channels):
        channel = unique("c")
        await admin.put(f"/catalog/channel/{channel}/", json={"name": channel})
        slots, at = [], DAY
        while at < DAY + dt.timedelta(days=DAYS + 1):
            end = at + dt.timedelta(minutes=rng.choice([30, 60, 90]))
            slots.append(
                {
                    "start": at.isoformat(),
                    "end": end.isoformat(),
                    "item_type": "movie",
                    "item_id": rng.choice(movies),
                }
            )
            at = end
        assert (await admin.put(f"/schedule/{channel}/", json=slots)).status_code == 200
        names.append(channel)
    return names


def viewing_log(user: int, channels: list[str]) -> list[Sent]:
    """A week of one user's channel events in time order: an evening session or two a day,
    most ended, some by a zap, some left open."""
    rng = random.Random(user)
    sent: list[Sent] = []
    for day in range(DAYS):
        at = DAY + dt.timedelta(days=day, hours=rng.uniform(17, 21))
        for _ in range(rng.randint(1, 2)):
            channel = rng.choice(channels)
            sent.append(("start", channel, at))
            at += dt.timedelta(minutes=rng.uniform(5, 120))
            if rng.random() < 0.5:
                sent.append(("end", channel, at))
            elif rng.random() < 0.5:
                sent.append(("start", rng.choice(channels), at))
                at += dt.timedelta(minutes=rng.uniform(5, 60))
            at += dt.timedelta(minutes=rng.uniform(0, 60))
    return sent


def body(events: list[tuple[int, Sent]]) -> list[dict[str, Any]]:
    return [
        {
            "user_id": f"u{user}",
            "event": e,
            "item_type": "channel",
            "item_id": c,
            "value": at.isoformat(),
        }
        for user, (e, c, at) in events
    ]


async def derived_lists(db: Database, api: Api) -> set[tuple[Any, ...]]:
    """Every user's progress, seen and channel-end list entries, read straight from the lists."""
    service = await service_of(db, api)
    query = sa.select(
        list_items.c.user_id,
        list_items.c.event,
        list_items.c.item_type,
        list_items.c.item_id,
        list_items.c.value,
        list_items.c.updated_at,
    ).where(
        list_items.c.service_id == service.id, list_items.c.event.in_(["progress", "seen", "end"])
    )
    async with db.read() as conn:
        return {tuple(row) for row in await conn.execute(query)}


async def test_four_offline_syncs_of_a_thousand_events_at_once(
    api: Api, other_api: Api, admin: Admin, db: Database, settings: Settings
) -> None:
    """Four batches of 1,000 channel events posted at once, twice: the users of each batch
    its own, then every user's week dealt out over all four (whose flushes wait for each
    other's users). None is refused; the lists and bookmarks are those of posting in time
    order."""
    channels = await week_of_schedules(admin)
    logs: dict[int, list[Sent]] = {}
    count, user = 0, 0
    while count < 4 * BATCH:
        logs[user] = viewing_log(user, channels)[: 4 * BATCH - count]
        count += len(logs[user])
        user += 1
    rng = random.Random(20)
    own = [(u, s) for u, log in logs.items() for s in rng.sample(log, len(log))]
    dealt = rng.sample(own, len(own))
    for client, flat in ((api, own), (other_api, dealt)):
        batches = [body(flat[i : i + BATCH]) for i in range(0, len(flat), BATCH)]
        answers = await asyncio.gather(*(client.post("/events/", json=b) for b in batches))
        assert [a.status_code for a in answers] == [204] * 4, [a.text for a in answers]

    in_order = await new_api(db, api.http)
    for step in range(max(len(log) for log in logs.values())):
        arrival = [(u, log[step]) for u, log in logs.items() if step < len(log)]
        assert (await in_order.post("/events/", json=body(arrival))).status_code == 204

    expected = await derived_lists(db, in_order)
    assert {(e, t) for _, e, t, *_ in expected} >= {("progress", "movie"), ("seen", "movie")}
    for client in (api, other_api):
        assert await derived_lists(db, client) == expected
        for u in list(logs)[:: len(logs) // 8]:
            mine = await client.get(f"/bookmark/u{u}/")
            assert mine.json() == (await in_order.get(f"/bookmark/u{u}/")).json()
    await close_all(db, settings)
    expected = await derived_lists(db, in_order)
    assert expected != set()
    for client in (api, other_api):
        assert await derived_lists(db, client) == expected, "and once the worker closed them"
