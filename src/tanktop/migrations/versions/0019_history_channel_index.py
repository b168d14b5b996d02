"""The history's index by item becomes an index of channel rows only: live-TV re-derivation is
its one reader, and every event write paid for it.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL_ROWS = sa.text("item_type = 'channel'")


def upgrade() -> None:
    op.create_index(
        "ix_event_history_channel_time",
        "event_history",
        ["item_id", "at"],
        postgresql_where=CHANNEL_ROWS,
        sqlite_where=CHANNEL_ROWS,
    )
    op.drop_index("ix_event_history_item_time", table_name="event_history")


def downgrade() -> None:
    op.create_index("ix_event_history_item_time", "event_history", ["item_type", "item_id", "at"])
    op.drop_index("ix_event_history_channel_time", table_name="event_history")
