"""A real HTTP webhook receiver on loopback for notification tests (aiohttp, in-process)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from aiohttp import web


@dataclass
class Received:
    headers: dict[str, str]
    body: str
    query: str = ""

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body).items()}


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    """Answers to give, in order; 200 once they run out."""
    retry_after: str | None = None
    delay: float = 0.0
    arrived: int = 0
    answer: bytes | None = None
    """The body to answer with (default `answer <status>`)."""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        self.arrived += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        self.received.append(Received(dict(request.headers), body, request.query_string))
        status = self.statuses.pop(0) if self.statuses else 200
        headers = {"Retry-After": self.retry_after} if self.retry_after and status >= 300 else {}
        answer = self.answer if self.answer is not None else f"answer {status}".encode()
        return web.Response(status=status, body=answer, headers=headers)


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    app = web.Application()
    hook = Receiver("")
    app.router.add_post("/hook", hook.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    hook.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield hook
    finally:
        await runner.cleanup()
