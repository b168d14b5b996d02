"""Late schedules: catalog changes learn when live viewing was re-derived; history by item.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tanktop.db import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("catalog_changes", sa.Column("viewed_at", UTCDateTime(), nullable=True))
    op.create_index("ix_catalog_changes_unviewed", "catalog_changes", ["viewed_at", "kind"])
    op.create_index("ix_event_history_item_time", "event_history", ["item_type", "item_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_event_history_item_time", table_name="event_history")
    op.drop_index("ix_catalog_changes_unviewed", table_name="catalog_changes")
    op.drop_column("catalog_changes", "viewed_at")
