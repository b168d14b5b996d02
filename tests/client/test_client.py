"""`tanktop.client` against a real `tanktop serve`: typed answers, typed errors, retries
after `Retry-After`, batches of any size; sync and async alike; a service's key and a user's
OAuth access token."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tanktop.client import (
    NO_RETRIES,
    AsyncClient,
    AsyncUserClient,
    BadRequestError,
    BatchEvent,
    Bookmark,
    Client,
    ForbiddenError,
    NotFoundError,
    Profile,
    RateLimitedError,
    Retries,
    Section,
    SectionBody,
    UnauthorizedError,
    UnavailableError,
    UserClient,
)
from tests.servers import (
    Server,
    create_key,
    run_cli,
    running_server,
    start_worker,
    tanktop_env,
)

pytestmark = pytest.mark.e2e

CATALOG = [
    {"item_type": "movie", "item_id": "1", "title": "Alien", "duration": 117, "offers": []},
    {"item_type": "movie", "item_id": "tt-2", "title": "Heat", "duration": 170},
    {"item_type": "programme", "item_id": "p1", "title": "Show"},
    *(
        {
            "item_type": "episode",
            "item_id": f"p1e{n}",
            "programme_id": "p1",
            "season": 1,
            "number": n,
            "duration": 50,
        }
        for n in (1, 2)
    ),
]


SERVICE = "client-tests"


@dataclass
class Served:
    server: Server
    key: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def served(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    env = tanktop_env(database_url, TANKTOP_KEY_CACHE_SECONDS="5")
    catalog = tmp_path_factory.mktemp("catalog") / "catalog.jsonl"
    catalog.write_text("\n".join(json.dumps(line) for line in CATALOG) + "\n")
    assert run_cli(env, "catalog", "import", str(catalog)).returncode == 0
    key = create_key(env, SERVICE)
    with running_server(env, "--no-worker") as server:
        yield Served(server, key, env)


@pytest.fixture
def tanktop(served: Served) -> Iterator[Client]:
    with Client(served.server.base_url, served.key) as client:
        yield client


def test_profiles(tanktop: Client) -> None:
    created = tanktop.put_profile("c7", {"name": "Sam", "favourites": {"genres": ["comedy"]}})
    assert isinstance(created, Profile)
    assert created.id == "c7"
    assert created.model_extra == {"name": "Sam", "favourites": {"genres": ["comedy"]}}
    patched = tanktop.patch_profile("c7", {"name": None, "plan": "gold"})
    assert patched.model_dump() == {
        "id": "c7",
        "favourites": {"genres": ["comedy"]},
        "plan": "gold",
    }
    chosen = tanktop.create_profile({"plan": "basic"})
    assert tanktop.get_profile(chosen.id).model_extra == {"plan": "basic"}
    tanktop.delete_profile("c7")
    with pytest.raises(NotFoundError) as missing:
        tanktop.get_profile("c7")
    assert missing.value.status == 404
    assert "c7" in missing.value.detail
    with pytest.raises(BadRequestError) as refused:
        tanktop.put_profile("c8", {"id": "someone-else"})
    assert refused.value.problem.type.endswith("/bad-request")


def test_events_lists_and_batches(tanktop: Client) -> None:
    tanktop.post_event("c1", "watchlist", "movie", 1)
    tanktop.post_event("c1", "rated", "movie", "tt-2", 4.5)
    listed = tanktop.get_list("c1", "watchlist", "movie", ids=[1, "tt-2"])
    assert listed.values_of("watchlist") == {"1": None}
    assert listed.next_cursor is None
    assert tanktop.get_list("c1", "rated", "movie").values_of("rated") == {"tt-2": 4.5}
    tanktop.delete_event("c1", "watchlist", "movie", 1)
    assert tanktop.get_list("c1", "watchlist", "movie").values_of("watchlist") == {}

    events = [
        BatchEvent(user_id="c2", event="seen", item_type="movie", item_id=str(i))
        for i in range(2_500)
    ]
    assert tanktop.post_events(events) == 2_500, "three requests of at most 1,000"
    first = tanktop.get_list("c2", "seen", "movie", limit=1_000)
    assert len(first.values_of("seen")) == 1_000
    assert first.next_cursor is not None
    rest = tanktop.get_list("c2", "seen", "movie", cursor=first.next_cursor)
    assert len(first.values_of("seen")) + len(rest.values_of("seen")) == 2_000
    kept = tanktop.personalized_list("c2", "movie", ids=[5, 2_600, 7], exclude=["seen"])
    assert kept.items == ["2600"]
    with pytest.raises(BadRequestError) as bad:
        tanktop.post_events(
            [{"user_id": "c2", "event": "rated", "item_type": "movie", "item_id": 1}]
        )
    assert "numeric rating" in bad.value.detail


def test_notifications(tanktop: Client) -> None:
    tanktop.request_notification(
        "c3", "movie", "tt-2", url="https://example.com/hook", source_ids=[7, 37], price=349
    )
    (request,) = tanktop.notifications("c3")
    assert (request.item_id, request.source_id, request.price) == ("tt-2", ["7", "37"], 349)
    assert request.status == "waiting"
    assert not request.notified
    assert request.created_at.tzinfo is not None
    assert tanktop.deliveries("c3", "movie", "tt-2") == []
    tanktop.cancel_notifications("c3", "movie")
    assert tanktop.notifications("c3") == []
    with pytest.raises(NotFoundError):
        tanktop.resend("c3", "movie", "tt-2")


def test_bookmarks_and_recommendations(tanktop: Client) -> None:
    tanktop.post_event("c4", "progress", "movie", 1, 30)
    tanktop.post_event("c4", "seen", "episode", "p1e1")
    movie, programme = sorted(tanktop.bookmarks("c4"), key=lambda b: b.item_type)
    assert isinstance(movie, Bookmark)
    assert (movie.item_id, movie.position, movie.duration) == ("1", 30.0, 117.0)
    assert (programme.episode_id, programme.status) == ("p1e2", "next")
    assert tanktop.bookmark("c4", "episode", "p1e2") == programme
    assert tanktop.recommendations("c4", "movie", n=5)[0].reasons[0].type == "available"
    assert tanktop.similar("movie", 1)  # a catalog item: the catalog's answer before a model
    with pytest.raises(NotFoundError):
        tanktop.similar("movie", "no-such-film")
    assert tanktop.live_recommendations("c4", at=dt.datetime.now(dt.UTC)) == []


def test_a_revoked_key(served: Served) -> None:
    with (
        Client(served.server.base_url, "tt_not_a_key") as stranger,
        pytest.raises(UnauthorizedError),
    ):
        stranger.get_profile("7")


async def test_async_client(served: Served) -> None:
    async with AsyncClient(served.server.base_url, served.key) as tanktop:
        await tanktop.put_profile("a1", {"name": "Ann"})
        assert (await tanktop.get_profile("a1")).model_extra == {"name": "Ann"}
        await tanktop.post_events(
            {"user_id": "a1", "event": "seen", "item_type": "movie", "item_id": i}
            for i in range(1_500)
        )
        seen = await tanktop.get_list("a1", "seen", "movie", ids=[0, 1_499, 1_500])
        assert seen.values_of("seen") == {"0": None, "1499": None}
        with pytest.raises(NotFoundError):
            await tanktop.bookmark("a1", "movie", "1")


def test_sections_admin_and_pages(tanktop: Client) -> None:
    watchlist = tanktop.put_section(
        "mine", {"title": "My list", "kind": "watchlist", "item_type": "movie", "position": 1}
    )
    assert isinstance(watchlist, Section)
    assert (watchlist.section_id, watchlist.max_items, watchlist.locked) == ("mine", 20, False)
    editorial = tanktop.put_section(
        "picks",
        SectionBody(title="Picks", kind="editorial", params={"ids": ["tt-2"]}, position=0),
    )
    assert editorial.params == {"ids": ["tt-2"]}
    assert [s.section_id for s in tanktop.sections()] == ["picks", "mine"]
    assert tanktop.section("mine") == watchlist
    with pytest.raises(BadRequestError):
        tanktop.put_section("bad", {"title": "Bad", "kind": "no-such-kind"})

    tanktop.post_event("s1", "watchlist", "movie", 1)
    assert tanktop.section_order("s1") == ["picks", "mine"]
    page = tanktop.page("s1")
    assert [(r.section_id, [i.item_id for i in r.items]) for r in page.sections] == [
        ("picks", ["tt-2"]),
        ("mine", ["1"]),
    ]
    assert tanktop.row("s1", "mine", limit=1).items[0].item_id == "1"

    tanktop.delete_section("picks")
    with pytest.raises(NotFoundError):
        tanktop.section("picks")
    assert [s.section_id for s in tanktop.sections()] == ["mine"]
    tanktop.delete_section("mine")


def _eventually(check: Callable[[], bool], *, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "the worker did not roll the events up in time"
        time.sleep(0.2)


def test_analytics(served: Served, tanktop: Client) -> None:
    tanktop.post_events(
        {"user_id": f"an{u}", "event": "seen", "item_type": "clip", "item_id": item}
        for u in range(3)
        for item in (["1", "c-2"] if u else ["1"])
    )  # clips: what the other tests of the service post does not count here
    tanktop.post_event("an1", "rated", "clip", 1, 4)
    worker = start_worker(served.env)
    try:
        _eventually(lambda: len(tanktop.user_stats("an1").events) == 2)
        _eventually(lambda: bool(tanktop.top_items("clip").items))
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    stats = tanktop.user_stats("an1")
    assert {(c.event, c.item_type, c.count) for c in stats.events} == {
        ("seen", "clip", 2),
        ("rated", "clip", 1),
    }
    assert stats.first_activity is not None
    top = tanktop.top_items("clip", event="seen", n=1)
    assert [(i.item_id, i.events, i.users) for i in top.items] == [("1", 3, 3)]
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end = today + dt.timedelta(days=1)
    counts = tanktop.event_counts(start=today, end=end, event="seen", item_type="clip")
    (series,) = counts.series
    assert (series.event, sum(p.events for p in series.points)) == ("seen", 5)
    users = tanktop.active_users(start=int(today.timestamp()), end=end.isoformat())
    assert sum(p.new for p in users.points) >= 3
    assert tanktop.retention(start=today, end=end, interval="day").interval == "day"
    assert tanktop.engagement(start=today, end=end).recommendations.impressions >= 0
    with pytest.raises(BadRequestError):
        tanktop.event_counts(start=end, end=today)


def _access_token(served: Served, tanktop: Client, user_id: str, scope: str) -> str:
    """A TV app's device flow, as the app, the service's verification page (the client's
    `approve_device`) and the user take it; returns the app's access token."""
    assert run_cli(served.env, "oauth", "enable", SERVICE, "--login-url", LOGIN).returncode == 0
    created = run_cli(served.env, "oauth", "clients", "create", SERVICE, "--name", "TV", "--public")
    assert created.returncode == 0, created.stderr
    client_id = created.stdout.split("client_id:")[1].split()[0]
    oauth = f"{served.server.base_url}/oauth/{SERVICE}"
    started = httpx.post(f"{oauth}/device/code", data={"client_id": client_id, "scope": scope})
    assert started.status_code == 200, started.text
    decision = tanktop.approve_device(started.json()["user_code"], user_id)
    assert (decision.client_id, decision.client_name) == (client_id, "TV")
    token = httpx.post(
        f"{oauth}/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": started.json()["device_code"],
            "client_id": client_id,
        },
    )
    assert token.status_code == 200, token.text
    access: str = token.json()["access_token"]
    return access


