"""Every call of the API once, as data: which request to send and how to read its answer.

The sync and the async client send the same `Call`s (`clients.py`), so each call's
parameters, path and answer type are written here only. Paths are relative to the client's
base: `/api/1/<apikey>/` for a service's key, `/api/1/me/` for a user's OAuth access token
(the `my_…` calls, whose paths have no user id).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, JsonValue

from tanktop.analytics.schemas import (
    EngagementAnswer,
    EventsAnswer,
    RetentionAnswer,
    TopAnswer,
    UsersAnswer,
    UserStatsAnswer,
)
from tanktop.bookmarks.schemas import BOOKMARK, Bookmark, BookmarkList
from tanktop.events.schemas import EventList, PersonalizedList
from tanktop.notifications.schemas import (
    Delivery,
    DeliveryLog,
    Notification,
    NotificationList,
    Resent,
)
from tanktop.oauth.schemas import (
    ConnectedApp,
    ConnectedApps,
    Decision,
    DeviceDecision,
    PendingRequest,
)
from tanktop.profiles.schemas import Profile
from tanktop.recommendations.schemas import (
    LiveRecommendation,
    LiveRecommendationList,
    Recommendation,
    RecommendationList,
    SimilarList,
)
from tanktop.sections.schemas import Page, Row, Section, SectionBody, SectionIds, SectionList

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Params = list[tuple[str, str]]
Value = str | float | dt.datetime | None
"""An event's value: a rating, minutes of progress, a time; `None` for none."""


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


def _bookmark(response: httpx.Response) -> Bookmark:
    return BOOKMARK.validate_json(response.content)


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


def _when(name: str, at: dt.datetime | str | int | None) -> Params:
    """A time parameter: ISO 8601 (a `datetime`), or as given (ISO text, Unix seconds)."""
    if at is None:
        return []
    return [(name, at.isoformat() if isinstance(at, dt.datetime) else str(at))]


def _item(
    read: Callable[[httpx.Response], M], pick: Callable[[M], T]
) -> Callable[[httpx.Response], T]:
    return lambda response: pick(read(response))


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


def _patch(path: str, patch: dict[str, JsonValue]) -> Call[Profile]:
    return Call("PATCH", path, _model(Profile), json=patch, has_body=True)


def patch_profile(user_id: str, patch: dict[str, JsonValue]) -> Call[Profile]:
    """Merge `patch` into the profile (JSON Merge Patch: `None` removes a key)."""
    return _patch(_path("user", user_id), patch)


def delete_profile(user_id: str) -> Call[None]:
    """Deactivate the user: their profile is forgotten."""
    return _send("DELETE", _path("user", user_id))


# Events and lists


def _event(
    method: str, user: list[str], event: str, item_type: str, item_id: str | int, value: Value
) -> Call[None]:
    parts = ["event", *user, event, item_type, str(item_id)]
    if value is not None:
        parts.append(value.isoformat() if isinstance(value, dt.datetime) else str(value))
    return _send(method, _path(*parts))


def post_event(
    user_id: str, event: str, item_type: str, item_id: str | int, value: Value = None
) -> Call[None]:
    """Record an event (`seen`, `rated` 4.5, `progress` 12, …) or add an item to a list."""
    return _event("POST", [user_id], event, item_type, item_id, value)


def delete_event(user_id: str, event: str, item_type: str, item_id: str | int) -> Call[None]:
    """Remove an item from one of the user's lists (no error if it was not there)."""
    return _event("DELETE", [user_id], event, item_type, item_id, None)


def _list(
    path: str, ids: Iterable[str | int], limit: int | None, cursor: str | None
) -> Call[EventList]:
    params = [("id", str(i)) for i in ids] + _paging(limit, cursor)
    return _get(path, _model(EventList), params)


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
    return _list(_path("event", user_id, event, item_type), ids, limit, cursor)


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
    params = [("id", str(i)) for i in ids] + _filters(include, exclude)
    params += _availability(source_ids, hd, max_price) + _paging(limit, cursor)
    return _get(_path("list", user_id, item_type), _model(PersonalizedList), params)


