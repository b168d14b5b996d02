"""Section definitions per service (the rows of a home page).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tanktop.db import JSONDocument, UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sections",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("section_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("item_type", sa.String(64), nullable=True),
        sa.Column("params", JSONDocument, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("max_items", sa.Integer(), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_sections_service_id_services")
        ),
        sa.PrimaryKeyConstraint("service_id", "section_id", name=op.f("pk_sections")),
    )


def downgrade() -> None:
    op.drop_table("sections")
