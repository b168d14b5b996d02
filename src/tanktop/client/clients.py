"""`Client` and `AsyncClient`: the calls of `calls.py` sent over httpx, with retries.

Each call is written once (in `calls.py`) and bound once (`_Calls`) for both clients, so the two
always offer the same calls with the same parameters and answer types.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import typing
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, ParamSpec, Self, TypeVar, overload

import httpx
from pydantic import JsonValue

from tanktop import __version__
from tanktop.client import calls
from tanktop.client.calls import Call
from tanktop.client.errors import problem_error, retry_after
from tanktop.events.schemas import MAX_BATCH, BatchEvent

P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
RETRIED = frozenset({429, 503})


@dataclass(frozen=True)
class Retries:
    """How a client waits out `429` (over the key's rate) and `503` (server busy or its
    database away): as long as the server's `Retry-After` says, else 0.5 s doubling; at most
    `attempts` more tries, and never a wait longer than `max_wait` seconds (then it raises)."""

    attempts: int = 3
    max_wait: float = 30.0

    def wait(self, attempt: int, response: httpx.Response) -> float | None:
        """Seconds to wait before trying again, or None to give up."""
        if response.status_code not in RETRIED or attempt >= self.attempts:
            return None
        asked = retry_after(response)
        wait = 0.5 * 2**attempt if asked is None else asked
        return wait if wait <= self.max_wait else None


NO_RETRIES = Retries(attempts=0)


def batches(events: Iterable[BatchEvent | Mapping[str, JsonValue]]) -> Iterator[list[JsonValue]]:
    """`events` as request bodies of at most `MAX_BATCH` each (each entry checked first)."""
    chunk: list[JsonValue] = []
    for event in events:
        model = event if isinstance(event, BatchEvent) else BatchEvent.model_validate(event)
        chunk.append(model.model_dump(mode="json"))
        if len(chunk) == MAX_BATCH:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _read(call: Call[T], response: httpx.Response) -> T:
    if response.is_success:
        return call.read(response)
    raise problem_error(response)


class _Settings:
    def __init__(self, base_url: str, api_key: str, retries: Retries) -> None:
        self.prefix = f"{base_url.rstrip('/')}/api/1/{api_key}/"
        self.retries = retries
        self.headers = {"user-agent": f"tanktop-client/{__version__}"}

    def request(self, http: httpx.Client | httpx.AsyncClient, call: Call[Any]) -> httpx.Request:
        return http.build_request(
            call.method,
            self.prefix + call.path,
            params=tuple(call.params),
            json=call.json if call.has_body else None,
        )


class _Bound(Generic[P, T]):
    """A call of `calls.py` as a method of both clients: on a `Client` it sends the call and
    returns the answer, on an `AsyncClient` it returns the coroutine that does."""

    def __init__(self, build: Callable[P, Call[T]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, client: None, owner: type[Any]) -> _Bound[P, T]: ...
    @overload
    def __get__(self, client: Client, owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(
        self, client: AsyncClient, owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, client: Client | AsyncClient | None, owner: type[Any]) -> Any:
        if client is None:
            return self
        build = self.build
        if isinstance(client, AsyncClient):
            sender = client

            async def send_later(*args: P.args, **kwargs: P.kwargs) -> T:
                return await sender.send(build(*args, **kwargs))

            return _named(send_later, build)
        sync = client

        def send_now(*args: P.args, **kwargs: P.kwargs) -> T:
            return sync.send(build(*args, **kwargs))

        return _named(send_now, build)


def _named(method: F, build: Callable[..., Call[Any]]) -> F:
    """`method` as `help()` and editors should show it: `build`'s name, words and parameters,
    answering what its `Call` reads."""
    signature = inspect.signature(build)
    (answer,) = typing.get_args(typing.get_type_hints(build)["return"])  # Call[answer]
    method.__signature__ = signature.replace(return_annotation=answer)  # type: ignore[attr-defined]
    method.__name__, method.__doc__ = build.__name__, build.__doc__
    return method


class _Calls:
    """Every call of the API, the same on both clients (written once, in `calls.py`)."""

    get_profile = _Bound(calls.get_profile)
    put_profile = _Bound(calls.put_profile)
    create_profile = _Bound(calls.create_profile)
    patch_profile = _Bound(calls.patch_profile)
    delete_profile = _Bound(calls.delete_profile)
    post_event = _Bound(calls.post_event)
    delete_event = _Bound(calls.delete_event)
    get_list = _Bound(calls.get_list)
    personalized_list = _Bound(calls.personalized_list)
    request_notification = _Bound(calls.request_notification)
    notifications = _Bound(calls.notifications)
    cancel_notifications = _Bound(calls.cancel_notifications)
    deliveries = _Bound(calls.deliveries)
    resend = _Bound(calls.resend)
    bookmarks = _Bound(calls.bookmarks)
    bookmark = _Bound(calls.bookmark)
    recommendations = _Bound(calls.recommendations)
    live_recommendations = _Bound(calls.live_recommendations)
    similar = _Bound(calls.similar)
    page = _Bound(calls.page)


class Client(_Calls):
    """The Tank Top API for one service (its API key), from synchronous code.

        with Client("https://tanktop.example.com", "tt_…") as tanktop:
            tanktop.post_event("7", "watchlist", "movie", 1)
            tanktop.bookmarks("7")          # list[Bookmark]

    Errors raise `ProblemError` subclasses (`NotFoundError`, `BadRequestError`, …); `429` and
    `503` are retried as `retries` says first.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        retries: Retries = Retries(),
        http: httpx.Client | None = None,
    ) -> None:
        self._settings = _Settings(base_url, api_key, retries)
        self._own = http is None
        self._http = http or httpx.Client(timeout=timeout, headers=self._settings.headers)

    def send(self, call: Call[T]) -> T:
        """Send one call (retrying 429 and 503) and read its answer."""
        attempt = 0
        while True:
            response = self._http.send(self._settings.request(self._http, call))
            wait = self._settings.retries.wait(attempt, response)
            if wait is None:
                return _read(call, response)
            time.sleep(wait)
            attempt += 1

    def post_events(self, events: Iterable[BatchEvent | Mapping[str, JsonValue]]) -> int:
        """Record any number of events, 1,000 per request (each request all or nothing, in
        order); returns how many were recorded. A failure raises with the earlier requests'
        events recorded."""
        sent = 0
        for body in batches(events):
            self.send(calls.post_batch(body))
            sent += len(body)
        return sent

    def close(self) -> None:
        if self._own:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


class AsyncClient(_Calls):
    """The Tank Top API for one service (its API key), from asyncio code: the calls of
    `Client`, awaited.

        async with AsyncClient("https://tanktop.example.com", "tt_…") as tanktop:
            await tanktop.post_event("7", "watchlist", "movie", 1)
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        retries: Retries = Retries(),
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._settings = _Settings(base_url, api_key, retries)
        self._own = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout, headers=self._settings.headers)

    async def send(self, call: Call[T]) -> T:
        """Send one call (retrying 429 and 503) and read its answer."""
        attempt = 0
        while True:
            response = await self._http.send(self._settings.request(self._http, call))
            wait = self._settings.retries.wait(attempt, response)
            if wait is None:
                return _read(call, response)
            await asyncio.sleep(wait)
            attempt += 1

    async def post_events(self, events: Iterable[BatchEvent | Mapping[str, JsonValue]]) -> int:
        """Record any number of events, 1,000 per request (see `Client.post_events`)."""
        sent = 0
        for body in batches(events):
            await self.send(calls.post_batch(body))
            sent += len(body)
        return sent

    async def aclose(self) -> None:
        if self._own:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, *exc: type[BaseException] | BaseException | TracebackType | None
    ) -> None:
        await self.aclose()
