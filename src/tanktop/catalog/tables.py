"""The catalog: items, their offers, channel schedules, and the change log its consumers follow.

Shared by every service and written only by the operator, so no service id here.
"""

import sqlalchemy as sa

from tanktop.db import JSONDocument, UTCDateTime, metadata

ChangeId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

catalog_items = sa.Table(
    "catalog_items",
    metadata,
    sa.Column("item_type", sa.String(16), primary_key=True),
    sa.Column("item_id", sa.String(64), primary_key=True),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("duration", sa.Float),
    sa.Column("year", sa.Integer),
    sa.Column("genres", JSONDocument, nullable=False),
    sa.Column("sport", sa.String(100)),
    sa.Column("teams", JSONDocument, nullable=False),
    sa.Column("programme_id", sa.String(64)),
    sa.Column("season", sa.Integer),
    sa.Column("number", sa.Integer),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_catalog_items_programme", "programme_id", "season", "number"),
)

offers = sa.Table(
    "offers",
    metadata,
    sa.Column("id", ChangeId, primary_key=True, autoincrement=True),
    sa.Column("item_type", sa.String(16), nullable=False),
    sa.Column("item_id", sa.String(64), nullable=False),
    sa.Column("source_id", sa.String(64), nullable=False),
    sa.Column("price", sa.Integer, nullable=False),
    sa.Column("hd", sa.Boolean, nullable=False),
    sa.Column("available_from", UTCDateTime),
    sa.Column("available_until", UTCDateTime),
    # When the item became available on this source: `available_from`, else when the offer
    # was first stored (kept when the item's offers are replaced with one on the same source).
    # Null for offers stored before this was tracked. Section rows of new items read it.
    sa.Column("available_since", UTCDateTime),
    sa.ForeignKeyConstraint(
        ["item_type", "item_id"],
        ["catalog_items.item_type", "catalog_items.item_id"],
        ondelete="CASCADE",
    ),
    sa.Index("ix_offers_item", "item_type", "item_id"),
    sa.Index("ix_offers_available_since", "available_since"),
)

schedule_slots = sa.Table(
    "schedule_slots",
    metadata,
    sa.Column("channel_id", sa.String(64), primary_key=True),
    sa.Column("start", UTCDateTime, primary_key=True),
    sa.Column("end", UTCDateTime, nullable=False),
    sa.Column("item_type", sa.String(16), nullable=False),
    sa.Column("item_id", sa.String(64), nullable=False),
    sa.Index("ix_schedule_slots_item", "item_type", "item_id"),
)

catalog_changes = sa.Table(
    "catalog_changes",
    metadata,
    sa.Column("id", ChangeId, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("item_type", sa.String(16), nullable=False),
    sa.Column("item_id", sa.String(64), nullable=False),
    sa.Column("channel_id", sa.String(64)),
    sa.Column("slot_start", UTCDateTime),
    # A slot's end (kind `slot`: written, `unslot`: removed with nothing in its place); null
    # on rows from before it was kept.
    sa.Column("slot_end", UTCDateTime),
    # Consumers that follow one kind (live TV: slots) read it in id order.
    sa.Index("ix_catalog_changes_kind", "kind", "id"),
)

catalog_change_cursors = sa.Table(
    "catalog_change_cursors",
    metadata,
    # How far each consumer of the change log has handled it (notifications, live TV): every
    # change row with an id up to `last_id`. Rows are written in id order (see
    # queries.insert_changes), so a cursor never passes a row that commits later.
    sa.Column("consumer", sa.String(32), primary_key=True),
    sa.Column("last_id", ChangeId, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

catalog_generation = sa.Table(
    "catalog_generation",
    metadata,
    # One row, bumped in the same transaction as every item write: per-process caches of item
    # facts compare it to know, exactly, when what they hold went stale.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("generation", sa.BigInteger, nullable=False),
)
