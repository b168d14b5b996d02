"""Section definitions: the rows of a service's home page (API.md "Section Lists").

What each user does with a section (hide, pin, rate, click) is not here: those are ordinary
events on item type `section`, in the events domain's lists and history.
"""

import sqlalchemy as sa

from tanktop.db import JSONDocument, UTCDateTime, metadata

sections = sa.Table(
    "sections",
    metadata,
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
    sa.Column("section_id", sa.String(64), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("item_type", sa.String(64)),
    sa.Column("params", JSONDocument, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("max_items", sa.Integer, nullable=False),
    sa.Column("locked", sa.Boolean, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
