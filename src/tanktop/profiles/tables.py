"""Profiles: one JSON document per (service, user); deactivation keeps the row, not the data."""

import sqlalchemy as sa

from tanktop.db import JSONDocument, UTCDateTime, metadata

profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
    sa.Column("user_id", sa.String(32), primary_key=True),
    sa.Column("data", JSONDocument, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
