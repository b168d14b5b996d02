"""Event rules: building ops from requests, reading lists, personalized lists, history."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from pydantic import JsonValue
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop import cursors
from tanktop.bodies import JsonObject
from tanktop.catalog import service as catalog
from tanktop.catalog.service import Availability
from tanktop.db import Database, utcnow
from tanktop.errors import BadRequest
from tanktop.events import queries
from tanktop.events.queries import Stamp as Stamp
from tanktop.events.queries import counted_history as counted_history
from tanktop.events.rules import (
    TIMESTAMP_EVENTS,
    EventOp,
    JsonScalar,
    Origin,
    canonical_event,
    event_value,
    parse_timestamp,
)
from tanktop.events.schemas import MAX_BATCH as MAX_BATCH
from tanktop.events.writer import Deriver, EventWriter, write_ops
from tanktop.ids import is_name, is_user_id
from tanktop.tenants.service import Service

T = TypeVar("T")

MAX_IDS = 1000
MAX_PAGE = 1000
BATCH_FIELDS = frozenset({"user_id", "event", "item_type", "item_id", "value", "at"})


def new_op(
    service: Service,
    *,
    user_id: str,
    event: str,
    item_type: str,
    item_id: str,
    value: JsonValue,
    origin: Origin,
    at: dt.datetime | None = None,
) -> EventOp:
    """A validated op for one posted event (ids are checked by the caller's path rules)."""
    now = utcnow()
    name = canonical_event(event)
    stored = event_value(name, value, at or now, item_type)
    if name in TIMESTAMP_EVENTS and isinstance(stored, str):
        at = dt.datetime.fromisoformat(stored)  # a channel start/end happened when it says
    return EventOp(service.id, user_id, name, item_type, item_id, stored, at or now, origin)


def removal_op(
    service: Service, *, user_id: str, event: str, item_type: str, item_id: str
) -> EventOp:
    return EventOp(
        service.id,
        user_id,
        canonical_event(event),
        item_type,
        item_id,
        None,
        utcnow(),
        "posted",
        removed=True,
    )


async def record(writer: EventWriter, *, ops: Sequence[EventOp]) -> None:
    """Commit `ops` together (grouped with other requests' ops); returns once durable."""
    await writer.write(ops)


def _batch_id(entry: JsonObject, field: str, index: int, *, user: bool = False) -> str:
    raw = entry.get(field)
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    valid = is_user_id if user else is_name
    if not isinstance(raw, str) or not valid(raw):
        limit = 32 if user else 64
        raise BadRequest(
            f"events[{index}].{field} must be 1-{limit} characters from A-Z a-z 0-9 _ . : @ -; "
            f"got {raw!r}."
        )
    return raw


def batch_ops(service: Service, *, body: JsonValue) -> list[EventOp]:
    """Validate a whole batch (all or nothing) into ops; errors name the offending entry."""
    if not isinstance(body, list):
        raise BadRequest("The body must be a JSON array of events.")
    if not body:
        raise BadRequest("The batch is empty.")
    if len(body) > MAX_BATCH:
        raise BadRequest(f"A batch holds at most {MAX_BATCH} events; got {len(body)}.")
    ops = []
    for index, entry in enumerate(body):
        if not isinstance(entry, dict):
            raise BadRequest(f"events[{index}] must be an object.")
        unknown = sorted(set(entry) - BATCH_FIELDS)
        if unknown:
            raise BadRequest(f"events[{index}] has unknown fields: {', '.join(unknown)}.")
        user_id = _batch_id(entry, "user_id", index, user=True)
        event = _batch_id(entry, "event", index)
        item_type = _batch_id(entry, "item_type", index)
        item_id = _batch_id(entry, "item_id", index)
        at = entry.get("at")
        try:
            when = None if at is None else parse_timestamp(at, "at")
            ops.append(
                new_op(
                    service,
                    user_id=user_id,
                    event=event,
                    item_type=item_type,
                    item_id=item_id,
                    value=entry.get("value"),
                    origin="batch",
                    at=when,
                )
            )
        except BadRequest as exc:
            raise BadRequest(f"events[{index}]: {exc.detail}") from None
    return ops


def check_ids(ids: Sequence[str]) -> list[str]:
    if len(ids) > MAX_IDS:
        raise BadRequest(f"Ask for at most {MAX_IDS} ids at a time; got {len(ids)}.")
    bad = [item_id for item_id in ids if not is_name(item_id)]
    if bad:
        raise BadRequest(f"Invalid item id {bad[0]!r}: 1-64 characters from A-Z a-z 0-9 _ . : @ -.")
    return list(dict.fromkeys(ids))


@dataclass(frozen=True)
class ListPage:
    items: dict[str, JsonScalar]
    next_cursor: str | None


def encode_cursor(at: dt.datetime, item_id: str) -> str:
    return cursors.encode_cursor(at.isoformat(), item_id)


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    at, item_id = cursors.decode_cursor(cursor, 2)
    return cursors.cursor_time(at), item_id


async def get_list(
    db: Database,
    service: Service,
    *,
    user_id: str,
    event: str,
    item_type: str,
    ids: Sequence[str],
    limit: int,
    cursor: str | None,
) -> ListPage:
    """The user's list: the asked ids that are in it, or a page of it, most recent first."""
    name = canonical_event(event)
    if ids:
        wanted = check_ids(ids)
        found = await queries.select_values(db, service.id, user_id, name, item_type, wanted)
        return ListPage({i: found[i] for i in wanted if i in found}, None)
    after = decode_cursor(cursor) if cursor else None
    async with db.read() as conn:
        rows = await queries.select_recent(
            conn, service.id, user_id, name, item_type, limit + 1, after
        )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1][2], rows[-1][0]) if more else None
    return ListPage({item_id: value for item_id, value, _ in rows}, next_cursor)


