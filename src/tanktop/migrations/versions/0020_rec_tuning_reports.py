"""What each `tanktop recs tune` found, kept for the console's Recommender page.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tanktop.db import JSONDocument, UTCDateTime

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rec_tuning_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("trials", sa.Integer(), nullable=False),
        sa.Column("report", JSONDocument, nullable=False),
        sa.Column("applied_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_rec_tuning_reports_service_id_services"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rec_tuning_reports")),
    )
    op.create_index(op.f("ix_rec_tuning_reports_service_id"), "rec_tuning_reports", ["service_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_rec_tuning_reports_service_id"), table_name="rec_tuning_reports")
    op.drop_table("rec_tuning_reports")
