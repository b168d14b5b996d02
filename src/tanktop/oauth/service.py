"""OAuth rules: which services and apps take part, the protocol endpoints (Authlib on a snapshot
read beforehand), the service's approve and deny calls, and users' connected apps."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import InvalidGrantError
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from sqlalchemy.ext.asyncio import AsyncConnection

from tanktop.config import Settings
from tanktop.db import Database, utcnow
from tanktop.errors import BadRequest, Conflict, NotFound, TooManyRequests
from tanktop.ids import is_user_id
from tanktop.oauth import models as m
from tanktop.oauth import queries
from tanktop.oauth.schemas import ConnectedApp, Decision, DeviceDecision, PendingRequest
from tanktop.oauth.server import Request, Response, Server, normalise_user_code, run_protocol
from tanktop.tenants import service as tenants
from tanktop.tenants.service import Service

USER_CODE_TRIES = 10
"""Wrong device user codes a user may enter per quarter hour before every try gets 429."""
_TRY_WINDOW_SECONDS = 900

SCOPES = m.SCOPES
"""What an app may ask for (for forms that register one)."""

ENDPOINTS = {
    "device": "device_authorization",
    "revoke": "revocation",
    "introspect": "introspection",
}


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """An app as the operator sees it (the secret is shown once, at creation, never again)."""

    client_id: str
    name: str
    public: bool
    redirect_uris: tuple[str, ...]
    scope: str
    revoked: bool
    rate_limit: int | None


@dataclass(frozen=True, slots=True)
class NewClient:
    client_id: str
    client_secret: str | None


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """What a live access token lets its app do: act for one user of one service."""

    service_id: int
    user_id: str
    client_id: str
    scopes: frozenset[str]
    rate_key: int
    rate_limit: int | None


# Operator: enabling a service, registering apps


def check_redirect_uri(uri: str) -> str:
    """An app's redirect URI: https, http on loopback (RFC 8252 7.3), or a private-use scheme
    with a dot (`com.example.tv:/cb`, RFC 8252 7.1); never a fragment."""
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        raise BadRequest(f"redirect URI {uri!r} may not have a fragment")
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1", "localhost"):
        return uri
    if "." in parts.scheme and parts.scheme not in ("http", "https") and parts.path:
        return uri
    raise BadRequest(
        f"redirect URI {uri!r} must be https, http on loopback, or a private-use scheme "
        "such as com.example.app:/callback"
    )


def check_page_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise BadRequest(f"{what} must be an http(s) URL without a fragment, not {url!r}")
    return url


def check_scopes(scopes: Sequence[str]) -> str:
    unknown = sorted(set(scopes) - set(m.SCOPES))
    if unknown:
        raise BadRequest(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(m.SCOPES)}")
    return m.scope_text(tuple(scopes) or m.SCOPES)


async def _named(db: Database, name: str) -> Service:
    service = await tenants.service_by_name(db, name=name)
    if service is None:
        raise NotFound(f"no service named {name!r}")
    return service


async def enable(
    db: Database, *, name: str, login_url: str, verification_url: str | None = None
) -> None:
    """Run an authorization server for service `name` (again: change its pages)."""
    service = await _named(db, name)
    if not all(ch.isalnum() or ch in "_.-" for ch in name):
        raise BadRequest(f"service name {name!r} must be URL-safe (letters, digits, _ . -)")
    login_url = check_page_url(login_url, "--login-url")
    verification_url = check_page_url(verification_url or login_url, "--verification-url")
    async with db.write() as conn:
        await queries.upsert_service(conn, service.id, login_url, verification_url, utcnow())


async def create_client(
    db: Database,
    *,
    service_name: str,
    name: str,
    redirect_uris: Sequence[str],
    public: bool,
    scopes: Sequence[str] = (),
    rate_limit: int | None = None,
) -> NewClient:
    service = await _named(db, service_name)
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise BadRequest("an app's name must be 1-100 characters")
    uris = [check_redirect_uri(uri) for uri in redirect_uris]
    scope = check_scopes(scopes)
    if rate_limit is not None and rate_limit < 0:
        raise BadRequest("an app's rate limit is a number of requests >= 0 (0: no limit)")
    client_id = "app_" + secrets.token_urlsafe(15)
    secret = None if public else m.new_secret("secret")
    async with db.write() as conn:
        if await queries.select_service(conn, service.id) is None:
            raise BadRequest(f"OAuth is not enabled for {service_name!r}: tanktop oauth enable")
        await queries.insert_client(
            conn,
            {
                "client_id": client_id,
                "service_id": service.id,
                "name": name,
                "secret_hash": None if secret is None else m.digest(secret),
                "redirect_uris": uris,
                "scope": scope,
                "rate_limit": rate_limit,
                "created_at": utcnow(),
            },
        )
    return NewClient(client_id, secret)


async def list_clients(db: Database, *, service_name: str) -> list[ClientInfo]:
    service = await _named(db, service_name)
    async with db.read() as conn:
        clients = await queries.select_clients(conn, service.id)
    return [
        ClientInfo(
            c.client_id, c.name, c.is_public, c.redirect_uris, c.scope, c.revoked, c.rate_limit
        )
        for c in clients
    ]


async def revoke_client(db: Database, *, service_name: str, client_id: str) -> None:
    """The app's tokens stop working at once; it can start no new flow."""
    service = await _named(db, service_name)
    async with db.write() as conn:
        if not await queries.revoke_client(conn, service.id, client_id, utcnow()):
            raise NotFound(f"no active app {client_id!r} in {service_name!r}")


