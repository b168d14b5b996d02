"""OAuth: which services run an authorization server, their apps, and what users granted them.

Every secret (client secret, authorization code, access and refresh token, device code) is kept
as its SHA-256 only: they are long random strings, so a fast hash is enough, and a stolen
database yields nothing to present. A *grant* is one consent of one user to one app; the codes
and tokens issued under it form its family, revoked together.
"""

import sqlalchemy as sa

from tanktop.db import JSONDocument, UTCDateTime, metadata

oauth_services = sa.Table(
    "oauth_services",
    metadata,
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
    sa.Column("login_url", sa.String(2000), nullable=False),
    sa.Column("verification_url", sa.String(2000), nullable=False),
    sa.Column("enabled_at", UTCDateTime, nullable=False),
)

oauth_clients = sa.Table(
    "oauth_clients",
    metadata,
    sa.Column("client_id", sa.String(40), primary_key=True),
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("secret_hash", sa.String(64)),
    sa.Column("redirect_uris", JSONDocument, nullable=False),
    sa.Column("scope", sa.String(200), nullable=False),
    sa.Column("rate_key", sa.Integer, nullable=False, unique=True),
    sa.Column("rate_limit", sa.Integer),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
)
"""`rate_key` numbers the app for the shared rate limiter; `rate_limit` overrides
`TANKTOP_OAUTH_RATE_LIMIT` for it (requests per window, all its users together)."""

oauth_requests = sa.Table(
    "oauth_requests",
    metadata,
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
    sa.Column("request_id", sa.String(40), primary_key=True),
    sa.Column("client_id", sa.String(40), nullable=False),
    sa.Column("params", JSONDocument, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
    sa.Column("decided_at", UTCDateTime),
)

oauth_grants = sa.Table(
    "oauth_grants",
    metadata,
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
    sa.Column("user_id", sa.String(32), primary_key=True),
    sa.Column("grant_id", sa.String(40), primary_key=True),
    sa.Column("client_id", sa.String(40), nullable=False),
    sa.Column("scope", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
)

oauth_codes = sa.Table(
    "oauth_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), nullable=False),
    sa.Column("user_id", sa.String(32), nullable=False),
    sa.Column("grant_id", sa.String(40), nullable=False),
    sa.Column("client_id", sa.String(40), nullable=False),
    sa.Column("redirect_uri", sa.String(2000)),
    sa.Column("scope", sa.String(200), nullable=False),
    sa.Column("code_challenge", sa.String(128)),
    sa.Column("code_challenge_method", sa.String(8)),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
    sa.Column("used_at", UTCDateTime),
)

oauth_tokens = sa.Table(
    "oauth_tokens",
    metadata,
    sa.Column("access_hash", sa.String(64), primary_key=True),
    sa.Column("refresh_hash", sa.String(64), unique=True),
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), nullable=False),
    sa.Column("user_id", sa.String(32), nullable=False),
    sa.Column("grant_id", sa.String(40), nullable=False),
    sa.Column("client_id", sa.String(40), nullable=False),
    sa.Column("scope", sa.String(200), nullable=False),
    sa.Column("issued_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("refresh_expires_at", UTCDateTime, index=True),
    sa.Column("refresh_used_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
    sa.Index("ix_oauth_tokens_grant", "service_id", "user_id", "grant_id"),
)

oauth_devices = sa.Table(
    "oauth_devices",
    metadata,
    sa.Column("device_hash", sa.String(64), primary_key=True),
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), nullable=False),
    sa.Column("user_code", sa.String(8), nullable=False),
    sa.Column("client_id", sa.String(40), nullable=False),
    sa.Column("scope", sa.String(200), nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
    sa.Column("interval", sa.Integer, nullable=False),
    sa.Column("polled_at", UTCDateTime),
    sa.Column("user_id", sa.String(32)),
    sa.Column("grant_id", sa.String(40)),
    sa.Column("approved", sa.Boolean),
    sa.Column("used_at", UTCDateTime),
    sa.Index("ix_oauth_devices_user_code", "service_id", "user_code"),
)

oauth_code_failures = sa.Table(
    "oauth_code_failures",
    metadata,
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
    sa.Column("user_id", sa.String(32), primary_key=True),
    sa.Column("window", sa.BigInteger, primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
)
"""Wrong device user codes entered per user and quarter hour: the brake on guessing them."""
