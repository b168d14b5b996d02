"""OAuth: services' authorization servers, apps, grants, codes, tokens and device codes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tanktop.db import JSONDocument, UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_clients",
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=True),
        sa.Column("redirect_uris", JSONDocument, nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("rate_key", sa.Integer(), nullable=False),
        sa.Column("rate_limit", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_oauth_clients_service_id_services")
        ),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_oauth_clients")),
        sa.UniqueConstraint("rate_key", name=op.f("uq_oauth_clients_rate_key")),
    )
    op.create_index(op.f("ix_oauth_clients_service_id"), "oauth_clients", ["service_id"])

    op.create_table(
        "oauth_code_failures",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("window", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_oauth_code_failures_service_id_services")
        ),
        sa.PrimaryKeyConstraint(
            "service_id", "user_id", "window", name=op.f("pk_oauth_code_failures")
        ),
    )
    op.create_table(
        "oauth_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("grant_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=True),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=True),
        sa.Column("code_challenge_method", sa.String(length=8), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_oauth_codes_service_id_services")
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_oauth_codes")),
    )
    op.create_table(
        "oauth_devices",
        sa.Column("device_hash", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("user_code", sa.String(length=8), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("polled_at", UTCDateTime(), nullable=True),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("grant_id", sa.String(length=40), nullable=True),
        sa.Column("approved", sa.Boolean(), nullable=True),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_oauth_devices_service_id_services")
        ),
        sa.PrimaryKeyConstraint("device_hash", name=op.f("pk_oauth_devices")),
    )
    op.create_index("ix_oauth_devices_user_code", "oauth_devices", ["service_id", "user_code"])

    op.create_table(
        "oauth_grants",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("grant_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_oauth_grants_service_id_services")
        ),
        sa.PrimaryKeyConstraint("service_id", "user_id", "grant_id", name=op.f("pk_oauth_grants")),
    )
    op.create_table(
        "oauth_requests",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("params", JSONDocument, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_oauth_requests_service_id_services")
        ),
        sa.PrimaryKeyConstraint("service_id", "request_id", name=op.f("pk_oauth_requests")),
    )
    op.create_table(
        "oauth_services",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("login_url", sa.String(length=2000), nullable=False),
        sa.Column("verification_url", sa.String(length=2000), nullable=False),
        sa.Column("enabled_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_oauth_services_service_id_services")
        ),
        sa.PrimaryKeyConstraint("service_id", name=op.f("pk_oauth_services")),
    )
    op.create_table(
        "oauth_tokens",
        sa.Column("access_hash", sa.String(length=64), nullable=False),
        sa.Column("refresh_hash", sa.String(length=64), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("grant_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("refresh_expires_at", UTCDateTime(), nullable=True),
        sa.Column("refresh_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_oauth_tokens_service_id_services")
        ),
        sa.PrimaryKeyConstraint("access_hash", name=op.f("pk_oauth_tokens")),
        sa.UniqueConstraint("refresh_hash", name=op.f("uq_oauth_tokens_refresh_hash")),
    )
    op.create_index("ix_oauth_tokens_grant", "oauth_tokens", ["service_id", "user_id", "grant_id"])


def downgrade() -> None:
    op.drop_table("oauth_tokens")
    op.drop_table("oauth_services")
    op.drop_table("oauth_requests")
    op.drop_table("oauth_grants")
    op.drop_table("oauth_devices")
    op.drop_table("oauth_codes")
    op.drop_table("oauth_code_failures")
    op.drop_table("oauth_clients")
