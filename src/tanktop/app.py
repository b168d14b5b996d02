"""The ASGI application: routers, error handlers, middleware and the process's resources."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from tanktop import __version__, migrations
from tanktop.analytics.impressions import ImpressionRecorder
from tanktop.analytics.rollup import BESIDE_API_BATCH, RollupSchedule
from tanktop.analytics.router import router as analytics_router
from tanktop.analytics.upkeep import SummariseItemDays
from tanktop.bookmarks.live import close_stale_sessions, rederive_late_schedules, viewing_deriver
from tanktop.bookmarks.memo import BookmarksMemo
from tanktop.bookmarks.router import router as bookmarks_router
from tanktop.catalog.facts import CatalogFacts
from tanktop.catalog.router import router as catalog_router
from tanktop.config import Settings
from tanktop.console.router import install as install_console
from tanktop.db import Database
from tanktop.errors import problem_components
from tanktop.events.router import router as events_router
from tanktop.events.writer import EventWriter
from tanktop.handlers import install_error_handlers
from tanktop.middleware import Observed, RequestGuard, RetryOnFault
from tanktop.notifications.delivery import deliver_due_notifications
from tanktop.notifications.matcher import match_catalog_changes
from tanktop.notifications.router import router as notifications_router
from tanktop.oauth.devlogin import router as oauth_dev_login_router
from tanktop.oauth.resources import router as oauth_resources_router
from tanktop.oauth.router import router as oauth_router
from tanktop.oauth.router import service_router as oauth_service_router
from tanktop.oauth.service import sweep_expired as sweep_expired_oauth
from tanktop.openapi import name_inline_models
from tanktop.operations import metrics_router
from tanktop.operations import router as operations_router
from tanktop.profiles.router import router as profiles_router
from tanktop.recommendations.admin import router as recommender_settings_router
from tanktop.recommendations.router import router as recommendations_router
from tanktop.recommendations.service import ModelCache, RetrainSchedule
from tanktop.routeindex import install as install_route_index
from tanktop.sections.popular import PopularCopy
from tanktop.sections.router import list_router as section_list_router
from tanktop.sections.router import router as sections_router
from tanktop.tenants.ratelimit import RateLimiter, token_store
from tanktop.tenants.service import KeyCache
from tanktop.worker import WorkerTask, run_worker

DESCRIPTION = """
Personal features for TV and movie apps: user profiles, events and lists, availability
notifications, bookmarks and recommendations. Every path starts with `/api/1/<apikey>/` and
works with or without its trailing slash. Errors are RFC 9457 problem details.
"""


def worker_tasks(beside_api: bool = False) -> list[WorkerTask]:
    """What a worker runs (fresh for each, as a task may keep its own schedule): each task
    does one bounded batch of due work per round. `beside_api`: the worker of an API process,
    on the event loop that answers its requests (smaller batches where they cost it)."""
    return [
        match_catalog_changes,
        deliver_due_notifications,
        close_stale_sessions,
        rederive_late_schedules,
        RetrainSchedule(),
        RollupSchedule(BESIDE_API_BATCH if beside_api else None),
        SummariseItemDays(),
        sweep_expired_oauth,
    ]


def operation_id(route: APIRoute) -> str:
    """A route's OpenAPI operation id is its `name` (`events.post`, `profiles.get`): the names
    a generated client gives its functions and modules."""
    return route.name


GC_THRESHOLDS = (10_000, 20, 10)
"""The collector's young generation holds 10,000 objects (Python's default: 700). A request
allocates thousands, so at 700 a collection ran mid-request several times each and moved
what that request still held to the old generation; every few dozen section pages that
triggered a full pass (15-25 ms): the page's p99. At 10,000, with one API process under
`bench.sections`, full passes stop (10 in 400 pages -> none) and the page's CPU p99 fell
46 -> 35 ms."""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the database opens (and migrates) when the lifespan starts."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(
            settings.database_url,
            pool_size=settings.db_pool_size,
            pool_timeout=settings.db_pool_timeout_seconds,
            statement_timeout_ms=settings.db_statement_timeout_ms,
        )
        if settings.migrate_on_start:
            await migrations.upgrade(db)
        app.state.db = db
        app.state.key_cache = KeyCache(db, settings.key_cache_seconds)
        app.state.model_cache = ModelCache(db, settings.model_refresh_seconds)
        app.state.catalog_facts = CatalogFacts()
        app.state.bookmarks_memo = BookmarksMemo()
        app.state.popular_copy = PopularCopy(settings.popular_refresh_seconds)
        tokens = token_store(db, settings.redis_url, settings.rate_window_seconds)
        app.state.rate_limiter = limiter = RateLimiter(
            tokens,
            {
                "read": settings.rate_limit_reads,
                "write": settings.rate_limit_writes,
                "app": settings.oauth_rate_limit,
                "start": settings.oauth_start_rate_limit,
            },
            settings.rate_window_seconds,
        )
        app.state.event_writer = writer = EventWriter(
            db, derive=viewing_deriver(settings), max_queued=settings.event_queue_limit
        )
        writer.start()
        app.state.impression_recorder = recorder = ImpressionRecorder(
            db,
            max_buffer=settings.impression_buffer,
            flush_seconds=settings.impression_flush_seconds,
        )
        recorder.start()
        # Long-lived start-up objects need no more garbage-collector passes: fewer pauses.
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        stop = asyncio.Event()
        listener = asyncio.create_task(db.listen(stop))  # new models, work for the worker
        worker = (
            asyncio.create_task(
                run_worker(
                    db, settings, stop, worker_tasks(beside_api=True), settings.worker_idle_seconds
                )
            )
            if settings.run_worker
            else None
        )
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker
            await listener
            await writer.close()
            await recorder.close()
            await limiter.close()
            await tokens.close()
            await db.dispose()

    app = FastAPI(
        title="Tank Top API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        redirect_slashes=False,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(oauth_resources_router)  # /api/1/me/…, ahead of /api/1/{apikey}/…
    app.include_router(section_list_router)  # one route, ahead of /list/<userid>/<itemtype>/
    app.include_router(events_router)  # the hot path matches soonest
    app.include_router(operations_router)
    app.include_router(profiles_router)
    app.include_router(notifications_router)
    app.include_router(bookmarks_router)
    app.include_router(recommendations_router)
    app.include_router(sections_router)
    app.include_router(catalog_router)
    app.include_router(recommender_settings_router)
    app.include_router(oauth_router)
    app.include_router(oauth_service_router)
    if settings.oauth_dev_login:
        app.include_router(oauth_dev_login_router)
    app.include_router(analytics_router)
    app.include_router(metrics_router)
    install_console(app, settings)
    install_route_index(app)
    app.add_middleware(RetryOnFault)  # innermost: replays what the guard read
    app.add_middleware(
        RequestGuard,
        max_body_bytes=settings.max_body_bytes,
        max_batch_bytes=settings.max_batch_body_bytes,
    )
    app.add_middleware(Observed)  # outermost: ids every log line, counts what the guard refuses
    _add_problem_schema(app)

    return app


def _add_problem_schema(app: FastAPI) -> None:
    """Describe errors as they are: the `Problem` schema, and 400 (never FastAPI's 422)."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            schemas.update(problem_components())
            name_inline_models(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` (used by `tanktop serve`): settings from the environment."""
    return create_app(Settings())
