"""Write load across a database outage, as an operator would see it: clients posting events to
a real server while the database goes away and comes back; what each got, and what was stored.

Shared by the test (tests/platform/test_db_restart.py) and the benchmark (bench/faults.py).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from tests.clusters import PrivateRedis
from tests.servers import pg_fetch, tanktop_env


@dataclass
class OutageRun:
    """What the clients saw; times are seconds since the load started."""

    statuses: Counter[int | str] = field(default_factory=Counter)
    accepted: list[tuple[str, str]] = field(default_factory=list)
    """(user, item) of every event answered 204."""
    answers: list[tuple[float, int | str]] = field(default_factory=list)
    """When each answer came, and what it was."""
    outage_at: float = 0.0
    back_at: float = 0.0
    """When the database accepted connections again."""
    ended_at: float = 0.0
    ready: Counter[int] = field(default_factory=Counter)
    """`/readyz` answers during the run."""
    others: Counter[tuple[str, int | str]] = field(default_factory=Counter)
    """(call, answer) of the other calls made beside the events (`browsers`)."""

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def failures(self) -> list[float]:
        return [at for at, status in self.answers if status != 204]

    @property
    def recovery(self) -> float:
        """From the database's return to the last failed answer (0 when none came after)."""
        late = [at for at in self.failures if at > self.back_at]
        return max(late) - self.back_at if late else 0.0

    def rate(self, start: float, end: float) -> float:
        """204s per second between `start` and `end`."""
        ok = sum(1 for at, status in self.answers if status == 204 and start <= at < end)
        return ok / (end - start) if end > start else 0.0


OTHER_CALLS: list[tuple[str, str, dict[str, str] | None]] = [
    ("PUT", "/user/{user}/", {"name": "Sam"}),
    ("GET", "/user/{user}/", None),
    ("GET", "/event/{user}/seen/movie/", None),
    ("GET", "/list/{user}/movie/?include=seen", None),
    ("GET", "/recommendation/{user}/", None),
    ("GET", "/sections/{user}/", None),
    ("POST", "/notification/{user}/movie/1/", {"url": "http://example.com/hook"}),
    ("GET", "/analytics/events/", None),
]
"""What `browsers` call in turn: profiles, lists, recommendations, pages, notifications and
analytics, each on its own path to the database."""


async def write_through_outage(
    base_url: str,
    key: str,
    outage: Callable[[], None],
    *,
    clients: int = 8,
    browsers: int = 0,
    before: float = 1.0,
    settle: float = 2.0,
    deadline: float = 20.0,
) -> OutageRun:
    """`clients` post events without pause, and `browsers` make `OTHER_CALLS` in turn; after
    `before` seconds `outage()` runs in a thread (it returns once the database is back); the
    load goes on until `settle` seconds without a failed event have passed since then (or
    `deadline`)."""
    run = OutageRun()
    started = time.monotonic()
    done = asyncio.Event()

    def now() -> float:
        return time.monotonic() - started

    async def client(http: httpx.AsyncClient, number: int) -> None:
        sent = 0
        while not done.is_set():
            user, item = f"c{number}", f"{number}-{sent}"
            sent += 1
            try:
                response = await http.post(f"/api/1/{key}/event/{user}/seen/movie/{item}/")
                status: int | str = response.status_code
            except httpx.TransportError as exc:
                status = type(exc).__name__
            run.statuses[status] += 1
            run.answers.append((now(), status))
            if status == 204:
                run.accepted.append((user, item))

    async def browser(http: httpx.AsyncClient, number: int) -> None:
        user, turn = f"b{number}", number
        while not done.is_set():
            method, path, body = OTHER_CALLS[turn % len(OTHER_CALLS)]
            turn += 1
            try:
                response = await http.request(
                    method, f"/api/1/{key}" + path.format(user=user), json=body
                )
                status: int | str = response.status_code
            except httpx.TransportError as exc:
                status = type(exc).__name__
            run.others[(f"{method} {path}", status)] += 1

    async def probe(http: httpx.AsyncClient) -> None:
        while not done.is_set():
            try:
                run.ready[(await http.get("/readyz")).status_code] += 1
            except httpx.TransportError:
                run.ready[0] += 1
            await asyncio.sleep(0.1)

    async def fault() -> None:
        await asyncio.sleep(before)
        run.outage_at = now()
        await asyncio.to_thread(outage)
        run.back_at = now()
        while now() < deadline:
            last = max(run.failures, default=0.0)
            if now() - max(last, run.back_at) >= settle:
                break
            await asyncio.sleep(0.05)
        run.ended_at = now()
        done.set()

    limits = httpx.Limits(max_connections=clients + browsers + 1)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as http:
        await asyncio.gather(
            fault(),
            probe(http),
            *(client(http, n) for n in range(clients)),
            *(browser(http, n) for n in range(browsers)),
        )
    return run


def redis_limited_env(database_url: str, redis_url: str) -> dict[str, str]:
    """A server's environment with its write budget kept in Redis, a budget the load stays
    under (every request metered, none refused), and no worker."""
    return tanktop_env(
        database_url,
        TANKTOP_REDIS_URL=redis_url,
        TANKTOP_RATE_LIMIT_WRITES="1000000",
        TANKTOP_RATE_LIMIT_READS="0",
        TANKTOP_RUN_WORKER="0",
    )


def redis_outage(redis: PrivateRedis, down: float) -> Callable[[], None]:
    """An outage for `write_through_outage`: Redis killed, `down` seconds, started again."""

    def outage() -> None:
        redis.stop()
        time.sleep(down)
        redis.start()

    return outage


async def lost_events(database_url: str, run: OutageRun) -> list[tuple[str, str]]:
    """Events answered 204 that are not in the user's list: must be none."""
    rows = await pg_fetch(
        database_url, "SELECT user_id, item_id FROM list_items WHERE event = 'seen'"
    )
    stored = {(row["user_id"], row["item_id"]) for row in rows}
    return [pair for pair in run.accepted if pair not in stored]


def count_tracebacks(log: str) -> int:
    """Tracebacks in a server's log (a chain of causes counts once)."""
    lines = log.splitlines()
    chained = ("The above exception", "During handling of the above")
    return sum(
        1
        for i, line in enumerate(lines)
        if line.startswith("Traceback") and not (i >= 2 and lines[i - 2].startswith(chained))
    )


def log_lines(log: str) -> list[str]:
    """A server log's own lines: not access lines, not traceback bodies."""
    return [
        line
        for line in log.splitlines()
        if line.startswith(("INFO", "WARNING", "ERROR")) and "HTTP/1.1" not in line
    ]