def _filters(include: Iterable[str], exclude: Iterable[str]) -> Params:
    return [("include", e) for e in include] + [("exclude", e) for e in exclude]


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
    read = _item(_model(NotificationList), lambda answer: answer.notifications)
    return _get(_scope(user_id, item_type, item_id), read)


def cancel_notifications(
    user_id: str, item_type: str | None = None, item_id: str | int | None = None
) -> Call[None]:
    """Cancel the user's notification requests (all, of one type, or for one item)."""
    return _send("DELETE", _scope(user_id, item_type, item_id))


def deliveries(user_id: str, item_type: str, item_id: str | int) -> Call[list[Delivery]]:
    """Every webhook sent for a request, with every attempt."""
    read = _item(_model(DeliveryLog), lambda answer: answer.deliveries)
    return _get(_scope(user_id, item_type, item_id) + "deliveries/", read)


def resend(user_id: str, item_type: str, item_id: str | int) -> Call[int]:
    """Send a failed webhook again; returns how many deliveries were queued."""
    read = _item(_model(Resent), lambda answer: answer.queued)
    return Call("POST", _scope(user_id, item_type, item_id) + "resend/", read)


# Bookmarks


def _bookmarks(path: str) -> Call[list[Bookmark]]:
    return _get(path, _item(_model(BookmarkList), lambda answer: answer.bookmarks))


def bookmarks(user_id: str) -> Call[list[Bookmark]]:
    """The user's "continue watching" row, most recent first."""
    return _bookmarks(_path("bookmark", user_id))


def bookmark(user_id: str, item_type: str, item_id: str | int) -> Call[Bookmark]:
    """Where the user is in a movie or programme (an episode answers for its programme)."""
    return _get(_path("bookmark", user_id, item_type, str(item_id)), _bookmark)


# Recommendations


def _recommendations(
    path: str, n: int, source_ids: Sequence[str | int], hd: bool | None, max_price: int | None
) -> Call[list[Recommendation]]:
    read = _item(_model(RecommendationList), lambda answer: answer.recommendations)
    return _get(path, read, [("n", str(n)), *_availability(source_ids, hd, max_price)])


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
    path = _path("recommendation", user_id, *([item_type] if item_type else []))
    return _recommendations(path, n, source_ids, hd, max_price)


def _live(
    path: str, at: dt.datetime | None, window: int | None, n: int
) -> Call[list[LiveRecommendation]]:
    read = _item(_model(LiveRecommendationList), lambda answer: answer.recommendations)
    params = [("n", str(n)), *_when("at", at)]
    if window is not None:
        params.append(("window", str(window)))
    return _get(path, read, params)


def live_recommendations(
    user_id: str, *, at: dt.datetime | None = None, window: int | None = None, n: int = 10
) -> Call[list[LiveRecommendation]]:
    """What airs in `window` minutes from `at` (default now, 180) on channels the user has
    not hidden, best first."""
    return _live(_path("recommendation", user_id, "live"), at, window, n)


def similar(item_type: str, item_id: str | int, *, n: int = 10) -> Call[list[Recommendation]]:
    """Items most like this one (`NotFoundError` while no model knows it)."""
    read = _item(_model(SimilarList), lambda answer: answer.similar)
    return _get(_path("similar", item_type, str(item_id)), read, [("n", str(n))])


# Sections: the service's definitions, and each user's page


def put_section(section_id: str, section: SectionBody | dict[str, JsonValue]) -> Call[Section]:
    """Define a section (a row of your apps' home page), or replace its definition: `title`,
    `kind` (`continue_watching`, `watchlist`, `recommended`, `genre`, `editorial`, …),
    `item_type`, `params`, `position`, `max_items`, `locked`. Returns it as stored."""
    model = section if isinstance(section, SectionBody) else SectionBody.model_validate(section)
    body = model.model_dump(mode="json", exclude_unset=True)
    return Call("PUT", _path("section", section_id), _model(Section), json=body, has_body=True)


