"""ASGI middleware: the outermost layer that gives every request its id and counts and times
it; the guard before routing (body size, encoded slashes); and the layer that runs a request
again after a database fault a retry may cure.

Each layer is a coroutine the whole app's traffic passes through, so they are few and plain
ASGI: the id and the metrics share one layer and one wrapper of `send`.

The body is read here (it is at most `max_body_bytes`) so an over-size request is refused with
413 before any handler runs, whether it declared its length or streamed it.
"""

from __future__ import annotations

import json
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tanktop.asgi import HttpMiddleware
from tanktop.errors import PROBLEM_MEDIA_TYPE, RETRIED, RetryRequest, problem_body
from tanktop.logs import request_id, request_id_of
from tanktop.metrics import observe_request

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def send_problem(send: Send, status: int, title: str, detail: str, slug: str) -> None:
    """Answer with problem+json from ASGI level (before FastAPI's handlers exist for it)."""
    body = json.dumps(problem_body(status, title, detail, slug=slug)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Observed(HttpMiddleware):
    """Outermost: the request's id (`X-Request-ID`: the caller's if sane, else a new one) on
    every log line of the request and on the answer; and the request counted and timed by its
    route template (`tanktop.metrics`), the guard's refusals too."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        current = request_id_of(scope)
        header = (b"x-request-id", current.encode())
        token = request_id.set(current)
        status = 500

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            request_id.reset(token)
            route = getattr(scope.get("route"), "path", "unmatched")
            observe_request(scope["method"], route, status, time.perf_counter() - started)


_API_PREFIXES = ("/api/", "/admin/")


class RequestGuard(HttpMiddleware):
    """Refuse over-size bodies (413), `%2F` inside path segments and NUL (`%00`) in the path,
    the query or a form body (400: no database stores it, whichever field it is), and make the
    trailing slash of API paths optional: routes are declared with it, and a path without it
    is routed as if it had it (no redirect round trip, one route per endpoint).

    Batch ingestion (`POST …/events/`, up to 1,000 events) has a larger limit of its own.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_batch_bytes: int) -> None:
        super().__init__(app)
        self.max_body_bytes = max_body_bytes
        self.max_batch_bytes = max_batch_bytes

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        lowered = raw_path.lower()
        if b"%2f" in lowered or b"%5c" in lowered:
            await send_problem(
                send,
                400,
                "Invalid request",
                "Ids may not contain '/' or '\\' (even percent-encoded).",
                "invalid-request",
            )
            return
        if b"%00" in raw_path or b"%00" in scope["query_string"]:
            await _no_nul(send, "The path and query")
            return
        path: str = scope["path"]
        if path.startswith(_API_PREFIXES) and not path.endswith("/"):
            scope = {**scope, "path": path + "/", "raw_path": raw_path + b"/"}
        if scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        is_batch = scope["path"].rstrip("/").endswith("/events")
        limit = self.max_batch_bytes if is_batch else self.max_body_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._too_large(send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if b"%00" in body and _is_form(scope):
            await _no_nul(send, "A form body")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send, limit: int) -> None:
        await send_problem(
            send,
            413,
            "Request body too large",
            f"This request's body is limited to {limit} bytes.",
            "payload-too-large",
        )


async def _no_nul(send: Send, what: str) -> None:
    """400 for NUL outside a JSON body (where the field is named: `tanktop.storable`)."""
    await send_problem(
        send,
        400,
        "Invalid request",
        f"{what} may not contain NUL (%00): no database can store it.",
        "invalid-request",
    )


def _is_form(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media == b"application/x-www-form-urlencoded"
    return False


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class RetryOnFault(HttpMiddleware):
    """Run a request once more when its database work met a fault a second run may cure (a
    connection found dead, a deadlock) and nothing of it was committed; the second run's fault,
    if any, is answered `503`. Innermost, so it replays the body the guard already read."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        received: list[Message] = []

        async def recording() -> Message:
            message = await receive()
            received.append(message)
            return message

        try:
            await self.app(scope, recording, send)
        except RetryRequest:
            scope[RETRIED] = True
            replay = iter(received)

            async def replaying() -> Message:
                return next(replay, None) or await receive()

            await self.app(scope, replaying, send)
