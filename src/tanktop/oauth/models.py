"""The synchronous view Authlib's grants run on, and the writes they ask for.

Authlib's grants and endpoints are synchronous and call back for every lookup and write. We
read everything a request can need first (one async round of queries), hand Authlib these plain
objects, and collect what it wants written as `Effect`s, applied afterwards in one transaction.
So no database call ever blocks the event loop, and the protocol logic stays Authlib's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc8628 import DeviceCredentialMixin

SCOPES = ("profile", "lists:read", "lists:write", "bookmarks", "recommendations")
"""What an app may ask for: `/api/1/me/…` checks these."""

ACCESS_TOKEN_SECONDS = 3600
REFRESH_TOKEN_SECONDS = 30 * 86400
CODE_SECONDS = 600
REQUEST_SECONDS = 600
DEVICE_SECONDS = 600
DEVICE_INTERVAL = 5

TOKEN_PREFIXES = {
    "access": "tta_",
    "refresh": "ttr_",
    "code": "ttc_",
    "device": "ttd_",
    "secret": "tts_",
}
"""Every OAuth secret starts with one of these, so logs can find and redact them by pattern."""


def new_secret(kind: str) -> str:
    return TOKEN_PREFIXES[kind] + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What we store of a secret: its SHA-256 (the secrets are 256 random bits)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def scope_text(scopes: list[str] | tuple[str, ...]) -> str:
    return " ".join(s for s in SCOPES if s in scopes)


@dataclass(frozen=True, slots=True)
class OAuthService:
    """A service that runs an authorization server, as its endpoints need it."""

    id: int
    name: str
    login_url: str
    verification_url: str


@dataclass(frozen=True, slots=True)
class User:
    """The resource owner: the service's own user id."""

    id: str

    def get_user_id(self) -> str:
        return self.id


@dataclass(frozen=True)
class Client(ClientMixin):  # type: ignore[misc]
    """A registered app. Public apps have no secret and must use PKCE."""

    client_id: str
    service_id: int
    name: str
    secret_hash: str | None
    redirect_uris: tuple[str, ...]
    scope: str
    revoked: bool = False
    rate_key: int = 0
    rate_limit: int | None = None

    @property
    def is_public(self) -> bool:
        return self.secret_hash is None

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """All the app's scopes when none are asked for; None (invalid_scope) when any asked
        for is not the app's."""
        if not scope:
            return self.scope
        wanted = scope_to_list(scope)
        allowed = set(self.scope.split())
        if not set(wanted) <= allowed:
            return None
        return scope_text(wanted)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact string match only: no prefixes, no normalising (open-redirect safe)."""
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.secret_hash is None:
            return False
        return hmac.compare_digest(digest(client_secret), self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.is_public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return True


@dataclass(frozen=True)
class ServiceCaller(ClientMixin):  # type: ignore[misc]
    """The service's own back end, authenticated by its API key (introspection only)."""

    service_id: int

    def get_client_id(self) -> str:
        return ""

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "service_key"


@dataclass(frozen=True)
class AuthorizationCode(AuthorizationCodeMixin):  # type: ignore[misc]
    code_hash: str
    user_id: str
    grant_id: str
    client_id: str
    redirect_uri: str | None
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: dt.datetime
    used: bool

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass(frozen=True)
class Token(TokenMixin):  # type: ignore[misc]
    """One access token and the refresh token issued with it."""

    service_id: int
    rate_key: int
    rate_limit: int | None
    access_hash: str
    refresh_hash: str | None
    user_id: str
    grant_id: str
    client_id: str
    scope: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    refresh_expires_at: dt.datetime | None
    refresh_used: bool
    revoked: bool
    grant_revoked: bool
    client_revoked: bool
    now: dt.datetime
    matched: str
    """Which of the two the presented string was: "access_token" or "refresh_token"."""

    def check_client(self, client: ClientMixin) -> bool:
        return bool(self.client_id == client.get_client_id())

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int((self.expires_at - self.issued_at).total_seconds())

    def is_expired(self) -> bool:
        if self.matched == "refresh_token":
            return self.refresh_expires_at is None or self.refresh_expires_at <= self.now
        return self.expires_at <= self.now

    def is_revoked(self) -> bool:
        """An access token can be revoked alone; a refresh token is spent by rotation; both stop
        with their grant (family) or their app."""
        if self.grant_revoked or self.client_revoked:
            return True
        return self.refresh_used if self.matched == "refresh_token" else self.revoked

    def get_user(self) -> User:
        return User(self.user_id)


@dataclass(frozen=True)
class DeviceCredential(DeviceCredentialMixin):  # type: ignore[misc]
    device_hash: str
    user_code: str
    client_id: str
    scope: str
    expires_at: dt.datetime
    interval: int
    polled_at: dt.datetime | None
    user_id: str | None
    grant_id: str | None
    approved: bool | None
    used: bool
    now: dt.datetime

    def get_client_id(self) -> str:
        return self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_user_code(self) -> str:
        return self.user_code

    def is_expired(self) -> bool:
        return self.expires_at <= self.now


# What a request asks to have written, applied in one transaction after Authlib has answered.


@dataclass(frozen=True)
class SaveGrant:
    """A user's consent to an app: the family its codes and tokens belong to."""

    user_id: str
    grant_id: str
    client_id: str
    scope: str


@dataclass(frozen=True)
class SaveCode:
    code_hash: str
    user_id: str
    grant_id: str
    client_id: str
    redirect_uri: str | None
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: dt.datetime


@dataclass(frozen=True)
class SpendCode:
    """Mark a code used; if another request already did, the exchange fails (a reuse)."""

    code_hash: str


@dataclass(frozen=True)
class SaveToken:
    access_hash: str
    refresh_hash: str | None
    user_id: str
    grant_id: str
    client_id: str
    scope: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    refresh_expires_at: dt.datetime | None


@dataclass(frozen=True)
class SpendRefresh:
    """Rotate: the old refresh token is spent; if it already was, the exchange fails."""

    access_hash: str


@dataclass(frozen=True)
class RevokeGrant:
    """Revoke a whole family: every code and token issued under the grant stops."""

    user_id: str
    grant_id: str


@dataclass(frozen=True)
class RevokeToken:
    access_hash: str


@dataclass(frozen=True)
class SaveDevice:
    device_hash: str
    user_code: str
    client_id: str
    scope: str
    expires_at: dt.datetime
    interval: int


@dataclass(frozen=True)
class PollDevice:
    device_hash: str
    polled_at: dt.datetime
    interval: int


@dataclass(frozen=True)
class SpendDevice:
    device_hash: str


Effect = (
    SaveGrant
    | SaveCode
    | SpendCode
    | SaveToken
    | SpendRefresh
    | RevokeGrant
    | RevokeToken
    | SaveDevice
    | PollDevice
    | SpendDevice
)


@dataclass
class Snapshot:
    """Everything one request may look at, read before Authlib runs, and what it wants written."""

    service: OAuthService
    now: dt.datetime
    clients: dict[str, Client] = field(default_factory=dict)
    code: AuthorizationCode | None = None
    token: Token | None = None
    device: DeviceCredential | None = None
    caller_is_service: bool = False
    effects: list[Effect] = field(default_factory=list)
    base_url: str = ""
    """Where this server is reached (`TANKTOP_PUBLIC_URL`, or the request's own base URL)."""

    def client(self, client_id: str | None) -> Client | None:
        found = self.clients.get(client_id or "")
        return None if found is None or found.revoked else found

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/oauth/{self.service.name}"
