"""What building one user's page needs, read once per request and shared by its rows."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

from tanktop.bookmarks import service as bookmarks
from tanktop.catalog.facts import CatalogFacts
from tanktop.catalog.service import Availability, ItemKey
from tanktop.db import Database, utcnow
from tanktop.events import service as events
from tanktop.recommendations.service import ModelCache
from tanktop.sections.popular import PopularCopy
from tanktop.tenants.service import Service

LISTS = ("hide", "seen", "watchlist", "rated", "progress")
"""The user's content lists a page reads: what to leave out, the watchlist, what they liked."""
CONTENT_TYPES = ("movie", "programme", "episode")


@dataclass(frozen=True)
class PageSources:
    """What a page reads besides the database and the user's data: the process's copies
    (catalog facts, models, popular rankings) and the request's availability filters. The
    router builds it once; the page and its rows take it whole."""

    facts: CatalogFacts
    models: ModelCache
    popular: PopularCopy
    availability: Availability


@dataclass
class PageContext:
    """The request's parts (database, per-process copies, tenant, user, filters) and what the
    user has done, as of this request (nothing is kept between requests)."""

    db: Database
    catalog: CatalogFacts
    models: ModelCache
    service: Service
    user_id: str
    availability: Availability
    now: dt.datetime
    lists: list[events.ListItem]
    progress: bookmarks.Progress
    popular: PopularCopy
    hidden: set[ItemKey] = field(default_factory=set)
    excluded: set[ItemKey] = field(default_factory=set)
    """Hidden, seen or finished: left out of every row but continue watching."""


async def load_context(
    db: Database, service: Service, *, user_id: str, sources: PageSources
) -> PageContext:
    lists, progress = await asyncio.gather(
        events.user_items(db, service, user_id=user_id, events=LISTS, item_types=CONTENT_TYPES),
        bookmarks.progress(db, service, user_id=user_id, facts=sources.facts),
    )
    context = PageContext(
        db,
        sources.facts,
        sources.models,
        service,
        user_id,
        sources.availability,
        utcnow(),
        lists,
        progress,
        sources.popular,
    )
    context.hidden = {(i.item_type, i.item_id) for i in lists if i.event == "hide"}
    seen = {(i.item_type, i.item_id) for i in lists if i.event == "seen"}
    context.excluded = context.hidden | seen | progress.finished
    return context
