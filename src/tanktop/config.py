"""Settings read from `TANKTOP_*` environment variables, so one build runs anywhere."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator can set; defaults give a working server on SQLite."""

    model_config = SettingsConfigDict(env_prefix="TANKTOP_", frozen=True)

    database_url: str = Field(
        default="sqlite:///tanktop.db",
        description="sqlite:///path/to/file.db or postgresql://user@host:port/db",
    )
    admin_token: str | None = Field(
        default=None, description="Bearer token of the admin API (/admin/1/); unset: disabled."
    )
    max_body_bytes: int = 64 * 1024
    max_batch_body_bytes: int = Field(
        default=1024 * 1024, description="Body limit of POST /events/ (up to 1,000 events)."
    )
    key_cache_seconds: float = Field(
        default=2.0, description="How long an API process trusts a key lookup (revocation delay)."
    )
    db_pool_size: int = 20
    db_pool_timeout_seconds: float = Field(
        default=3.0,
        gt=0,
        description="How long a request waits for a database connection (SQLite: the write "
        "lock, or another process's lock) before it is answered 503.",
    )
    db_statement_timeout_ms: int = Field(
        default=5000,
        ge=0,
        description="PostgreSQL: longest statement of an API request (0: none); workers and "
        "migrations have none.",
    )
    event_queue_limit: int = Field(
        default=20_000,
        ge=1,
        description="Events an API process holds waiting for the group commit; more get 503.",
    )
    rate_limit_reads: int = Field(
        default=10_000, description="GET requests per window and API key (0: no limit)."
    )
    rate_limit_writes: int = Field(
        default=10_000, description="Other requests per window and API key (0: no limit)."
    )
    rate_window_seconds: float = Field(default=1.0, description="Rate-limit window length.")
    redis_url: str | None = Field(
        default=None, description="Share rate limits through Redis instead of the database."
    )
    webhook_allow_private: bool = Field(
        default=False, description="Allow webhooks to loopback/private addresses (tests, labs)."
    )
    webhook_retry_delays: str = Field(
        default="5,300,1800,7200,18000,36000,50400,72000,86400",
        description="Seconds before each retry of a failed webhook (jittered by ±20%).",
    )
    webhook_concurrency: int = 16
    webhook_lease_seconds: float = Field(
        default=60, description="How long a worker holds a webhook it is sending before others may."
    )
    live_session_max_hours: float = Field(
        default=4,
        gt=0,
        description="A channel session lasts at most this long; one with no end is closed at "
        "its start plus this, once its start arrived this long ago.",
    )
    worker_idle_seconds: float = Field(
        default=1.0,
        description="How long an idle worker waits before looking again (new work wakes it).",
    )
    analytics_rollup_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How often a worker that has caught up rolls up analytics: rarer, larger "
        "rounds cost less per event; a new event shows within about this plus a round.",
    )
    migrate_on_start: bool = True
    retrain_after_events: int = Field(
        default=1000, description="Retrain a service's model after this many new events."
    )
    retrain_max_age_seconds: float = Field(
        default=86400, description="Retrain a model older than this (if there were new events)."
    )
    retrain_check_seconds: float = Field(
        default=60, description="How often a worker looks for models to retrain."
    )
    first_model_quiet_seconds: float = Field(
        default=5,
        ge=0,
        description="A service's first model trains once its events have stopped coming this long.",
    )
    model_refresh_seconds: float = Field(
        default=30, description="How often an API process looks for a newer recommendation model."
    )
    popular_refresh_seconds: float = Field(
        default=60,
        description="How old an API process's ranking of a service's popular items may get "
        "before it counts it again (0: every page counts).",
    )
    impression_buffer: int = Field(
        default=100_000,
        description="Impressions an API process buffers before dropping (and counting) more.",
    )
    impression_flush_seconds: float = Field(
        default=1.0, description="How often an API process writes the impressions it buffered."
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="text for people, json for log collectors."
    )
    access_log: bool = Field(
        default=True,
        description="A log line per request (off where a proxy in front logs them: "
        "30-110 µs of CPU each).",
    )
    public_url: str | None = Field(
        default=None,
        description="Where clients reach this server (https://api.example.com): OAuth issuer.",
    )
    oauth_rate_limit: int = Field(
        default=1000,
        description="Requests per window and OAuth app on /api/1/me/ (0: no limit).",
    )
    oauth_start_rate_limit: int = Field(
        default=20,
        description="OAuth flows (authorize, device/code) started per window from one address.",
    )
    oauth_dev_login: bool = Field(
        default=False,
        description="Serve the development OAuth login page (loopback hosts only).",
    )
    run_worker: bool = Field(
        default=True, description="Run the background worker inside each API process."
    )

    console_secret: str | None = Field(
        default=None,
        description="Signs console session cookies; unset: `tanktop serve` makes one per start.",
    )
    console_session_hours: float = Field(
        default=12, description="How long a console sign-in lasts."
    )

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if (
            not value.startswith(("sqlite://", "postgresql://", "postgres://"))
            and "+" not in (value.split("://", 1)[0])
        ):
            raise ValueError("TANKTOP_DATABASE_URL must start with sqlite:// or postgresql://")
        return value

    def retry_delays(self) -> list[float]:
        """`webhook_retry_delays` as seconds."""
        return [float(part) for part in self.webhook_retry_delays.split(",") if part.strip()]
