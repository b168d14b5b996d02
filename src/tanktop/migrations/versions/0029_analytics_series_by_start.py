"""Analytics series rows indexed by start within their grain: a read asks for every series at
some starts (31 days' first and last hours, for a day in a zone that is not a report zone),
and through the key, whose event and item type come before the start, PostgreSQL scanned the
grain's whole range once per start asked (10M events: 228 ms, against 1.4 ms by this index).

Revision ID: 0029
Revises: 0028
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_analytics_series_start", "analytics_series", ["service_id", "grain", "start"]
    )


def downgrade() -> None:
    op.drop_index("ix_analytics_series_start", table_name="analytics_series")
