"""Notification requests, the webhook outbox (deliveries) and the log of every attempt."""

import sqlalchemy as sa

from tanktop.db import JSONDocument, UTCDateTime, metadata

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

notification_requests = sa.Table(
    "notification_requests",
    metadata,
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), primary_key=True),
    sa.Column("user_id", sa.String(32), primary_key=True),
    sa.Column("item_type", sa.String(16), primary_key=True),
    sa.Column("item_id", sa.String(100), primary_key=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("source_ids", JSONDocument, nullable=False),
    sa.Column("price", sa.Integer),
    sa.Column("hd", sa.Boolean, nullable=False),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("notified", sa.Boolean, nullable=False),
    sa.Column("notified_at", UTCDateTime),
    sa.Column("failed", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # Matching looks requests up by the item that changed, across services.
    sa.Index("ix_notification_requests_item", "item_type", "item_id"),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id"), nullable=False),
    sa.Column("user_id", sa.String(32), nullable=False),
    sa.Column("item_type", sa.String(16), nullable=False),
    sa.Column("item_id", sa.String(100), nullable=False),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("content_type", sa.String(16), nullable=False),
    sa.Column("content_id", sa.String(64), nullable=False),
    sa.Column("webhook_id", sa.String(40), nullable=False, unique=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.String(1000)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime),
    # Once per request generation and content item: the outbox itself refuses duplicates.
    sa.UniqueConstraint(
        "service_id",
        "user_id",
        "item_type",
        "item_id",
        "generation",
        "content_type",
        "content_id",
        name="uq_webhook_deliveries_once",
    ),
    sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_request", "service_id", "user_id", "item_type", "item_id"),
)

delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "delivery_id",
        BigId,
        sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("error", sa.String(1000)),
    sa.Column("response", sa.Text),
)
