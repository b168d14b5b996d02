"""Trained recommendation models: versioned numpy arrays per service (never pickle)."""

import sqlalchemy as sa

from tanktop.db import JSONDocument, UTCDateTime, metadata

rec_models = sa.Table(
    "rec_models",
    metadata,
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("events", sa.Integer, nullable=False),
    sa.Column("arrays", sa.LargeBinary, nullable=False),
)

rec_settings = sa.Table(
    "rec_settings",
    metadata,
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("weights", JSONDocument, nullable=False),
    sa.Column("params", JSONDocument, nullable=False),
)
"""The operator's recommender settings per service, every version kept (the newest is the one
training and serving use)."""

rec_tuning_reports = sa.Table(
    "rec_tuning_reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("trials", sa.Integer, nullable=False),
    sa.Column("report", JSONDocument, nullable=False),
    sa.Column("applied_version", sa.Integer),
)
"""Each `tanktop recs tune` run: current against tuned on the holdout, what it would change,
and the settings version it stored (`--apply`), for the console's Recommender page."""
