"""A Python client for the Tank Top API, on httpx: `Client` and `AsyncClient` for a service
(its API key), `UserClient` and `AsyncUserClient` for one user who connected an app (their
OAuth access token).

Answers are the server's own models (`Profile`, `Bookmark`, `Recommendation`, …); errors are
`ProblemError`s by status; `429` and `503` are retried after the server's `Retry-After`;
`post_events` sends any number of events, 1,000 per request.
"""

from tanktop.analytics.schemas import (
    EngagementAnswer,
    EventsAnswer,
    RetentionAnswer,
    TopAnswer,
    UsersAnswer,
    UserStatsAnswer,
)
from tanktop.bookmarks.schemas import Bookmark
from tanktop.client.calls import Call
from tanktop.client.clients import (
    NO_RETRIES,
    AsyncClient,
    AsyncUserClient,
    Client,
    Retries,
    UserClient,
)
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
from tanktop.oauth.schemas import ConnectedApp, DeviceDecision, PendingRequest
from tanktop.profiles.schemas import Profile
from tanktop.recommendations.schemas import LiveRecommendation, Reason, Recommendation
from tanktop.sections.schemas import Page, Row, Section, SectionBody

__all__ = [
    "NO_RETRIES",
    "AsyncClient",
    "AsyncUserClient",
    "BadRequestError",
    "BatchEvent",
    "Bookmark",
    "Call",
    "Client",
    "ConflictError",
    "ConnectedApp",
    "Delivery",
    "DeviceDecision",
    "EngagementAnswer",
    "EventList",
    "EventsAnswer",
    "ForbiddenError",
    "LiveRecommendation",
    "NotFoundError",
    "Notification",
    "Page",
    "PendingRequest",
    "PersonalizedList",
    "ProblemError",
    "Profile",
    "RateLimitedError",
    "Reason",
    "Recommendation",
    "RetentionAnswer",
    "Retries",
    "Row",
    "Section",
    "SectionBody",
    "TopAnswer",
    "UnauthorizedError",
    "UnavailableError",
    "UserClient",
    "UserStatsAnswer",
    "UsersAnswer",
]
