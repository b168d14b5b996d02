"""What a failed call raises: the server's RFC 9457 problem, as an exception of its status."""

from __future__ import annotations

import datetime as dt
import email.utils

import httpx
from pydantic import ValidationError

from tanktop.errors import Problem


class ProblemError(Exception):
    """The server refused or failed a call; `problem` holds its answer (`type`, `title`,
    `status`, `detail`, and `errors` for invalid requests)."""

    def __init__(self, problem: Problem, *, retry_after: float | None = None) -> None:
        super().__init__(f"{problem.status} {problem.title}: {problem.detail}")
        self.problem = problem
        self.status = problem.status
        self.detail = problem.detail
        self.retry_after = retry_after
        """Seconds the server asked to wait before trying again (429, 503), if it said."""


class BadRequestError(ProblemError):
    """400: the call itself is wrong (the detail says how); sending it again will not help."""


class UnauthorizedError(ProblemError):
    """401: no such API key (or it was revoked), or no valid access token."""


class ForbiddenError(ProblemError):
    """403: the key or token may not do this."""


class NotFoundError(ProblemError):
    """404: no such user, item, request or model."""


class ConflictError(ProblemError):
    """409: the change conflicts with what is stored."""


class RateLimitedError(ProblemError):
    """429: over the key's budget; still so after the client's retries."""


class UnavailableError(ProblemError):
    """503: the server cannot serve now (its database is away or busy); still so after the
    client's retries."""


_BY_STATUS: dict[int, type[ProblemError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitedError,
    503: UnavailableError,
}


def retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds: given as seconds or as an HTTP date; None when absent."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def problem_error(response: httpx.Response) -> ProblemError:
    """The exception for an error answer (one not in problem+json becomes a problem too)."""
    try:
        problem = Problem.model_validate_json(response.content)
    except ValidationError:
        problem = Problem(
            type="about:blank",
            title=response.reason_phrase or "Error",
            status=response.status_code,
            detail=response.text[:500] or response.reason_phrase,
        )
    kind = _BY_STATUS.get(response.status_code, ProblemError)
    return kind(problem, retry_after=retry_after(response))
