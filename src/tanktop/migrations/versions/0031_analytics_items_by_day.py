"""Analytics item rows found by day on PostgreSQL: a BRIN index on `day`, so that a top list
no day settles (a flat catalogue: items of one event a day) sums the rows of its range's
pages, not the event's and item type's rows of every day there are (the key leads with the
item). Rows are written about in day order, so a block range holds a few days; a BRIN entry
is one per 32 pages, written when a range is summarised (by VACUUM, or autovacuum asked by
`autosummarize` when a range fills), not per row. SQLite has no BRIN: no index there.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_analytics_items_day",
            "analytics_items",
            ["day"],
            postgresql_using="brin",
            postgresql_with={"pages_per_range": 32, "autosummarize": "on"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_analytics_items_day", table_name="analytics_items")
