"""HTTP for OAuth: each service's authorization server under `/oauth/<service>/`, and the calls a
service makes with its own key to approve or deny, and to list and disconnect users' apps."""

from __future__ import annotations

import zlib
from typing import Annotated, Any
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749 import InvalidRequestError
from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from tanktop.auth import ServiceDep
from tanktop.bodies import json_body_openapi, json_object
from tanktop.dependencies import DatabaseDep
from tanktop.errors import BadRequest, problem_responses
from tanktop.oauth import models as m
from tanktop.oauth import schemas
from tanktop.oauth import service as oauth
from tanktop.oauth.server import CLIENT_AUTH_METHODS, GRANT_TYPES
from tanktop.parameters import UserId
from tanktop.redaction import KEY_PATTERN
from tanktop.tenants.ratelimit import RateLimiter
from tanktop.tenants.service import KeyCache, Service

router = APIRouter(tags=["OAuth"])
service_router = APIRouter(prefix="/api/1/{apikey}/oauth", tags=["OAuth"])

ServiceName = Annotated[
    str, Path(description="The service's name (`tanktop oauth enable`).", examples=["tanktop-tv"])
]
RequestId = Annotated[
    str, Path(description="The `request` your login page was given.", max_length=64)
]
ClientId = Annotated[str, Path(description="The app's client_id.", max_length=40)]


async def limit_starts(request: Request) -> None:
    """Flows that store a row before anyone has signed in (an authorization request, a device
    code) are limited per client address, so nobody can fill the tables from one machine.
    Behind a proxy, the address is the one uvicorn's `--forwarded-allow-ips` trusts."""
    limiter: RateLimiter = request.app.state.rate_limiter
    address = request.client.host if request.client else ""
    key = zlib.crc32(address.encode()) & 0x7FFFFFFF
    await limiter.admit(key, "start", what="OAuth flows started from this address")


StartLimited = [Depends(limit_starts)]


def base_url(request: Request) -> str:
    """Where clients reach us: `TANKTOP_PUBLIC_URL`, or the request's own scheme and host."""
    configured: str | None = request.app.state.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


def _answer(response: tuple[int, Any, list[tuple[str, str]]]) -> Response:
    status, body, headers = response
    kept = {k: v for k, v in headers if k.lower() != "content-type"}
    if status == 302:
        return RedirectResponse(kept.pop("Location"), status_code=302, headers=kept)
    return JSONResponse(body, status_code=status, headers=kept)