# The protocol endpoints


async def oauth_service(db: Database, *, name: str) -> m.OAuthService:
    """The service named in an `/oauth/<service>/` path; 404 unless it runs OAuth."""
    service = await tenants.service_by_name(db, name=name)
    row = None
    if service is not None:
        async with db.read() as conn:
            row = await queries.select_service(conn, service.id)
    if service is None or row is None:
        raise NotFound(f"no OAuth authorization server for {name!r}")
    return m.OAuthService(service.id, service.name, row.login_url, row.verification_url)


async def _enabled(db: Database, service: Service) -> m.OAuthService:
    async with db.read() as conn:
        row = await queries.select_service(conn, service.id)
    if row is None:
        raise NotFound("OAuth is not enabled for this service (tanktop oauth enable).")
    return m.OAuthService(service.id, service.name, row.login_url, row.verification_url)


async def _snapshot(
    db: Database,
    service: m.OAuthService,
    base_url: str,
    pairs: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
) -> m.Snapshot:
    """Read everything the request's parameters refer to: its clients, code, tokens, device."""
    params = dict(reversed(pairs))  # first value of each, as Authlib reads them
    now = utcnow()
    snapshot = m.Snapshot(service=service, now=now, base_url=base_url)
    try:
        basic_id, _ = extract_basic_authorization(headers)
    except (ValueError, UnicodeError):
        basic_id = None
    async with db.read(snapshot=True) as conn:
        ids = {basic_id or "", params.get("client_id", "")}
        for client in await queries.select_clients(conn, service.id, ids):
            snapshot.clients[client.client_id] = client
        if code := params.get("code"):
            snapshot.code = await queries.select_code(conn, service.id, m.digest(code))
        if device_code := params.get("device_code"):
            snapshot.device = await queries.select_device(
                conn, service.id, m.digest(device_code), now
            )
        if refresh := params.get("refresh_token"):
            snapshot.token = await queries.select_token(
                conn, service.id, m.digest(refresh), now, kinds=("refresh_token",)
            )
        elif token := params.get("token"):
            snapshot.token = await queries.select_token(conn, service.id, m.digest(token), now)
    return snapshot


async def _commit(db: Database, snapshot: m.Snapshot, response: Response) -> Response:
    """Write what the request asked for; a code or refresh token spent meanwhile by another
    request makes this one a reuse: its family is revoked and the answer is invalid_grant."""
    if not snapshot.effects:
        return response
    try:
        async with db.write() as conn:
            await queries.apply_effects(conn, snapshot.service.id, snapshot.effects, snapshot.now)
    except queries.SpentAlready:
        reused = any(isinstance(e, m.SpendCode | m.SpendRefresh) for e in snapshot.effects)
        families = {
            (e.user_id, e.grant_id)
            for e in snapshot.effects
            if isinstance(e, m.SaveToken) and reused
        }
        async with db.write() as conn:
            await queries.apply_effects(
                conn,
                snapshot.service.id,
                [m.RevokeGrant(user, grant) for user, grant in families],
                snapshot.now,
            )
        reuse: Response = InvalidGrantError("The code or token was already used.")()
        return reuse
    return response


def _request(
    snapshot: m.Snapshot,
    method: str,
    path: str,
    headers: Mapping[str, str],
    pairs: Sequence[tuple[str, str]],
) -> Request:
    return Request(method, snapshot.base_url + path, headers, pairs)


async def protocol(
    db: Database,
    *,
    service: m.OAuthService,
    endpoint: str,
    base_url: str,
    headers: Mapping[str, str],
    pairs: Sequence[tuple[str, str]],
    caller_is_service: bool = False,
) -> Response:
    """The token, device, revoke and introspect endpoints: Authlib answers, we write."""
    snapshot = await _snapshot(db, service, base_url, pairs, headers)
    snapshot.caller_is_service = caller_is_service
    server = Server(snapshot)
    path = f"/oauth/{service.name}/{endpoint}"

    def call() -> Response:
        request = _request(snapshot, "POST", path, headers, pairs)
        if endpoint == "token":
            response: Response = server.create_token_response(request)
        else:
            response = server.create_endpoint_response(ENDPOINTS[endpoint], request)
        return response

    response = run_protocol(call)
    return await _commit(db, snapshot, response)