async def _memberships(
    db: Database,
    service: Service,
    user_id: str,
    item_type: str,
    events: Sequence[str],
    ids: Sequence[str] | None,
) -> dict[str, set[str]]:
    """For each event, the user's items in it (of `ids` when given)."""
    lists: dict[str, set[str]] = {}
    snapshot = _snapshot_of(service, user_id)
    if snapshot is not None:
        wanted, among = set(events), None if ids is None else set(ids)
        for item in snapshot.items:
            if (
                item.item_type == item_type
                and item.event in wanted
                and (among is None or item.item_id in among)
            ):
                lists.setdefault(item.event, set()).add(item.item_id)
        return lists
    async with db.read() as conn:
        rows = await queries.select_memberships(conn, service.id, user_id, item_type, events, ids)
    for item_id, event, _ in rows:
        lists.setdefault(event, set()).add(item_id)
    return lists


def _keep(
    item_id: str, lists: dict[str, set[str]], include: Sequence[str], exclude: Sequence[str]
) -> bool:
    return all(item_id in lists.get(e, ()) for e in include) and not any(
        item_id in lists.get(e, ()) for e in exclude
    )


def event_names(names: Sequence[str]) -> list[str]:
    """Event names a client gave (filters), as stored; a malformed one is a 400."""
    bad = [name for name in names if not is_name(name)]
    if bad:
        raise BadRequest(f"Invalid event name {bad[0]!r}.")
    return [canonical_event(name) for name in names]


