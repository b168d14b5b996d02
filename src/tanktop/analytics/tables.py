"""Analytics: what was served (impressions) and, later, the rollups read from the history.

Per-service tables lead with the service id, then the user id where there is one, like every
other per-service table.
"""

import sqlalchemy as sa

from tanktop.db import JSONDocument, UTCDateTime, metadata

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

impressions = sa.Table(
    "impressions",
    metadata,
    sa.Column("id", RowId, primary_key=True, autoincrement=True),
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), nullable=False),
    sa.Column("user_id", sa.String(32), nullable=False),
    sa.Column("surface", sa.String(80), nullable=False),
    sa.Column("item_type", sa.String(64), nullable=False),
    sa.Column("item_id", sa.String(64), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("engaged", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("clicked", sa.Boolean, nullable=False, server_default=sa.false()),
    # Engagement: did the user act on an item they were served within the next 7 days?
    sa.Index("ix_impressions_user_item", "service_id", "user_id", "item_type", "item_id", "at"),
)
"""One row per item served on a surface (`recommendation`, `section:<id>`) to a user."""

analytics_streams = sa.Table(
    "analytics_streams",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("hwm", RowId, nullable=False),
    sa.Column("gaps", JSONDocument, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("lease_owner", sa.String(36), nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
)
"""How far the rollups have read each followed table (`event_history`, `impressions`): every
id up to `hwm` is counted, except `gaps`, ids below it not visible yet (their transaction may
still commit). `version` moves with every write; one worker at a time holds the lease."""

analytics_users = sa.Table(
    "analytics_users",
    metadata,
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
    sa.Column("user_id", sa.String(32), primary_key=True),
    sa.Column("uid", sa.Integer, nullable=False),
    sa.Column("first_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("service_id", "uid", name="uq_analytics_users_service_uid"),
)
"""Each user of a service, numbered densely (`uid`) so that sets of users are bitmaps."""

analytics_series = sa.Table(
    "analytics_series",
    metadata,
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
    sa.Column("grain", sa.String(64), primary_key=True),
    sa.Column("event", sa.String(64), primary_key=True),
    sa.Column("item_type", sa.String(64), primary_key=True),
    sa.Column("start", UTCDateTime, primary_key=True),
    sa.Column("events", sa.BigInteger, nullable=False),
    sa.Column("users", sa.Integer, nullable=False),
    sa.Column("members", sa.LargeBinary, nullable=False),
    sa.Column("new_users", sa.Integer, nullable=False),
    sa.Column("new_members", sa.LargeBinary, nullable=True),
    # Hour rows only: of the hour's users, those whose first (last) activity of the UTC day in
    # this series falls in this hour (`tanktop.analytics.partitions`).
    sa.Column("first_members", sa.LargeBinary, nullable=True),
    sa.Column("last_members", sa.LargeBinary, nullable=True),
    # A digest of the four sets, written with them: what readers cache them under.
    sa.Column("digest", sa.String(32), nullable=True),
    # Reads ask for every series at some starts: by the key (event and item type before the
    # start) PostgreSQL scanned the grain's whole range once per start asked.
    sa.Index("ix_analytics_series_start", "service_id", "grain", "start"),
)
"""Events and distinct users per service, grain (`h` hour, `d` UTC day, `z:<zone>` a local day
of one of the service's report zones), event and item type
(`*`, `*`: any event), with the users as a roaring bitmap of uids so buckets merge exactly; the
`*` rows also hold the users whose first event falls in the bucket."""

LEADER_MIN = 2
"""The fewest events of an item row in the top lists' rank index (`analytics_items`)."""
_RANKED = sa.text(f"events >= {LEADER_MIN}")

analytics_items = sa.Table(
    "analytics_items",
    metadata,
    # No foreign key: counted from history rows, which name an existing service (never
    # deleted), and its check cost PostgreSQL about 10 us of a new row's 23 (0030).
    sa.Column("service_id", sa.Integer, nullable=False),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("item_type", sa.String(64), nullable=False),
    sa.Column("day", UTCDateTime, nullable=False),
    sa.Column("item_id", sa.String(64), nullable=False),
    sa.Column("events", sa.BigInteger, nullable=False),
    sa.Column("members", sa.LargeBinary, nullable=False),
    # An item's days together: the exact totals of a few candidates read a short range each.
    sa.PrimaryKeyConstraint("service_id", "event", "item_type", "item_id", "day"),
    # Each day's items by count: a top list reads the leaders of each day, not every row.
    # Only rows of more than one event (`LEADER_MIN`): most rows of a flat catalogue have one,
    # and they go without this index's entry (a top list knows that each unlisted item of a
    # day that lists fewer than it asked has at most one event there). A partial index also
    # cannot serve a lookup by key, which without statistics PostgreSQL planned on it.
    sa.Index(
        "ix_analytics_items_rank",
        "service_id",
        "event",
        "item_type",
        "day",
        "events",
        postgresql_where=_RANKED,
        sqlite_where=_RANKED,
    ),
    # PostgreSQL: the rows by day, for the top lists no day settles (a flat catalogue), which
    # sum every item over a range. BRIN: rows arrive about in day order, and an entry is a
    # block range's bounds, written when the range is summarised, not an entry per row.
    sa.Index(
        "ix_analytics_items_day",
        "day",
        postgresql_using="brin",
        postgresql_with={"pages_per_range": 32, "autosummarize": "on"},
    ).ddl_if(dialect="postgresql"),
)
"""Events and users per item and UTC day, for top lists."""

analytics_user_events = sa.Table(
    "analytics_user_events",
    metadata,
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
    sa.Column("user_id", sa.String(32), primary_key=True),
    sa.Column("event", sa.String(64), primary_key=True),
    sa.Column("item_type", sa.String(64), primary_key=True),
    sa.Column("events", sa.BigInteger, nullable=False),
    sa.Column("first_at", UTCDateTime, nullable=False),
    sa.Column("last_at", UTCDateTime, nullable=False),
)
"""Per user, event and item type: how many events, the first and the last (user stats)."""

analytics_engagement = sa.Table(
    "analytics_engagement",
    metadata,
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
    sa.Column("surface", sa.String(80), primary_key=True),
    sa.Column("start", UTCDateTime, primary_key=True),
    sa.Column("impressions", sa.BigInteger, nullable=False),
    sa.Column("clicks", sa.BigInteger, nullable=False),
    sa.Column("engaged", sa.BigInteger, nullable=False),
)
"""Per surface and hour of serving: items served, of them clicked, and engaged with."""

analytics_zones = sa.Table(
    "analytics_zones",
    metadata,
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
    sa.Column("zone", sa.String(64), primary_key=True),
)
"""A service's report zones: time zones whose local days are kept as rows (grain
`z:<zone>`), complete from the first event on, so days in that zone read one row each."""
