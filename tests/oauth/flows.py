"""The steps of each flow as a third-party app and the service's own pages take them."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from oauthlib.oauth2 import DeviceClient
from requests_oauthlib import OAuth2Session

from tanktop.oauth import service as oauth
from tests.oauth.conftest import CALLBACK, App, Stack, Tenant

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


async def new_public_app(stack: Stack, tenant: Tenant, name: str, **options: Any) -> App:
    """Another public app of `tenant`, registered as the operator would."""
    created = await oauth.create_client(
        stack.db,
        service_name=tenant.name,
        name=name,
        redirect_uris=[CALLBACK],
        public=True,
        **options,
    )
    return App(created.client_id, None, CALLBACK)


def new_user() -> str:
    return f"u{uuid.uuid4().hex[:10]}"


def session(app: App, scope: list[str] | None = None, **kwargs: Any) -> OAuth2Session:
    """The app's OAuth client (PKCE S256 on, as a public client must)."""
    return OAuth2Session(
        app.client_id, redirect_uri=app.redirect_uri, scope=scope, pkce="S256", **kwargs
    )


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def start(stack: Stack, tenant: Tenant, url: str) -> str:
    """The browser opens the authorization URL; returns the `request` our login page got."""
    response = httpx.get(url)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith("https://tv.example/login?")
    return query_of(location)["request"]


def approve(stack: Stack, tenant: Tenant, request: str, user: str) -> str:
    """The service's login page signed the user in and they consented: where the browser goes."""
    response = httpx.post(
        stack.api(tenant, f"/oauth/requests/{request}/approve"), json={"user_id": user}
    )
    assert response.status_code == 200, response.text
    redirect: str = response.json()["redirect_to"]
    return redirect


def code_flow(
    stack: Stack, tenant: Tenant, app: App, user: str, scope: list[str] | None = None
) -> tuple[OAuth2Session, dict[str, Any]]:
    """The whole authorization code flow with PKCE; returns the app's session and its token."""
    oauth = session(app, scope)
    url, state = oauth.authorization_url(stack.oauth_url(tenant, "authorize"))
    redirect = approve(stack, tenant, start(stack, tenant, url), user)
    assert query_of(redirect)["state"] == state
    token = oauth.fetch_token(
        stack.oauth_url(tenant, "token"),
        authorization_response=redirect,
        include_client_id=True,
        client_secret=app.secret,
    )
    return oauth, dict(token)


def device_start(stack: Stack, tenant: Tenant, app: App, scope: str = "") -> dict[str, Any]:
    data = {"client_id": app.client_id}
    if scope:
        data["scope"] = scope
    response = httpx.post(stack.oauth_url(tenant, "device/code"), data=data)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def device_poll(stack: Stack, tenant: Tenant, app: App, device_code: str) -> dict[str, Any]:
    """One poll as the TV does it, through oauthlib's device client; raises its OAuth2Error."""
    oauth = OAuth2Session(client=DeviceClient(app.client_id))
    token = oauth.fetch_token(
        stack.oauth_url(tenant, "token"), device_code=device_code, include_client_id=True
    )
    return dict(token)


def introspect(stack: Stack, tenant: Tenant, token: str) -> dict[str, Any]:
    response = httpx.post(
        stack.oauth_url(tenant, "introspect"),
        data={"token": token},
        headers={"authorization": f"Bearer {tenant.key}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
