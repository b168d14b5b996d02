"""CPU per request of the app itself, called in-process (no HTTP server, no load generator):
the figure a shared machine moves least, for comparing one change with the next.

    python -m bench.asgi [--requests 300]

The same data as `bench.hotpaths` (PostgreSQL). Each path is called `--requests` times in a
row, seven rounds; the best round's process CPU time per request is printed beside a bare
FastAPI hello-world app's, called the same way (the framework's own floor).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.types import Message, Scope

from bench.hello import app as hello
from bench.hotpaths import get_paths, post_paths, prepared
from tanktop.app import create_app
from tanktop.config import Settings

ASGI = Callable[..., Awaitable[None]]


def _scope(method: str, target: str) -> Scope:
    path, _, query = target.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


async def cpu_per_request(app: ASGI, method: str, targets: list[str], requests: int) -> float:
    """Microseconds of process CPU per request, best of seven rounds."""
    statuses: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    best = float("inf")
    for _ in range(7):
        started = time.process_time()
        for n in range(requests):
            await app(_scope(method, targets[n % len(targets)]), receive, send)
        best = min(best, (time.process_time() - started) / requests * 1e6)
    bad = [s for s in statuses if s >= 400]
    assert not bad, f"{len(bad)} answers were errors ({bad[0]})"
    return best


async def measure(database_url: str, key: str, requests: int, only: str) -> None:
    app: FastAPI = create_app(Settings(database_url=database_url, run_worker=False))
    rng = random.Random(18)
    paths = [
        ("bare FastAPI hello", hello, "GET", ["/hello"]),
        ("GET /healthz", app, "GET", ["/healthz"]),
        ("POST /event/… (one at a time)", app, "POST", post_paths(key, rng)),
        ("GET 10 ids", app, "GET", get_paths(key, rng)),
        ("GET /bookmark/ (500 items of history)", app, "GET", [f"/api/1/{key}/bookmark/u/"]),
    ]
    async with app.router.lifespan_context(app):
        floor = 0.0
        for name, target, method, targets in paths:
            if only not in name and target is not hello:
                continue
            count = requests if "bookmark" not in name else max(20, requests // 10)
            us = await cpu_per_request(target, method, targets, count)
            floor = floor or us
            print(f"{name:<44} {us:8.1f} us of CPU per request   x{us / floor:5.1f} the bare app")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--only", default="", help="only the paths whose name has this")
    args = parser.parse_args()
    with prepared() as setup:
        asyncio.run(measure(setup.database_url, setup.key, args.requests, args.only))


if __name__ == "__main__":
    main()
