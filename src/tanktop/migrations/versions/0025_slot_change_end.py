"""Slot changes carry the slot's end, and a removed slot is logged too (kind `unslot`).

Live TV re-derives the viewings of the time a slot change is about. A slot removed with
nothing in its place left nothing in the log, so viewings derived from it stayed; its row
(`unslot`) needs the slot's end, since the slot itself is gone.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tanktop.db import UTCDateTime

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("catalog_changes", sa.Column("slot_end", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("catalog_changes") as batch:
        batch.drop_column("slot_end")