async def read_form(request: Request) -> list[tuple[str, str]]:
    """RFC 6749 bodies: `application/x-www-form-urlencoded`, UTF-8."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    raw = await request.body()
    if raw and media != "application/x-www-form-urlencoded":
        raise FormError("Send the parameters as application/x-www-form-urlencoded.")
    try:
        return parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        raise FormError("The form body is not valid UTF-8 form encoding.") from None


class FormError(BadRequest):
    """A body that is not a form; the protocol endpoints answer it as RFC 6749 says."""

    def response(self) -> Response:
        return _answer(InvalidRequestError(self.detail)())


_OAUTH_ERROR_JSON = {
    "application/json": {
        "schema": schemas.OAuthError.model_json_schema(),
        "example": {"error": "invalid_grant", "error_description": "Invalid 'code'."},
    }
}
_OAUTH_ERROR = {
    "description": "An RFC 6749 error (`error`, `error_description`).",
    "content": _OAUTH_ERROR_JSON,
}
_OAUTH_400 = {
    "description": "An RFC 6749 error, or a problem with the request's path or size.",
    "content": {**_OAUTH_ERROR_JSON, **problem_responses(400)[400]["content"]},
}
_NO_SERVICE = problem_responses(400, 404)  # 400: a path the guard refuses (%2F, %00)
_FORM_PROBLEMS = problem_responses(404, 413)


def _form_body(
    properties: dict[str, str], required: list[str], example: dict[str, str]
) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            k: {"type": "string", "description": v} for k, v in properties.items()
                        },
                        "required": required,
                    },
                    "example": example,
                }
            },
        }
    }


def _ok(model: type[Any], example: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": model.__doc__ or "OK",
        "content": {"application/json": {"example": example}},
    }


_ISSUER = "https://api.example/oauth/tanktop-tv"
METADATA_EXAMPLE = {
    "issuer": _ISSUER,
    "authorization_endpoint": f"{_ISSUER}/authorize",
    "token_endpoint": f"{_ISSUER}/token",
    "device_authorization_endpoint": f"{_ISSUER}/device/code",
    "revocation_endpoint": f"{_ISSUER}/revoke",
    "introspection_endpoint": f"{_ISSUER}/introspect",
    "scopes_supported": list(m.SCOPES),
    "response_types_supported": ["code"],
    "grant_types_supported": list(GRANT_TYPES),
    "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
    "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
    "code_challenge_methods_supported": ["S256"],
}


@router.get(
    "/.well-known/oauth-authorization-server/oauth/{service}",
    name="oauth.metadata",
    summary="RFC 8414 metadata of a service's authorization server",
    response_model=schemas.Metadata,
    responses={200: _ok(schemas.Metadata, METADATA_EXAMPLE), **_NO_SERVICE},
)
async def metadata(service: ServiceName, request: Request, db: DatabaseDep) -> schemas.Metadata:
    found = await oauth.oauth_service(db, name=service)
    issuer = f"{base_url(request)}/oauth/{found.name}"
    return schemas.Metadata(
        issuer=issuer,
        authorization_endpoint=f"{issuer}/authorize",
        token_endpoint=f"{issuer}/token",
        device_authorization_endpoint=f"{issuer}/device/code",
        revocation_endpoint=f"{issuer}/revoke",
        introspection_endpoint=f"{issuer}/introspect",
        scopes_supported=list(m.SCOPES),
        response_types_supported=["code"],
        grant_types_supported=list(GRANT_TYPES),
        token_endpoint_auth_methods_supported=CLIENT_AUTH_METHODS,
        revocation_endpoint_auth_methods_supported=CLIENT_AUTH_METHODS,
        code_challenge_methods_supported=["S256"],
    )


@router.get(
    "/oauth/{service}/authorize",
    name="oauth.authorize",
    dependencies=StartLimited,
    summary="Start the authorization code flow (PKCE S256; required for public clients)",
    description=(
        "Valid requests are sent (302) to the service's login page with `request=<id>`; errors "
        "go back to the app's redirect URI only when it is registered, otherwise they are "
        "answered here."
    ),
    status_code=302,
    response_class=RedirectResponse,
    responses={
        302: {"description": "To the service's login page, or back to the app with `error`."},
        **_NO_SERVICE,
        **problem_responses(429),
        400: _OAUTH_400,
    },
)
async def authorize(service: ServiceName, request: Request, db: DatabaseDep) -> Response:
    found = await oauth.oauth_service(db, name=service)
    result = await oauth.authorize(
        db,
        service=found,
        base_url=base_url(request),
        headers=request.headers,
        pairs=request.query_params.multi_items(),
    )
    if isinstance(result, oauth.Redirect):
        return RedirectResponse(result.url, status_code=302)
    return _answer(result)


async def _protocol(
    endpoint: str, service: str, request: Request, db: DatabaseDep, *, by_service: bool = False
) -> Response:
    found = await oauth.oauth_service(db, name=service)
    try:
        pairs = await read_form(request)
    except FormError as error:
        return error.response()
    caller_is_service = by_service and await _is_service_key(request, found.id)
    response = await oauth.protocol(
        db,
        service=found,
        endpoint=endpoint,
        base_url=base_url(request),
        headers=request.headers,
        pairs=pairs,
        caller_is_service=caller_is_service,
    )
    return _answer(response)


async def _is_service_key(request: Request, service_id: int) -> bool:
    """`Authorization: Bearer <the service's API key>`."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not KEY_PATTERN.fullmatch(key):
        return False
    cache: KeyCache = request.app.state.key_cache
    found = await cache.lookup(key)
    return found is not None and found.id == service_id


_TOKEN_EXAMPLE = {
    "access_token": "tta_…",
    "token_type": "Bearer",
    "expires_in": 3600,
    "refresh_token": "ttr_…",
    "scope": "profile lists:read",
}


@router.post(
    "/oauth/{service}/token",
    name="oauth.token",
    summary="Exchange a code, a refresh token or a device code for tokens",
    response_model=schemas.TokenAnswer,
    responses={
        200: _ok(schemas.TokenAnswer, _TOKEN_EXAMPLE),
        400: _OAUTH_400,
        401: _OAUTH_ERROR,
        **_FORM_PROBLEMS,
    },
    openapi_extra=_form_body(
        {
            "grant_type": (
                "authorization_code, refresh_token or urn:ietf:params:oauth:grant-type:device_code"
            ),
            "code": "authorization_code: the code",
            "redirect_uri": "authorization_code: as sent to authorize",
            "code_verifier": "authorization_code: the PKCE verifier",
            "refresh_token": "refresh_token: the current refresh token (it rotates)",
            "device_code": "device_code: from device/code",
            "client_id": "public clients (confidential ones may use HTTP Basic)",
            "client_secret": "confidential clients not using HTTP Basic",
        },
        ["grant_type"],
        {
            "grant_type": "authorization_code",
            "code": "ttc_…",
            "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "client_id": "app_…",
        },
    ),
)
async def token(service: ServiceName, request: Request, db: DatabaseDep) -> Response:
    return await _protocol("token", service, request, db)