LOGIN = "https://tv.example/login"


def test_a_user_client_with_an_access_token(served: Served, tanktop: Client) -> None:
    tanktop.put_profile("o1", {"name": "Olu"})
    tanktop.post_event("o1", "progress", "movie", 1, 30)
    token = _access_token(served, tanktop, "o1", "profile lists:read lists:write bookmarks")
    with UserClient(served.server.base_url, token) as me:
        assert me.get_profile().model_extra == {"name": "Olu"}
        assert me.patch_profile({"plan": "gold"}).model_extra == {"name": "Olu", "plan": "gold"}
        me.post_event("watchlist", "movie", "tt-2")
        assert me.get_list("watchlist", "movie").values_of("watchlist") == {"tt-2": None}
        me.delete_event("watchlist", "movie", "tt-2")
        assert tanktop.get_list("o1", "watchlist", "movie").values_of("watchlist") == {}
        (mark,) = me.bookmarks()
        assert me.bookmark("movie", 1) == mark
        assert mark.position == 30.0
        with pytest.raises(ForbiddenError):
            me.recommendations()
        (app,) = tanktop.connected_apps("o1")
        assert "bookmarks" in app.scope
        tanktop.disconnect_app("o1", app.client_id)
        with pytest.raises(UnauthorizedError):
            me.get_profile()


