"""`tanktop.client` against a real `tanktop serve`: typed answers, typed errors, retries
after `Retry-After`, batches of any size; sync and async alike."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tanktop.client import (
    NO_RETRIES,
    AsyncClient,
    BadRequestError,
    BatchEvent,
    Bookmark,
    Client,
    NotFoundError,
    Profile,
    RateLimitedError,
    Retries,
    UnauthorizedError,
    UnavailableError,
)
from tests.servers import Server, create_key, run_cli, running_server, tanktop_env

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


@pytest.fixture(scope="module")
def served(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, str]]:
    env = tanktop_env(database_url, TANKTOP_KEY_CACHE_SECONDS="5")
    catalog = tmp_path_factory.mktemp("catalog") / "catalog.jsonl"
    catalog.write_text("\n".join(json.dumps(line) for line in CATALOG) + "\n")
    assert run_cli(env, "catalog", "import", str(catalog)).returncode == 0
    key = create_key(env, "client-tests")
    with running_server(env, "--no-worker") as server:
        yield server, key


@pytest.fixture
def tanktop(served: tuple[Server, str]) -> Iterator[Client]:
    server, key = served
    with Client(server.base_url, key) as client:
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
    with pytest.raises(NotFoundError):
        tanktop.similar("movie", 1)
    assert tanktop.live_recommendations("c4", at=dt.datetime.now(dt.UTC)) == []


def test_a_revoked_key(served: tuple[Server, str]) -> None:
    server, _ = served
    with Client(server.base_url, "tt_not_a_key") as stranger, pytest.raises(UnauthorizedError):
        stranger.get_profile("7")


async def test_async_client(served: tuple[Server, str]) -> None:
    server, key = served
    async with AsyncClient(server.base_url, key) as tanktop:
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


def _read_ten_times(tanktop: Client) -> None:
    for _ in range(10):
        tanktop.get_list("r1", "seen", "movie")


def test_429_is_retried_after_retry_after(database_url: str) -> None:
    env = tanktop_env(database_url, TANKTOP_RATE_LIMIT_READS="3", TANKTOP_RATE_WINDOW_SECONDS="1")
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
