"""Events: the list state (latest value per item) and the append-only history.

Both lead with the service id, then the user id, so a sharded PostgreSQL can distribute them
by (service, user). Lists are read by primary key (ids asked) or by recency (paging).
"""

import datetime as dt

import sqlalchemy as sa

from tanktop.db import JSONDocument, UTCDateTime, metadata

HistoryId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

list_items = sa.Table(
    "list_items",
    metadata,
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
    sa.Column("user_id", sa.String(32), primary_key=True),
    sa.Column("event", sa.String(64), primary_key=True),
    sa.Column("item_type", sa.String(64), primary_key=True),
    sa.Column("item_id", sa.String(64), primary_key=True),
    sa.Column("value", JSONDocument, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # A user's lists, newest first; on PostgreSQL with each item's value beside its key, so
    # sums and distributions of a user's values (analytics' user stats) read the index only,
    # not one heap page per item. No extra index write: every list write changes `updated_at`,
    # so it writes this index's entry anyway.
    sa.Index(
        "ix_list_items_recent",
        "service_id",
        "user_id",
        "event",
        "item_type",
        "updated_at",
        "item_id",
        postgresql_include=["value"],
    ),
)

event_history = sa.Table(
    "event_history",
    metadata,
    sa.Column("id", HistoryId, primary_key=True, autoincrement=True),
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), nullable=False),
    sa.Column("user_id", sa.String(32), nullable=False),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("item_type", sa.String(64), nullable=False),
    sa.Column("item_id", sa.String(64), nullable=False),
    sa.Column("value", JSONDocument, nullable=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("origin", sa.String(8), nullable=False),
    sa.Column("removed", sa.Boolean, nullable=False),
    # When the server wrote the row (`at` is when it happened): a late or offline event is
    # judged by when it arrived. Null on rows from before it was kept.
    sa.Column("received_at", UTCDateTime, nullable=True),
    # A derived row a later arrival made wrong: when it was superseded (it then counts in no
    # list), and the correction row appended for followers of the history (removed, with
    # `supersedes` naming the row it withdraws), so analytics can take it back.
    sa.Column("superseded_at", UTCDateTime, nullable=True),
    sa.Column("supersedes", HistoryId, nullable=True),
    sa.Index("ix_event_history_service_time", "service_id", "at", "id"),
    sa.Index("ix_event_history_user_time", "service_id", "user_id", "at"),
    # Live-TV re-derivation finds who watched a channel when its schedule arrives late. Only
    # channel rows: every event write pays for each index of the history, and no other item
    # type is looked up this way (queries name the type inline, so the planner can use it).
    sa.Index(
        "ix_event_history_channel_time",
        "item_id",
        "at",
        postgresql_where=sa.text("item_type = 'channel'"),
        sqlite_where=sa.text("item_type = 'channel'"),
    ),
)


def stale_from(history: sa.Table) -> sa.ColumnElement[dt.datetime]:
    """When a channel start can first be stale (less the maximum session): the later of when
    it happened and when it arrived (rows from before arrivals were kept: when it happened)."""
    received = sa.func.coalesce(history.c.received_at, history.c.at)
    return sa.case((history.c.at > received, history.c.at), else_=received)


# The stale-session closer follows channel starts in this order (a cursor: `history_cursors`),
# so each pass reads only the starts that went stale since the last one, not the history.
sa.Index(
    "ix_event_history_start_stale",
    stale_from(event_history),
    event_history.c.id,
    postgresql_where=sa.text("item_type = 'channel' AND event = 'start'"),
    sqlite_where=sa.text("item_type = 'channel' AND event = 'start'"),
)

history_cursors = sa.Table(
    "history_cursors",
    metadata,
    # How far a follower of the history has handled it, in its own order: the stale-session
    # closer, channel starts by (`stale_from`, id).
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("last_id", HistoryId, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
