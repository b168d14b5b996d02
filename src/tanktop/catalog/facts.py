"""A per-process copy of the catalog facts that bookmarks (and section pages) read on every
request.

A user's "continue watching" row needs the duration of every movie and the episode guide of
every programme in their history: hundreds of rows that rarely change, read again on each GET.
The copy is exact, not merely recent: every item write bumps `catalog_generation` in its own
transaction, and each read first compares that counter, dropping the copy when it moved.
Routes take the process's copy as `tanktop.catalog.dependencies.CatalogFactsDep`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.catalog import queries
from tanktop.catalog.service import (
    Content,
    ItemKey,
    contents,
    episode_guides,
    item_genres,
    labels_in,
)

GENRE_TYPES = ("movie", "programme")
GENERATION_SQL = queries.PG_GENERATION
"""PostgreSQL's read of the generation the copy is checked against, for a domain that reads it
in a statement of its own (the bookmarks memo's stamp): one text, the catalog's."""
K = TypeVar("K", bound=Hashable)
_ABSENT = object()
V = TypeVar("V")


_MOMENT: ContextVar[dict[str, int] | None] = ContextVar("tanktop_catalog_moment", default=None)


@contextmanager
def catalog_moment() -> Iterator[None]:
    """Within the block (and the tasks it starts), the copy is checked against the catalog
    once: a request that reads it many times (a section page: its bookmarks, genre rows and
    the programmes of episodes) is answered as of one moment, like one that reads it once."""
    token = _MOMENT.set({})
    try:
        yield
    finally:
        _MOMENT.reset(token)


class CatalogFacts:
    """Item facts and episode guides, kept until the catalog generation changes."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self._max_entries = max_entries
        self._generation: int | None = None
        self._contents: dict[ItemKey, Content | None] = {}
        self._guides: dict[str, list[Content] | None] = {}
        self._labels: dict[ItemKey, str | None] = {}
        self._members: dict[tuple[str, tuple[str, ...]], list[ItemKey]] = {}
        self._genres: tuple[dict[str, list[ItemKey]], dict[ItemKey, tuple[str, ...]]] | None = None

    async def contents(
        self, conn: AsyncConnection, keys: Sequence[ItemKey]
    ) -> dict[ItemKey, Content]:
        """Like `catalog.contents`: facts of the items that exist."""
        if not keys:
            return {}
        return await self._facts(conn, await self._sync(conn), keys)

    async def with_guides(
        self, conn: AsyncConnection, keys: Sequence[ItemKey], *, generation: int | None = None
    ) -> tuple[dict[ItemKey, Content], dict[str, list[Content]]]:
        """Facts of the items, and the episode guide (season/number order) of each programme
        their episodes belong to; the lists are shared, so callers must not change them.
        `generation`: the catalog's, as the caller just read it (one round trip fewer)."""
        if not keys:
            return {}, {}
        generation = await self._sync(conn) if generation is None else self._adopt(generation)
        found = await self._facts(conn, generation, keys)
        programme_ids = sorted(
            {c.programme_id for c in found.values() if c.item_type == "episode" and c.programme_id}
        )
        guides = await self._read_through(
            conn,
            generation,
            self._guides,
            programme_ids,
            lambda c, ids: episode_guides(c, programme_ids=ids),
        )
        return found, {pid: guide or [] for pid, guide in guides.items()}

    async def labels(self, conn: AsyncConnection, keys: Sequence[ItemKey]) -> dict[ItemKey, str]:
        """Like `catalog.labels`: how people name the items that exist."""
        found = await self._read_through(
            conn, await self._sync(conn), self._labels, keys, lambda c, ks: labels_in(c, keys=ks)
        )
        return {key: label for key, label in found.items() if label is not None}

    async def genre_members(
        self, conn: AsyncConnection, genre: str, item_types: Sequence[str]
    ) -> list[ItemKey]:
        """The movies and programmes of `genre` (any case) of `item_types`, in key order (the
        same list for the same question while the copy holds: callers must not change it)."""
        by_genre, _ = await self._genre_index(conn)
        asked = (genre.casefold(), tuple(item_types))
        found = self._members.get(asked)
        if found is None:
            found = [key for key in by_genre.get(asked[0], []) if key[0] in item_types]
            if self._genres is not None and self._genres[0] is by_genre:  # the copy's own
                self._members[asked] = found
        return found

    async def sharing_genres(
        self, conn: AsyncConnection, key: ItemKey, item_types: Sequence[str]
    ) -> list[tuple[ItemKey, float]]:
        """The movies and programmes of `item_types` sharing a genre with `key` (a movie or
        programme), with the share of `key`'s genres each has (in no order: callers rank)."""
        by_genre, by_item = await self._genre_index(conn)
        mine = by_item.get(key, ())
        shared: dict[ItemKey, int] = {}
        for genre in mine:
            for other in by_genre[genre]:
                shared[other] = shared.get(other, 0) + 1
        shared.pop(key, None)
        return [(k, count / len(mine)) for k, count in shared.items() if k[0] in item_types]

    async def _genre_index(
        self, conn: AsyncConnection
    ) -> tuple[dict[str, list[ItemKey]], dict[ItemKey, tuple[str, ...]]]:
        """Genre (casefolded) -> its items in key order, and item -> its genres."""
        generation = await self._sync(conn)
        index = self._genres
        if index is None:
            by_genre: dict[str, list[ItemKey]] = {}
            by_item: dict[ItemKey, tuple[str, ...]] = {}
            for key, names in (await item_genres(conn, item_types=GENRE_TYPES)).items():
                by_item[key] = names
                for name in names:
                    by_genre.setdefault(name, []).append(key)
            index = (by_genre, by_item)
            if generation == self._generation:
                self._genres = index
        return index

    async def _facts(
        self, conn: AsyncConnection, generation: int, keys: Sequence[ItemKey]
    ) -> dict[ItemKey, Content]:
        found = await self._read_through(
            conn, generation, self._contents, keys, lambda c, ks: contents(c, keys=ks)
        )
        return {key: content for key, content in found.items() if content is not None}

    async def _read_through(
        self,
        conn: AsyncConnection,
        generation: int,
        copy: dict[K, V | None],
        keys: Sequence[K],
        fetch: Callable[[AsyncConnection, list[K]], Awaitable[dict[K, V]]],
    ) -> dict[K, V | None]:
        """Each key's value from the copy, or read (absent ones as None) and remembered."""
        found: dict[K, V | None] = {}
        missing: list[K] = []
        for key in keys:
            value = copy.get(key, _ABSENT)
            if value is _ABSENT:
                missing.append(key)
            else:
                found[key] = value  # type: ignore[assignment]
        if missing:
            fetched = await fetch(conn, missing)
            read: dict[K, V | None] = {key: fetched.get(key) for key in missing}
            # Another request may have seen a newer generation while this one read: keep only
            # what was read under the generation the copy still holds.
            if generation == self._generation:
                copy.update(read)
            found |= read
        return found

    async def _sync(self, conn: AsyncConnection) -> int:
        """The generation this read sees; the copy is emptied when it is not the copy's.
        Within `catalog_moment()`, read once: later uses of the block take the generation its
        first read saw, while the copy is still of that generation."""
        moment = _MOMENT.get()
        seen = None if moment is None else moment.get("generation")
        if seen is not None and seen == self._generation and not self._too_big():
            return seen
        generation = await queries.select_generation(conn)
        if moment is not None:
            moment["generation"] = generation
        return self._adopt(generation)

    def _too_big(self) -> bool:
        return len(self._contents) + len(self._guides) + len(self._labels) > self._max_entries

    def _adopt(self, generation: int) -> int:
        """The copy as of `generation`, read from the catalog just now: emptied when it is
        not the copy's (or the copy is too big)."""
        if generation != self._generation or self._too_big():
            self._generation = generation
            self._contents.clear()
            self._guides.clear()
            self._labels.clear()
            self._members.clear()
            self._genres = None
        return generation
