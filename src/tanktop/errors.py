"""One error hierarchy, rendered as RFC 9457 problem details (`application/problem+json`).

Domains raise `AppError` subclasses; the app's handlers (`tanktop.handlers`) turn those,
framework errors (unknown routes, wrong methods, validation) and anything unexpected into the
same shape. Nothing here imports the web framework: the command line raises and prints these too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

PROBLEM_TYPE_BASE = "https://tanktop.tv/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemLocation(BaseModel):
    """One thing wrong with a request: where, and what."""

    location: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details: the body of every error answer (`application/problem+json`)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://tanktop.tv/problems/not-found",
                    "title": "Not found",
                    "status": 404,
                    "detail": "User '7' has no active profile.",
                }
            ]
        },
    )

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ProblemLocation] | None = None
    """Invalid requests: each field at fault."""


class AppError(Exception):
    """An error a client can act on; `status`, `slug` and `title` name its problem type."""

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


class BadRequest(AppError):
    pass


class Unauthorized(AppError):
    status = 401
    slug = "unauthorized"
    title = "Unknown or revoked API key"


class InvalidToken(Unauthorized):
    """RFC 6750: a missing, unknown, expired or revoked bearer token."""

    slug = "invalid-token"
    title = "Invalid or expired access token"


class Forbidden(AppError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class NotFound(AppError):
    status = 404
    slug = "not-found"
    title = "Not found"


class MethodNotAllowed(AppError):
    status = 405
    slug = "method-not-allowed"
    title = "Method not allowed"


class Conflict(AppError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class PayloadTooLarge(AppError):
    status = 413
    slug = "payload-too-large"
    title = "Request body too large"


class UnsupportedMediaType(AppError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class TooManyRequests(AppError):
    status = 429
    slug = "too-many-requests"
    title = "Too many requests"


STATUS_ERRORS: dict[int, type[AppError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        TooManyRequests,
    )
}


PROBLEM_REF = "#/components/schemas/Problem"


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the problems an endpoint can answer with."""
    names = {cls.status: cls.title for cls in STATUS_ERRORS.values()}
    names[400] = "Invalid request: the detail says what to fix"
    return {
        status: {
            "description": names.get(status, "Error"),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
        }
        for status in statuses
    }


def problem_components() -> dict[str, dict[str, Any]]:
    """The `Problem` component schema (and those it refers to), for the OpenAPI document."""
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components: dict[str, dict[str, Any]] = schema.pop("$defs", {})
    components["Problem"] = schema
    return components


def problem_body(
    status: int, title: str, detail: str, *, slug: str | None = None
) -> dict[str, Any]:
    """The one place the RFC 9457 members are named."""
    return {
        "type": PROBLEM_TYPE_BASE + (slug or str(status)),
        "title": title,
        "status": status,
        "detail": detail,
    }


def describe_validation_errors(errors: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    """A one-line summary and a list of `{location, message}` a developer can act on."""
    items = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body",)]
        where = ".".join(loc) if loc else "body"
        items.append({"location": where, "message": err.get("msg", "invalid")})
    summary = "; ".join(f"{i['location']}: {i['message']}" for i in items) or "invalid request"
    return summary, items


RETRIED = "tanktop.retried"
"""Scope key set on a request's second run (`tanktop.middleware.RetryOnFault`)."""


class RetryRequest(Exception):
    """Raised instead of answering a request whose database work met a fault that running it
    again may cure (see `DatabaseFault.retryable`); `RetryOnFault` runs it once more."""