def sections() -> Call[list[Section]]:
    """The service's section definitions in position order (none: the default page)."""
    return _get(_path("section"), _item(_model(SectionList), lambda answer: answer.sections))


def section(section_id: str) -> Call[Section]:
    """One section's definition."""
    return _get(_path("section", section_id), _model(Section))


def delete_section(section_id: str) -> Call[None]:
    """Remove a section from every user's page."""
    return _send("DELETE", _path("section", section_id))


def section_order(
    user_id: str, *, include: Iterable[str] = (), exclude: Iterable[str] = ()
) -> Call[list[str]]:
    """The user's section ids in page order, hidden ones left out."""
    read = _item(_model(SectionIds), lambda answer: list(answer.items))
    path = _path("list", user_id, "section")
    return _get(path, read, _filters(include, exclude))


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


def row(
    user_id: str,
    section_id: str,
    *,
    limit: int | None = None,
    cursor: str | None = None,
    source_ids: Sequence[str | int] = (),
    hd: bool | None = None,
    max_price: int | None = None,
) -> Call[Row]:
    """One row of the user's page, a page of it at a time (`Row.next_cursor`)."""
    params = _paging(limit, cursor) + _availability(source_ids, hd, max_price)
    return _get(_path("sections", user_id, section_id), _model(Row), params)


# Analytics (the service's own events)

When = dt.datetime | str | int | None
"""A time: a `datetime`, ISO 8601 text or Unix seconds; `None` for the server's default."""


def _span(start: When, end: When, *rest: tuple[str, str | None]) -> Params:
    return _when("from", start) + _when("to", end) + [(k, v) for k, v in rest if v is not None]


def event_counts(
    *,
    start: When = None,
    end: When = None,
    interval: str = "day",
    event: str | None = None,
    item_type: str | None = None,
    tz: str | None = None,
) -> Call[EventsAnswer]:
    """Events and distinct users per `interval` (hour, day, week, month; buckets in `tz`),
    per event and item type; default the last 30 days."""
    params = _span(start, end, ("interval", interval), ("event", event))
    params += [(k, v) for k, v in (("item_type", item_type), ("tz", tz)) if v is not None]
    return _get(_path("analytics", "events"), _model(EventsAnswer), params)


def active_users(
    *, start: When = None, end: When = None, interval: str = "day", tz: str | None = None
) -> Call[UsersAnswer]:
    """Active users (any event) and new users (first event ever) per `interval`."""
    params = _span(start, end, ("interval", interval), ("tz", tz))
    return _get(_path("analytics", "users"), _model(UsersAnswer), params)


def top_items(
    item_type: str, *, event: str = "seen", start: When = None, end: When = None, n: int = 10
) -> Call[TopAnswer]:
    """The `n` items with the most `event`s (whole UTC days), most first."""
    params = _span(start, end, ("event", event), ("n", str(n)))
    return _get(_path("analytics", "top", item_type), _model(TopAnswer), params)


def retention(
    *, start: When = None, end: When = None, interval: str = "week", tz: str | None = None
) -> Call[RetentionAnswer]:
    """Cohorts by first event, and how many of each are active in each later bucket."""
    params = _span(start, end, ("interval", interval), ("tz", tz))
    return _get(_path("analytics", "retention"), _model(RetentionAnswer), params)


def engagement(*, start: When = None, end: When = None) -> Call[EngagementAnswer]:
    """Impressions, clicks and engaged items, per section and for recommendations."""
    return _get(_path("analytics", "engagement"), _model(EngagementAnswer), _span(start, end))


def user_stats(user_id: str) -> Call[UserStatsAnswer]:
    """One user's counts per event and item type, minutes watched, ratings, first and last
    activity."""
    return _get(_path("analytics", "user", user_id), _model(UserStatsAnswer))


# OAuth, the service's side: its sign-in page's decisions, and the apps users connected


def oauth_request(request_id: str) -> Call[PendingRequest]:
    """What an app asks the user to consent to (the `request` your sign-in page was given)."""
    return _get(_path("oauth", "requests", request_id), _model(PendingRequest))


