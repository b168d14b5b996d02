"""Analytics series rows keep a digest of their users' sets, written with them, so an API
process caches the sets deserialised by content and the database sends 32 characters in
place of kilobytes a row (`tanktop.analytics.sets`); filled here for the rows already kept.

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tanktop.analytics.sets import SET_COLUMNS, with_digest
from tanktop.db import UTCDateTime

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = ("service_id", "grain", "event", "item_type", "start")
series = sa.table(
    "analytics_series",
    sa.column("service_id", sa.Integer),
    sa.column("grain", sa.String),
    sa.column("event", sa.String),
    sa.column("item_type", sa.String),
    sa.column("start", UTCDateTime()),
    *(sa.column(name, sa.LargeBinary) for name in SET_COLUMNS),
    sa.column("digest", sa.String),
)
PAGE = 2000


def _backfill() -> None:
    """Page through the rows in key order, writing each page's digests."""
    bind = op.get_bind()
    update = (
        sa.update(series)
        .where(*(series.c[name] == sa.bindparam(f"k_{name}") for name in KEY))
        .values(digest=sa.bindparam("d"))
    )
    after: tuple[object, ...] | None = None
    while True:
        query = sa.select(*(series.c[name] for name in (*KEY, *SET_COLUMNS)))
        if after is not None:
            query = query.where(sa.tuple_(*(series.c[name] for name in KEY)) > sa.tuple_(*after))
        rows = bind.execute(query.order_by(*(series.c[name] for name in KEY)).limit(PAGE)).all()
        if not rows:
            return
        bind.execute(
            update,
            [
                {
                    **{f"k_{name}": getattr(row, name) for name in KEY},
                    "d": with_digest(row._asdict())["digest"],
                }
                for row in rows
            ],
        )
        after = tuple(getattr(rows[-1], name) for name in KEY)


def upgrade() -> None:
    op.add_column("analytics_series", sa.Column("digest", sa.String(32), nullable=True))
    _backfill()


def downgrade() -> None:
    with op.batch_alter_table("analytics_series") as batch:
        batch.drop_column("digest")
