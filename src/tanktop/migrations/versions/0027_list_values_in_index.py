"""On PostgreSQL the recent-items index of the lists carries each item's value (`INCLUDE`),
so one user's value counts (analytics' user stats: minutes watched, ratings) are an index-only
scan instead of a heap page per item.

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["service_id", "user_id", "event", "item_type", "updated_at", "item_id"]


def _recreate(include: list[str]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has no INCLUDE: its index stays as it was
    op.drop_index("ix_list_items_recent", table_name="list_items")
    op.create_index("ix_list_items_recent", "list_items", COLUMNS, postgresql_include=include)


def upgrade() -> None:
    _recreate(["value"])


def downgrade() -> None:
    _recreate([])
