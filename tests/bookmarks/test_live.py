"""Live TV viewing turned into progress and seen events, and so into bookmarks."""

from __future__ import annotations

import datetime as dt

from tanktop.bookmarks.live import close_stale_sessions, rederive_late_schedules
from tanktop.config import Settings
from tanktop.db import Database, long_jobs, utcnow
from tanktop.events.service import stream_history
from tests.conftest import Admin, Api, service_of, unique

DAY = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)


def at(hour: int, minute: int = 0) -> str:
    return (DAY + dt.timedelta(hours=hour, minutes=minute)).isoformat()


async def evening(admin: Admin) -> tuple[str, str, str, str]:
    """A channel airing a 60-minute movie at 20:00 and a 50-minute episode at 21:00."""
    channel, film, show, episode = unique("c"), unique("m"), unique("p"), unique("e")
    await admin.put(f"/catalog/channel/{channel}/", json={"name": "One"})
    await admin.put(f"/catalog/movie/{film}/", json={"title": "Film", "duration": 60})
    await admin.put(f"/catalog/programme/{show}/", json={"title": "Show"})
    await admin.put(
        f"/catalog/episode/{episode}/",
        json={"programme_id": show, "season": 1, "number": 1, "duration": 50},
    )
    slots = [
        {"start": at(20), "end": at(21), "item_type": "movie", "item_id": film},
        {"start": at(21), "end": at(21, 50), "item_type": "episode", "item_id": episode},
    ]
    assert (await admin.put(f"/schedule/{channel}/", json=slots)).status_code == 200
    return channel, film, show, episode


async def second_channel(admin: Admin) -> str:
    channel = unique("c")
    await admin.put(f"/catalog/channel/{channel}/", json={"name": "Two"})
    return channel


async def watched(api: Api, film: str) -> tuple[dict[str, float], bool]:
    """User 7's live progress on `film`, and whether it counts as seen."""
    progress = (await api.get(f"/event/7/progress/movie/?id={film}")).json()["progress"]
    seen = (await api.get(f"/event/7/seen/movie/?id={film}")).json()["seen"]
    return progress, film in seen


async def close_until_done(
    db: Database, settings: Settings, *, now: dt.datetime | None = None
) -> int:
    """Run the stale-session closer until it has looked at every start gone stale by `now`
    (it takes them a page at a time, other tests' too); how many it looked at. As the worker
    runs it: without the API's statement timeout (`long_jobs`), which a page of other tests'
    starts may pass on a busy machine."""
    looked = 0
    with long_jobs():
        while found := await close_stale_sessions(db, settings=settings, now=now):
            looked += found
    return looked


async def rederive_until_done(db: Database, settings: Settings) -> None:
    """Run the late-schedule task until it finds no schedule change left, as the worker runs
    it (`long_jobs`)."""
    with long_jobs():
        while await rederive_late_schedules(db, settings=settings):
            pass


async def test_viewing_spanning_two_slots(api: Api, admin: Admin, db: Database) -> None:
    channel, film, show, episode = await evening(admin)
    await api.post(f"/event/7/start/channel/{channel}/{at(20)}/")
    await api.post(f"/event/7/end/channel/{channel}/{at(21, 30)}/")
    assert (await api.get(f"/event/7/progress/movie/?id={film}")).json() == {"progress": {film: 60}}
    assert (await api.get(f"/event/7/seen/movie/?id={film}")).json() == {"seen": {film: None}}
    assert (await api.get(f"/event/7/progress/episode/?id={episode}")).json() == {
        "progress": {episode: 30}
    }
    assert (await api.get(f"/event/7/seen/episode/?id={episode}")).json() == {"seen": {}}
    mark = (await api.get(f"/bookmark/7/programme/{show}/")).json()
    assert (mark["episode_id"], mark["status"], mark["position"]) == (episode, "in_progress", 30)
    history = [e async for e in stream_history(db, (await service_of(db, api)).id)]
    assert {(e.event, e.origin) for e in history} >= {("progress", "derived"), ("seen", "derived")}


