"""Bookmarks: the user's "continue watching" row, computed from their progress and seen lists
and the catalog, so a new event changes it at once."""

from __future__ import annotations

from dataclasses import dataclass

from tanktop.bookmarks.rules import (
    Watch,
    finished,
    movie_bookmark,
    programme_bookmark,
    programme_finished,
)
from tanktop.bookmarks.schemas import Bookmark
from tanktop.catalog.facts import CatalogFacts
from tanktop.db import Database
from tanktop.errors import BadRequest, NotFound
from tanktop.events import service as events
from tanktop.tenants.service import Service

BOOKMARK_TYPES = ("movie", "programme", "episode")


async def _watches(db: Database, service: Service, user_id: str) -> dict[tuple[str, str], Watch]:
    watches: dict[tuple[str, str], Watch] = {}
    for item in await events.user_items(
        db, service, user_id=user_id, events=["progress", "seen"], item_types=["movie", "episode"]
    ):
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
    watches = await _watches(db, service, user_id)
    if not watches:
        return Progress([], set())
    async with db.read() as conn:
        contents, guides = await facts.with_guides(conn, list(watches))
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
        elif programme_finished(guide, episode_watches):
            done.add(("programme", programme_id))
    found.sort(key=lambda b: (b.updated_at, b.item_id), reverse=True)
    return Progress(found, done)


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
    for mark in await bookmarks(db, service, user_id=user_id, facts=facts):
        if (mark.item_type, mark.item_id) == (item_type, item_id):
            return mark
    raise NotFound(f"User {user_id!r} has no bookmark for {item_type} {item_id!r}.")