@router.post(
    "/oauth/{service}/device/code",
    name="oauth.device_code",
    dependencies=StartLimited,
    summary="Start the device flow (RFC 8628): a code for the user to enter elsewhere",
    response_model=schemas.DeviceAuthorization,
    responses={
        200: _ok(
            schemas.DeviceAuthorization,
            {
                "device_code": "ttd_…",
                "user_code": "WDJB-MJHT",
                "verification_uri": "https://tv.example/activate",
                "verification_uri_complete": "https://tv.example/activate?user_code=WDJB-MJHT",
                "expires_in": 600,
                "interval": 5,
            },
        ),
        400: _OAUTH_400,
        401: _OAUTH_ERROR,
        **_FORM_PROBLEMS,
        **problem_responses(429),
    },
    openapi_extra=_form_body(
        {"client_id": "the app", "scope": "space-separated scopes (default: all the app's)"},
        ["client_id"],
        {"client_id": "app_…", "scope": "profile recommendations"},
    ),
)
async def device_code(service: ServiceName, request: Request, db: DatabaseDep) -> Response:
    return await _protocol("device", service, request, db)


@router.post(
    "/oauth/{service}/revoke",
    name="oauth.revoke",
    summary="Revoke a token (RFC 7009); a refresh token takes its whole family",
    response_model=schemas.Revoked,
    responses={200: _ok(schemas.Revoked, {}), 400: _OAUTH_400, 401: _OAUTH_ERROR, **_FORM_PROBLEMS},
    openapi_extra=_form_body(
        {
            "token": "the access or refresh token",
            "token_type_hint": "access_token or refresh_token",
            "client_id": "public clients",
        },
        ["token"],
        {"token": "ttr_…", "token_type_hint": "refresh_token", "client_id": "app_…"},
    ),
)
async def revoke(service: ServiceName, request: Request, db: DatabaseDep) -> Response:
    return await _protocol("revoke", service, request, db)


@router.post(
    "/oauth/{service}/introspect",
    name="oauth.introspect",
    summary="Introspect a token (RFC 7662), for the service's back end: Bearer <API key>",
    response_model=schemas.Introspection,
    responses={
        200: _ok(
            schemas.Introspection,
            {
                "active": True,
                "scope": "profile",
                "client_id": "app_…",
                "sub": "7",
                "token_type": "Bearer",
                "exp": 1796000000,
                "iat": 1795996400,
                "iss": "https://api.example/oauth/tanktop-tv",
            },
        ),
        400: _OAUTH_400,
        401: _OAUTH_ERROR,
        **_FORM_PROBLEMS,
    },
    openapi_extra=_form_body(
        {"token": "the token", "token_type_hint": "access_token or refresh_token"},
        ["token"],
        {"token": "tta_…"},
    ),
)
async def introspect(service: ServiceName, request: Request, db: DatabaseDep) -> Response:
    return await _protocol("introspect", service, request, db, by_service=True)


# The service's own calls, with its API key


_SERVICE_ERRORS = problem_responses(400, 401, 404)


@service_router.get(
    "/requests/{request_id}/",
    name="oauth.request",
    summary="What a pending authorization request asks for (to show on your consent page)",
    response_model=schemas.PendingRequest,
    responses={
        200: _ok(
            schemas.PendingRequest,
            {
                "request": "q18-DwxvZZcQZzFxw9IL3Pi_CGU2KBzj",
                "client_id": "app_…",
                "client_name": "Couch TV",
                "scope": ["profile", "lists:read"],
                "expires_at": "2026-11-30T20:10:00+00:00",
            },
        ),
        **_SERVICE_ERRORS,
    },
)
async def get_request(
    request_id: RequestId, service: ServiceDep, db: DatabaseDep
) -> schemas.PendingRequest:
    return await oauth.pending_request(db, service, request_id=request_id)


_APPROVE_BODY = json_body_openapi(
    schemas.ApproveBody.model_json_schema(), {"user_id": "7"}, "The signed-in user who consents."
)