async def test_channel_change_ends_the_open_session(api: Api, admin: Admin) -> None:
    channel, film, _, _ = await evening(admin)
    other = await second_channel(admin)
    await api.post(f"/event/7/start/channel/{channel}/{at(20)}/")
    await api.post(f"/event/7/start/channel/{other}/{at(20, 20)}/")
    assert (await api.get(f"/event/7/progress/movie/?id={film}")).json() == {"progress": {film: 20}}
    ends = (await api.get("/event/7/end/channel/")).json()["end"]
    assert ends == {channel: at(20, 20)}, "the first channel's session was ended"
    await api.post(f"/event/7/stop/channel/{other}/{at(22)}/")
    assert (await api.get(f"/event/7/progress/movie/?id={film}")).json() == {
        "progress": {film: 20}
    }, "nothing aired on the other channel"


async def test_zapping_away_and_back_adds_up(api: Api, admin: Admin) -> None:
    channel, film, _, _ = await evening(admin)
    other = await second_channel(admin)
    await api.post(f"/event/7/start/channel/{channel}/{at(20)}/")
    await api.post(f"/event/7/start/channel/{other}/{at(20, 30)}/")
    assert await watched(api, film) == ({film: 30}, False)
    await api.post(f"/event/7/start/channel/{channel}/{at(20, 33)}/")
    await api.post(f"/event/7/end/channel/{channel}/{at(21)}/")
    assert await watched(api, film) == ({film: 57}, True), "30 + 27 minutes of one airing"


async def test_a_late_schedule_adds_up_every_viewing(
    api: Api, admin: Admin, db: Database, settings: Settings
) -> None:
    channel, other, film = await second_channel(admin), await second_channel(admin), unique("m")
    await admin.put(f"/catalog/movie/{film}/", json={"title": "Film", "duration": 60})
    await api.post(f"/event/7/start/channel/{channel}/{at(20)}/")
    await api.post(f"/event/7/start/channel/{other}/{at(20, 30)}/")
    await api.post(f"/event/7/start/channel/{channel}/{at(20, 33)}/")
    await api.post(f"/event/7/end/channel/{channel}/{at(21)}/")
    slot = {"start": at(20), "end": at(21), "item_type": "movie", "item_id": film}
    await admin.put(f"/schedule/{channel}/", json=[slot])
    await rederive_until_done(db, settings)
    assert await watched(api, film) == ({film: 57}, True)


async def test_worker_closes_sessions_left_open(
    api: Api, admin: Admin, db: Database, settings: Settings
) -> None:
    channel, film, _, episode = await evening(admin)
    await api.post(f"/event/7/start/channel/{channel}/{at(20)}/")
    one_hour = settings.model_copy(update={"live_session_max_hours": 1})
    later = utcnow() + dt.timedelta(hours=1, minutes=1)
    assert await close_until_done(db, one_hour, now=later) >= 1
    assert (await api.get("/event/7/end/channel/")).json()["end"] == {channel: at(21)}
    assert (await api.get(f"/event/7/seen/movie/?id={film}")).json() == {"seen": {film: None}}
    assert (await api.get(f"/event/7/progress/episode/?id={episode}")).json() == {"progress": {}}
    service = await service_of(db, api)
    mine = [e async for e in stream_history(db, service.id) if e.event == "end"]
    assert len(mine) == 1, "closed once; a second run finds nothing of this user's to close"
    await close_until_done(db, one_hour, now=later)
    mine = [e async for e in stream_history(db, service.id) if e.event == "end"]
    assert len(mine) == 1


async def test_live_events_are_per_service(api: Api, other_api: Api, admin: Admin) -> None:
    channel, film, _, _ = await evening(admin)
    await api.post(f"/event/7/start/channel/{channel}/{at(20)}/")
    await other_api.post(f"/event/7/end/channel/{channel}/{at(21)}/")
    assert (await other_api.get(f"/event/7/progress/movie/?id={film}")).json() == {"progress": {}}
    assert (await api.get(f"/event/7/progress/movie/?id={film}")).json() == {"progress": {}}


