"""A timing hook for a `tanktop serve` under a benchmark (`bench.tail`), never for production.

Installed at the server's start (`install(path)`, from a `sitecustomize` that `bench.tail`
puts on the server's `PYTHONPATH`), it appends JSON lines to `path`: one per request (from
uvicorn's request cycle to the app's return, and inside it each asyncpg statement, the pool
checkout, the rate limiter and the writing of the answer), one per garbage collection, per rate
limiter take from the store, and per moment the event loop could not run a 1 ms sleep within
4 ms (a stall: the process was not running, or something held the loop).
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import json
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

Phases = dict[str, list[tuple[float, float]]]

_RECORDS: list[dict[str, Any]] = []
_PHASES: contextvars.ContextVar[Phases | None] = contextvars.ContextVar(
    "bench_phases", default=None
)
_ARRIVED: contextvars.ContextVar[float | None] = contextvars.ContextVar("bench_t0", default=None)
_STALL = 0.004


def _phase(name: str, start: float, end: float) -> None:
    phases = _PHASES.get()
    if phases is not None:
        phases.setdefault(name, []).append((start, end - start))


def _timed(owner: Any, name: str, label: str | None = None, *, event: bool = False) -> None:
    """Wrap the coroutine method `owner.name`: its time is a phase of the request it runs in
    (named `label`, or the method and its statement's start), or a global `event`."""
    original: Callable[..., Awaitable[Any]] = getattr(owner, name)

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.time()
        try:
            return await original(*args, **kwargs)
        finally:
            end = time.time()
            if event:
                _RECORDS.append({"ev": label or name, "t": start, "d": end - start})
            else:
                query = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
                _phase(label or f"{name}: {' '.join(query.split())[:40]}", start, end)

    setattr(owner, name, wrapper)


class _Timing:
    """ASGI wrapper: a record per HTTP request, with its phases."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._watching = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self._watching:
            self._watching = True
            asyncio.get_running_loop().create_task(_watch_loop())
        phases: Phases = {}
        _PHASES.set(phases)
        called = time.time()

        async def timed_send(message: Any) -> None:
            start = time.time()
            await send(message)
            _phase("writing", start, time.time())

        try:
            await self.app(scope, receive, timed_send)
        finally:
            arrived = _ARRIVED.get() or called
            _RECORDS.append(
                {
                    "ev": "request",
                    "path": scope["path"][:80],
                    "t": arrived,
                    "d": time.time() - arrived,
                    "queued": called - arrived,
                    "phases": phases,
                }
            )


async def _watch_loop() -> None:
    while True:
        start = time.time()
        await asyncio.sleep(0.001)
        late = time.time() - start
        if late > _STALL:
            _RECORDS.append({"ev": "stall", "t": start, "d": late})


def _on_gc(phase: str, info: dict[str, int], started: list[float] = []) -> None:  # noqa: B006
    if phase == "start":
        started[:] = [time.time()]
    elif started:
        start = started.pop()
        _RECORDS.append(
            {"ev": "gc", "t": start, "d": time.time() - start, "gen": info["generation"]}
        )


def _flush(path: str) -> None:
    while True:
        time.sleep(0.5)
        batch = _RECORDS[:]
        del _RECORDS[: len(batch)]
        if batch:
            with open(path, "a") as out:
                out.writelines(json.dumps(record) + "\n" for record in batch)


def install(path: str) -> None:
    """Time every request of the server this process is about to run into `path`."""
    import asyncpg
    import uvicorn.config
    from sqlalchemy.ext.asyncio import AsyncEngine
    from uvicorn.protocols.http import httptools_impl

    from tanktop.tenants import ratelimit

    threading.Thread(target=_flush, args=(path,), daemon=True).start()
    gc.callbacks.append(_on_gc)

    load = uvicorn.config.Config.load

    def timed_load(self: uvicorn.config.Config) -> None:
        load(self)
        self.loaded_app = _Timing(self.loaded_app)

    uvicorn.config.Config.load = timed_load  # type: ignore[method-assign]

    # When uvicorn has a request's head (its arrival, as near as the server can tell).
    cycle = httptools_impl.RequestResponseCycle
    init, run_asgi = cycle.__init__, cycle.run_asgi

    def timed_init(self: Any, *args: Any, **kwargs: Any) -> None:
        self.bench_arrived = time.time()
        init(self, *args, **kwargs)

    async def timed_run(self: Any, app: Any) -> None:
        _ARRIVED.set(self.bench_arrived)
        await run_asgi(self, app)

    cycle.__init__ = timed_init  # type: ignore[method-assign]
    cycle.run_asgi = timed_run  # type: ignore[method-assign]

    for method in ("fetch", "fetchrow", "fetchval", "execute"):
        _timed(asyncpg.connection.Connection, method)
    _timed(AsyncEngine, "raw_connection", "pool checkout")
    _timed(ratelimit.RateLimiter, "admit", "rate limiter")
    _timed(ratelimit.DatabaseTokens, "take", "take (database)", event=True)
    _timed(ratelimit.RedisTokens, "take", "take (Redis)", event=True)
