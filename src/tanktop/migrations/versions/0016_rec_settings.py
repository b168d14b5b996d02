"""Recommender settings per service, versioned (event weights, rating scale, model params).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tanktop.db import JSONDocument, UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rec_settings",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("weights", JSONDocument, nullable=False),
        sa.Column("params", JSONDocument, nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_rec_settings_service_id_services")
        ),
        sa.PrimaryKeyConstraint("service_id", "version", name=op.f("pk_rec_settings")),
    )


def downgrade() -> None:
    op.drop_table("rec_settings")