async def test_a_late_schedule_still_counts(
    api: Api, admin: Admin, db: Database, settings: Settings
) -> None:
    channel, film = unique("c"), unique("m")
    await admin.put(f"/catalog/channel/{channel}/", json={"name": "Late"})
    await admin.put(f"/catalog/movie/{film}/", json={"title": "Film", "duration": 60})
    await api.post(f"/event/7/start/channel/{channel}/{at(20)}/")
    await api.post(f"/event/7/end/channel/{channel}/{at(20, 40)}/")
    assert (await api.get(f"/event/7/progress/movie/?id={film}")).json() == {"progress": {}}
    slot = {"start": at(20), "end": at(21), "item_type": "movie", "item_id": film}
    await admin.put(f"/schedule/{channel}/", json=[slot])
    await rederive_until_done(db, settings)
    assert (await api.get(f"/event/7/progress/movie/?id={film}")).json() == {"progress": {film: 40}}
    mark = (await api.get(f"/bookmark/7/movie/{film}/")).json()
    assert (mark["position"], mark["duration"]) == (40, 60)


async def test_the_worker_waking_between_a_past_start_and_its_end_changes_nothing(
    api: Api, admin: Admin, db: Database, settings: Settings
) -> None:
    """The reported race, made deterministic: a client syncs a past viewing (start 20:00, end
    20:30 of a day gone by) and the worker runs between the two requests. The start is not
    stale when it has only just arrived, whatever time it carries."""
    channel, film, _, episode = await evening(admin)
    assert utcnow() - dt.timedelta(hours=settings.live_session_max_hours + 24) > DAY
    await api.post(f"/event/7/start/channel/{channel}/{at(20)}/")
    await close_until_done(db, settings)
    assert (await api.get("/event/7/end/channel/")).json()["end"] == {}, "not closed"
    await api.post(f"/event/7/end/channel/{channel}/{at(20, 30)}/")
    assert await watched(api, film) == ({film: 30}, False)
    assert (await api.get(f"/event/7/progress/episode/?id={episode}")).json() == {"progress": {}}
    assert (await api.get("/event/7/end/channel/")).json()["end"] == {channel: at(20, 30)}


async def test_a_start_received_long_ago_is_closed_at_start_plus_maximum(
    api: Api, admin: Admin, db: Database, settings: Settings
) -> None:
    """Stale means received more than the maximum ago (here: the worker's clock moved on)."""
    channel, film, _, episode = await evening(admin)
    await api.post(f"/event/7/start/channel/{channel}/{at(20)}/")
    limit = dt.timedelta(hours=settings.live_session_max_hours)
    await close_until_done(db, settings, now=utcnow() + limit - dt.timedelta(minutes=1))
    assert (await api.get("/event/7/end/channel/")).json()["end"] == {}
    await close_until_done(db, settings, now=utcnow() + limit)
    assert (await api.get("/event/7/end/channel/")).json()["end"] == {channel: at(24)}
    assert await watched(api, film) == ({film: 60}, True)
    progress = (await api.get(f"/event/7/progress/episode/?id={episode}")).json()["progress"]
    assert progress == {episode: 50}


def later(settings: Settings) -> dt.datetime:
    """A worker clock past the maximum session after everything sent so far arrived."""
    return utcnow() + dt.timedelta(hours=settings.live_session_max_hours, minutes=1)


async def close_all(db: Database, settings: Settings) -> None:
    await close_until_done(db, settings, now=later(settings))