def _decision(request_id: str, verb: str, body: JsonValue) -> Call[str]:
    read = _item(_model(Decision), lambda answer: answer.redirect_to)
    path = _path("oauth", "requests", request_id, verb)
    return Call("POST", path, read, json=body, has_body=body is not None)


def approve_request(request_id: str, user_id: str) -> Call[str]:
    """The user signed in and consented: returns where to send their browser."""
    return _decision(request_id, "approve", {"user_id": user_id})


def deny_request(request_id: str) -> Call[str]:
    """The user declined: returns where to send their browser (the app gets access_denied)."""
    return _decision(request_id, "deny", None)


def _device(verb: str, user_code: str, user_id: str) -> Call[DeviceDecision]:
    body: JsonValue = {"user_code": user_code, "user_id": user_id}
    path = _path("oauth", "device", verb)
    return Call("POST", path, _model(DeviceDecision), json=body, has_body=True)


def approve_device(user_code: str, user_id: str) -> Call[DeviceDecision]:
    """The user typed a TV's code on your verification page and consented."""
    return _device("approve", user_code, user_id)


def deny_device(user_code: str, user_id: str) -> Call[DeviceDecision]:
    """The user typed a TV's code and declined."""
    return _device("deny", user_code, user_id)


def connected_apps(user_id: str) -> Call[list[ConnectedApp]]:
    """The apps the user has connected, with the scope each was given."""
    read = _item(_model(ConnectedApps), lambda answer: answer.grants)
    return _get(_path("oauth", "grants", user_id), read)


def disconnect_app(user_id: str, client_id: str) -> Call[None]:
    """Disconnect an app from the user: its tokens stop working at once."""
    return _send("DELETE", _path("oauth", "grants", user_id, client_id))


# The user's own calls, with their OAuth access token (`/api/1/me/…`)


def my_profile() -> Call[Profile]:
    """The user's profile (scope `profile`)."""
    return _get(_path("user"), _model(Profile))


def patch_my_profile(patch: dict[str, JsonValue]) -> Call[Profile]:
    """Merge `patch` into the user's profile (scope `profile`)."""
    return _patch(_path("user"), patch)


def my_list(
    event: str,
    item_type: str,
    *,
    ids: Iterable[str | int] = (),
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[EventList]:
    """The user's `event` list, or the `ids` in it (scope `lists:read`)."""
    return _list(_path("event", event, item_type), ids, limit, cursor)


def post_my_event(
    event: str, item_type: str, item_id: str | int, value: Value = None
) -> Call[None]:
    """Record an event for the user (scope `lists:write`)."""
    return _event("POST", [], event, item_type, item_id, value)


def delete_my_event(event: str, item_type: str, item_id: str | int) -> Call[None]:
    """Remove an item from one of the user's lists (scope `lists:write`)."""
    return _event("DELETE", [], event, item_type, item_id, None)


def my_bookmarks() -> Call[list[Bookmark]]:
    """The user's bookmarks, most recent first (scope `bookmarks`)."""
    return _bookmarks(_path("bookmark"))


def my_bookmark(item_type: str, item_id: str | int) -> Call[Bookmark]:
    """The user's bookmark in a movie or programme (scope `bookmarks`)."""
    return _get(_path("bookmark", item_type, str(item_id)), _bookmark)


def my_recommendations(
    item_type: str | None = None,
    *,
    n: int = 10,
    source_ids: Sequence[str | int] = (),
    hd: bool | None = None,
    max_price: int | None = None,
) -> Call[list[Recommendation]]:
    """Recommendations for the user, best first (scope `recommendations`)."""
    path = _path("recommendation", *([item_type] if item_type else []))
    return _recommendations(path, n, source_ids, hd, max_price)


def my_live_recommendations(
    *, at: dt.datetime | None = None, window: int | None = None, n: int = 10
) -> Call[list[LiveRecommendation]]:
    """What airs soon on channels the user has not hidden (scope `recommendations`)."""
    return _live(_path("recommendation", "live"), at, window, n)
