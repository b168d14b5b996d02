"""The clients: the calls of `calls.py` sent over httpx, with retries.

Two credentials (a service's API key, a user's OAuth access token) and two ways of waiting
(blocking, asyncio) make four classes, but each piece of logic is written once:

- what to send and how to read it: a `Call` (`calls.py`);
- the conversation of one call or of a batch upload, retries included: a generator of
  `Step`s (`exchange`, `upload`) that says "send this" or "wait this long" and returns the
  answer; it does no I/O itself;
- the I/O: `_Sync.run` and `_Async.run` carry out those steps, the one with `httpx.Client`
  and `time.sleep`, the other with `httpx.AsyncClient` and `asyncio.sleep`;
- which calls a client offers: `_ServiceCalls` (API key) and `_UserCalls` (access token),
  each listed once for its sync and its async class.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import typing
from collections.abc import Callable, Coroutine, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Concatenate, Generic, ParamSpec, Self, TypeVar, overload

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
H = TypeVar("H", httpx.Client, httpx.AsyncClient)
RETRIED = frozenset({429, 503})

Step = Call[Any] | float
"""What a conversation asks of its transport: send this call, or wait this many seconds."""
Exchange = Generator[Step, httpx.Response | None, T]
"""A conversation with the server that ends with an answer of type T (see the module's doc)."""


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


class _Core:
    """Where a client's calls go, with which credential, and how it retries: a service's API
    key goes in the path (`/api/1/<key>/`), a user's access token in the `Authorization`
    header (`/api/1/me/`)."""

    def __init__(self, base_url: str, credential: str, *, bearer: bool, retries: Retries):
        self.prefix = f"{base_url.rstrip('/')}/api/1/{'me' if bearer else credential}/"
        self.retries = retries
        self.headers = {"user-agent": f"tanktop-client/{__version__}"}
        if bearer:
            self.headers["authorization"] = f"Bearer {credential}"

    def request(self, http: httpx.Client | httpx.AsyncClient, call: Call[Any]) -> httpx.Request:
        return http.build_request(
            call.method,
            self.prefix + call.path,
            params=tuple(call.params),
            json=call.json if call.has_body else None,
            headers=self.headers,
        )

    def exchange(self, call: Call[T]) -> Exchange[T]:
        """One call: send it, wait and send again while the server asks to, read the answer
        (or raise its problem)."""
        attempt = 0
        while True:
            response = yield call
            assert response is not None
            wait = self.retries.wait(attempt, response)
            if wait is None:
                if response.is_success:
                    return call.read(response)
                raise problem_error(response)
            yield wait
            attempt += 1


def upload(core: _Core, events: Iterable[BatchEvent | Mapping[str, JsonValue]]) -> Exchange[int]:
    """Record any number of events, 1,000 per request (each request all or nothing, in
    order); returns how many were recorded. A failure raises with the earlier requests'
    events recorded."""
    sent = 0
    for body in batches(events):
        yield from core.exchange(calls.post_batch(body))
        sent += len(body)
    return sent


class _Transport(Generic[H]):
    """What both transports hold: the core, and an httpx client of their kind (`http`, yours
    to close, or one of their own). `BEARER`, set by the calls a client offers: whether its
    credential is a user's access token (else a service's API key)."""

    BEARER: ClassVar[bool]

    def __init__(
        self,
        base_url: str,
        credential: str,
        /,
        *,
        timeout: float = 10.0,
        retries: Retries = Retries(),
        http: H | None = None,
    ) -> None:
        self._core = _Core(base_url, credential, bearer=self.BEARER, retries=retries)
        self._own = http is None
        self._http: H = self._open(timeout) if http is None else http

    def _open(self, timeout: float) -> H:
        raise NotImplementedError


class _Sync(_Transport[httpx.Client]):
    """Carries out conversations with `httpx.Client`, blocking."""

    def _open(self, timeout: float) -> httpx.Client:
        return httpx.Client(timeout=timeout)

    def run(self, exchange: Exchange[T]) -> T:
        reply: httpx.Response | None = None
        try:
            while True:
                step = exchange.send(reply)
                if isinstance(step, Call):
                    reply = self._http.send(self._core.request(self._http, step))
                else:
                    time.sleep(step)
                    reply = None
        except StopIteration as done:
            return typing.cast(T, done.value)

    def send(self, call: Call[T]) -> T:
        """Send one call (retrying 429 and 503) and read its answer."""
        return self.run(self._core.exchange(call))

    def close(self) -> None:
        if self._own:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


class _Async(_Transport[httpx.AsyncClient]):
    """Carries out conversations with `httpx.AsyncClient`, awaiting."""

    def _open(self, timeout: float) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=timeout)

    async def run(self, exchange: Exchange[T]) -> T:
        reply: httpx.Response | None = None
        try:
            while True:
                step = exchange.send(reply)
                if isinstance(step, Call):
                    reply = await self._http.send(self._core.request(self._http, step))
                else:
                    await asyncio.sleep(step)
                    reply = None
        except StopIteration as done:
            return typing.cast(T, done.value)

    async def send(self, call: Call[T]) -> T:
        """Send one call (retrying 429 and 503) and read its answer."""
        return await self.run(self._core.exchange(call))

    async def aclose(self) -> None:
        if self._own:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, *exc: type[BaseException] | BaseException | TracebackType | None
    ) -> None:
        await self.aclose()


Plan = Callable[Concatenate[_Core, P], Exchange[T]]


