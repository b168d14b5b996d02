"""`GET /sections/<userid>/` (10 rows x 20 items) beside `GET /recommendation/<userid>/`.

    python -m bench.sections [--database postgresql|sqlite|both] [--seconds 5]

10,000 catalog items (9,000 movies in 12 genres, 100 programmes of 9 episodes, offers on four
sources listed over the last 90 days, three channels airing now), 100,000 events of 2,000
users over 30 days (seen, rated, watchlist, progress on a skewed popularity), a trained model,
and ten sections, one of each kind. One API process; each figure beside the p99 of one
recommendation call measured in the same run (target: the page at most 4x, and p99 < 50 ms
for one client), and a floor: `GET /section/` (one small query), what any call costs on the
machine at that moment.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.progress import Progress
from tests.servers import create_key, run_cli, running_server, tanktop_env

from bench.databases import fresh_database
from bench.loadgen import Call, LoadResult, run_load

BENCH_DB = "tanktop_bench_sections"
MOVIES, PROGRAMMES, EPISODES = 9_000, 100, 9
USERS, EVENTS = 2_000, 100_000
GENRES = [
    "Drama",
    "Comedy",
    "Thriller",
    "Romance",
    "Action",
    "Crime",
    "Horror",
    "Adventure",
    "Fantasy",
    "Documentary",
    "Mystery",
    "Sci-Fi",
]
SECTIONS: dict[str, dict[str, Any]] = {
    "continue": {"title": "Continue watching", "kind": "continue_watching", "locked": True},
    "for-you": {"title": "Recommended for you", "kind": "recommended"},
    "because": {"title": "Because you watched {title}", "kind": "because_you_watched"},
    "on-now": {"title": "On TV now", "kind": "live_now"},
    "new": {"title": "New on your services", "kind": "new", "params": {"days": 14}},
    "popular": {"title": "Popular this week", "kind": "popular", "params": {"days": 7}},
    "drama": {"title": "Drama", "kind": "genre", "params": {"genre": "Drama"}},
    "watchlist": {"title": "Your watchlist", "kind": "watchlist"},
    "saved": {
        "title": "Saved, not seen",
        "kind": "list",
        "params": {"include": ["watchlist"], "exclude": ["seen"]},
    },
    "picks": {
        "title": "Staff picks",
        "kind": "editorial",
        "params": {"ids": [f"m{i}" for i in range(0, 3000, 100)]},
    },
}


def catalog_lines(now: dt.datetime) -> list[str]:
    """The catalog as `tanktop catalog import` reads it."""
    rng = random.Random(3)

    def offers() -> list[dict[str, Any]]:
        listed = now - dt.timedelta(days=rng.uniform(0, 90))
        return [
            {
                "source_id": source,
                "price": rng.choice([0, 0, 249, 349, 499]),
                "hd": rng.random() < 0.7,
                "available_from": listed.isoformat(),
            }
            for source in rng.sample(range(1, 5), rng.randint(1, 2))
        ]

    lines = [
        {
            "item_type": "movie",
            "item_id": f"m{i}",
            "title": f"Movie {i}",
            "duration": rng.randint(80, 180),
            "genres": rng.sample(GENRES, rng.randint(1, 3)),
            "offers": offers(),
        }
        for i in range(MOVIES)
    ]
    for p in range(PROGRAMMES):
        lines.append(
            {
                "item_type": "programme",
                "item_id": f"p{p}",
                "title": f"Show {p}",
                "genres": rng.sample(GENRES, 2),
            }
        )
        lines += [
            {
                "item_type": "episode",
                "item_id": f"p{p}e{e}",
                "programme_id": f"p{p}",
                "season": 1,
                "number": e,
                "duration": 45,
                "offers": offers(),
            }
            for e in range(1, EPISODES + 1)
        ]
    for c in range(3):
        lines.append({"item_type": "channel", "item_id": f"ch{c}", "name": f"Channel {c}"})
    start = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=6)
    for c in range(3):
        slots = []
        at = start + dt.timedelta(minutes=20 * c)
        while at < start + dt.timedelta(hours=24):
            end = at + dt.timedelta(minutes=rng.choice([30, 60, 90]))
            item = rng.choice([("movie", f"m{rng.randrange(MOVIES)}")] * 2 + [("episode", "p1e1")])
            slots.append(
                {
                    "start": at.isoformat(),
                    "end": end.isoformat(),
                    "item_type": item[0],
                    "item_id": item[1],
                }
            )
            at = end
        lines.append({"item_type": "channel", "item_id": f"ch{c}", "schedule": slots})
    return [json.dumps(line) for line in lines]


def history(now: dt.datetime) -> list[dict[str, Any]]:
    """100,000 events over 30 days, popular items far more often, a few section events."""
    rng = random.Random(5)
    items = [("movie", f"m{i}", 130) for i in range(MOVIES)] + [
        ("episode", f"p{p}e{e}", 45) for p in range(PROGRAMMES) for e in range(1, EPISODES + 1)
    ]
    weights = [1 / (i + 1) ** 0.8 for i in range(len(items))]
    chosen = rng.choices(items, weights=weights, k=EVENTS - 2_000)
    events: list[dict[str, Any]] = []
    for item_type, item_id, minutes in chosen:
        kind = rng.choices(["seen", "rated", "watchlist", "progress"], [4, 2, 2, 2])[0]
        event: dict[str, Any] = {
            "user_id": f"u{rng.randrange(USERS)}",
            "event": kind,
            "item_type": item_type,
            "item_id": item_id,
            "at": (now - dt.timedelta(days=rng.uniform(0, 30))).isoformat(),
        }
        if kind == "rated":
            event["value"] = rng.choice([-1, 3, 4, 5])
        elif kind == "progress":
            event["value"] = rng.randint(5, minutes)
        events.append(event)
    for _ in range(2_000):
        event = {
            "user_id": f"u{rng.randrange(USERS)}",
            "event": rng.choice(["pin", "hide", "click", "rated"]),
            "item_type": "section",
            "item_id": rng.choice([s for s in SECTIONS if s != "continue"]),
        }
        if event["event"] == "click":
            event["value"] = f"movie:m{rng.randrange(100)}"
        elif event["event"] == "rated":
            event["value"] = rng.choice([-2, 1, 2])
        events.append(event)
    events.sort(key=lambda e: str(e.get("at", now.isoformat())))
    return events


async def load(base: str, now: dt.datetime) -> None:
    events = history(now)
    async with httpx.AsyncClient(timeout=60) as http:
        with Progress() as progress:
            task = progress.add_task("loading events", total=len(events))
            for start in range(0, len(events), 1000):
                response = await http.post(f"{base}/events/", json=events[start : start + 1000])
                assert response.status_code == 204, response.text
                progress.advance(task, 1000)
        for section_id, body in SECTIONS.items():
            response = await http.put(f"{base}/section/{section_id}/", json=body)
            assert response.status_code == 201, response.text
        page = (await http.get(f"{base}/sections/u1/")).json()["sections"]
    shape = ", ".join(f"{row['section_id']} {len(row['items'])}" for row in page)
    print(f"user u1's page: {len(page)} rows ({shape})")


async def measure(
    base: str, seconds: float, concurrency: int
) -> tuple[LoadResult, LoadResult, LoadResult]:
    """The floor (`GET /section/`: one small query, what any call costs on this machine now),
    one recommendation call, and the page, one after the other at `concurrency`."""
    floor = await run_load(
        f"GET /section/ (c={concurrency})",
        lambda i: Call("GET", f"{base}/section/"),
        concurrency=concurrency,
        seconds=seconds,
    )
    recs = await run_load(
        f"GET /recommendation (c={concurrency})",
        lambda i: Call("GET", f"{base}/recommendation/u{i % USERS}/?n=20"),
        concurrency=concurrency,
        seconds=seconds,
    )
    page = await run_load(
        f"GET /sections (c={concurrency})",
        lambda i: Call("GET", f"{base}/sections/u{i % USERS}/?rows=10&items=20"),
        concurrency=concurrency,
        seconds=seconds,
    )
    return floor, recs, page


def run(database: str, seconds: float) -> None:
    print(f"== {database}")
    now = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(database, BENCH_DB, tmp)
        env = tanktop_env(url, TANKTOP_KEY_CACHE_SECONDS="60", TANKTOP_MODEL_REFRESH_SECONDS="1")
        key = create_key(env, "bench-sections")
        catalog = Path(tmp) / "catalog.jsonl"
        catalog.write_text("\n".join(catalog_lines(now)) + "\n")
        assert run_cli(env, "catalog", "import", str(catalog)).returncode == 0
        with running_server(env, "--no-worker") as server:
            base = f"{server.base_url}/api/1/{key}"
            asyncio.run(load(base, now))
            started = time.perf_counter()
            assert run_cli(env, "recs", "train").returncode == 0
            print(f"training: {time.perf_counter() - started:.1f} s")
            time.sleep(1.5)  # the API process picks the new model up
            for concurrency in (1, 8):
                floor, recs, page = asyncio.run(measure(base, seconds, concurrency))
                print(floor.row())
                print(recs.row())
                print(page.row())
                ratio = page.percentile(99) / recs.percentile(99)
                print(
                    f"{database}, {concurrency} client(s): page p99 {page.percentile(99):.1f} ms "
                    f"= x{ratio:.1f} the p99 of one recommendation call "
                    f"({recs.percentile(99):.1f} ms); target x4 and < 50 ms at one client; "
                    f"floor p99 {floor.percentile(99):.1f} ms"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    for database in ("postgresql", "sqlite") if args.database == "both" else (args.database,):
        run(database, args.seconds)


if __name__ == "__main__":
    main()
