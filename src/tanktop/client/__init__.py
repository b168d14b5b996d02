"""A Python client for the Tank Top API, sync (`Client`) and async (`AsyncClient`), on httpx.

Answers are the server's own models (`Profile`, `Bookmark`, `Recommendation`, …); errors are
`ProblemError`s by status; `429` and `503` are retried after the server's `Retry-After`;
`post_events` sends any number of events, 1,000 per request.
"""

from tanktop.bookmarks.schemas import Bookmark
from tanktop.client.calls import Call
from tanktop.client.clients import NO_RETRIES, AsyncClient, Client, Retries
from tanktop.client.errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ProblemError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
)
from tanktop.events.schemas import BatchEvent, EventList, PersonalizedList
from tanktop.notifications.schemas import Delivery, Notification
from tanktop.profiles.schemas import Profile
from tanktop.recommendations.schemas import LiveRecommendation, Reason, Recommendation
from tanktop.sections.schemas import Page

__all__ = [
    "NO_RETRIES",
    "AsyncClient",
    "BadRequestError",
    "BatchEvent",
    "Bookmark",
    "Call",
    "Client",
    "ConflictError",
    "Delivery",
    "EventList",
    "ForbiddenError",
    "LiveRecommendation",
    "NotFoundError",
    "Notification",
    "Page",
    "PersonalizedList",
    "ProblemError",
    "Profile",
    "RateLimitedError",
    "Reason",
    "Recommendation",
    "Retries",
    "UnauthorizedError",
    "UnavailableError",
]
