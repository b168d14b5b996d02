"""The per-process copy of catalog facts: exact, and within one request read as of a moment."""

from __future__ import annotations

import asyncio
import contextvars

from tanktop.catalog.facts import CatalogFacts, catalog_moment
from tanktop.db import Database
from tests.conftest import Admin, unique


async def test_a_catalog_moment_checks_the_copy_once_and_never_goes_back(
    admin: Admin, db: Database
) -> None:
    facts = CatalogFacts()
    movie = unique("m")
    key = ("movie", movie)

    async def duration() -> float | None:
        async with db.read() as conn:
            return (await facts.contents(conn, [key]))[key].duration

    async def retime(minutes: int) -> None:
        body = {"title": "T", "duration": minutes}
        assert (await admin.put(f"/catalog/movie/{movie}/", json=body)).is_success

    await retime(100)
    with catalog_moment():
        assert await duration() == 100
        await retime(50)
        assert await duration() == 100, "one request: the catalog of its first read"
        assert await duration() == 100
    assert await duration() == 50, "the next request: the catalog now"
    with catalog_moment():
        assert await duration() == 50
        await retime(70)
        elsewhere = asyncio.create_task(duration(), context=contextvars.Context())
        assert await elsewhere == 70, "another request moves the copy on"
        assert await duration() == 70, "and this one, seeing it moved, reads the catalog again"
