"""Bookmarks: the user's "continue watching" row, computed from their progress and seen lists
and the catalog, so a new event changes it at once."""

from __future__ import annotations

from dataclasses import dataclass

from tanktop.bookmarks.memo import BookmarksMemo, Remembered
from tanktop.bookmarks.rules import (
    Watch,
    finished,
    movie_bookmark,
    programme_bookmark,
    some_finished,
)
from tanktop.bookmarks.schemas import Bookmark
from tanktop.catalog.facts import CatalogFacts
from tanktop.db import Database
from tanktop.errors import BadRequest, NotFound
from tanktop.events import service as events
from tanktop.tenants.service import Service

BOOKMARK_TYPES = ("movie", "programme", "episode")


_EVENTS, _TYPES = ["progress", "seen"], ["movie", "episode"]


def _watches(items: list[events.ListItem]) -> dict[tuple[str, str], Watch]:
    watches: dict[tuple[str, str], Watch] = {}
    for item in items:
        watch = watches.setdefault((item.item_type, item.item_id), Watch())
        if item.event == "seen":
            watch.seen_at = item.at
        elif isinstance(item.value, (int, float)):
            watch.progress, watch.progress_at = float(item.value), item.at
    return watches


@dataclass(frozen=True)
class Progress:
    """Where the user is: their bookmarks, most recent activity first, and what they have
    finished (movies and episodes seen or watched to 90%, programmes with nothing next)."""

    bookmarks: list[Bookmark]
    finished: set[tuple[str, str]]


async def progress(
    db: Database, service: Service, *, user_id: str, facts: CatalogFacts
) -> Progress:
    """The user's bookmarks and finished items, from one read of their progress and seen."""
    items = await events.user_items(db, service, user_id=user_id, events=_EVENTS, item_types=_TYPES)
    return await _derive(db, items, facts)


async def _derive(
    db: Database,
    items: list[events.ListItem],
    facts: CatalogFacts,
    generation: int | None = None,
) -> Progress:
    watches = _watches(items)
    if not watches:
        return Progress([], set())
    async with db.read() as conn:
        contents, guides = await facts.with_guides(conn, list(watches), generation=generation)
    found: list[Bookmark] = []
    done: set[tuple[str, str]] = set()
    for (item_type, item_id), watch in watches.items():
        content = contents.get((item_type, item_id))
        duration = content.duration if content else None
        if finished(watch, duration):
            done.add((item_type, item_id))
        if item_type == "movie":
            mark = movie_bookmark(item_id, watch, duration)
            if mark:
                found.append(mark)
    episode_watches = {item_id: w for (t, item_id), w in watches.items() if t == "episode"}
    for programme_id, guide in guides.items():
        mark = programme_bookmark(programme_id, guide, episode_watches)
        if mark:
            found.append(mark)
        elif some_finished(guide, episode_watches):  # no bookmark: finished if any episode is
            done.add(("programme", programme_id))
    found.sort(key=lambda b: (b.updated_at, b.item_id), reverse=True)
    return Progress(found, done)


async def remembered(
    db: Database, service: Service, *, user_id: str, facts: CatalogFacts, memo: BookmarksMemo
) -> Remembered:
    """The user's bookmarks through the process's memo: the memo's when the stamp of their
    entries and the catalog read now is the one it was derived from, else derived afresh from
    the entries the same statement read (and remembered with that stamp)."""
    user = (service.id, user_id)
    known = memo.get(user)
    items, stamp = await events.user_items_unless(
        db,
        service,
        user_id=user_id,
        events=_EVENTS,
        item_types=_TYPES,
        known=None if known is None else known.stamp,
    )
    if items is None and known is not None:
        return known
    generation = None if stamp is None else stamp[2]
    entry = Remembered(stamp, (await _derive(db, items or [], facts, generation)).bookmarks)
    if stamp is not None:
        memo.put(user, entry)
    return entry


async def bookmarks(
    db: Database, service: Service, *, user_id: str, facts: CatalogFacts
) -> list[Bookmark]:
    """Every bookmark of the user, most recent activity first."""
    return (await progress(db, service, user_id=user_id, facts=facts)).bookmarks


async def bookmark(
    db: Database,
    service: Service,
    *,
    user_id: str,
    item_type: str,
    item_id: str,
    facts: CatalogFacts,
    memo: BookmarksMemo,
) -> Bookmark:
    """One bookmark; an episode answers with its programme's."""
    if item_type not in BOOKMARK_TYPES:
        raise BadRequest(f"Bookmarks are for {', '.join(BOOKMARK_TYPES)}; got {item_type!r}.")
    if item_type == "episode":
        async with db.read() as conn:
            content = (await facts.contents(conn, [("episode", item_id)])).get(("episode", item_id))
        if content is None or content.programme_id is None:
            raise NotFound(f"No episode {item_id!r} in the catalog.")
        item_type, item_id = "programme", content.programme_id
    found = await remembered(db, service, user_id=user_id, facts=facts, memo=memo)
    for mark in found.bookmarks:
        if (mark.item_type, mark.item_id) == (item_type, item_id):
            return mark
    raise NotFound(f"User {user_id!r} has no bookmark for {item_type} {item_id!r}.")
