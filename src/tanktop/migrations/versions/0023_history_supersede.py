"""Derived history rows can be superseded: when, and the correction row that withdraws one.

Live TV derives progress, seen and end events from channel events that may arrive late and in
any order; a later arrival corrects what was derived. The superseded row stays in the history
(what was derived and when) with `superseded_at`; a correction row (`supersedes` = its id) is
appended, so whoever follows the history by id (analytics) sees the correction.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tanktop.db import UTCDateTime

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("event_history", sa.Column("superseded_at", UTCDateTime(), nullable=True))
    op.add_column(
        "event_history",
        sa.Column(
            "supersedes", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("event_history") as batch:
        batch.drop_column("supersedes")
        batch.drop_column("superseded_at")
