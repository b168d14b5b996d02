"""Impressions: what recommendations and sections served, for analytics' engagement.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tanktop.db import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "impressions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("surface", sa.String(80), nullable=False),
        sa.Column("item_type", sa.String(64), nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("engaged", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("clicked", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_impressions_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_impressions")),
    )
    op.create_index(
        "ix_impressions_user_item",
        "impressions",
        ["service_id", "user_id", "item_type", "item_id", "at"],
    )


def downgrade() -> None:
    op.drop_index("ix_impressions_user_item", table_name="impressions")
    op.drop_table("impressions")
