"""The dependencies that authenticate a request: a service's API key in the path, an OAuth
app's bearer token (`/api/1/me/…`), the operator's admin token. Tenants, keys and secrets
themselves are the `tenants` domain; each authentication is followed by its rate limit, a
dependency of its own."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request

from tanktop.db import Database
from tanktop.errors import Forbidden, InvalidToken, Unauthorized
from tanktop.oauth import service as oauth
from tanktop.redaction import KEY_PATTERN, key_label
from tanktop.tenants.ratelimit import RateLimiter, rate_limited
from tanktop.tenants.service import KeyCache, Service

ApiKey = Annotated[
    str,
    Path(
        description="Your service's API key (from `tanktop keys create`).",
        examples=["tt_your_api_key"],
    ),
]


async def api_key(request: Request, apikey: ApiKey) -> Service:
    """The service whose key is in the path; 401 when the key is unknown or revoked."""
    cache: KeyCache = request.app.state.key_cache
    service = await cache.lookup(apikey) if KEY_PATTERN.fullmatch(apikey) else None
    if service is None:
        raise Unauthorized(f"API key {key_label(apikey)} is unknown or revoked.")
    return service


ServiceDep = Annotated[Service, Depends(rate_limited(api_key))]
"""The service a `/api/1/<apikey>/` request acts for: authenticated, then rate-limited."""


@dataclass(frozen=True, slots=True)
class Bearer:
    """An OAuth app acting for one user of one service (`/api/1/me/…`)."""

    service: Service
    user_id: str
    client_id: str
    scopes: frozenset[str]
    rate_key: int
    """The app's number in the shared rate limiter."""
    rate_limit: int | None
    """The app's own limit per window (None: `TANKTOP_OAUTH_RATE_LIMIT`)."""


async def bearer_token(request: Request) -> Bearer:
    """`Authorization: Bearer <access token>`: 401 (RFC 6750 `WWW-Authenticate`) when it is
    missing, unknown, expired or revoked."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken(
            "Send Authorization: Bearer <access token> (from the service's /oauth/ endpoints).",
            headers={"WWW-Authenticate": 'Bearer realm="tanktop"'},
        )
    db: Database = request.app.state.db
    grant = await oauth.authenticate_bearer(db, token=token.strip())
    cache: KeyCache = request.app.state.key_cache
    service = None if grant is None else await cache.by_id(grant.service_id)
    if grant is None or service is None:
        raise InvalidToken(
            "The access token is unknown, expired or revoked; refresh it or ask the user again.",
            headers={
                "WWW-Authenticate": 'Bearer realm="tanktop", error="invalid_token", '
                'error_description="The access token is unknown, expired or revoked"'
            },
        )
    return Bearer(
        service, grant.user_id, grant.client_id, grant.scopes, grant.rate_key, grant.rate_limit
    )


async def current_bearer(
    request: Request, bearer: Annotated[Bearer, Depends(bearer_token)]
) -> Bearer:
    """The bearer, once its app is within its own rate limit (429 past it)."""
    limiter: RateLimiter = request.app.state.rate_limiter
    await limiter.admit(
        bearer.rate_key, "app", what="requests from this app", limit=bearer.rate_limit
    )
    return bearer


def bearer_with(scope: str) -> Callable[[Bearer], Awaitable[Bearer]]:
    """A dependency: a valid token that carries `scope` (403 naming it otherwise)."""

    async def with_scope(bearer: Annotated[Bearer, Depends(current_bearer)]) -> Bearer:
        if scope not in bearer.scopes:
            raise Forbidden(
                f"This access token lacks the scope {scope!r}; ask the user again with it.",
                headers={
                    "WWW-Authenticate": f'Bearer realm="tanktop", error="insufficient_scope", '
                    f'scope="{scope}"'
                },
                scope=scope,
            )
        return bearer

    return with_scope


async def require_admin(request: Request) -> None:
    """The operator's bearer token (`TANKTOP_ADMIN_TOKEN`); the admin API is off without one."""
    token: str | None = request.app.state.settings.admin_token
    if not token:
        raise Forbidden("The admin API is disabled: set TANKTOP_ADMIN_TOKEN to enable it.")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise Unauthorized(
            "Send Authorization: Bearer <TANKTOP_ADMIN_TOKEN>.",
            headers={"WWW-Authenticate": "Bearer"},
        )


AdminDep = Depends(require_admin)

AUTHENTICATIONS = (api_key, require_admin, bearer_token)
"""The dependencies that authenticate a request; every /api/ and /admin/ route uses one."""