@dataclass(frozen=True, slots=True)
class Redirect:
    url: str


async def authorize(
    db: Database,
    *,
    service: m.OAuthService,
    base_url: str,
    headers: Mapping[str, str],
    pairs: Sequence[tuple[str, str]],
) -> Redirect | Response:
    """Check the request as RFC 6749 and PKCE say, remember it, and send the browser to the
    service's login page with its id. Errors go back to the app's redirect URI only once that URI
    is known to be registered; before that they are answered here (no open redirect)."""
    snapshot = await _snapshot(db, service, base_url, pairs, headers)
    server = Server(snapshot)
    path = f"/oauth/{service.name}/authorize"

    def call() -> Response:
        server.get_consent_grant(_request(snapshot, "GET", path, headers, pairs))
        return 200, "", []

    response = run_protocol(call)
    if response[0] != 200:
        return response
    request_id = secrets.token_urlsafe(24)
    client_id = dict(pairs)["client_id"]
    async with db.write() as conn:
        await queries.insert_request(
            conn,
            {
                "service_id": service.id,
                "request_id": request_id,
                "client_id": client_id,
                "params": [list(pair) for pair in pairs],
                "created_at": snapshot.now,
                "expires_at": snapshot.now + dt.timedelta(seconds=m.REQUEST_SECONDS),
            },
        )
    return Redirect(add_params_to_uri(service.login_url, [("request", request_id)]))


async def pending_request(db: Database, service: Service, *, request_id: str) -> PendingRequest:
    """What the user is asked to consent to."""
    oauth = await _enabled(db, service)
    async with db.read() as conn:
        row = await queries.select_pending_request(conn, oauth.id, request_id, utcnow())
        clients = await queries.select_clients(conn, oauth.id, [row.client_id] if row else [])
    if row is None or not clients:
        raise _no_request(request_id)
    client = clients[0]
    asked = dict(tuple(pair) for pair in row.params).get("scope")
    scope = client.get_allowed_scope(asked) or ""
    return PendingRequest(
        request=request_id,
        client_id=client.client_id,
        client_name=client.name,
        scope=scope.split(),
        expires_at=row.expires_at,
    )


def _no_request(request_id: str) -> NotFound:
    return NotFound(
        f"No pending authorization request {request_id!r}: unknown, expired (10 minutes) or "
        "already decided."
    )


async def decide(
    db: Database, service: Service, *, request_id: str, user_id: str | None, base_url: str
) -> Decision:
    """Approve (a user id) or deny (None) a pending request: Authlib issues the code, or the
    `access_denied` error, on the app's redirect URI, `state` included."""
    if user_id is not None and not is_user_id(user_id):
        raise BadRequest("user_id must be 1-32 characters from A-Z a-z 0-9 _ . : @ -")
    oauth = await _enabled(db, service)
    now = utcnow()
    async with db.read() as conn:
        row = await queries.select_pending_request(conn, oauth.id, request_id, now)
    if row is None:
        raise _no_request(request_id)
    pairs = [(str(k), str(v)) for k, v in row.params]
    snapshot = await _snapshot(db, oauth, base_url, pairs, {})
    server = Server(snapshot)
    request = _request(snapshot, "GET", f"/oauth/{oauth.name}/authorize", {}, pairs)
    request.grant_id = secrets.token_urlsafe(24)
    user = None if user_id is None else m.User(user_id)

    def call() -> Response:
        grant = server.get_consent_grant(request, end_user=user)
        response: Response = server.create_authorization_response(request, user, grant)
        return response

    status, _body, headers = run_protocol(call)
    location = dict(headers).get("Location")
    if status != 302 or location is None:
        raise Conflict(
            "The request can no longer be approved (the app was revoked or changed); "
            "start again from the app."
        )
    try:
        async with db.write() as conn:
            await queries.decide_request(conn, oauth.id, request_id, now)
            await queries.apply_effects(conn, oauth.id, snapshot.effects, now)
    except queries.SpentAlready:
        raise _no_request(request_id) from None
    return Decision(redirect_to=location)


