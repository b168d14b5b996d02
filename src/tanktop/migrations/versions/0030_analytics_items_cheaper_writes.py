"""Analytics item rows cheaper to write: most of a round's writes on a flat catalogue are new
item rows (one per event), and each paid, in PostgreSQL's CPU per row (60,000 rows in batches
of 3,000, by COPY), about 10 us for the foreign key's check of its service and 4-5 us for its
entry in the top lists' rank index (23 us in all, 9 without either).

- No foreign key to `services`: the rows are counted from the history, whose rows already
  name an existing service, and no service is ever deleted.
- The rank index only from two events up (partial): most item rows of a flat catalogue
  have one event, and a top list knows that an item a day does not list has at most one
  there. A partial index also cannot serve a lookup by key, which PostgreSQL, without
  statistics, planned on it (a scan of the day's rows per round, growing with the day).

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RANK = ["service_id", "event", "item_type", "day", "events"]
FOREIGN_KEY = "fk_analytics_items_service_id_services"


def upgrade() -> None:
    with op.batch_alter_table("analytics_items", recreate="auto") as batch:
        batch.drop_constraint(FOREIGN_KEY, type_="foreignkey")
    op.drop_index("ix_analytics_items_rank", table_name="analytics_items")
    op.create_index(
        "ix_analytics_items_rank",
        "analytics_items",
        RANK,
        postgresql_where=sa.text("events >= 2"),
        sqlite_where=sa.text("events >= 2"),
    )


def downgrade() -> None:
    # Rows of a service that is not there (none is ever deleted) could not be read; the key
    # put back would refuse them.
    op.execute("DELETE FROM analytics_items WHERE service_id NOT IN (SELECT id FROM services)")
    op.drop_index("ix_analytics_items_rank", table_name="analytics_items")
    op.create_index("ix_analytics_items_rank", "analytics_items", RANK)
    with op.batch_alter_table("analytics_items", recreate="auto") as batch:
        batch.create_foreign_key(FOREIGN_KEY, "services", ["service_id"], ["id"])
