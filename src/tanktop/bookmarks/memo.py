"""A per-process memo of each user's bookmarks, checked against the database on every request.

Deriving a user's bookmarks reads every progress and seen entry they have (hundreds) and
walks the episode guides: most of a bookmarks request's CPU. The memo keeps, per (service,
user), the bookmarks and their written answer beside the stamp of what they were derived from
(see `events.service.user_items_unless`: the entries' count and hash sum, and the catalog
generation). Each request reads the stamp afresh, in one small statement; only an equal stamp
answers from the memo. Nothing expires by time: a write by any process changes the stamp.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from tanktop.bookmarks.schemas import Bookmark
from tanktop.events.service import Stamp

User = tuple[int, str]


@dataclass(slots=True)
class Remembered:
    """One user's bookmarks as derived from the entries and catalog `stamp` names (none: not
    to be remembered); `body`, the list route's answer, written on first use."""

    stamp: Stamp | None
    bookmarks: list[Bookmark]
    body: bytes | None = None


class BookmarksMemo:
    """The latest derivation for the users asked most recently (at most `max_users`)."""

    def __init__(self, max_users: int = 2_000) -> None:
        self._max_users = max_users
        self._entries: OrderedDict[User, Remembered] = OrderedDict()

    def get(self, user: User) -> Remembered | None:
        found = self._entries.get(user)
        if found is not None:
            self._entries.move_to_end(user)
        return found

    def put(self, user: User, entry: Remembered) -> None:
        self._entries[user] = entry
        self._entries.move_to_end(user)
        while len(self._entries) > self._max_users:
            self._entries.popitem(last=False)


async def get_bookmarks_memo(request: Request) -> BookmarksMemo:
    memo: BookmarksMemo = request.app.state.bookmarks_memo
    return memo


BookmarksMemoDep = Annotated[BookmarksMemo, Depends(get_bookmarks_memo)]
