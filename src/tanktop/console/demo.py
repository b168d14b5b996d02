"""Demo users for the demo catalog, so a newcomer's console has something to show.

`tanktop demo SERVICE` gives the service 40 users with profiles and a month of history drawn
from the demo catalog (each user keen on a few genres), notification requests whose webhooks
were really sent (to a receiver on loopback that answers 200, 500 or 410, so the log holds
successes, a failure to resend and a gone endpoint), and a trained recommendation model.
Everything goes through the domains' own services, as an app calling the API would.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from pydantic import JsonValue

from tanktop.catalog import service as catalog
from tanktop.config import Settings
from tanktop.db import Database, utcnow
from tanktop.events import service as events
from tanktop.notifications import service as notifications
from tanktop.profiles import service as profiles
from tanktop.recommendations import service as recs
from tanktop.tenants.service import Service
from tanktop.worker import WorkerTask

USERS = 40
_NAMES = (
    "Sam Alex Priya Jordan Maya Leo Nadia Tom Aisha Ben Chloe Dev Erin Felix Grace Hugo Ines "
    "Jack Kira Liam Mina Noah Olga Pablo Quinn Rosa Sven Tara Umar Vera Will Xena Yusuf Zoe "
    "Ana Bo Cy Dee Eli Fay"
)
NAMES = tuple(_NAMES.split())
TASTES = (
    ("Drama", "Romance"),
    ("Comedy", "Family"),
    ("Thriller", "Crime", "Mystery"),
    ("Action", "Adventure", "Sci-Fi"),
    ("Horror", "Thriller"),
    ("Documentary", "Biography", "History"),
    ("Fantasy", "Adventure", "Animation"),
)


@dataclass(frozen=True)
class DemoReport:
    users: int
    events: int
    requests: int
    deliveries: dict[str, int]
    model_version: int | None


@dataclass(frozen=True)
class _Movie:
    item_id: str
    genres: tuple[str, ...]
    duration: float


def _catalog() -> tuple[list[_Movie], dict[str, list[str]]]:
    movies: list[_Movie] = []
    episodes: dict[str, list[str]] = {}
    for line in catalog.demo_lines():
        item = json.loads(line)
        if item["item_type"] == "movie" and item.get("offers"):
            movies.append(
                _Movie(str(item["item_id"]), tuple(item["genres"]), float(item["duration"]))
            )
        elif item["item_type"] == "episode" and item.get("season", 0) > 0:
            episodes.setdefault(str(item["programme_id"]), []).append(str(item["item_id"]))
    return movies, episodes


def _history(
    rng: random.Random, user: str, movies: list[_Movie], episodes: dict[str, list[str]]
) -> list[JsonValue]:
    """A month of one user's events: liked genres seen and rated, a watchlist, things half
    watched, a series followed episode by episode, something hidden."""
    now = utcnow()
    taste = set(rng.choice(TASTES))
    liked = [m for m in movies if taste & set(m.genres)]
    rng.shuffle(liked)
    others = [m for m in movies if not taste & set(m.genres)]
    entries: list[JsonValue] = []

    def add(
        event: str, item_type: str, item_id: str, value: float | None = None, days: float = 0
    ) -> None:
        at = now - dt.timedelta(days=days, minutes=rng.randint(0, 600))
        entry: dict[str, JsonValue] = {
            "user_id": user,
            "event": event,
            "item_type": item_type,
            "item_id": item_id,
            "at": at.isoformat(),
        }
        if value is not None:
            entry["value"] = value
        entries.append(entry)

    seen = liked[: rng.randint(6, 14)]
    for movie in seen:
        day = rng.uniform(2, 30)
        add("seen", "movie", movie.item_id, days=day)
        if rng.random() < 0.6:
            add("rated", "movie", movie.item_id, rng.choice((4, 4, 5, 5, 3)), days=day - 0.01)
    for movie in rng.sample(others, 2):
        day = rng.uniform(2, 30)
        add("seen", "movie", movie.item_id, days=day)
        add("rated", "movie", movie.item_id, rng.choice((1, 2, 2, 3)), days=day - 0.01)
    for movie in liked[len(seen) : len(seen) + rng.randint(2, 5)]:
        add("watchlist", "movie", movie.item_id, days=rng.uniform(0.5, 20))
    for movie in liked[len(seen) + 5 : len(seen) + 5 + rng.randint(1, 2)]:
        minutes = round(movie.duration * rng.uniform(0.2, 0.7))
        add("progress", "movie", movie.item_id, minutes, days=rng.uniform(0, 3))
    if rng.random() < 0.6:
        series = episodes[rng.choice(sorted(episodes))]
        watched = rng.randint(1, max(1, len(series) - 1))
        for number, episode in enumerate(series[:watched]):
            add("seen", "episode", episode, days=max(0.3, 10 - number * 0.8))
        if watched < len(series) and rng.random() < 0.5:
            add("progress", "episode", series[watched], rng.randint(8, 30), days=0.2)
    add("hide", "movie", rng.choice(others).item_id, days=rng.uniform(1, 25))
    return entries


@asynccontextmanager
async def _receiver() -> AsyncIterator[str]:
    """A webhook receiver on loopback: `/ok` answers 200, `/flaky` 500, `/gone` 410."""
    answers = {"ok": 200, "flaky": 500, "gone": 410}

    async def handle(request: web.Request) -> web.Response:
        status = answers.get(request.match_info["name"], 404)
        return web.Response(status=status, text=f"demo receiver: {status}")

    app = web.Application()
    app.router.add_post("/{name}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _run_worker_tasks(
    db: Database, service: Service, settings: Settings, tasks: Sequence[WorkerTask]
) -> dict[str, int]:
    """Run the real worker's tasks (loopback allowed, one quick retry) until none has work
    left and no webhook is pending: the webhook log and the analytics rollups are complete."""
    quick = settings.model_copy(
        update={"webhook_allow_private": True, "webhook_retry_delays": "0.2"}
    )
    tasks = [task for task in tasks if not isinstance(task, recs.RetrainSchedule)]  # trained below
    for _ in range(600):
        done = 0
        for task in tasks:
            done += await task(db, settings=quick)
        counts = await notifications.delivery_counts(db, service)
        if not done and not counts.get("pending"):
            return counts
        if not done:
            await asyncio.sleep(0.1)  # a retry falls due
    return await notifications.delivery_counts(db, service)


async def load_demo_users(
    db: Database, service: Service, settings: Settings, tasks: Sequence[WorkerTask]
) -> DemoReport | None:
    """Fill `service` with demo users (None when it already has events: nothing is added)."""
    if await events.count_history(db, service.id):
        return None
    rng = random.Random(7)
    movies, episodes = _catalog()
    entries: list[JsonValue] = []
    for number, name in enumerate(NAMES[:USERS], start=1):
        user = str(number)
        profile: dict[str, JsonValue] = {
            "name": name,
            "plan": rng.choice(("basic", "premium")),
            "country": "GB",
        }
        await profiles.put_profile(db, service, user_id=user, body=profile)
        entries += _history(rng, user, movies, episodes)
    entries.sort(key=lambda e: str(e["at"]) if isinstance(e, dict) else "")
    for start in range(0, len(entries), events.MAX_BATCH):
        ops = events.batch_ops(service, body=entries[start : start + events.MAX_BATCH])
        async with db.write() as conn:
            await events.write_ops(conn, ops=ops)
    async with _receiver() as hooks:
        wishes = [("1", "ok"), ("2", "flaky"), ("3", "ok"), ("5", "gone"), ("8", "ok")]
        for (user, path), movie in zip(wishes, movies[:5], strict=True):
            spec = notifications.RequestSpec(
                url=f"{hooks}/{path}", source_ids=(), price=None, hd=False
            )
            await notifications.create_request(
                db, service, user_id=user, item_type="movie", item_id=movie.item_id, spec=spec
            )
        waiting = notifications.RequestSpec(
            url=f"{hooks}/ok", source_ids=("99",), price=None, hd=True
        )
        for user in ("1", "4", "7"):
            movie_id = movies[10 + int(user)].item_id
            await notifications.create_request(
                db, service, user_id=user, item_type="movie", item_id=movie_id, spec=waiting
            )
        deliveries = await _run_worker_tasks(db, service, settings, tasks)
    version = await recs.train_service(db, service.id)
    return DemoReport(USERS, len(entries), len(wishes) + 3, deliveries, version)