async def test_an_async_user_client(served: Served, tanktop: Client) -> None:
    tanktop.put_profile("o2", {})
    token = _access_token(served, tanktop, "o2", "profile recommendations")
    async with AsyncUserClient(served.server.base_url, token) as me:
        assert (await me.get_profile()).id == "o2"
        assert isinstance(await me.recommendations("movie", n=3), list)
        assert await me.live_recommendations(window=60) == []
        with pytest.raises(ForbiddenError):
            await me.bookmarks()


def _read_ten_times(tanktop: Client) -> None:
    for _ in range(10):
        tanktop.get_list("r1", "seen", "movie")


def test_429_is_retried_after_retry_after(database_url: str) -> None:
    env = tanktop_env(database_url, TANKTOP_RATE_LIMIT_READS="3", TANKTOP_RATE_WINDOW_SECONDS="2")
    # two-second windows: ten reads overflow one of them unless each read takes 0.4 s or more
    key = create_key(env, "client-limited")
    with running_server(env, "--no-worker") as server:
        with Client(server.base_url, key, retries=NO_RETRIES) as impatient:
            with pytest.raises(RateLimitedError) as limited:
                _read_ten_times(impatient)
            assert limited.value.retry_after is not None
            assert limited.value.retry_after >= 1
        with Client(server.base_url, key, retries=Retries(attempts=5)) as patient:
            started = time.monotonic()
            for _ in range(8):
                assert patient.get_list("r1", "seen", "movie").values_of("seen") == {}
            assert time.monotonic() - started >= 1, "it waited for the next window"


def test_503_is_retried_until_the_database_is_back(database_url: str, tmp_path: Path) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("another process holds SQLite's write lock; PostgreSQL has no such lock")
    path = database_url.removeprefix("sqlite:///")
    env = tanktop_env(database_url, TANKTOP_DB_POOL_TIMEOUT_SECONDS="0.3")
    key = create_key(env, "client-busy")
    with running_server(env, "--no-worker") as server:
        blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        blocker.execute("BEGIN IMMEDIATE")
        release = threading.Timer(1.5, blocker.rollback)
        release.start()
        try:
            with Client(server.base_url, key, retries=NO_RETRIES) as impatient:
                with pytest.raises(UnavailableError) as busy:
                    impatient.put_profile("b1", {"name": "Bo"})
                assert busy.value.retry_after == 1
            with Client(server.base_url, key) as patient:
                assert patient.put_profile("b1", {"name": "Bo"}).id == "b1"
        finally:
            release.join()
            blocker.close()
