"""Event history keeps when the server received each row, beside when it happened.

Live TV judges a channel session stale by when its `start` arrived, not by the time it carries
(a viewing synced late is not stale on arrival). Older rows keep null (read as their `at`).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tanktop.db import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("event_history", sa.Column("received_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("event_history") as batch:
        batch.drop_column("received_at")
