"""The OAuth flows end to end, driven by a real client library against a real server."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from oauthlib.oauth2 import OAuth2Error

from tanktop.oauth.tables import oauth_devices
from tests.oauth.conftest import CALLBACK, LOGIN, Stack
from tests.oauth.flows import (
    approve,
    code_flow,
    device_poll,
    device_start,
    introspect,
    new_user,
    query_of,
    session,
    start,
)
from tests.servers import run_cli, tanktop_env

pytestmark = pytest.mark.e2e


def test_metadata_describes_the_server(stack: Stack) -> None:
    tenant = stack.one
    response = httpx.get(f"{stack.base}/.well-known/oauth-authorization-server/oauth/{tenant.name}")
    assert response.status_code == 200
    meta = response.json()
    assert meta["issuer"] == f"{stack.base}/oauth/{tenant.name}"
    assert meta["token_endpoint"] == meta["issuer"] + "/token"
    assert meta["device_authorization_endpoint"] == meta["issuer"] + "/device/code"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert "urn:ietf:params:oauth:grant-type:device_code" in meta["grant_types_supported"]
    assert set(meta["scopes_supported"]) >= {"profile", "lists:read", "recommendations"}
    missing = httpx.get(f"{stack.base}/.well-known/oauth-authorization-server/oauth/nope-x")
    assert missing.status_code == 404


def test_code_flow_with_pkce_through_login_and_approve(stack: Stack) -> None:
    tenant, user = stack.one, new_user()
    oauth = session(tenant.tv, ["profile", "lists:read"])
    url, state = oauth.authorization_url(stack.oauth_url(tenant, "authorize"))
    assert "code_challenge_method=S256" in url
    request = start(stack, tenant, url)

    shown = httpx.get(stack.api(tenant, f"/oauth/requests/{request}/")).json()
    assert shown["client_id"] == tenant.tv.client_id
    assert shown["client_name"] == "Couch TV"
    assert shown["scope"] == ["profile", "lists:read"]

    redirect = approve(stack, tenant, request, user)
    assert redirect.startswith(CALLBACK + "?")
    assert query_of(redirect)["state"] == state
    token = oauth.fetch_token(
        stack.oauth_url(tenant, "token"), authorization_response=redirect, include_client_id=True
    )
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600
    assert token["access_token"].startswith("tta_")
    assert token["refresh_token"].startswith("ttr_")
    assert token["scope"] == ["profile", "lists:read"]

    seen = introspect(stack, tenant, token["access_token"])
    assert seen["active"] is True
    assert seen["sub"] == user
    assert seen["client_id"] == tenant.tv.client_id
    assert seen["scope"] == "profile lists:read"

    apps = httpx.get(stack.api(tenant, f"/oauth/grants/{user}/")).json()["grants"]
    assert [(a["client_id"], a["name"]) for a in apps] == [(tenant.tv.client_id, "Couch TV")]
    assert (
        httpx.post(
            stack.api(tenant, f"/oauth/requests/{request}/approve"), json={"user_id": user}
        ).status_code
        == 404
    ), "a request is decided once"


def test_confidential_client_authenticates_with_its_secret(stack: Stack) -> None:
    tenant = stack.one
    _oauth, token = code_flow(stack, tenant, tenant.web, new_user())
    assert introspect(stack, tenant, token["access_token"])["scope"] == "profile lists:read"


def test_deny_sends_access_denied_with_state(stack: Stack) -> None:
    tenant = stack.one
    oauth = session(tenant.tv)
    url, state = oauth.authorization_url(stack.oauth_url(tenant, "authorize"))
    request = start(stack, tenant, url)
    response = httpx.post(stack.api(tenant, f"/oauth/requests/{request}/deny"))
    assert response.status_code == 200
    back = query_of(response.json()["redirect_to"])
    assert back == {
        "error": "access_denied",
        "error_description": back["error_description"],
        "state": state,
    }


def test_refresh_tokens_rotate(stack: Stack) -> None:
    tenant = stack.one
    oauth, first = code_flow(stack, tenant, tenant.tv, new_user())
    second = oauth.refresh_token(
        stack.oauth_url(tenant, "token"),
        refresh_token=first["refresh_token"],
        client_id=tenant.tv.client_id,
    )
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert introspect(stack, tenant, second["access_token"])["active"] is True
    assert introspect(stack, tenant, first["refresh_token"]) == {"active": False}, "spent"
    third = oauth.refresh_token(
        stack.oauth_url(tenant, "token"),
        refresh_token=second["refresh_token"],
        client_id=tenant.tv.client_id,
    )
    assert introspect(stack, tenant, third["access_token"])["active"] is True


def test_revoking_a_refresh_token_ends_its_family(stack: Stack) -> None:
    tenant = stack.one
    oauth, token = code_flow(stack, tenant, tenant.tv, new_user())
    response = httpx.post(
        stack.oauth_url(tenant, "revoke"),
        data={"token": token["refresh_token"], "client_id": tenant.tv.client_id},
    )
    assert response.status_code == 200
    assert introspect(stack, tenant, token["access_token"]) == {"active": False}
    with pytest.raises(OAuth2Error) as refused:
        oauth.refresh_token(
            stack.oauth_url(tenant, "token"),
            refresh_token=token["refresh_token"],
            client_id=tenant.tv.client_id,
        )
    assert refused.value.error == "invalid_grant"


def test_revoking_an_access_token_keeps_the_refresh_token(stack: Stack) -> None:
    tenant = stack.one
    _oauth, token = code_flow(stack, tenant, tenant.web, new_user())
    response = httpx.post(
        stack.oauth_url(tenant, "revoke"),
        data={"token": token["access_token"], "token_type_hint": "access_token"},
        auth=(tenant.web.client_id, tenant.web.secret or ""),
    )
    assert response.status_code == 200
    assert response.json() == {}
    assert introspect(stack, tenant, token["access_token"]) == {"active": False}
    assert introspect(stack, tenant, token["refresh_token"])["active"] is True
    unknown = httpx.post(
        stack.oauth_url(tenant, "revoke"),
        data={"token": "tta_unknown-token-value"},
        auth=(tenant.web.client_id, tenant.web.secret or ""),
    )
    assert unknown.status_code == 200, "RFC 7009: an unknown token is not an error"


def test_introspection_is_for_the_services_own_key(stack: Stack) -> None:
    tenant = stack.one
    _oauth, token = code_flow(stack, tenant, tenant.tv, new_user())
    for headers in (
        {},
        {"authorization": f"Bearer {stack.two.key}"},
        {"authorization": "Bearer tt_forged-key-123"},
    ):
        response = httpx.post(
            stack.oauth_url(tenant, "introspect"),
            data={"token": token["access_token"]},
            headers=headers,
        )
        assert response.status_code in (400, 401), response.text
        assert response.json()["error"] == "invalid_client"
    assert introspect(stack, tenant, "tta_not-a-token-at-all") == {"active": False}
    refresh = introspect(stack, tenant, token["refresh_token"])
    assert refresh["active"] is True
    assert refresh["token_type"] == "refresh_token"


def test_device_flow_polls_to_success(stack: Stack) -> None:
    tenant, user = stack.one, new_user()
    started = device_start(stack, tenant, tenant.tv, "profile bookmarks")
    code = started["user_code"]
    assert len(code.replace("-", "")) == 8
    assert set(code.replace("-", "")) <= set("BCDFGHJKLMNPQRSTVWXZ"), "no look-alike characters"
    assert started["verification_uri"] == LOGIN
    assert started["verification_uri_complete"] == f"{LOGIN}?user_code={code}"
    assert started["interval"] == 5
    with pytest.raises(OAuth2Error) as pending:
        device_poll(stack, tenant, tenant.tv, started["device_code"])
    assert pending.value.error == "authorization_pending"

    typed = code.lower().replace("-", " ")  # as a person types it
    approved = httpx.post(
        stack.api(tenant, "/oauth/device/approve"), json={"user_code": typed, "user_id": user}
    )
    assert approved.status_code == 200, approved.text
    assert approved.json() == {
        "client_id": tenant.tv.client_id,
        "client_name": "Couch TV",
        "scope": ["profile", "bookmarks"],
    }

    token = device_poll(stack, tenant, tenant.tv, started["device_code"])
    assert token["access_token"].startswith("tta_")
    assert introspect(stack, tenant, token["access_token"])["sub"] == user
    with pytest.raises(OAuth2Error):
        device_poll(stack, tenant, tenant.tv, started["device_code"])  # spent


def test_device_flow_slow_down_grows_the_interval(stack: Stack) -> None:
    tenant = stack.one
    started = device_start(stack, tenant, tenant.tv)
    with pytest.raises(OAuth2Error) as first:
        device_poll(stack, tenant, tenant.tv, started["device_code"])
    assert first.value.error == "authorization_pending"
    with pytest.raises(OAuth2Error) as second:
        device_poll(stack, tenant, tenant.tv, started["device_code"])
    assert second.value.error == "slow_down"


async def test_device_flow_slow_down_interval_is_stored(stack: Stack) -> None:
    tenant = stack.one
    started = device_start(stack, tenant, tenant.tv)
    for _ in range(2):
        with pytest.raises(OAuth2Error):
            device_poll(stack, tenant, tenant.tv, started["device_code"])
    async with stack.db.read() as conn:
        intervals = await conn.scalars(
            sa.select(oauth_devices.c.interval).where(
                oauth_devices.c.user_code == started["user_code"].replace("-", "")
            )
        )
        assert list(intervals) == [10], "slow_down adds 5 s for every later poll"


def test_device_flow_access_denied(stack: Stack) -> None:
    tenant = stack.one
    started = device_start(stack, tenant, tenant.tv)
    denied = httpx.post(
        stack.api(tenant, "/oauth/device/deny"),
        json={"user_code": started["user_code"], "user_id": new_user()},
    )
    assert denied.status_code == 200
    with pytest.raises(OAuth2Error) as refused:
        device_poll(stack, tenant, tenant.tv, started["device_code"])
    assert refused.value.error == "access_denied"


async def test_device_flow_expired_token(stack: Stack) -> None:
    tenant = stack.one
    started = device_start(stack, tenant, tenant.tv)
    async with stack.db.write() as conn:  # ten minutes pass
        await conn.execute(
            sa.update(oauth_devices)
            .where(oauth_devices.c.user_code == started["user_code"].replace("-", ""))
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    with pytest.raises(OAuth2Error) as expired:
        device_poll(stack, tenant, tenant.tv, started["device_code"])
    assert expired.value.error == "expired_token"
    late = await asyncio.to_thread(
        httpx.post,
        stack.api(tenant, "/oauth/device/approve"),
        json={"user_code": started["user_code"], "user_id": new_user()},
    )
    assert late.status_code == 404


def test_connected_apps_can_be_disconnected(stack: Stack) -> None:
    tenant, user = stack.one, new_user()
    _tv, tv_token = code_flow(stack, tenant, tenant.tv, user)
    _web, web_token = code_flow(stack, tenant, tenant.web, user)
    apps = httpx.get(stack.api(tenant, f"/oauth/grants/{user}/")).json()["grants"]
    assert {a["client_id"] for a in apps} == {tenant.tv.client_id, tenant.web.client_id}
    gone = httpx.delete(stack.api(tenant, f"/oauth/grants/{user}/{tenant.tv.client_id}/"))
    assert gone.status_code == 204
    assert introspect(stack, tenant, tv_token["access_token"]) == {"active": False}
    assert introspect(stack, tenant, web_token["access_token"])["active"] is True
    apps = httpx.get(stack.api(tenant, f"/oauth/grants/{user}/")).json()["grants"]
    assert [a["client_id"] for a in apps] == [tenant.web.client_id]
    again = httpx.delete(stack.api(tenant, f"/oauth/grants/{user}/{tenant.tv.client_id}/"))
    assert again.status_code == 404


def test_operator_cli(tmp_path: Path) -> None:
    """The operator's commands, on SQLite only: they call the service functions the other tests
    run on both databases, and each command is a process start."""
    env = tanktop_env(f"sqlite:///{tmp_path / 'cli.db'}")
    assert run_cli(env, "keys", "create", "tv").returncode == 0
    enabled = run_cli(env, "oauth", "enable", "tv", "--login-url", LOGIN)
    assert enabled.returncode == 0, enabled.stderr

    public = run_cli(
        env, "oauth", "clients", "create", "tv", "--name", "TV", "--redirect-uri", CALLBACK,
        "--public", "--scope", "profile",
    )  # fmt: skip
    assert public.returncode == 0, public.stderr
    assert "client_secret" not in public.stdout
    confidential = run_cli(
        env, "oauth", "clients", "create", "tv", "--name", "Web", "--redirect-uri", "https://web.example/cb",
    )  # fmt: skip
    lines = dict(line.split(": ", 1) for line in confidential.stdout.splitlines())
    secret = lines["client_secret"].split()[0]
    assert secret.startswith("tts_")

    client_id = lines["client_id"]
    revoked = run_cli(env, "oauth", "clients", "revoke", "tv", client_id)
    assert revoked.returncode == 0
    listing = run_cli(env, "oauth", "clients", "list", "tv").stdout
    assert "TV\tpublic\tprofile\t" + CALLBACK + "\tactive" in listing
    assert f"{client_id}\tWeb\tconfidential" in listing
    assert listing.rstrip().endswith("revoked")
    assert secret not in listing, "secrets are stored hashed and never shown again"
