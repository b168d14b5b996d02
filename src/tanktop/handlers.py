"""The app's error handlers: every error, ours (`tanktop.errors.AppError`), the framework's
(unknown routes, wrong methods, validation), a database fault or anything unexpected, answered
as RFC 9457 problem details (`application/problem+json`)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tanktop.errors import (
    PROBLEM_MEDIA_TYPE,
    RETRIED,
    STATUS_ERRORS,
    AppError,
    RetryRequest,
    describe_validation_errors,
    problem_body,
)
from tanktop.faults import DatabaseFault, fault_of

log = logging.getLogger("tanktop.errors")  # the name it logged under in tanktop.errors


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response."""
    body = problem_body(status, title, detail, slug=slug)
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def error_response(error: AppError) -> JSONResponse:
    return problem_response(
        error.status,
        error.title,
        error.detail,
        slug=error.slug,
        headers=error.headers,
        **error.extra,
    )


def unavailable_response(fault: DatabaseFault) -> JSONResponse:
    """503 with `Retry-After`: the database is away, overloaded or slow."""
    return problem_response(
        503,
        "Service unavailable",
        fault.detail,
        slug="unavailable",
        headers={"Retry-After": "1"},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through `problem_response`."""

    @app.exception_handler(AppError)
    async def _app_error(_request: Request, exc: AppError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        summary, items = describe_validation_errors(exc.errors())
        return problem_response(
            400, "Invalid request", summary, slug="invalid-request", errors=items
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        cls = STATUS_ERRORS.get(exc.status_code)
        if exc.status_code == 404:
            detail = "No such endpoint; see /docs for the API."
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed here; see /docs for the API."
        else:
            detail = str(exc.detail)
        title = cls.title if cls else "Error"
        slug = cls.slug if cls else None
        return problem_response(
            exc.status_code, title, detail, slug=slug, headers=dict(exc.headers or {})
        )

    @app.exception_handler(DatabaseFault)
    async def _fault(request: Request, exc: DatabaseFault) -> JSONResponse:
        if exc.retryable and not request.scope.get(RETRIED):
            raise RetryRequest from exc
        return unavailable_response(exc)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        fault = fault_of(exc)  # a database error raised outside `Database.read()/write()`
        if fault is not None:
            return unavailable_response(fault)
        log.error("unhandled error: %s", type(exc).__name__, exc_info=exc)
        return problem_response(
            500,
            "Internal server error",
            "Something went wrong on our side; the request was not applied.",
            slug="internal",
        )
