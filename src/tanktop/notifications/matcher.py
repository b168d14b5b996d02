"""Matching: turn catalog-change rows into queued webhooks, in the same transaction.

Change rows are claimed with row locks (skipped by other workers) and marked matched in the
transaction that queues their deliveries, so a crash loses nothing and repeats nothing.
Work per change is proportional to the requests for the changed item (indexed by item).
"""

from __future__ import annotations

import logging

from tanktop.catalog import changes as catalog_changes
from tanktop.catalog import service as catalog
from tanktop.catalog.schemas import Offer
from tanktop.config import Settings
from tanktop.db import Database, utcnow
from tanktop.notifications import queries
from tanktop.notifications.rules import StoredRequest
from tanktop.notifications.service import first_satisfying, queue_delivery

log = logging.getLogger("tanktop.notifications")
BATCH = 200


async def match_catalog_changes(db: Database, *, settings: Settings) -> int:
    """Match one batch of due change rows; returns how many were matched."""
    now = utcnow()
    async with db.write() as conn:
        changes = await catalog_changes.claim_changes(conn, consumer="notifications", limit=BATCH)
        if not changes:
            return 0
        keys = list({(c.item_type, c.item_id) for c in changes})
        contents = await catalog.contents(conn, keys=keys)
        direct: dict[tuple[str, str], tuple[str, str]] = {}
        for key, content in contents.items():
            if key[0] in ("movie", "programme"):
                direct[key] = key
            elif key[0] == "episode" and content.programme_id:
                direct[key] = ("programme", content.programme_id)
        standing: dict[tuple[str, str], list[tuple[str, str]]] = {
            key: [("sport", c.sport)] if c.sport else [] for key, c in contents.items()
        }
        for key, content in contents.items():
            standing[key] += [("team", team) for team in content.teams]
        requests: dict[tuple[str, str], list[StoredRequest]] = {}
        for row in await queries.open_requests_for(
            conn, list(set(direct.values())), include_notified=False
        ):
            requests.setdefault((row.item_type, row.item_id), []).append(row)
        standing_keys = list({k for ks in standing.values() for k in ks})
        for row in await queries.open_requests_for(conn, standing_keys, include_notified=True):
            requests.setdefault((row.item_type, row.item_id), []).append(row)
        offer_keys = list({*keys, *direct.values()})
        offers = await catalog.offers_of(conn, keys=offer_keys)
        queued = 0
        for change in changes:
            key = (change.item_type, change.item_id)
            if key not in contents:
                continue
            if change.kind == "offers":
                target = direct.get(key)
                if target is not None:
                    for request in requests.get(target, []):
                        offer = first_satisfying(offers[target], request, now)
                        if offer is not None:
                            queued += await queue_delivery(
                                conn, request=request, content=target, offer=offer, now=now
                            )
                for standing_key in standing[key]:
                    for request in requests.get(standing_key, []):
                        offer = first_satisfying(offers[key], request, now)
                        if offer is not None:
                            queued += await queue_delivery(
                                conn, request=request, content=key, offer=offer, now=now
                            )
            elif change.kind == "slot" and change.channel_id is not None:
                airing = Offer(source_id=change.channel_id)
                for standing_key in standing[key]:
                    for request in requests.get(standing_key, []):
                        if not request.source_ids or change.channel_id in request.source_ids:
                            queued += await queue_delivery(
                                conn, request=request, content=key, offer=airing, now=now
                            )
        await catalog_changes.mark_changes_handled(
            conn, consumer="notifications", ids=[c.id for c in changes], now=now
        )
    if queued:
        log.info("matched %d catalog changes, queued %d webhooks", len(changes), queued)
    return len(changes)
