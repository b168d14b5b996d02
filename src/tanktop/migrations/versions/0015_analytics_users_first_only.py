"""Analytics users keep their first event only (the last one made every batch rewrite them).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tanktop.db import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("analytics_users") as batch:
        batch.drop_column("last_at")


def downgrade() -> None:
    with op.batch_alter_table("analytics_users") as batch:
        batch.add_column(sa.Column("last_at", UTCDateTime(), nullable=True))