async def test_a_late_end_replaces_the_provisional_close(
    api: Api, admin: Admin, db: Database, settings: Settings
) -> None:
    channel, film, _, episode = await evening(admin)
    await api.post(f"/event/7/start/channel/{channel}/{at(20)}/")
    await close_all(db, settings)
    assert (await api.get("/event/7/end/channel/")).json()["end"] == {channel: at(24)}
    assert await watched(api, film) == ({film: 60}, True), "provisionally: 4 h watched"
    await api.post(f"/event/7/end/channel/{channel}/{at(20, 30)}/")
    assert await watched(api, film) == ({film: 30}, False)
    assert (await api.get(f"/event/7/progress/episode/?id={episode}")).json() == {"progress": {}}
    assert (await api.get("/event/7/end/channel/")).json()["end"] == {channel: at(20, 30)}
    history = [e async for e in stream_history(db, (await service_of(db, api)).id)]
    withdrawn = [e for e in history if e.superseded_at is not None]
    assert {(e.event, e.item_id, e.value) for e in withdrawn} == {
        ("end", channel, at(24)),
        ("progress", film, 60),
        ("seen", film, None),
        ("progress", episode, 50),
        ("seen", episode, None),
    }, "what was derived stays in the history, marked"
    corrections = [e for e in history if e.supersedes is not None]
    assert sorted(e.supersedes or 0 for e in corrections) == sorted(e.id for e in withdrawn)
    assert all(e.removed and e.origin == "derived" for e in corrections)
    assert [e.value for e in history if e.event == "progress" and e.in_force] == [30]
    await close_all(db, settings)
    assert await watched(api, film) == ({film: 30}, False), "closed for good"


async def test_an_end_that_arrives_before_its_start(api: Api, admin: Admin) -> None:
    channel, film, _, _ = await evening(admin)
    await api.post(f"/event/7/end/channel/{channel}/{at(20, 30)}/")
    assert await watched(api, film) == ({}, False)
    await api.post(f"/event/7/start/channel/{channel}/{at(20)}/")
    assert await watched(api, film) == ({film: 30}, False)


async def test_a_duplicate_start_changes_nothing(api: Api, admin: Admin) -> None:
    channel, film, _, _ = await evening(admin)
    await api.post(f"/event/7/start/channel/{channel}/{at(20)}/")
    await api.post(f"/event/7/end/channel/{channel}/{at(20, 30)}/")
    await api.post(f"/event/7/start/channel/{channel}/{at(20)}/")
    assert await watched(api, film) == ({film: 30}, False)
    await api.post(f"/event/7/start/channel/{channel}/{at(20, 10)}/")
    assert await watched(api, film) == ({film: 30}, False), "a start within the session"


async def test_a_start_on_another_channel_arriving_late_cuts_the_viewing(
    api: Api, admin: Admin
) -> None:
    channel, film, show, episode = await evening(admin)
    other = await second_channel(admin)
    await api.post(f"/event/7/start/channel/{channel}/{at(20)}/")
    await api.post(f"/event/7/end/channel/{channel}/{at(21, 30)}/")
    assert await watched(api, film) == ({film: 60}, True)
    await api.post(f"/event/7/start/channel/{other}/{at(20, 20)}/")
    assert await watched(api, film) == ({film: 20}, False)
    assert (await api.get(f"/event/7/progress/episode/?id={episode}")).json() == {"progress": {}}
    assert (await api.get(f"/bookmark/7/programme/{show}/")).status_code == 404
    mark = (await api.get(f"/bookmark/7/movie/{film}/")).json()
    assert (mark["position"], mark["updated_at"]) == (20, at(20, 20))


async def test_one_batch_or_many_single_posts_give_the_same(
    api: Api, other_api: Api, admin: Admin
) -> None:
    channel, film, _, episode = await evening(admin)
    other = await second_channel(admin)
    sent = [
        ("end", channel, at(21, 40)),
        ("start", other, at(20, 40)),
        ("start", channel, at(20)),
        ("start", channel, at(20, 45)),
    ]
    for event, item, when in sent:
        await api.post(f"/event/7/{event}/channel/{item}/{when}/")
    batch = [
        {"user_id": "7", "event": e, "item_type": "channel", "item_id": c, "value": w}
        for e, c, w in sent
    ]
    assert (await other_api.post("/events/", json=batch)).status_code == 204
    for client in (api, other_api):
        assert await watched(client, film) == ({film: 55}, True), "40 + 15 minutes"
        progress = (await client.get(f"/event/7/progress/episode/?id={episode}")).json()
        assert progress == {"progress": {episode: 40}}


