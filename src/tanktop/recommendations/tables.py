"""Trained recommendation models: versioned numpy arrays per service (never pickle)."""

import sqlalchemy as sa

from tanktop.db import UTCDateTime, metadata

rec_models = sa.Table(
    "rec_models",
    metadata,
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("events", sa.Integer, nullable=False),
    sa.Column("arrays", sa.LargeBinary, nullable=False),
)
