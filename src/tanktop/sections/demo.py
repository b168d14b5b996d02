"""Example sections over the demo catalog, so a newcomer's first page (`make run`, then
`GET /sections/7/`) shows a real one: live TV, new arrivals, a genre, staff picks. The kinds
of the default page keep its ids and titles."""

from __future__ import annotations

from typing import Any, Final

from tanktop.db import Database
from tanktop.sections import service as sections
from tanktop.tenants.service import Service

EXAMPLES: Final[dict[str, dict[str, Any]]] = {
    "continue_watching": {
        "title": "Continue watching",
        "kind": "continue_watching",
        "locked": True,
    },
    "live_now": {"title": "On TV now", "kind": "live_now", "params": {"window": 30}},
    "recommended": {"title": "Recommended for you", "kind": "recommended"},
    "because_you_watched": {"title": "Because you watched {title}", "kind": "because_you_watched"},
    "new": {"title": "New on your services", "kind": "new", "params": {"days": 14}},
    "staff-picks": {
        "title": "Staff picks",
        "kind": "editorial",
        "item_type": "movie",
        "params": {"ids": [109348, 350258, 86197, 253754, 82288, 80716]},
    },
    "series": {
        "title": "Series to start",
        "kind": "editorial",
        "item_type": "programme",
        "params": {"ids": [1001, 1003, 1002, 1004]},
    },
    "comedy": {"title": "Comedy", "kind": "genre", "params": {"genre": "Comedy"}},
    "watchlist": {"title": "Your watchlist", "kind": "watchlist"},
    "popular": {"title": "Popular this week", "kind": "popular", "params": {"days": 7}},
}


async def define_examples(db: Database, service: Service) -> int:
    """Define the example sections for a service that has defined none; how many."""
    if await sections.defines_any(db, service):
        return 0
    for position, (section_id, body) in enumerate(EXAMPLES.items()):
        await sections.put_section(
            db, service, section_id=section_id, body={**body, "position": position}
        )
    return len(EXAMPLES)
