"""Live-TV ingestion: channel starts and ends (each re-derives what it changes) beside plain
events through the same API, in one run.

    python -m bench.live [--database sqlite|postgresql] [--seconds 5] [--concurrency 16]

20 channels air 30-90 minute slots of 200 movies over the past week; users each have a
week of viewing (a session or two a day: `start`, then an `end` or a zap to another channel).
Prints, as ratios to the baseline measured in the same run:
- single POSTs of channel events in time order (each user's log spread over the run), and
  the same logs with each user's events shuffled (late and out of order), against single
  POSTs of `progress` events (nothing derived);
- batches of 1,000 channel events (40-odd users' whole logs, shuffled: an offline sync)
  against batches of 1,000 `watchlist` events.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import tempfile
from pathlib import Path
from typing import Any

from tests.servers import create_key, run_cli, running_server, tanktop_env

from bench.databases import fresh_database
from bench.loadgen import Call, LoadResult, ratio_line, run_load

BENCH_DB = "tanktop_bench_live"
CHANNELS = 20
MOVIES = 200
USERS = 20_000
ACTIVE = 256
"""Users posting one by one: each posts its log's events in turn, `ACTIVE` requests apart (far
more than are in flight, so one user's events arrive in the order chosen)."""
DAYS = 7
START = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(
    days=DAYS + 1
)
Sent = tuple[str, str, str]  # event, channel, time


def catalog_lines() -> list[str]:
    rng = random.Random(20)
    lines: list[dict[str, Any]] = [
        {"item_type": "movie", "item_id": f"m{i}", "title": f"Movie {i}", "duration": 90}
        for i in range(MOVIES)
    ]
    for c in range(CHANNELS):
        slots, at = [], START
        while at < START + dt.timedelta(days=DAYS + 1):
            end = at + dt.timedelta(minutes=rng.choice([30, 60, 90]))
            slot = {"start": at.isoformat(), "end": end.isoformat()}
            slots.append({**slot, "item_type": "movie", "item_id": f"m{rng.randrange(MOVIES)}"})
            at = end
        lines.append({"item_type": "channel", "item_id": f"ch{c}", "name": f"Channel {c}"})
        lines.append({"item_type": "channel", "item_id": f"ch{c}", "schedule": slots})
    return [json.dumps(line) for line in lines]


def viewing_log(user: int) -> list[Sent]:
    """A week of one user's channel events, in time order."""
    rng = random.Random(user)
    sent: list[Sent] = []
    for day in range(DAYS):
        at = START + dt.timedelta(days=day, hours=rng.uniform(17, 21))
        for _ in range(rng.randint(1, 2)):
            sent.append(("start", f"ch{rng.randrange(CHANNELS)}", at.isoformat()))
            at += dt.timedelta(minutes=rng.uniform(5, 120))
            if rng.random() < 0.7:
                sent.append(("end", sent[-1][1], at.isoformat()))
            at += dt.timedelta(minutes=rng.uniform(0, 60))
    return sent


def shuffled(log: list[Sent], seed: int) -> list[Sent]:
    copy = list(log)
    random.Random(seed).shuffle(copy)
    return copy


async def singles(base: str, seconds: float, concurrency: int) -> list[LoadResult]:
    logs = {u: viewing_log(u) for u in range(ACTIVE)}

    def progress(i: int) -> Call:
        movie = random.randrange(MOVIES)
        return Call("POST", f"{base}/event/p{i % USERS}/progress/movie/m{movie}/{i % 90}/")

    def channel(prefix: str, order: dict[int, list[Sent]]) -> Any:
        def call(i: int) -> Call:
            user = i % ACTIVE
            log = order[user]
            event, item, when = log[(i // ACTIVE) % len(log)]
            return Call("POST", f"{base}/event/{prefix}{user}/{event}/channel/{item}/{when}/")

        return call

    late = {u: shuffled(log, u) for u, log in logs.items()}
    return [
        await run_load(
            "POST progress (baseline)", progress, concurrency=concurrency, seconds=seconds
        ),
        await run_load(
            "POST channel, in order", channel("o", logs), concurrency=concurrency, seconds=seconds
        ),
        await run_load(
            "POST channel, shuffled", channel("s", late), concurrency=concurrency, seconds=seconds
        ),
    ]


async def batches(base: str, seconds: float) -> list[LoadResult]:
    def watchlist(i: int) -> Call:
        body = [
            {
                "user_id": f"w{random.randrange(USERS)}",
                "event": "watchlist",
                "item_type": "movie",
                "item_id": f"m{random.randrange(MOVIES)}",
            }
            for _ in range(1000)
        ]
        return Call("POST", f"{base}/events/", body)

    def offline(i: int) -> Call:
        body: list[dict[str, Any]] = []
        user = i * 50
        while len(body) < 1000:
            log = viewing_log(user)
            body += [
                {
                    "user_id": f"b{user}",
                    "event": e,
                    "item_type": "channel",
                    "item_id": c,
                    "value": w,
                }
                for e, c, w in shuffled(log, user)
            ]
            user += 1
        return Call("POST", f"{base}/events/", body[:1000])

    return [
        await run_load("batch watchlist (baseline)", watchlist, concurrency=4, seconds=seconds),
        await run_load("batch channel, offline sync", offline, concurrency=4, seconds=seconds),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(args.database, BENCH_DB, tmp)
        env = tanktop_env(url, TANKTOP_KEY_CACHE_SECONDS="60")
        key = create_key(env, "bench-live")
        catalog = Path(tmp) / "catalog.jsonl"
        catalog.write_text("\n".join(catalog_lines()) + "\n")
        assert run_cli(env, "catalog", "import", str(catalog)).returncode == 0
        print(f"{args.database}, one API process, {args.seconds:.0f} s per measurement", flush=True)
        with running_server(env, "--no-worker") as server:
            base = f"{server.base_url}/api/1/{key}"
            single = asyncio.run(singles(base, args.seconds, args.concurrency))
            batch = asyncio.run(batches(base, args.seconds))
    for result in [*single, *batch]:
        print(result.row())
    print()
    print(ratio_line(single[1], single[0]))
    print(ratio_line(single[2], single[0]))
    print(ratio_line(batch[1], batch[0]))
    print(
        f"batch events/s: {batch[0].throughput * 1000:,.0f} watchlist, "
        f"{batch[1].throughput * 1000:,.0f} channel (offline sync)"
    )


if __name__ == "__main__":
    main()
