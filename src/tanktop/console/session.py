"""Console sessions: a signed, HttpOnly, SameSite cookie, CSRF tokens, and who is signed in.

The cookie holds no credential: for a service, the SHA-256 of its key (checked against the
active keys on every request, so revoking the key ends the session); for the operator, an HMAC
of the admin token (changing the token ends every operator session). Every form carries the
session's CSRF token, and a POST whose token or `Origin` does not match changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import Response

from tanktop.config import Settings
from tanktop.db import Database
from tanktop.tenants import service as tenants
from tanktop.tenants.service import Service

COOKIE = "tanktop_console"
PATH = "/console"

Role = Literal["operator", "service"]


@dataclass(frozen=True)
class Session:
    """What the cookie carries (signed, so the browser can read it but not change it)."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    role: Role | None = None
    key_hash: str | None = None
    admin: str | None = None
    service_id: int | None = None
    """The service the operator is looking at."""
    flash: str | None = None
    """A message for the next page (after a redirect)."""

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class Sessions:
    """Reads and writes the cookie; one per app (the secret is the app's)."""

    def __init__(self, settings: Settings, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="tanktop-console")
        self._secret = secret.encode()
        self._max_age = int(settings.console_session_hours * 3600)

    def admin_fingerprint(self, token: str) -> str:
        """Stands for the admin token in the cookie; useless without the console secret."""
        return hmac.new(self._secret, token.encode(), hashlib.sha256).hexdigest()[:32]

    def read(self, request: Request) -> Session:
        raw = request.cookies.get(COOKIE)
        if raw:
            try:
                data = self._serializer.loads(raw, max_age=self._max_age)
                return Session(**{k: v for k, v in data.items() if k in Session.__annotations__})
            except (BadSignature, TypeError, AttributeError):
                pass
        return Session()

    def write(self, response: Response, request: Request, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            self._serializer.dumps(session.to_json()),
            max_age=self._max_age,
            path=PATH,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )


def sessions_of(request: Request) -> Sessions:
    found: Sessions = request.app.state.console_sessions
    return found


class SignInRequired(Exception):
    """The request needs a signed-in session (the console sends the browser to sign in)."""


class NotAllowed(Exception):
    """The signer may not do this (a service's key on an operator's page, a bad CSRF token)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Signer:
    """Who is signed in, what they may see, and the service they are looking at."""

    role: Role
    session: Session
    service: Service | None
    services: list[Service]

    @property
    def operator(self) -> bool:
        return self.role == "operator"

    @property
    def csrf(self) -> str:
        return self.session.csrf

    def viewed(self) -> Service:
        """The service in view; an operator with no service yet cannot open service pages."""
        if self.service is None:
            raise NotAllowed("There is no service yet: create one on the Keys page.")
        return self.service


async def current_signer(request: Request) -> Signer:
    """The signed-in signer, re-checked against the database on every request."""
    session = sessions_of(request).read(request)
    db: Database = request.app.state.db
    settings: Settings = request.app.state.settings
    if session.role == "service" and session.key_hash:
        service = await tenants.find_service_by_hash(db, key_hash=session.key_hash)
        if service is not None:
            return Signer("service", session, service, [service])
    if session.role == "operator" and session.admin and settings.admin_token:
        expected = sessions_of(request).admin_fingerprint(settings.admin_token)
        if hmac.compare_digest(session.admin, expected):
            services = await tenants.list_services(db)
            chosen = next((s for s in services if s.id == session.service_id), None)
            return Signer(
                "operator", session, chosen or (services[0] if services else None), services
            )
    raise SignInRequired


SignerDep = Annotated[Signer, Depends(current_signer)]


async def require_operator(signer: SignerDep) -> Signer:
    if not signer.operator:
        raise NotAllowed("Only the operator (signed in with the admin token) may open this page.")
    return signer


OperatorDep = Annotated[Signer, Depends(require_operator)]


async def read_form(request: Request, session: Session) -> dict[str, str]:
    """The urlencoded body of a console POST, once its CSRF token and origin check out."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.url.netloc:
        raise NotAllowed("This form was sent from another site.")
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    given = form.pop("csrf", "")
    if not hmac.compare_digest(given.encode(), session.csrf.encode()):
        raise NotAllowed("The form has expired: reload the page and try again.")
    return form


async def signed_form(request: Request, signer: SignerDep) -> dict[str, str]:
    """A signed-in signer's checked form."""
    return await read_form(request, signer.session)


FormDep = Annotated[dict[str, str], Depends(signed_form)]


def with_flash(session: Session, message: str) -> Session:
    return replace(session, flash=message)