async def personalized_list(
    db: Database,
    service: Service,
    *,
    user_id: str,
    item_type: str,
    ids: Sequence[str],
    include: Sequence[str],
    exclude: Sequence[str],
    availability: Availability | None = None,
    limit: int = MAX_PAGE,
    cursor: str | None = None,
) -> tuple[list[str], str | None]:
    """Ids kept by the user's lists: the given ids in their order, or catalog items in id order.

    With ids, those in every `include` list and no `exclude` list. Without, the candidates
    are the catalog's items of `item_type` (available as `availability` asks), paged: the
    second value is the cursor of the next page, if any.
    """
    include = event_names(include)
    exclude = event_names(exclude)
    if ids:
        wanted = check_ids(ids)
        lists = await _memberships(db, service, user_id, item_type, [*include, *exclude], wanted)
        return [i for i in wanted if _keep(i, lists, include, exclude)], None
    if cursor is not None and not is_name(cursor):
        raise BadRequest("The cursor is not one this API gave out.")
    filters = availability or Availability()
    among = None
    if include:
        first = await _memberships(db, service, user_id, item_type, include[:1], None)
        among = sorted(first.get(include[0], set()))
    kept: list[str] = []
    after = cursor
    while len(kept) < limit:
        page = await catalog.catalog_candidates(
            db,
            item_type=item_type,
            availability=filters,
            after=after,
            limit=limit,
            among=among,
        )
        if not page:
            return kept, None
        lists = await _memberships(db, service, user_id, item_type, [*include, *exclude], page)
        for item_id in page:
            after = item_id
            if _keep(item_id, lists, include, exclude):
                kept.append(item_id)
                if len(kept) == limit:
                    break
        if len(page) < limit and after == page[-1]:
            return kept, None
    return kept, after


class HistoryEvent(NamedTuple):
    """A history row. A named tuple: analytics and training read them by the hundred
    thousand, and a frozen dataclass (13 fields, each set through `object.__setattr__`)
    took 2 µs of a rollup's 20 µs of CPU an event to create."""

    id: int
    user_id: str
    event: str
    item_type: str
    item_id: str
    value: JsonScalar
    at: dt.datetime
    origin: str
    removed: bool
    service_id: int
    received_at: dt.datetime | None = None
    superseded_at: dt.datetime | None = None
    """Set on a derived row a later arrival corrected: it no longer counts."""
    supersedes: int | None = None
    """Set on a correction row: the id of the derived row it withdraws."""

    @property
    def in_force(self) -> bool:
        """An event that counts: neither superseded nor a correction."""
        return self.superseded_at is None and self.supersedes is None


def _history_event(row: Row[Any]) -> HistoryEvent:
    return HistoryEvent(
        row.id,
        row.user_id,
        row.event,
        row.item_type,
        row.item_id,
        row.value,
        row.at,
        row.origin,
        row.removed,
        row.service_id,
        row.received_at,
        row.superseded_at,
        row.supersedes,
    )


async def stream_history(
    db: Database, service_id: int, *, user_id: str | None = None, page_size: int = 5000
) -> AsyncIterator[HistoryEvent]:
    """A service's (or one user's) accepted events in time order, read page by page."""
    after: tuple[dt.datetime, int] | None = None
    while True:
        async with db.read() as conn:
            if user_id is None:
                found = await queries.select_service_history_page(
                    conn, service_id, after, page_size
                )
                page = [HistoryEvent(*r) for r in found]
            else:
                rows = await queries.select_history_page(
                    conn, service_id, after, page_size, user_id
                )
                page = [_history_event(row) for row in rows]
        for event in page:
            yield event
        if len(page) < page_size:
            return
        after = (page[-1].at, page[-1].id)


async def history_after(
    db: Database, *, after_id: int, limit: int, service_ids: Sequence[int] | None = None
) -> list[HistoryEvent]:
    """History rows of every service (or of `service_ids`) with ids above `after_id`, in id
    order: what a consumer that follows the history (analytics) has not read yet, as far as
    it can see now."""
    async with db.read() as conn:
        found = await queries.select_history_after(conn, after_id, limit, service_ids)
    return [HistoryEvent(*r) for r in found]


async def history_by_ids(db: Database, *, ids: Sequence[int]) -> list[HistoryEvent]:
    """Those of the history rows `ids` that are visible now."""
    async with db.read() as conn:
        return [_history_event(r) for r in await queries.select_history_ids(conn, ids)]


async def users_history(
    db: Database,
    service_id: int,
    *,
    user_ids: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
) -> list[HistoryEvent]:
    """The events (removals left out) of these users of a service between `start` and `end`."""
    async with db.read() as conn:
        rows = await queries.select_users_history(conn, service_id, user_ids, start, end)
    return [_history_event(r) for r in rows]


