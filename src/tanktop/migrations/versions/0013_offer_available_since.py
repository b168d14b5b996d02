"""When each offer became available (`new` section rows read it).

Offers stored before have no listing time; those with an `available_from` take it, the others
stay null (never "new").

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tanktop.db import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("offers") as batch:
        batch.add_column(sa.Column("available_since", UTCDateTime(), nullable=True))
        batch.create_index("ix_offers_available_since", ["available_since"])
    op.execute("UPDATE offers SET available_since = available_from")


def downgrade() -> None:
    with op.batch_alter_table("offers") as batch:
        batch.drop_index("ix_offers_available_since")
        batch.drop_column("available_since")
