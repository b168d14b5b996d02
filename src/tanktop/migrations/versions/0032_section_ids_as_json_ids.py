"""Editorial sections' `params.ids` stored as JSON ids: a canonical integer as a number, as
definitions have been written since (API.md's convention for ids in JSON bodies). Rows stored
before held every id as text; rewriting them once keeps reading a definition free of a second
pass over its params.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-01
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from tanktop.db import JSONDocument
from tanktop.ids import json_id

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SECTIONS = sa.table(
    "sections",
    sa.column("service_id", sa.Integer),
    sa.column("section_id", sa.String),
    sa.column("kind", sa.String),
    sa.column("params", JSONDocument),
)


def _rewrite(write: Callable[[str], int | str]) -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(SECTIONS.c.service_id, SECTIONS.c.section_id, SECTIONS.c.params).where(
            SECTIONS.c.kind == "editorial"
        )
    )
    for service_id, section_id, params in rows.all():
        ids = [write(str(i)) for i in params.get("ids", [])]
        if ids != params.get("ids"):
            bind.execute(
                sa.update(SECTIONS)
                .where(SECTIONS.c.service_id == service_id, SECTIONS.c.section_id == section_id)
                .values(params={**params, "ids": ids})
            )


def upgrade() -> None:
    _rewrite(json_id)


def downgrade() -> None:
    _rewrite(str)
