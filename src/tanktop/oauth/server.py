"""Authlib's authorization server, adapted to our requests and run on a `Snapshot`.

Authlib ships Flask and Django integrations only; this is the same adapter for us, written
after `authlib.integrations.flask_oauth2`: an `OAuth2Request` built from the method, URL,
headers and form of the request, `handle_response` returning `(status, body, headers)`, and
`query_client` / `save_token` answered from the snapshot. One server is built per request (a
handful of objects), so nothing is shared between requests.

Where we go past Authlib's defaults: PKCE accepts S256 only and is required of public clients at
the authorization request, not just at the token request; refresh tokens rotate, and a spent
one presented again revokes its family, as does an authorization code presented twice.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from authlib.oauth2 import AuthorizationServer as _AuthorizationServer
from authlib.oauth2.rfc6749 import (
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
    UnauthorizedClientError,
    grants,
)
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint as _DeviceEndpoint
from authlib.oauth2.rfc8628 import DeviceCodeGrant as _DeviceCodeGrant

from tanktop.oauth import models as m

Body = dict[str, object] | str
Response = tuple[int, Body, list[tuple[str, str]]]
"""What every endpoint gives back: status, body (a dict or ""), headers."""

DEVICE_GRANT_TYPE = _DeviceCodeGrant.GRANT_TYPE
GRANT_TYPES = ("authorization_code", "refresh_token", DEVICE_GRANT_TYPE)
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


class FormPayload(OAuth2Payload):  # type: ignore[misc]
    """Parameters as Authlib reads them: first value of each name, and all values."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in pairs:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class Request(OAuth2Request):  # type: ignore[misc]
    """An OAuth request: query parameters for the authorization endpoint, form fields (RFC 6749
    requires `application/x-www-form-urlencoded`) for the others."""

    def __init__(
        self,
        method: str,
        uri: str,
        headers: Mapping[str, str],
        pairs: Sequence[tuple[str, str]],
    ) -> None:
        super().__init__(method=method, uri=uri, headers=headers)
        self.payload = FormPayload(pairs)
        self.grant_id = ""
        """The grant (token family) that what this request issues belongs to."""

    @property
    def args(self) -> dict[str, str]:
        data: dict[str, str] = self.payload.data
        return data

    @property
    def form(self) -> dict[str, str]:
        data: dict[str, str] = self.payload.data
        return data


