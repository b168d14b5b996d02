"""Report zones: a service's time zones whose local days are kept as rollup rows.

Rollups are kept per UTC hour and UTC day, so a day in New York is 24 hour rows to merge
(their users unioned), which on a large history costs what the rollups are there to avoid. A
report zone adds rows per local day of that zone (grain `z:<zone>`), so such a day reads one
row, like a UTC day. Adding one builds its rows from the hour rows while holding the rollup
lease (workers pause; from then on they keep the zone's rows with the others, and a rebuild
counts them again), and the zone is used by reads only once its rows are complete.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyroaring import BitMap

from tanktop.analytics import queries, streams
from tanktop.analytics.buckets import local_day_floor, report_zone, zone_grain
from tanktop.analytics.rollup import ANY, LEASE, bitmap, hold_lease, write_series
from tanktop.db import Database
from tanktop.errors import NotFound

CHUNK = dt.timedelta(days=31)
"""Local days built per transaction (the lease is renewed with each)."""


async def zones_of(db: Database, service_id: int) -> list[str]:
    async with db.read() as conn:
        return (await queries.select_zones(conn, service_id)).get(service_id, [])


async def add(db: Database, service_id: int, *, zone: str) -> str:
    """Keep the service's rows of `zone`'s local days (built now from its hour rows); returns
    the zone's canonical name. A zone the service has already is left as it is."""
    name = report_zone(zone)
    claimed = await hold_lease(db)
    try:
        if name in await zones_of(db, service_id):
            return name
        async with db.read() as conn:
            first, last = await queries.hour_span(conn, service_id)
        floor = local_day_floor(name)
        if first is not None and last is not None:
            day = floor(first)
            while day <= last:
                until = floor(day + CHUNK)
                async with db.read() as conn:
                    hours = await queries.select_hour_rows(conn, service_id, day, until)
                async with db.write() as conn:
                    await write_series(conn, _local_days(hours, name))
                    await streams.save(conn, claimed, LEASE)
                day = until
        async with db.write() as conn:
            await queries.add_zone(conn, service_id, name)
            await streams.save(conn, claimed, None)
    except BaseException:
        await streams.release(db, claimed[0])
        raise
    return name


async def remove(db: Database, service_id: int, *, zone: str) -> None:
    """Stop keeping the service's rows of `zone` (days in it merge hours again)."""
    claimed = await hold_lease(db)
    try:
        async with db.write() as conn:
            if not await queries.delete_zone(conn, service_id, zone_grain(zone), zone):
                raise NotFound(f"The service has no report zone {zone!r}.")
            await streams.save(conn, claimed, None)
    except BaseException:
        await streams.release(db, claimed[0])
        raise


def _local_days(hours: list[Any], name: str) -> list[dict[str, Any]]:
    """Rows of `name`'s local days from the hour rows they are made of."""
    floor = local_day_floor(name)
    days: dict[tuple[str, str, dt.datetime], list[Any]] = {}
    for row in hours:
        days.setdefault((row.event, row.item_type, floor(row.start)), []).append(row)
    found = []
    for (event, item_type, start), rows in days.items():
        members = BitMap.union(*(bitmap(r.members) for r in rows))
        new = BitMap.union(*(bitmap(r.new_members) for r in rows)) if event == ANY else None
        found.append(
            {
                "service_id": rows[0].service_id,
                "grain": zone_grain(name),
                "event": event,
                "item_type": item_type,
                "start": start,
                "events": sum(int(r.events) for r in rows),
                "users": len(members),
                "members": members.serialize(),
                "new_users": len(new) if new is not None else 0,
                "new_members": new.serialize() if new is not None else None,
            }
        )
    return found
