"""Where each kind of row gets its items: the other domains' services, asked for the first
`limit` candidates in the row's order (already narrowed by the availability filters).

The page (page.py) leaves out what the user has hidden, seen or finished and what an earlier
row showed, and asks again for more when that left a row short.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tanktop.bookmarks.schemas import BOOKMARK, Bookmark
from tanktop.catalog import service as catalog
from tanktop.catalog.service import ItemKey
from tanktop.errors import NotFound
from tanktop.events import service as events
from tanktop.recommendations import service as recs
from tanktop.sections.context import PageContext
from tanktop.sections.definitions import (
    CONTENT,
    KINDS,
    EditorialParams,
    GenreParams,
    ListParams,
    LiveParams,
    NewParams,
    PopularParams,
    params_of,
)
from tanktop.sections.schemas import BasedOn, RowItem, Section

LIKED_TRIED = 3
"""`because_you_watched` tries the user's latest liked items, this many, for one with
similar items."""


@dataclass
class Fetched:
    """A source's candidates for a row, in the row's order, by key. The page leaves many out
    and shows only the first few, so it makes row items (`item`) of just those it shows."""

    keys: list[ItemKey]
    found: list[Any]
    """What the source answered for each key, for `item`."""
    item: Callable[[Any], RowItem]
    more: bool
    """The source may hold more than were asked for."""
    based_on: BasedOn | None = None


Fetch = Callable[[PageContext, Section, int], Awaitable[Fetched]]


def item_types(section: Section) -> tuple[str, ...]:
    """The types a row shows: its `item_type`, or every type its kind shows."""
    if section.item_type is not None:
        return (section.item_type,)
    return KINDS[section.kind].types or CONTENT


async def _available(context: PageContext, keys: Sequence[ItemKey]) -> list[ItemKey]:
    return await catalog.keep_available(context.db, keys=keys, availability=context.availability)


def _plain_item(key: ItemKey) -> RowItem:
    return RowItem(item_type=key[0], item_id=key[1])


def _plain(keys: Sequence[ItemKey], limit: int, total: int | None = None) -> Fetched:
    shown = list(keys[:limit])
    return Fetched(shown, shown, _plain_item, (len(keys) if total is None else total) > limit)


def _bookmark_item(mark: Bookmark) -> RowItem:
    return RowItem(**BOOKMARK.dump_python(mark))  # a movie's bookmark has no episode fields


def _recommended_item(rec: recs.Recommendation) -> RowItem:
    return RowItem(
        item_type=rec.item_type, item_id=str(rec.item_id), score=rec.score, reasons=rec.reasons
    )


def _live_item(pick: recs.LiveRecommendation) -> RowItem:
    return RowItem(
        item_type=pick.item_type,
        item_id=pick.item_id,
        channel_id=pick.channel_id,
        start=pick.start,
        end=pick.end,
        score=pick.score,
        reasons=pick.reasons,
    )


def _answers(
    found: Sequence[Bookmark | recs.Recommendation | recs.LiveRecommendation],
    item: Callable[[Any], RowItem],
    more: bool,
    based_on: BasedOn | None = None,
) -> Fetched:
    keys = [(f.item_type, str(f.item_id)) for f in found]
    return Fetched(keys, list(found), item, more, based_on)


async def continue_watching(context: PageContext, section: Section, limit: int) -> Fetched:
    types = item_types(section)
    marks = [m for m in context.progress.bookmarks if m.item_type in types]
    kept = set(await _available(context, [(m.item_type, m.item_id) for m in marks]))
    available = [m for m in marks if (m.item_type, m.item_id) in kept]
    return _answers(available[:limit], _bookmark_item, len(available) > limit)


async def watchlist(context: PageContext, section: Section, limit: int) -> Fetched:
    types = item_types(section)
    listed = sorted(
        (i for i in context.lists if i.event == "watchlist" and i.item_type in types),
        key=lambda i: (i.at, i.item_id),
        reverse=True,
    )
    keys = [(i.item_type, i.item_id) for i in listed]
    return _plain(await _available(context, keys[:limit]), limit, len(keys))


async def recommended(context: PageContext, section: Section, limit: int) -> Fetched:
    found = await recs.recommend(
        context.db,
        context.service,
        cache=context.models,
        user_id=context.user_id,
        item_type=section.item_type,
        n=limit,
        availability=context.availability,
        facts=context.catalog,
    )
    return _answers(found, _recommended_item, len(found) >= limit)


def _liked(context: PageContext) -> list[ItemKey]:
    """The user's items, latest first, that they watched (seen, progress) or rated above 0,
    less those they hid or rated 0 or below."""
    disliked = set(context.hidden) | {
        (i.item_type, i.item_id)
        for i in context.lists
        if i.event == "rated" and isinstance(i.value, (int, float)) and i.value <= 0
    }
    liked = [
        i
        for i in context.lists
        if i.event in ("seen", "progress")
        or (i.event == "rated" and isinstance(i.value, (int, float)) and i.value > 0)
    ]
    liked.sort(key=lambda i: (i.at, i.item_id), reverse=True)
    keys = [(i.item_type, i.item_id) for i in liked]
    return [k for k in dict.fromkeys(keys) if k not in disliked]


async def because_you_watched(context: PageContext, section: Section, limit: int) -> Fetched:
    types = item_types(section)
    for item_type, item_id in _liked(context)[:LIKED_TRIED]:
        try:
            found = await recs.similar(
                context.db,
                context.service,
                cache=context.models,
                item_type=item_type,
                item_id=item_id,
                n=limit,
            )
        except NotFound:  # the model does not know it (yet)
            continue
        if not found:
            continue
        wanted = [r for r in found if r.item_type in types]
        kept = set(await _available(context, [(r.item_type, r.item_id) for r in wanted]))
        available = [r for r in wanted if (r.item_type, r.item_id) in kept]
        async with context.db.read() as conn:
            labels = await context.catalog.labels(conn, [(item_type, item_id)])
        title = labels.get((item_type, item_id), item_id)
        based_on = BasedOn(item_type=item_type, item_id=item_id, title=title)
        return _answers(available, _recommended_item, len(found) >= limit, based_on)
    return _answers([], _recommended_item, False)


async def live_now(context: PageContext, section: Section, limit: int) -> Fetched:
    window = params_of(section, LiveParams).window
    picks = await recs.recommend_live(
        context.db,
        context.service,
        cache=context.models,
        user_id=context.user_id,
        at=context.now,
        window=dt.timedelta(minutes=window),
        n=limit,
        facts=context.catalog,
    )
    channels = set(context.availability.sources)
    programmes = await recs.programmes_of(
        context.db,
        episode_ids=(p.item_id for p in picks if p.item_type == "episode"),
        facts=context.catalog,
    )
    hidden = {f"{t}:{i}" for t, i in context.hidden}
    shown = [
        p
        for p in picks
        if (not channels or p.channel_id in channels) and programmes.get(p.item_id) not in hidden
    ]
    return _answers(shown, _live_item, len(picks) >= limit)


async def new(context: PageContext, section: Section, limit: int) -> Fetched:
    days = params_of(section, NewParams).days
    keys = await catalog.new_items(
        context.db,
        item_types=item_types(section),
        availability=context.availability,
        since=context.now - dt.timedelta(days=days),
        limit=limit,
    )
    return _plain(keys, limit, len(keys) + (len(keys) >= limit))


async def popular(context: PageContext, section: Section, limit: int) -> Fetched:
    days = params_of(section, PopularParams).days
    types = item_types(section)
    counted = await context.popular.ranked(
        context.db,
        context.service,
        item_types=(*types, "episode") if "programme" in types else types,
        days=days,
        limit=limit,
    )
    programmes = await recs.programmes_of(
        context.db,
        episode_ids=(item_id for item_type, item_id, _ in counted if item_type == "episode"),
        facts=context.catalog,
    )
    users: dict[ItemKey, int] = {}
    for item_type, item_id, count in counted:
        if item_type == "episode":  # counts for its programme (its most-watched episode's)
            programme = programmes.get(item_id)
            if programme is None:
                continue
            item_type, item_id = programme.split(":", 1)
        users[(item_type, item_id)] = max(count, users.get((item_type, item_id), 0))
    ranked = sorted(users, key=lambda k: (-users[k], k))
    return _plain(await _available(context, ranked), limit, len(counted) + (len(counted) >= limit))


async def genre(context: PageContext, section: Section, limit: int) -> Fetched:
    async with context.db.read() as conn:
        members = await context.catalog.genre_members(
            conn, params_of(section, GenreParams).genre, item_types(section)
        )
    ranked = await recs.rank(
        context.db,
        context.service,
        cache=context.models,
        user_id=context.user_id,
        keys=members,
        n=limit,
        facts=context.catalog,
    )
    kept = set(await _available(context, [(r.item_type, r.item_id) for r in ranked]))
    available = [r for r in ranked if (r.item_type, r.item_id) in kept]
    return _answers(available, _recommended_item, len(ranked) >= limit)


async def personal_list(context: PageContext, section: Section, limit: int) -> Fetched:
    item_type = section.item_type or "movie"
    params = params_of(section, ListParams)
    ids, next_cursor = await events.personalized_list(
        context.db,
        context.service,
        user_id=context.user_id,
        item_type=item_type,
        ids=[],
        include=params.include,
        exclude=params.exclude,
        availability=context.availability,
        limit=limit,
    )
    return _plain([(item_type, i) for i in ids], limit, len(ids) + (next_cursor is not None))


async def editorial(context: PageContext, section: Section, limit: int) -> Fetched:
    item_type = section.item_type or "movie"
    ids = params_of(section, EditorialParams).ids
    return _plain(await _available(context, [(item_type, i) for i in ids]), limit)


FETCHERS: dict[str, Fetch] = {
    "continue_watching": continue_watching,
    "watchlist": watchlist,
    "recommended": recommended,
    "because_you_watched": because_you_watched,
    "live_now": live_now,
    "new": new,
    "popular": popular,
    "genre": genre,
    "list": personal_list,
    "editorial": editorial,
}