async def test_a_log_of_several_days_in_one_batch_gives_what_its_days_give(
    api: Api, other_api: Api, admin: Admin
) -> None:
    """Arrivals days apart in one batch are re-derived together (one span of time)."""
    channel, film, _, episode = await evening(admin)
    other = await second_channel(admin)
    two_days_later = (DAY + dt.timedelta(days=2, hours=10)).isoformat()
    sent = [
        ("start", other, two_days_later),
        ("end", channel, at(20, 30)),
        ("start", channel, at(20)),
        ("start", channel, at(21, 40)),
    ]
    batch = [
        {"user_id": "7", "event": e, "item_type": "channel", "item_id": c, "value": w}
        for e, c, w in sent
    ]
    assert (await api.post("/events/", json=batch)).status_code == 204
    for event, item, when in sent:
        await other_api.post(f"/event/7/{event}/channel/{item}/{when}/")
    for client in (api, other_api):
        assert await watched(client, film) == ({film: 30}, False)
        progress = (await client.get(f"/event/7/progress/episode/?id={episode}")).json()
        assert progress == {"progress": {episode: 10}}, "21:40 to 21:50, ended at the maximum"
        ends = (await client.get("/event/7/end/channel/")).json()["end"]
        assert ends == {channel: at(25, 40)}


async def test_the_closer_looks_at_each_start_once(
    api: Api, admin: Admin, db: Database, settings: Settings
) -> None:
    """A pass reads the starts gone stale since the last one (from its cursor, through an
    index), not the history: a second pass finds nothing, and a start that arrives later is
    the only one the next pass looks at, and closed there."""
    channel, film, _, _ = await evening(admin)
    await api.post(f"/event/7/start/channel/{channel}/{at(20)}/")
    await close_all(db, settings)
    assert (await api.get("/event/7/end/channel/")).json()["end"] == {channel: at(24)}
    assert await close_until_done(db, settings, now=later(settings)) == 0
    await api.post(f"/event/8/start/channel/{channel}/{at(20)}/")
    assert await close_until_done(db, settings, now=later(settings)) == 1
    assert (await api.get("/event/8/end/channel/")).json()["end"] == {channel: at(24)}
    assert (await api.get("/event/7/end/channel/")).json()["end"] == {channel: at(24)}
    assert await watched(api, film) == ({film: 60}, True)


async def test_a_slot_removed_with_nothing_in_its_place_no_longer_counts(
    api: Api, admin: Admin, db: Database, settings: Settings
) -> None:
    """A schedule written again over the evening without the film's slot: the viewing of it
    derives nothing any more (its progress and seen are withdrawn), though the only slot
    written anew airs hours before it."""
    channel, film, _, episode = await evening(admin)
    await api.post(f"/event/7/start/channel/{channel}/{at(20)}/")
    await api.post(f"/event/7/end/channel/{channel}/{at(21, 10)}/")
    assert await watched(api, film) == ({film: 60}, True)
    earlier = unique("m")
    await admin.put(f"/catalog/movie/{earlier}/", json={"title": "Early", "duration": 30})
    slots = [
        {"start": at(15), "end": at(15, 30), "item_type": "movie", "item_id": earlier},
        {"start": at(21), "end": at(21, 50), "item_type": "episode", "item_id": episode},
    ]
    assert (await admin.put(f"/schedule/{channel}/", json=slots)).status_code == 200
    await rederive_until_done(db, settings)
    assert await watched(api, film) == ({}, False)
    progress = (await api.get(f"/event/7/progress/episode/?id={episode}")).json()["progress"]
    assert progress == {episode: 10}, "the slot kept still counts"