async def decide_device(
    db: Database, service: Service, *, user_code: str, user_id: str, approve: bool
) -> DeviceDecision:
    """The service's verification page, on behalf of its signed-in user. Wrong codes count
    against the user: after `USER_CODE_TRIES` in a quarter hour, every try gets 429."""
    if not is_user_id(user_id):
        raise BadRequest("user_id must be 1-32 characters from A-Z a-z 0-9 _ . : @ -")
    oauth = await _enabled(db, service)
    now = utcnow()
    window = int(now.timestamp() // _TRY_WINDOW_SECONDS)
    code = normalise_user_code(user_code)
    async with db.read() as conn:
        if await queries.code_failures(conn, oauth.id, user_id, window) >= USER_CODE_TRIES:
            wait = (window + 1) * _TRY_WINDOW_SECONDS - int(now.timestamp())
            raise TooManyRequests(
                f"Too many wrong codes for this user; try again in {wait} s.",
                headers={"Retry-After": str(wait)},
            )
        device = await queries.select_pending_device(conn, oauth.id, code, now) if code else None
        clients = await queries.select_clients(conn, oauth.id, [device.client_id] if device else [])
    if device is None or not clients or clients[0].revoked:
        async with db.write() as conn:
            await queries.add_code_failure(conn, oauth.id, user_id, window)
        raise NotFound(f"No pending device authorization has code {user_code!r} (or it expired).")
    client = clients[0]
    grant = m.SaveGrant(user_id, secrets.token_urlsafe(24), client.client_id, device.scope)
    try:
        async with db.write() as conn:
            await queries.decide_device(
                conn,
                oauth.id,
                device.device_hash,
                user_id=user_id,
                grant_id=grant.grant_id if approve else None,
                approved=approve,
            )
            if approve:
                await queries.insert_grant(conn, oauth.id, grant, now)
    except queries.SpentAlready:
        raise NotFound(f"Device code {user_code!r} was decided meanwhile.") from None
    return DeviceDecision(
        client_id=client.client_id, client_name=client.name, scope=device.scope.split()
    )


# The resource API's side


async def authenticate_bearer(db: Database, *, token: str) -> AccessGrant | None:
    """The grant behind an access token; None when it is unknown, expired, or revoked (itself,
    its family, its app, or its user's deactivation). Never cached: revocation is immediate."""
    if not token.startswith(m.TOKEN_PREFIXES["access"]):
        return None
    now = utcnow()
    async with db.read() as conn:
        found = await queries.select_token(
            conn, None, m.digest(token), now, kinds=("access_token",)
        )
    if found is None or found.is_expired() or found.is_revoked():
        return None
    return AccessGrant(
        service_id=found.service_id,
        user_id=found.user_id,
        client_id=found.client_id,
        scopes=frozenset(found.scope.split()),
        rate_key=found.rate_key,
        rate_limit=found.rate_limit,
    )


# Housekeeping

SWEEP_BATCH = 1000
KEEP_EXPIRED = dt.timedelta(days=1)


async def sweep_expired(db: Database, *, settings: Settings) -> int:
    """Worker task: forget authorization requests, codes and device codes a day past their
    expiry, token pairs a day past their refresh token's, and old counts of wrong user codes.
    Spent codes and refresh tokens stay until then, so a late reuse is still caught."""
    now = utcnow()
    cutoff = now - KEEP_EXPIRED
    window = int(now.timestamp() // _TRY_WINDOW_SECONDS)
    async with db.read() as conn:
        if not await queries.any_expired(conn, cutoff, window):
            return 0
    async with db.write() as conn:
        return await queries.delete_expired(conn, cutoff, window, batch=SWEEP_BATCH)


# Connected apps


async def connected_apps(db: Database, service: Service, *, user_id: str) -> list[ConnectedApp]:
    """The apps a user has consented to and not disconnected, one entry per app."""
    async with db.read() as conn:
        rows = await queries.select_user_grants(conn, service.id, user_id)
    apps: dict[str, ConnectedApp] = {}
    for row in rows:
        seen = apps.get(row.client_id)
        scope = set(row.scope.split()) | set(seen.scope if seen else ())
        apps[row.client_id] = ConnectedApp(
            client_id=row.client_id,
            name=row.name,
            scope=m.scope_text(tuple(scope)).split(),
            connected_at=seen.connected_at if seen else row.created_at,
        )
    return list(apps.values())


async def forget_user(conn: AsyncConnection, service: Service, *, user_id: str) -> None:
    """Inside the transaction that deactivates a user: every app they connected stops."""
    await queries.revoke_user_grants(conn, service.id, user_id, utcnow())


async def disconnect(db: Database, service: Service, *, user_id: str, client_id: str) -> None:
    """Revoke every grant of the user to the app: its tokens stop at once."""
    async with db.write() as conn:
        count = await queries.revoke_user_grants(
            conn, service.id, user_id, utcnow(), client_id=client_id
        )
    if count == 0:
        raise NotFound(f"User {user_id!r} has not connected app {client_id!r}.")