@service_router.post(
    "/requests/{request_id}/approve/",
    name="oauth.approve",
    summary="The signed-in user consents: answers where to send their browser (with the code)",
    response_model=schemas.Decision,
    responses={
        200: _ok(schemas.Decision, {"redirect_to": "https://app.example/cb?code=ttc_…&state=xyz"}),
        **_SERVICE_ERRORS,
        **problem_responses(409, 415),
    },
    openapi_extra=_APPROVE_BODY,
)
async def approve(
    request_id: RequestId, service: ServiceDep, db: DatabaseDep, request: Request
) -> schemas.Decision:
    body = schemas.ApproveBody.parse(await json_object(request))
    return await oauth.decide(
        db, service, request_id=request_id, user_id=body.user_id, base_url=base_url(request)
    )


@service_router.post(
    "/requests/{request_id}/deny/",
    name="oauth.deny",
    summary="The user declines: answers where to send their browser (with access_denied)",
    response_model=schemas.Decision,
    responses={
        200: _ok(
            schemas.Decision,
            {"redirect_to": "https://app.example/cb?error=access_denied&state=xyz"},
        ),
        **_SERVICE_ERRORS,
        **problem_responses(409),
    },
)
async def deny(
    request_id: RequestId, service: ServiceDep, db: DatabaseDep, request: Request
) -> schemas.Decision:
    return await oauth.decide(
        db, service, request_id=request_id, user_id=None, base_url=base_url(request)
    )


_DEVICE_BODY = json_body_openapi(
    schemas.DeviceBody.model_json_schema(),
    {"user_code": "WDJB-MJHT", "user_id": "7"},
    "The code the user typed (case, dashes and spaces ignored) and who they are.",
)
_DEVICE_RESPONSES = {
    200: _ok(
        schemas.DeviceDecision,
        {"client_id": "app_…", "client_name": "Couch TV", "scope": ["profile"]},
    ),
    **_SERVICE_ERRORS,
    **problem_responses(415, 429),
}


@service_router.post(
    "/device/approve/",
    name="oauth.device_approve",
    summary="The signed-in user approves the device showing this code",
    response_model=schemas.DeviceDecision,
    responses=_DEVICE_RESPONSES,
    openapi_extra=_DEVICE_BODY,
)
async def device_approve(
    service: ServiceDep, db: DatabaseDep, request: Request
) -> schemas.DeviceDecision:
    return await _device(service, db, request, approve=True)


@service_router.post(
    "/device/deny/",
    name="oauth.device_deny",
    summary="The signed-in user refuses the device showing this code",
    response_model=schemas.DeviceDecision,
    responses=_DEVICE_RESPONSES,
    openapi_extra=_DEVICE_BODY,
)
async def device_deny(
    service: ServiceDep, db: DatabaseDep, request: Request
) -> schemas.DeviceDecision:
    return await _device(service, db, request, approve=False)


async def _device(
    service: Service, db: DatabaseDep, request: Request, *, approve: bool
) -> schemas.DeviceDecision:
    body = schemas.DeviceBody.parse(await json_object(request))
    return await oauth.decide_device(
        db, service, user_code=body.user_code, user_id=body.user_id, approve=approve
    )


@service_router.get(
    "/grants/{userid}/",
    name="oauth.grants",
    summary="The apps a user has connected",
    response_model=schemas.ConnectedApps,
    responses={
        200: _ok(
            schemas.ConnectedApps,
            {
                "grants": [
                    {
                        "client_id": "app_…",
                        "name": "Couch TV",
                        "scope": ["profile", "recommendations"],
                        "connected_at": "2026-11-30T20:00:00+00:00",
                    }
                ]
            },
        ),
        **problem_responses(400, 401),
    },
)
async def grants(userid: UserId, service: ServiceDep, db: DatabaseDep) -> schemas.ConnectedApps:
    apps = await oauth.connected_apps(db, service, user_id=userid)
    return schemas.ConnectedApps(grants=apps)


@service_router.delete(
    "/grants/{userid}/{client_id}/",
    name="oauth.disconnect",
    summary="Disconnect an app from a user: its tokens stop working at once",
    status_code=204,
    responses=_SERVICE_ERRORS,
)
async def disconnect(
    userid: UserId, client_id: ClientId, service: ServiceDep, db: DatabaseDep
) -> Response:
    await oauth.disconnect(db, service, user_id=userid, client_id=client_id)
    return Response(status_code=204)
