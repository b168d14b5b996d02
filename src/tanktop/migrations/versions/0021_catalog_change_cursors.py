"""Consumers of the catalog's change log keep a cursor each, instead of a column each in it.

`catalog_change_cursors` holds, per consumer, the last change row it handled; the change rows
lose `matched_at` (notifications) and `viewed_at` (live TV). Each cursor starts just before the
first row its consumer had not handled (live TV only reads slot rows), so nothing is skipped;
rows after that which were handled already are looked at again, which both consumers allow
(a webhook is queued once per request generation; re-derived viewing replaces itself).

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tanktop.db import UTCDateTime

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ChangeId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_CONSUMERS = {"notifications": ("matched_at", None), "live": ("viewed_at", "slot")}
_changes = sa.table(
    "catalog_changes",
    sa.column("id"),
    sa.column("kind"),
    sa.column("matched_at", UTCDateTime()),
    sa.column("viewed_at", UTCDateTime()),
)
_cursors = sa.table(
    "catalog_change_cursors",
    sa.column("consumer"),
    sa.column("last_id"),
    sa.column("updated_at", UTCDateTime()),
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def upgrade() -> None:
    op.create_table(
        "catalog_change_cursors",
        sa.Column("consumer", sa.String(32), nullable=False),
        sa.Column("last_id", ChangeId, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", name=op.f("pk_catalog_change_cursors")),
    )
    bind = op.get_bind()
    for consumer, (column, kind) in _CONSUMERS.items():
        unhandled = sa.select(sa.func.min(_changes.c.id) - 1).where(_changes.c[column].is_(None))
        if kind is not None:
            unhandled = unhandled.where(_changes.c.kind == kind)
        last = bind.scalar(
            sa.select(
                sa.func.coalesce(
                    unhandled.scalar_subquery(),
                    sa.select(sa.func.max(_changes.c.id)).scalar_subquery(),
                    0,
                )
            )
        )
        bind.execute(sa.insert(_cursors).values(consumer=consumer, last_id=last, updated_at=_now()))
    op.drop_index("ix_catalog_changes_pending", table_name="catalog_changes")
    op.drop_index("ix_catalog_changes_unviewed", table_name="catalog_changes")
    with op.batch_alter_table("catalog_changes") as batch:
        batch.drop_column("matched_at")
        batch.drop_column("viewed_at")
    op.create_index("ix_catalog_changes_kind", "catalog_changes", ["kind", "id"])


def downgrade() -> None:
    op.drop_index("ix_catalog_changes_kind", table_name="catalog_changes")
    op.add_column("catalog_changes", sa.Column("matched_at", UTCDateTime(), nullable=True))
    op.add_column("catalog_changes", sa.Column("viewed_at", UTCDateTime(), nullable=True))
    bind = op.get_bind()
    for consumer, (column, _) in _CONSUMERS.items():
        last = bind.scalar(sa.select(_cursors.c.last_id).where(_cursors.c.consumer == consumer))
        bind.execute(
            sa.update(_changes).where(_changes.c.id <= (last or 0)).values({column: _now()})
        )
    op.create_index("ix_catalog_changes_pending", "catalog_changes", ["matched_at", "at"])
    op.create_index("ix_catalog_changes_unviewed", "catalog_changes", ["viewed_at", "kind"])
    op.drop_table("catalog_change_cursors")