class Server(_AuthorizationServer):  # type: ignore[misc]
    """One service's authorization server, answering from one request's snapshot."""

    def __init__(self, snapshot: m.Snapshot) -> None:
        super().__init__(scopes_supported=list(m.SCOPES))
        self.snapshot = snapshot
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                lambda **_: m.new_secret("access"),
                lambda **_: m.new_secret("refresh"),
                lambda client, grant_type: m.ACCESS_TOKEN_SECONDS,
            ),
        )
        self.register_grant(AuthorizationCodeGrant, [S256Challenge(required=True)])
        self.register_grant(RefreshTokenGrant)
        self.register_grant(DeviceCodeGrant)
        self.register_endpoint(DeviceAuthorizationEndpoint)
        self.register_endpoint(RevocationEndpoint)
        self.register_endpoint(IntrospectionEndpoint)
        self.register_client_auth_method("service_key", self._authenticate_service)

    def _authenticate_service(
        self, _query_client: Any, _request: Request
    ) -> m.ServiceCaller | None:
        """The service's back end, whose API key the router has already checked."""
        if self.snapshot.caller_is_service:
            return m.ServiceCaller(self.snapshot.service.id)
        return None

    def query_client(self, client_id: str | None) -> m.Client | None:
        return self.snapshot.client(client_id)

    def save_token(self, token: dict[str, Any], request: Request) -> None:
        """Record the token pair under the grant the request carries."""
        now = self.snapshot.now
        refresh = token.get("refresh_token")
        self.snapshot.effects.append(
            m.SaveToken(
                access_hash=m.digest(token["access_token"]),
                refresh_hash=m.digest(refresh) if refresh else None,
                user_id=request.user.id,
                grant_id=request.grant_id,
                client_id=request.client.get_client_id(),
                scope=token.get("scope", ""),
                issued_at=now,
                expires_at=now + dt.timedelta(seconds=token["expires_in"]),
                refresh_expires_at=(
                    now + dt.timedelta(seconds=m.REFRESH_TOKEN_SECONDS) if refresh else None
                ),
            )
        )

    def create_oauth2_request(self, request: Request) -> Request:
        return request

    def handle_response(self, status: int, body: Body, headers: list[tuple[str, str]]) -> Response:
        return status, body, list(headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Authlib's hook for Flask signals; nothing listens here."""


class S256Challenge(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 only (`plain` would let a downgrade through), and required of public
    clients already when they ask for authorization."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: AuthorizationCodeGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        challenge, method = data.get("code_challenge"), data.get("code_challenge_method")
        if grant.request.client.is_public and not challenge:
            raise InvalidRequestError("Public clients must send a PKCE code_challenge (S256).")
        if challenge and method != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    @property
    def snapshot(self) -> m.Snapshot:
        snapshot: m.Snapshot = self.server.snapshot
        return snapshot

    def save_authorization_code(self, code: str, request: Request) -> None:
        data = request.payload.data
        self.snapshot.effects.append(
            m.SaveGrant(
                user_id=request.user.id,
                grant_id=request.grant_id,
                client_id=request.client.get_client_id(),
                scope=request.scope or "",
            )
        )
        self.snapshot.effects.append(
            m.SaveCode(
                code_hash=m.digest(code),
                user_id=request.user.id,
                grant_id=request.grant_id,
                client_id=request.client.get_client_id(),
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope or "",
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                expires_at=self.snapshot.now + dt.timedelta(seconds=m.CODE_SECONDS),
            )
        )

    def generate_authorization_code(self) -> str:
        return m.new_secret("code")

    def query_authorization_code(self, code: str, client: m.Client) -> m.AuthorizationCode | None:
        found = self.snapshot.code
        if (
            found is None
            or found.code_hash != m.digest(code)
            or found.client_id != client.client_id
        ):
            return None
        if found.used:
            # RFC 6749 4.1.2: a code used twice revokes what was issued from it.
            self.snapshot.effects.append(m.RevokeGrant(found.user_id, found.grant_id))
            return None
        if found.expires_at <= self.snapshot.now:
            return None
        self.request.grant_id = found.grant_id
        return found

    def delete_authorization_code(self, authorization_code: m.AuthorizationCode) -> None:
        self.snapshot.effects.append(m.SpendCode(authorization_code.code_hash))

    def authenticate_user(self, authorization_code: m.AuthorizationCode) -> m.User:
        return m.User(authorization_code.user_id)


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    @property
    def snapshot(self) -> m.Snapshot:
        snapshot: m.Snapshot = self.server.snapshot
        return snapshot

    def authenticate_refresh_token(self, refresh_token: str) -> m.Token | None:
        found = self.snapshot.token
        if found is None or found.matched != "refresh_token":
            return None
        if found.refresh_hash != m.digest(refresh_token):
            return None
        if found.refresh_used and found.check_client(self.request.client):
            # A rotated-away refresh token came back: one of its two holders is a thief.
            self.snapshot.effects.append(m.RevokeGrant(found.user_id, found.grant_id))
            return None
        if found.is_revoked() or found.is_expired():
            return None
        self.request.grant_id = found.grant_id
        return found

    def authenticate_user(self, refresh_token: m.Token) -> m.User:
        return refresh_token.get_user()

    def revoke_old_credential(self, refresh_token: m.Token) -> None:
        self.snapshot.effects.append(m.SpendRefresh(refresh_token.access_hash))


class DeviceCodeGrant(_DeviceCodeGrant):  # type: ignore[misc]
    @property
    def snapshot(self) -> m.Snapshot:
        snapshot: m.Snapshot = self.server.snapshot
        return snapshot

    def query_device_credential(self, device_code: str) -> m.DeviceCredential | None:
        found = self.snapshot.device
        if found is None or found.device_hash != m.digest(device_code) or found.used:
            return None
        return found

    def query_user_grant(self, user_code: str) -> tuple[m.User, bool] | None:
        found = self.snapshot.device
        if found is None or found.approved is None:
            return None
        if found.approved:
            self.request.grant_id = found.grant_id
        return m.User(found.user_id or ""), found.approved

    def should_slow_down(self, credential: m.DeviceCredential) -> bool:
        """Polling faster than the interval: `slow_down`, and the interval grows by 5 s for this
        and every later poll (RFC 8628 3.5). Every poll is remembered."""
        now = self.snapshot.now
        too_soon = credential.polled_at is not None and (
            now - credential.polled_at < dt.timedelta(seconds=credential.interval)
        )
        interval = credential.interval + 5 if too_soon else credential.interval
        self.snapshot.effects.append(m.PollDevice(credential.device_hash, now, interval))
        return too_soon

    def create_token_response(self) -> Response:
        response: Response = super().create_token_response()
        self.snapshot.effects.append(m.SpendDevice(self.request.credential.device_hash))
        return response


class DeviceAuthorizationEndpoint(_DeviceEndpoint):  # type: ignore[misc]
    EXPIRES_IN = m.DEVICE_SECONDS
    INTERVAL = m.DEVICE_INTERVAL

    @property
    def snapshot(self) -> m.Snapshot:
        snapshot: m.Snapshot = self.server.snapshot
        return snapshot

    def authenticate_client(self, request: Request) -> m.Client:
        client: m.Client = super().authenticate_client(request)
        if client.get_allowed_scope(request.payload.scope) is None:
            raise InvalidScopeError()
        return client

    def generate_device_code(self) -> str:
        return m.new_secret("device")

    def get_verification_uri(self) -> str:
        return self.snapshot.service.verification_url

    def save_device_credential(
        self, client_id: str, scope: str | None, data: dict[str, Any]
    ) -> None:
        client = self.snapshot.client(client_id)
        assert client is not None  # authenticated above
        self.snapshot.effects.append(
            m.SaveDevice(
                device_hash=m.digest(data["device_code"]),
                user_code=normalise_user_code(data["user_code"]),
                client_id=client_id,
                scope=client.get_allowed_scope(scope) or "",
                expires_at=self.snapshot.now + dt.timedelta(seconds=self.EXPIRES_IN),
                interval=self.INTERVAL,
            )
        )


def normalise_user_code(text: str) -> str:
    """What a person typed, as stored: upper case, without the dash or spaces."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


class RevocationEndpoint(_RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> m.Token | None:
        snapshot: m.Snapshot = self.server.snapshot
        return _presented(snapshot, token_string)

    def revoke_token(self, token: m.Token, request: Request) -> None:
        """A refresh token takes its whole family with it (RFC 7009 2.1); an access token goes
        alone."""
        snapshot: m.Snapshot = self.server.snapshot
        if token.matched == "refresh_token":
            snapshot.effects.append(m.RevokeGrant(token.user_id, token.grant_id))
        else:
            snapshot.effects.append(m.RevokeToken(token.access_hash))


class IntrospectionEndpoint(_IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["service_key"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> m.Token | None:
        snapshot: m.Snapshot = self.server.snapshot
        return _presented(snapshot, token_string)

    def check_permission(self, token: m.Token, client: Any, request: Request) -> bool:
        return isinstance(client, m.ServiceCaller)

    def introspect_token(self, token: m.Token) -> dict[str, Any]:
        snapshot: m.Snapshot = self.server.snapshot
        expires = token.refresh_expires_at if token.matched == "refresh_token" else token.expires_at
        return {
            "active": True,
            "scope": token.scope,
            "client_id": token.client_id,
            "sub": token.user_id,
            "token_type": "Bearer" if token.matched == "access_token" else "refresh_token",
            "exp": int(expires.timestamp()) if expires else None,
            "iat": int(token.issued_at.timestamp()),
            "iss": snapshot.issuer,
        }


def _presented(snapshot: m.Snapshot, token_string: str) -> m.Token | None:
    found = snapshot.token
    if found is None:
        return None
    digest = m.digest(token_string)
    return found if digest in (found.access_hash, found.refresh_hash) else None


def run_protocol(call: Callable[[], Response]) -> Response:
    """Run one Authlib call, turning its stray exceptions on malformed input into
    `invalid_request` (e.g. a Basic header that is not UTF-8)."""
    try:
        response: Response = call()
    except OAuth2Error as error:
        response = error()
    except (ValueError, UnicodeError):
        response = InvalidRequestError("Malformed request.")()
    return response


__all__ = ["GRANT_TYPES", "Request", "Server", "UnauthorizedClientError", "run_protocol"]
