"""Services (tenants), their API keys (stored hashed), webhook signing secrets, and the
rate-limit budget each key spends per window."""

import sqlalchemy as sa

from tanktop.db import UTCDateTime, metadata

services = sa.Table(
    "services",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("webhook_url", sa.String(2000)),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_hash", sa.String(64), primary_key=True),
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), nullable=False, index=True),
    sa.Column("label", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
)

signing_secrets = sa.Table(
    "signing_secrets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), nullable=False, index=True),
    sa.Column("secret", sa.String(100), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime),
)

rate_windows = sa.Table(
    "rate_windows",
    metadata,
    sa.Column("service_id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(8), primary_key=True),
    sa.Column("window", sa.BigInteger, primary_key=True),
    sa.Column("used", sa.Integer, nullable=False),
)
