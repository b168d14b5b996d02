"""Analytics report zones: a service's time zones whose local days are kept as rollup rows
(grain `z:<zone>`, so the grain column grows from one character).

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("analytics_series") as batch:
        batch.alter_column(
            "grain", existing_type=sa.String(1), type_=sa.String(64), existing_nullable=False
        )
    op.create_table(
        "analytics_zones",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_analytics_zones_service_id_services")
        ),
        sa.PrimaryKeyConstraint("service_id", "zone", name=op.f("pk_analytics_zones")),
    )


def downgrade() -> None:
    op.drop_table("analytics_zones")
    op.execute("DELETE FROM analytics_series WHERE grain NOT IN ('h', 'd')")
    with op.batch_alter_table("analytics_series") as batch:
        batch.alter_column(
            "grain", existing_type=sa.String(64), type_=sa.String(1), existing_nullable=False
        )
