"""The stale-session closer follows channel starts with a cursor instead of scanning them all.

It used to look at every user's latest channel start on each pass, a cost that grew with the
history. Now it reads the starts that became stale since its last pass, in the order of
`stale_from` (the later of when a start happened and when it arrived), through a partial
expression index of channel starts, and keeps its position in `history_cursors`.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tanktop.db import UTCDateTime

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STALE_FROM = "CASE WHEN at > coalesce(received_at, at) THEN at ELSE coalesce(received_at, at) END"


def upgrade() -> None:
    op.create_table(
        "history_cursors",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("last_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.execute(
        f"CREATE INDEX ix_event_history_start_stale ON event_history (({STALE_FROM}), id) "
        "WHERE item_type = 'channel' AND event = 'start'"
    )


def downgrade() -> None:
    op.drop_index("ix_event_history_start_stale", table_name="event_history")
    op.drop_table("history_cursors")
