"""OAuth request bodies and answers, one model per shape."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tanktop.errors import BadRequest, describe_validation_errors
from tanktop.ids import USER_ID_PATTERN
from tanktop.timestamps import Timestamp

UserIdField = Annotated[str, Field(pattern=USER_ID_PATTERN, description="The service's user id.")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @classmethod
    def parse(cls, body: dict[str, Any]) -> Any:
        try:
            return cls.model_validate(body)
        except ValidationError as exc:
            raise BadRequest(describe_validation_errors(exc.errors())[0]) from None


class ApproveBody(_Body):
    user_id: UserIdField


class DeviceBody(_Body):
    user_code: Annotated[str, Field(min_length=1, max_length=32, examples=["WDJB-MJHT"])]
    user_id: UserIdField


class PendingRequest(BaseModel):
    """What the user is asked to consent to."""

    request: str
    client_id: str
    client_name: str
    scope: list[str]
    expires_at: Timestamp


class Decision(BaseModel):
    """Send the user's browser here: the app's redirect URI with `code` (or `error`) and `state`."""

    redirect_to: str


class DeviceDecision(BaseModel):
    client_id: str
    client_name: str
    scope: list[str]


class ConnectedApp(BaseModel):
    client_id: str
    name: str
    scope: list[str]
    connected_at: Timestamp


class ConnectedApps(BaseModel):
    grants: list[ConnectedApp]


class TokenAnswer(BaseModel):
    """RFC 6749 5.1."""

    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str | None = None
    scope: str | None = None


class DeviceAuthorization(BaseModel):
    """RFC 8628 3.2."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


class Introspection(BaseModel):
    """RFC 7662 2.2: only `active` when the token is not."""

    active: bool
    scope: str | None = None
    client_id: str | None = None
    sub: str | None = None
    token_type: str | None = None
    exp: int | None = None
    iat: int | None = None
    iss: str | None = None


class Revoked(BaseModel):
    """RFC 7009 2.2: an empty object, also for a token that was unknown or already revoked."""

    model_config = ConfigDict(extra="forbid")


class OAuthError(BaseModel):
    """RFC 6749 5.2 (and RFC 8628 3.5 for the device flow's `error` values)."""

    error: str
    error_description: str | None = None
    error_uri: str | None = None
    state: str | None = None


class Metadata(BaseModel):
    """RFC 8414 authorization server metadata."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    device_authorization_endpoint: str
    revocation_endpoint: str
    introspection_endpoint: str
    scopes_supported: list[str]
    response_types_supported: list[str]
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    revocation_endpoint_auth_methods_supported: list[str]
    code_challenge_methods_supported: list[str]