@dataclass(frozen=True, slots=True)
class EventCount:
    event: str
    item_type: str
    count: int
    first: dt.datetime
    last: dt.datetime


class ListItem(NamedTuple):
    """A list entry. A named tuple: hundreds are made per bookmarks or sections request, and a
    frozen dataclass is several times slower to create."""

    event: str
    item_type: str
    item_id: str
    value: JsonScalar
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class _Snapshot:
    service_id: int
    user_id: str
    items: list[ListItem]
    memo: dict[Hashable, asyncio.Task[Any]] = field(default_factory=dict)


_SNAPSHOT: ContextVar[_Snapshot | None] = ContextVar("tanktop_user_lists", default=None)


def _snapshot_of(service: Service, user_id: str) -> _Snapshot | None:
    snapshot = _SNAPSHOT.get()
    if snapshot is not None and (snapshot.service_id, snapshot.user_id) == (service.id, user_id):
        return snapshot
    return None


async def once_per_snapshot(key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
    """Within a `user_lists_snapshot`, `compute()` once for the block per `key` (keys of the
    caller's domain): what other domains derive from the user's lists, which a page's rows
    all ask for at once, the first caller's task answering them all. Outside one, computed
    on every call."""
    snapshot = _SNAPSHOT.get()
    if snapshot is None:
        return await compute()
    found = snapshot.memo.get(key)
    if not isinstance(found, asyncio.Task):
        found = asyncio.ensure_future(compute())
        snapshot.memo[key] = found
    result: T = await asyncio.shield(found)
    return result


@asynccontextmanager
async def user_lists_snapshot(
    db: Database, service: Service, *, user_id: str
) -> AsyncIterator[None]:
    """Within the block (and the tasks it starts), `user_items` of this user answers from one
    read of all the user's lists made on entry: something built from many domains' reads of
    the user's lists (a section page) sees one moment, in one query rather than one each."""
    items = [
        ListItem(*row)
        for row in await queries.select_user_items(db, service.id, user_id, None, None)
    ]
    snapshot = _Snapshot(service.id, user_id, items)
    token = _SNAPSHOT.set(snapshot)
    try:
        yield
    finally:
        _SNAPSHOT.reset(token)
        # Each memo task's context holds the snapshot: a cycle that only the garbage
        # collector's slow full passes would free (a page's worth of objects each time).
        snapshot.memo.clear()


async def user_items(
    db: Database,
    service: Service,
    *,
    user_id: str,
    events: Sequence[str],
    item_types: Sequence[str],
) -> list[ListItem]:
    """The user's items in the given lists (latest value and time of each)."""
    snapshot = _snapshot_of(service, user_id)
    if snapshot is not None:
        wanted, types = set(events), set(item_types)
        return [i for i in snapshot.items if i.event in wanted and i.item_type in types]
    rows = await queries.select_user_items(db, service.id, user_id, events, item_types)
    return [ListItem(*row) for row in rows]


async def user_items_unless(
    db: Database,
    service: Service,
    *,
    user_id: str,
    events: Sequence[str],
    item_types: Sequence[str],
    known: Stamp | None,
) -> tuple[list[ListItem] | None, Stamp | None]:
    """For a per-process memo of something derived from the user's entries in those lists:
    their stamp now (PostgreSQL; None on SQLite, where nothing is to be remembered) and the
    entries, unless the stamp is `known` (then None: what was derived from them still holds,
    catalog included). One round trip either way."""
    if db.is_sqlite:
        items = await user_items(db, service, user_id=user_id, events=events, item_types=item_types)
        return items, None
    rows, stamp = await queries.select_user_items_unless(
        db, service.id, user_id, events, item_types, known
    )
    return None if rows is None else [ListItem(*row) for row in rows], stamp


@dataclass(frozen=True, slots=True)
class ValueCount:
    event: str
    item_type: str
    value: JsonScalar
    count: int


async def list_value_counts(
    db: Database,
    service: Service,
    *,
    user_id: str,
    events: Sequence[str],
    item_types: Sequence[str],
) -> list[ValueCount]:
    """How many of the user's items in these lists hold each value (sums and distributions
    of values without reading every item)."""
    async with db.read() as conn:
        rows = await queries.count_user_values(conn, service.id, user_id, events, item_types)
    return [ValueCount(r.event, r.item_type, r.value, int(r.n)) for r in rows]


async def event_counts(
    db: Database,
    service: Service,
    *,
    user_id: str,
    event: str,
    item_type: str,
    since: dt.datetime,
) -> dict[str, int]:
    """How often the user sent `event` on each item of `item_type` since `since` (a list
    keeps only the latest; the history has them all)."""
    async with db.read() as conn:
        return await queries.count_user_events(
            conn, service.id, user_id, canonical_event(event), item_type, since
        )


async def all_user_items(
    db: Database, service: Service, *, user_id: str, limit: int = 500
) -> list[ListItem]:
    """The user's entries in every list, most recently changed first (at most `limit`)."""
    async with db.read() as conn:
        rows = await queries.select_all_user_items(conn, service.id, user_id, limit)
    return [ListItem(r.event, r.item_type, r.item_id, r.value, r.updated_at) for r in rows]


@dataclass(frozen=True, slots=True)
class HistoryPage:
    events: list[HistoryEvent]
    next_cursor: str | None
    """Pass back as `before` for the page of older events; None on the last page."""


async def user_history(
    db: Database, service: Service, *, user_id: str, before: str | None = None, limit: int = 50
) -> HistoryPage:
    """One page of the user's history, newest first; `before` is a cursor from the last page."""
    position = None
    if before is not None:
        at, row_id = decode_cursor(before)
        position = (at, cursors.cursor_id(row_id))
    async with db.read() as conn:
        rows = await queries.select_user_history(conn, service.id, user_id, position, limit + 1)
    page = [_history_event(row) for row in rows[:limit]]
    more = len(rows) > limit
    return HistoryPage(page, encode_cursor(page[-1].at, str(page[-1].id)) if more else None)


@dataclass(frozen=True, slots=True)
class ActiveUser:
    user_id: str
    last_seen: dt.datetime


async def recent_users(db: Database, service: Service, *, n: int = 20) -> list[ActiveUser]:
    """Up to `n` users with the latest activity, from the service's most recent events."""
    async with db.read() as conn:
        rows = await queries.select_recent_users(conn, service.id, scan=n * 100)
    latest: dict[str, dt.datetime] = {}
    for user_id, at in rows:
        latest.setdefault(user_id, at)
    return [ActiveUser(u, at) for u, at in list(latest.items())[:n]]


ENGAGEMENT = ("seen", "progress", "rated", "watchlist")
"""What counts as engaging with an item (popularity)."""


async def popular(
    db: Database,
    service: Service,
    *,
    item_types: Sequence[str],
    since: dt.datetime,
    limit: int,
) -> list[tuple[str, str, int]]:
    """(item type, item id, users) of the items most of the service's users engaged with
    (seen, progress, rated, watchlist) since `since`, most first."""
    async with db.read() as conn:
        return await queries.select_popular(
            conn, service.id, events=ENGAGEMENT, item_types=item_types, since=since, limit=limit
        )


async def channel_events(
    conn: AsyncConnection, service_id: int, *, user_id: str, start: dt.datetime, end: dt.datetime
) -> list[tuple[str, str, dt.datetime, dt.datetime]]:
    """(event, channel, at, received) of the channel starts and ends the user sent for times
    in [start, end] (not the ends live TV derived)."""
    return await queries.select_channel_events(conn, service_id, user_id, start, end)


async def channel_ending(
    conn: AsyncConnection,
    service_id: int,
    *,
    user_id: str,
    channel_id: str,
    after: dt.datetime,
    before: dt.datetime | None = None,
) -> bool:
    """Whether the user sent, for a time after `after` (and before `before`), a start or an
    end of `channel_id`: something that ends a viewing of that channel."""
    return await queries.exists_channel_ending(conn, service_id, user_id, channel_id, after, before)


async def last_channel_start(
    conn: AsyncConnection, service_id: int, *, user_id: str, before: dt.datetime
) -> tuple[str, dt.datetime] | None:
    """(channel, at) of the user's latest channel start sent for a time before `before`."""
    return await queries.select_last_channel_start(conn, service_id, user_id, before)


async def channel_starts(
    conn: AsyncConnection, *, channel_id: str, start: dt.datetime, end: dt.datetime
) -> list[tuple[int, str, dt.datetime]]:
    """(service, user, at) of every start of a channel sent for a time in [start, end]."""
    return await queries.select_channel_starts(conn, channel_id, start, end)


async def claim_stale_starts(
    conn: AsyncConnection, *, before: dt.datetime, limit: int
) -> list[tuple[int, str, dt.datetime]]:
    """(service, user, at) of up to `limit` channel starts (of every service) that happened
    and arrived before `before` and were not claimed yet, oldest first; claimed for good when
    the caller's transaction commits (the stale-session closer's cursor)."""
    return await queries.claim_stale_starts(conn, before, limit)


@dataclass(frozen=True, slots=True)
class DerivedRow:
    """A derived history row in force."""

    id: int
    event: str
    item_type: str
    item_id: str
    value: JsonScalar
    at: dt.datetime


async def derived_rows(
    conn: AsyncConnection, service_id: int, *, user_id: str, start: dt.datetime, end: dt.datetime
) -> list[DerivedRow]:
    """The user's derived events in force (not superseded) for times in [start, end]."""
    return [
        DerivedRow(r.id, r.event, r.item_type, r.item_id, r.value, r.at)
        for r in await queries.select_derived(conn, service_id, user_id, start, end)
    ]


Window = queries.Window
Edges = queries.Edges


async def channel_events_of(
    conn: AsyncConnection, *, windows: Sequence[Window]
) -> dict[tuple[int, str], list[tuple[str, str, dt.datetime, dt.datetime]]]:
    """`channel_events` of many users at once (one window each, keyed by (service, user))."""
    return await queries.select_channel_events_of(conn, windows)


async def derived_rows_of(
    conn: AsyncConnection, *, windows: Sequence[Window]
) -> dict[tuple[int, str], list[DerivedRow]]:
    """`derived_rows` of many users at once (one window each), in id order."""
    found = await queries.select_derived_of(conn, windows)
    return {user: [DerivedRow(*row) for row in rows] for user, rows in found.items()}


async def channel_edges(
    conn: AsyncConnection, *, windows: Sequence[Window]
) -> dict[tuple[int, str], Edges]:
    """For each user's window, what lies just outside it (`Edges`): the latest channel start
    before it and whether something ended it before the window, and whether any channel
    event follows the window."""
    return await queries.select_channel_edges(conn, windows)


async def supersede(conn: AsyncConnection, *, ids: Sequence[int], now: dt.datetime) -> None:
    """Withdraw derived history rows a later arrival made wrong: they stay in the history,
    marked, with a correction row after them; the lists go back to what is still in force."""
    await queries.supersede(conn, ids, now)


async def lock_users(conn: AsyncConnection, *, users: Sequence[tuple[int, str]]) -> None:
    """Serialise whoever derives from these (service id, user id)s' events, to the end of
    the transaction."""
    await queries.lock_users(conn, users)


async def count_history(db: Database, service_id: int) -> int:
    """How many events the service has recorded."""
    async with db.read() as conn:
        return await queries.count_history(conn, service_id)


async def newest_history_ids(db: Database, *, service_ids: Sequence[int]) -> dict[int, int]:
    """Each service's newest history id (none: no events): it changes with every new event,
    so a reader can tell when a service's events have stopped coming."""
    if not service_ids:
        return {}
    async with db.read() as conn:
        return await queries.newest_history_ids(conn, service_ids)


__all__ = ["Deriver", "EventOp", "EventWriter", "parse_timestamp", "write_ops"]
