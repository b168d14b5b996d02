"""Every call of the API once, as data: which request to send and how to read its answer.

The sync and the async client send the same `Call`s (`clients.py`), so each call's
parameters, path and answer type are written here only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, JsonValue

from tanktop.bookmarks.schemas import Bookmark, BookmarkList
from tanktop.events.schemas import EventList, PersonalizedList
from tanktop.notifications.schemas import (
    Delivery,
    DeliveryLog,
    Notification,
    NotificationList,
    Resent,
)
from tanktop.profiles.schemas import Profile
from tanktop.recommendations.schemas import (
    LiveRecommendation,
    LiveRecommendationList,
    Recommendation,
    RecommendationList,
    SimilarList,
)
from tanktop.sections.schemas import Page

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Params = list[tuple[str, str]]


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request under `/api/1/<apikey>/` and how to read its answer."""

    method: str
    path: str
    read: Callable[[httpx.Response], T]
    params: Params = field(default_factory=list)
    json: JsonValue = None
    has_body: bool = False


def _path(*parts: str) -> str:
    return "".join(quote(part, safe=":@") + "/" for part in parts)


def _model(model: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: model.model_validate_json(response.content)


def _nothing(_response: httpx.Response) -> None:
    return None


def _get(path: str, read: Callable[[httpx.Response], T], params: Params | None = None) -> Call[T]:
    return Call("GET", path, read, params or [])


def _send(method: str, path: str, body: JsonValue = None, *, has_body: bool = False) -> Call[None]:
    return Call(method, path, _nothing, json=body, has_body=has_body)


def _availability(
    source_ids: Sequence[str | int], hd: bool | None, max_price: int | None
) -> Params:
    params = [("source_id", str(s)) for s in source_ids]
    if hd is not None:
        params.append(("hd", "true" if hd else "false"))
    if max_price is not None:
        params.append(("max_price", str(max_price)))
    return params


def _paging(limit: int | None, cursor: str | None) -> Params:
    return [(name, str(value)) for name, value in (("limit", limit), ("cursor", cursor)) if value]


# Profiles


def get_profile(user_id: str) -> Call[Profile]:
    """The user's profile (`NotFoundError` if they have none, or were deactivated)."""
    return _get(_path("user", user_id), _model(Profile))


def put_profile(user_id: str, profile: dict[str, JsonValue]) -> Call[Profile]:
    """Create the user with your id, or replace their whole profile; returns it as stored."""
    return Call("PUT", _path("user", user_id), _model(Profile), json=profile, has_body=True)


def create_profile(profile: dict[str, JsonValue] | None = None) -> Call[Profile]:
    """Create a user with an id the server chooses (`Profile.id`)."""
    return Call("POST", _path("user"), _model(Profile), json=profile or {}, has_body=True)


def patch_profile(user_id: str, patch: dict[str, JsonValue]) -> Call[Profile]:
    """Merge `patch` into the profile (JSON Merge Patch: `None` removes a key)."""
    return Call("PATCH", _path("user", user_id), _model(Profile), json=patch, has_body=True)


def delete_profile(user_id: str) -> Call[None]:
    """Deactivate the user: their profile is forgotten."""
    return _send("DELETE", _path("user", user_id))


# Events and lists


def post_event(
    user_id: str,
    event: str,
    item_type: str,
    item_id: str | int,
    value: str | float | dt.datetime | None = None,
) -> Call[None]:
    """Record an event (`seen`, `rated` 4.5, `progress` 12, …) or add an item to a list."""
    parts = ["event", user_id, event, item_type, str(item_id)]
    if value is not None:
        parts.append(value.isoformat() if isinstance(value, dt.datetime) else str(value))
    return _send("POST", _path(*parts))


def delete_event(user_id: str, event: str, item_type: str, item_id: str | int) -> Call[None]:
    """Remove an item from one of the user's lists (no error if it was not there)."""
    return _send("DELETE", _path("event", user_id, event, item_type, str(item_id)))


def get_list(
    user_id: str,
    event: str,
    item_type: str,
    *,
    ids: Iterable[str | int] = (),
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[EventList]:
    """The user's `event` list: the `ids` in it, or a page of it, most recent first
    (`EventList.values_of(event)`, and `.next_cursor` for the next page)."""
    params = [("id", str(i)) for i in ids] + _paging(limit, cursor)
    return _get(_path("event", user_id, event, item_type), _model(EventList), params)


def post_batch(events: list[JsonValue]) -> Call[None]:
    """Up to 1,000 events in one request, all or nothing (`post_events` splits bigger ones)."""
    return _send("POST", _path("events"), events, has_body=True)


def personalized_list(
    user_id: str,
    item_type: str,
    *,
    ids: Iterable[str | int] = (),
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    source_ids: Sequence[str | int] = (),
    hd: bool | None = None,
    max_price: int | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[PersonalizedList]:
    """`ids` (in their order) kept by the user's lists: in every `include` list, in no
    `exclude` one; without `ids`, the catalog's items of the type (on those offer terms)."""
    params = [("id", str(i)) for i in ids]
    params += [("include", e) for e in include] + [("exclude", e) for e in exclude]
    params += _availability(source_ids, hd, max_price) + _paging(limit, cursor)
    return _get(_path("list", user_id, item_type), _model(PersonalizedList), params)


# Notifications


def request_notification(
    user_id: str,
    item_type: str,
    item_id: str | int,
    *,
    url: str | None = None,
    source_ids: Sequence[str | int] = (),
    price: int | None = None,
    hd: bool = False,
) -> Call[None]:
    """Ask for a webhook when the item is available on those terms (`url`: the service's
    default webhook URL when not given)."""
    body: dict[str, JsonValue] = {"source_id": [str(s) for s in source_ids], "hd": hd}
    if url is not None:
        body["url"] = url
    if price is not None:
        body["price"] = price
    return _send(
        "POST", _path("notification", user_id, item_type, str(item_id)), body, has_body=True
    )


def _scope(user_id: str, item_type: str | None, item_id: str | int | None) -> str:
    parts = [user_id, *([item_type] if item_type else []), *([str(item_id)] if item_id else [])]
    return _path("notification", *parts)


def notifications(
    user_id: str, item_type: str | None = None, item_id: str | int | None = None
) -> Call[list[Notification]]:
    """The user's notification requests (of one type, or for one item)."""
    read = _model(NotificationList)
    return _get(_scope(user_id, item_type, item_id), lambda r: read(r).notifications)


def cancel_notifications(
    user_id: str, item_type: str | None = None, item_id: str | int | None = None
) -> Call[None]:
    return _send("DELETE", _scope(user_id, item_type, item_id))


def deliveries(user_id: str, item_type: str, item_id: str | int) -> Call[list[Delivery]]:
    """Every webhook sent for a request, with every attempt."""
    read = _model(DeliveryLog)
    path = _scope(user_id, item_type, item_id) + "deliveries/"
    return _get(path, lambda r: read(r).deliveries)


def resend(user_id: str, item_type: str, item_id: str | int) -> Call[int]:
    """Send a failed webhook again; returns how many deliveries were queued."""
    read = _model(Resent)
    path = _scope(user_id, item_type, item_id) + "resend/"
    return Call("POST", path, lambda r: read(r).queued)


# Bookmarks


def bookmarks(user_id: str) -> Call[list[Bookmark]]:
    """The user's "continue watching" row, most recent first."""
    read = _model(BookmarkList)
    return _get(_path("bookmark", user_id), lambda r: read(r).bookmarks)


def bookmark(user_id: str, item_type: str, item_id: str | int) -> Call[Bookmark]:
    """Where the user is in a movie or programme (an episode answers for its programme)."""
    return _get(_path("bookmark", user_id, item_type, str(item_id)), _model(Bookmark))


# Recommendations and pages


def recommendations(
    user_id: str,
    item_type: str | None = None,
    *,
    n: int = 10,
    source_ids: Sequence[str | int] = (),
    hd: bool | None = None,
    max_price: int | None = None,
) -> Call[list[Recommendation]]:
    """Best first, each with why; never what the user has seen or hidden."""
    read = _model(RecommendationList)
    path = _path("recommendation", user_id, *([item_type] if item_type else []))
    params = [("n", str(n)), *_availability(source_ids, hd, max_price)]
    return _get(path, lambda r: read(r).recommendations, params)


def live_recommendations(
    user_id: str, *, at: dt.datetime | None = None, window: int | None = None, n: int = 10
) -> Call[list[LiveRecommendation]]:
    """What airs in `window` minutes from `at` (default now, 180) on channels the user has
    not hidden, best first."""
    read = _model(LiveRecommendationList)
    params = [("n", str(n))]
    if at is not None:
        params.append(("at", at.isoformat()))
    if window is not None:
        params.append(("window", str(window)))
    return _get(_path("recommendation", user_id, "live"), lambda r: read(r).recommendations, params)


def similar(item_type: str, item_id: str | int, *, n: int = 10) -> Call[list[Recommendation]]:
    """Items most like this one (`NotFoundError` while no model knows it)."""
    read = _model(SimilarList)
    path = _path("similar", item_type, str(item_id))
    return _get(path, lambda r: read(r).similar, [("n", str(n))])


def page(
    user_id: str,
    *,
    rows: int | None = None,
    items: int | None = None,
    source_ids: Sequence[str | int] = (),
    hd: bool | None = None,
    max_price: int | None = None,
) -> Call[Page]:
    """The user's home page: their sections in their order, each filled for them."""
    params = [(n, str(v)) for n, v in (("rows", rows), ("items", items)) if v is not None]
    params += _availability(source_ids, hd, max_price)
    return _get(_path("sections", user_id), _model(Page), params)
