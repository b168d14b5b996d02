"""Following an append-only table by id, exactly once, while other transactions still write it.

Ids come from a sequence, so a row can become visible after rows with larger ids (its
transaction committed later). A follower that only remembered the largest id seen would skip it.
So each stream keeps `hwm`, the largest id read, and `gaps`, the ids below it not seen yet. A gap
is read when it appears, and forgotten once no transaction that could still write it is running:
on PostgreSQL, a second after it was noticed we note the snapshot's `xmax` as its horizon, and
when every transaction below that horizon has ended (`pg_snapshot_xmin` has passed it), a gap
still not visible never will be (rolled back, or a sequence value never used). On SQLite writes
are serialised, so an id below a visible one is never written later: gaps are forgotten at once.

Workers take a stream by lease (the webhooks' discipline): the lease is claimed in a short
transaction, the work read and computed outside any, and its result written in one transaction
that also moves the stream, guarded by the lease owner and the stream's `version`, so a worker
whose lease was taken over writes nothing and nothing is counted twice.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.analytics.tables import analytics_streams
from tanktop.db import Database, utcnow

EVENTS = "events"
IMPRESSIONS = "impressions"
GAP_SETTLE_SECONDS = 1.0
"""How long after noticing a gap its horizon is taken (its writer holds an xid by then)."""


class LostLease(Exception):
    """The stream moved under us (lease expired and taken over): the work is discarded."""


@dataclass
class Gap:
    id: int
    noticed: float
    horizon: int | None = None


@dataclass
class Stream:
    name: str
    hwm: int
    gaps: list[Gap]
    version: int
    owner: str = field(default="")

    def advance(self, seen: Iterable[int], now: float) -> None:
        """Record ids read above `hwm` and from the gaps; ids skipped become gaps."""
        ids = sorted(set(seen))
        found = set(ids)
        pending = {g.id for g in self.gaps}
        self.gaps = [g for g in self.gaps if g.id not in found]
        above = [i for i in ids if i > self.hwm]
        if above:
            self.gaps += [
                Gap(i, now)
                for i in range(self.hwm + 1, above[-1])
                if i not in found and i not in pending
            ]
            self.hwm = above[-1]

    def settle(self, xmin: int | None, xmax: int | None, now: float) -> None:
        """Forget gaps no running transaction can fill; give settled-in gaps their horizon."""
        if xmin is None or xmax is None:  # SQLite: nothing below a visible id commits later
            self.gaps = []
            return
        kept = []
        for gap in self.gaps:
            if gap.horizon is not None and xmin >= gap.horizon:
                continue
            if gap.horizon is None and now - gap.noticed >= GAP_SETTLE_SECONDS:
                gap.horizon = xmax
            kept.append(gap)
        self.gaps = kept

    def gaps_json(self) -> list[list[float | int | None]]:
        return [[g.id, g.noticed, g.horizon] for g in self.gaps]


def _gaps(raw: object) -> list[Gap]:
    if not isinstance(raw, list):
        return []
    return [Gap(int(g[0]), float(g[1]), None if g[2] is None else int(g[2])) for g in raw]


async def claim(db: Database, lease: dt.timedelta) -> tuple[Stream, Stream] | None:
    """Lease the rollups (the events stream's row holds the lease; the impressions stream is
    moved only by the holder) to this worker: both streams, or None while another holds it."""
    owner = str(uuid.uuid4())
    now = utcnow()
    table = analytics_streams
    async with db.write() as conn:
        row = (
            await conn.execute(
                sa.update(table)
                .where(
                    table.c.name == EVENTS,
                    sa.or_(table.c.lease_until.is_(None), table.c.lease_until < now),
                )
                .values(lease_owner=owner, lease_until=now + lease)
                .returning(table.c.hwm, table.c.gaps, table.c.version)
            )
        ).first()
        if row is None:
            return None
        other = (
            await conn.execute(
                sa.select(table.c.hwm, table.c.gaps, table.c.version).where(
                    table.c.name == IMPRESSIONS
                )
            )
        ).one()
    return (
        Stream(EVENTS, int(row.hwm), _gaps(row.gaps), int(row.version), owner),
        Stream(IMPRESSIONS, int(other.hwm), _gaps(other.gaps), int(other.version), owner),
    )


async def snapshot_horizon(db: Database) -> tuple[int | None, int | None]:
    """(xmin, xmax) of a fresh PostgreSQL snapshot; (None, None) on SQLite."""
    if db.is_sqlite:
        return None, None
    async with db.read() as conn:
        row = (
            await conn.execute(
                sa.text(
                    "SELECT pg_snapshot_xmin(s)::text::bigint AS xmin, "
                    "pg_snapshot_xmax(s)::text::bigint AS xmax "
                    "FROM pg_current_snapshot() AS s"
                )
            )
        ).one()
    return int(row.xmin), int(row.xmax)


async def save(
    conn: AsyncConnection, streams: Sequence[Stream], lease: dt.timedelta | None
) -> None:
    """Within the transaction that writes the work: move the streams, or raise `LostLease`.

    `lease` renews the lease (the worker goes on); None releases it."""
    table = analytics_streams
    for stream in streams:
        guard = [table.c.name == stream.name, table.c.version == stream.version]
        values: dict[str, object] = {
            "hwm": stream.hwm,
            "gaps": stream.gaps_json(),
            "version": stream.version + 1,
        }
        if stream.name == EVENTS:
            guard.append(table.c.lease_owner == stream.owner)
            values["lease_owner"] = stream.owner if lease else None
            values["lease_until"] = utcnow() + lease if lease else None
        result = await conn.execute(sa.update(table).where(*guard).values(**values))
        if result.rowcount != 1:
            raise LostLease(stream.name)
    for stream in streams:
        stream.version += 1


async def release(db: Database, stream: Stream) -> None:
    """Give the lease back without moving the streams."""
    table = analytics_streams
    async with db.write() as conn:
        await conn.execute(
            sa.update(table)
            .where(table.c.name == EVENTS, table.c.lease_owner == stream.owner)
            .values(lease_owner=None, lease_until=None)
        )


def now() -> float:
    return time.time()
