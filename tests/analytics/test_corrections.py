"""Live-TV derived events a later arrival corrected: analytics counts what is in force."""

from __future__ import annotations

import datetime as dt

from tanktop.analytics import rollup
from tanktop.db import Database
from tanktop.events.service import stream_history
from tests.analytics.helpers import Happened, answered_series, brute_series, catch_up
from tests.bookmarks.test_live import DAY, at, evening, second_channel, watched
from tests.conftest import Admin, Api, service_of


async def in_force(db: Database, api: Api) -> list[Happened]:
    service = await service_of(db, api)
    return [
        Happened(e.user_id, e.event, e.item_type, e.item_id, e.at)
        async for e in stream_history(db, service.id)
        if not e.removed and e.in_force
    ]


async def test_a_correction_takes_back_what_it_withdraws(
    api: Api, admin: Admin, db: Database
) -> None:
    """Counted as the derived events were, then corrected: each correction takes one away
    from the buckets of the event it withdraws, so the counts are those of the events in
    force, incrementally as after a rebuild; the user stays among the users of those buckets."""
    channel, film, _, _ = await evening(admin)
    other = await second_channel(admin)
    await api.post(f"/event/7/start/channel/{channel}/{at(20)}/")
    await api.post(f"/event/7/end/channel/{channel}/{at(21, 30)}/")
    await catch_up(db)
    span = f"from={DAY.isoformat()}&to={(DAY + dt.timedelta(days=1)).isoformat()}"
    path = f"/analytics/events/?{span.replace('+', '%2B')}&interval=day"
    day = DAY.isoformat()
    before = answered_series((await api.get(path)).json())
    assert before[("progress", "movie")] == {day: (1, 1)}
    assert before[("progress", "episode")] == {day: (1, 1)}

    await api.post(f"/event/7/start/channel/{other}/{at(20, 20)}/")
    assert await watched(api, film) == ({film: 20}, False)
    await catch_up(db)
    after = answered_series((await api.get(path)).json())
    assert after == brute_series(await in_force(db, api), "day")
    assert after[("progress", "movie")] == {day: (1, 1)}, "60 withdrawn, 20 counted"
    assert ("seen", "movie") not in after
    assert ("progress", "episode") not in after
    assert after[("end", "channel")] == {day: (2, 1)}, "the end sent, and the one derived"

    top = await api.get(f"/analytics/top/episode/?event=progress&{span}".replace("+", "%2B"))
    assert top.json()["items"] == []
    user = (await api.get("/analytics/user/7/")).json()
    counts = {(e["event"], e["item_type"]): e["count"] for e in user["events"]}
    assert counts[("progress", "movie")] == 1
    assert ("seen", "movie") not in counts
    assert user["minutes_watched"] == 20

    await rollup.rebuild(db, [(await service_of(db, api)).id])
    assert answered_series((await api.get(path)).json()) == after
