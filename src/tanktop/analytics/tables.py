"""Analytics: what was served (impressions) and, later, the rollups read from the history.

Per-service tables lead with the service id, then the user id where there is one, like every
other per-service table.
"""

import sqlalchemy as sa

from tanktop.db import UTCDateTime, metadata

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