class _Bound(Generic[P, T]):
    """A conversation as a method of both kinds of client: on a sync one it carries it out and
    returns the answer, on an async one it returns the coroutine that does."""

    def __init__(self, plan: Plan[P, T], shown: Callable[..., Any]) -> None:
        self.plan = plan
        self.shown = shown
        self.name = shown.__name__
        self.__doc__ = shown.__doc__

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, client: None, owner: type[Any]) -> _Bound[P, T]: ...
    @overload
    def __get__(self, client: _Sync, owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(self, client: _Async, owner: type[Any]) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, client: _Sync | _Async | None, owner: type[Any]) -> Any:
        if client is None:
            return self
        plan = self.plan
        if isinstance(client, _Async):
            sender = client

            async def later(*args: P.args, **kwargs: P.kwargs) -> T:
                return await sender.run(plan(sender._core, *args, **kwargs))

            return self._named(later)
        sync = client

        def now(*args: P.args, **kwargs: P.kwargs) -> T:
            return sync.run(plan(sync._core, *args, **kwargs))

        return self._named(now)

    def _named(self, method: F) -> F:
        """`method` as `help()` and editors should show it: its name, words and parameters,
        answering what its call reads."""
        signature = inspect.signature(self.shown)
        parameters = list(signature.parameters.values())
        if self.shown is self.plan:
            parameters = parameters[1:]  # the core
        answer = typing.get_args(typing.get_type_hints(self.shown)["return"])[-1]
        method.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=parameters, return_annotation=answer
        )
        method.__name__, method.__doc__ = self.name, self.shown.__doc__
        return method


def _call(build: Callable[P, Call[T]]) -> _Bound[P, T]:
    """A call of `calls.py` as a method of the clients."""

    def plan(core: _Core, /, *args: P.args, **kwargs: P.kwargs) -> Exchange[T]:
        return core.exchange(build(*args, **kwargs))

    return _Bound(plan, build)


class _ServiceCalls:
    """Every call a service makes with its API key, the same on both of its clients."""

    BEARER = False

    get_profile = _call(calls.get_profile)
    put_profile = _call(calls.put_profile)
    create_profile = _call(calls.create_profile)
    patch_profile = _call(calls.patch_profile)
    delete_profile = _call(calls.delete_profile)
    post_event = _call(calls.post_event)
    post_events = _Bound(upload, upload)
    delete_event = _call(calls.delete_event)
    get_list = _call(calls.get_list)
    personalized_list = _call(calls.personalized_list)
    request_notification = _call(calls.request_notification)
    notifications = _call(calls.notifications)
    cancel_notifications = _call(calls.cancel_notifications)
    deliveries = _call(calls.deliveries)
    resend = _call(calls.resend)
    bookmarks = _call(calls.bookmarks)
    bookmark = _call(calls.bookmark)
    recommendations = _call(calls.recommendations)
    live_recommendations = _call(calls.live_recommendations)
    similar = _call(calls.similar)
    put_section = _call(calls.put_section)
    sections = _call(calls.sections)
    section = _call(calls.section)
    delete_section = _call(calls.delete_section)
    section_order = _call(calls.section_order)
    page = _call(calls.page)
    row = _call(calls.row)
    event_counts = _call(calls.event_counts)
    active_users = _call(calls.active_users)
    top_items = _call(calls.top_items)
    retention = _call(calls.retention)
    engagement = _call(calls.engagement)
    user_stats = _call(calls.user_stats)
    oauth_request = _call(calls.oauth_request)
    approve_request = _call(calls.approve_request)
    deny_request = _call(calls.deny_request)
    approve_device = _call(calls.approve_device)
    deny_device = _call(calls.deny_device)
    connected_apps = _call(calls.connected_apps)
    disconnect_app = _call(calls.disconnect_app)


class _UserCalls:
    """Every call an app makes for one user with their OAuth access token (`/api/1/me/`),
    named as the service's calls are, without the user id."""

    BEARER = True

    get_profile = _call(calls.my_profile)
    patch_profile = _call(calls.patch_my_profile)
    get_list = _call(calls.my_list)
    post_event = _call(calls.post_my_event)
    delete_event = _call(calls.delete_my_event)
    bookmarks = _call(calls.my_bookmarks)
    bookmark = _call(calls.my_bookmark)
    recommendations = _call(calls.my_recommendations)
    live_recommendations = _call(calls.my_live_recommendations)


class Client(_ServiceCalls, _Sync):
    """The Tank Top API for one service (its API key), from synchronous code.

        with Client("https://tanktop.example.com", "tt_…") as tanktop:
            tanktop.post_event("7", "watchlist", "movie", 1)
            tanktop.bookmarks("7")          # list[Bookmark]

    Errors raise `ProblemError` subclasses (`NotFoundError`, `BadRequestError`, …); `429` and
    `503` are retried as `retries` says first.
    """


class AsyncClient(_ServiceCalls, _Async):
    """The Tank Top API for one service (its API key), from asyncio code: the calls of
    `Client`, awaited.

        async with AsyncClient("https://tanktop.example.com", "tt_…") as tanktop:
            await tanktop.post_event("7", "watchlist", "movie", 1)
    """


class UserClient(_UserCalls, _Sync):
    """The API for the one user who connected your app (OAuth), from synchronous code: their
    access token instead of a service's key, and the calls of `Client` without a user id, as
    far as the token's scopes allow (`ForbiddenError` beyond them; `UnauthorizedError` once
    it expired: get a new one with your refresh token and make a new client).

        with UserClient("https://tanktop.example.com", access_token) as me:
            me.get_profile()
            me.post_event("watchlist", "movie", 1)
    """


class AsyncUserClient(_UserCalls, _Async):
    """`UserClient` from asyncio code: the same calls, awaited."""
