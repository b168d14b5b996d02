"""The attacks the authorization server must refuse, each on its own, against a real server."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pytest
import sqlalchemy as sa
from oauthlib.oauth2 import OAuth2Error

from tanktop.errors import BadRequest
from tanktop.oauth import service as oauth
from tanktop.oauth.tables import oauth_devices
from tests.oauth.conftest import CALLBACK, Stack, Tenant
from tests.oauth.flows import (
    approve,
    code_flow,
    device_start,
    introspect,
    new_public_app,
    new_user,
    query_of,
    session,
    start,
)
from tests.servers import Server, running_server, tanktop_env

pytestmark = pytest.mark.e2e

VERIFIER = "v" * 50
CHALLENGE = (
    base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
)


def fresh_window(about: int) -> int:
    """A rate-limit window length near `about` seconds with at least half of the current
    window still to run (windows are aligned to the epoch): a test's burst, however slow the
    machine, then spends one window's budget instead of straddling two and finding the
    second one full. Nudging the length moves the epoch alignment about at random."""
    length = about
    while time.time() % length > length / 2:
        length += 1
    return length


def authorize_url(stack: Stack, tenant: Tenant, **params: str) -> str:
    query = {
        "response_type": "code",
        "client_id": tenant.tv.client_id,
        "redirect_uri": CALLBACK,
        "state": "s-123",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        **params,
    }
    return (
        stack.oauth_url(tenant, "authorize")
        + "?"
        + urlencode({k: v for k, v in query.items() if v})
    )


def approved_code(stack: Stack, tenant: Tenant, **params: str) -> str:
    redirect = approve(
        stack, tenant, start(stack, tenant, authorize_url(stack, tenant, **params)), new_user()
    )
    return query_of(redirect)["code"]


def exchange(stack: Stack, tenant: Tenant, code: str, **extra: str) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "client_id": tenant.tv.client_id,
        "code_verifier": VERIFIER,
        **extra,
    }
    return httpx.post(stack.oauth_url(tenant, "token"), data={k: v for k, v in data.items() if v})


def refused_here(response: httpx.Response) -> None:
    """Answered by us, not sent anywhere: no Location, an error a developer can read."""
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    assert response.json()["error"] in ("invalid_request", "invalid_client")


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/callback",
        CALLBACK + "/../evil",
        CALLBACK + "x",
        CALLBACK + "?next=https://evil.example",
        "http://127.0.0.1:9/",
        CALLBACK.upper(),
    ],
)
def test_unregistered_or_prefix_matched_redirect_uri_is_refused_without_redirect(
    stack: Stack, redirect_uri: str
) -> None:
    refused_here(httpx.get(authorize_url(stack, stack.one, redirect_uri=redirect_uri)))


def test_unknown_client_is_refused_without_redirect(stack: Stack) -> None:
    refused_here(httpx.get(authorize_url(stack, stack.one, client_id="app_nobody")))
    refused_here(httpx.get(authorize_url(stack, stack.one, client_id=stack.two.tv.client_id)))


def test_errors_after_the_redirect_check_go_back_with_state(stack: Stack) -> None:
    response = httpx.get(
        authorize_url(
            stack,
            stack.one,
            client_id=stack.one.web.client_id,
            redirect_uri=stack.one.web.redirect_uri,
            scope="bookmarks",
        )
    )
    assert response.status_code == 302
    back = query_of(response.headers["location"])
    assert response.headers["location"].startswith(stack.one.web.redirect_uri + "?")
    assert back["error"] == "invalid_scope"
    assert back["state"] == "s-123"


def test_state_is_passed_through(stack: Stack) -> None:
    state = "opaque/state with spaces & symbols=1"
    redirect = approve(
        stack,
        stack.one,
        start(stack, stack.one, authorize_url(stack, stack.one, state=state)),
        new_user(),
    )
    assert query_of(redirect)["state"] == state


def test_code_reuse_fails_and_revokes_what_it_issued(stack: Stack) -> None:
    tenant = stack.one
    code = approved_code(stack, tenant)
    first = exchange(stack, tenant, code)
    assert first.status_code == 200, first.text
    token = first.json()
    assert introspect(stack, tenant, token["access_token"])["active"] is True
    second = exchange(stack, tenant, code)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    assert introspect(stack, tenant, token["access_token"]) == {"active": False}
    assert introspect(stack, tenant, token["refresh_token"]) == {"active": False}


def test_public_client_without_pkce_is_refused(stack: Stack) -> None:
    response = httpx.get(
        authorize_url(stack, stack.one, code_challenge="", code_challenge_method="")
    )
    assert response.status_code == 302
    back = query_of(response.headers["location"])
    assert back["error"] == "invalid_request"
    assert "code_challenge" in back["error_description"]


def test_pkce_plain_is_refused(stack: Stack) -> None:
    response = httpx.get(
        authorize_url(stack, stack.one, code_challenge=VERIFIER, code_challenge_method="plain")
    )
    assert query_of(response.headers["location"])["error"] == "invalid_request"
    missing_method = httpx.get(authorize_url(stack, stack.one, code_challenge_method=""))
    assert query_of(missing_method.headers["location"])["error"] == "invalid_request"


def test_pkce_downgrade_at_the_token_endpoint_is_refused(stack: Stack) -> None:
    tenant = stack.one
    without = exchange(stack, tenant, approved_code(stack, tenant), code_verifier="")
    assert without.status_code == 400
    assert without.json()["error"] == "invalid_request"
    wrong = exchange(stack, tenant, approved_code(stack, tenant), code_verifier="w" * 50)
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"


def test_confidential_client_cannot_add_a_verifier_it_never_challenged(stack: Stack) -> None:
    tenant = stack.one
    code = approved_code(
        stack, tenant, client_id=tenant.web.client_id, redirect_uri=tenant.web.redirect_uri,
        code_challenge="", code_challenge_method="", scope="profile",
    )  # fmt: skip
    response = httpx.post(
        stack.oauth_url(tenant, "token"),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": tenant.web.redirect_uri,
            "code_verifier": VERIFIER,
        },
        auth=(tenant.web.client_id, tenant.web.secret or ""),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_code_of_one_service_fails_at_another(stack: Stack) -> None:
    code = approved_code(stack, stack.one)
    response = exchange(stack, stack.two, code, client_id=stack.two.tv.client_id)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert exchange(stack, stack.one, code).status_code == 200, "untouched where it belongs"


def test_code_of_one_client_fails_for_another(stack: Stack) -> None:
    tenant = stack.one
    code = approved_code(stack, tenant)
    response = httpx.post(
        stack.oauth_url(tenant, "token"),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": VERIFIER,
        },
        auth=(tenant.web.client_id, tenant.web.secret or ""),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_tokens_of_one_service_fail_at_another(stack: Stack) -> None:
    _oauth, token = code_flow(stack, stack.one, stack.one.tv, new_user())
    refresh = httpx.post(
        stack.oauth_url(stack.two, "token"),
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": stack.two.tv.client_id,
        },
    )
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "invalid_grant"
    assert introspect(stack, stack.two, token["access_token"]) == {"active": False}
    revoke = httpx.post(
        stack.oauth_url(stack.two, "revoke"),
        data={"token": token["access_token"], "client_id": stack.two.tv.client_id},
    )
    assert revoke.status_code == 200
    assert introspect(stack, stack.one, token["access_token"])["active"] is True


def test_tokens_of_one_client_fail_for_another(stack: Stack) -> None:
    tenant = stack.one
    _oauth, token = code_flow(stack, tenant, tenant.tv, new_user())
    auth = (tenant.web.client_id, tenant.web.secret or "")
    refresh = httpx.post(
        stack.oauth_url(tenant, "token"),
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=auth,
    )
    assert refresh.json()["error"] == "invalid_grant"
    revoke = httpx.post(
        stack.oauth_url(tenant, "revoke"), data={"token": token["access_token"]}, auth=auth
    )
    assert revoke.status_code == 400
    assert introspect(stack, tenant, token["access_token"])["active"] is True


def test_device_code_of_one_client_fails_for_another(stack: Stack) -> None:
    tenant = stack.one
    started = device_start(stack, tenant, tenant.tv)
    response = httpx.post(
        stack.oauth_url(tenant, "token"),
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": started["device_code"],
        },
        auth=(tenant.web.client_id, tenant.web.secret or ""),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


def test_refresh_token_reused_after_rotation_revokes_the_family(stack: Stack) -> None:
    tenant = stack.one
    oauth, first = code_flow(stack, tenant, tenant.tv, new_user())
    url = stack.oauth_url(tenant, "token")
    second = oauth.refresh_token(
        url, refresh_token=first["refresh_token"], client_id=tenant.tv.client_id
    )
    with pytest.raises(OAuth2Error) as reused:
        oauth.refresh_token(
            url, refresh_token=first["refresh_token"], client_id=tenant.tv.client_id
        )
    assert reused.value.error == "invalid_grant"
    assert introspect(stack, tenant, second["access_token"]) == {"active": False}
    with pytest.raises(OAuth2Error):
        oauth.refresh_token(
            url, refresh_token=second["refresh_token"], client_id=tenant.tv.client_id
        )


def test_user_code_guessing_is_limited_to_ten_tries(stack: Stack) -> None:
    tenant, guesser = stack.one, new_user()
    started = device_start(stack, tenant, tenant.tv)
    url = stack.api(tenant, "/oauth/device/approve")
    for attempt in range(10):
        wrong = httpx.post(url, json={"user_code": f"BCDF-GH{attempt:02d}", "user_id": guesser})
        assert wrong.status_code == 404, wrong.text
    blocked = httpx.post(url, json={"user_code": started["user_code"], "user_id": guesser})
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    other = httpx.post(url, json={"user_code": started["user_code"], "user_id": new_user()})
    assert other.status_code == 200, "other users are not locked out"


def test_deactivated_users_tokens_stop(stack: Stack) -> None:
    tenant, user = stack.one, new_user()
    assert httpx.put(stack.api(tenant, f"/user/{user}/"), json={}).status_code == 201
    oauth, token = code_flow(stack, tenant, tenant.tv, user)
    assert httpx.delete(stack.api(tenant, f"/user/{user}/")).status_code == 204
    assert introspect(stack, tenant, token["access_token"]) == {"active": False}
    with pytest.raises(OAuth2Error):
        oauth.refresh_token(
            stack.oauth_url(tenant, "token"),
            refresh_token=token["refresh_token"],
            client_id=tenant.tv.client_id,
        )
    assert httpx.get(stack.api(tenant, f"/oauth/grants/{user}/")).json() == {"grants": []}


async def test_revoked_clients_tokens_stop(stack: Stack) -> None:
    tenant = stack.two
    doomed = await new_public_app(stack, tenant, "Doomed")
    _session, token = await asyncio.to_thread(code_flow, stack, tenant, doomed, new_user())
    await oauth.revoke_client(stack.db, service_name=tenant.name, client_id=doomed.client_id)
    assert introspect(stack, tenant, token["access_token"]) == {"active": False}
    url, _state = session(doomed).authorization_url(stack.oauth_url(tenant, "authorize"))
    refused_here(await asyncio.to_thread(httpx.get, url))


def test_wrong_client_secret_is_refused(stack: Stack) -> None:
    tenant = stack.one
    response = httpx.post(
        stack.oauth_url(tenant, "token"),
        data={"grant_type": "refresh_token", "refresh_token": "ttr_whatever-it-is"},
        auth=(tenant.web.client_id, "tts_wrong-secret"),
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_tokens_are_never_logged(stack: Stack) -> None:
    tenant = stack.one
    oauth_session, token = code_flow(stack, tenant, tenant.tv, new_user())
    rotated = oauth_session.refresh_token(
        stack.oauth_url(tenant, "token"),
        refresh_token=token["refresh_token"],
        client_id=tenant.tv.client_id,
    )
    # A careless client puts tokens in URLs; the access log must still not show them.
    httpx.get(
        stack.oauth_url(tenant, "authorize")
        + f"?access_token={rotated['access_token']}&code={token['refresh_token']}"
    )
    secrets = [
        token["access_token"],
        token["refresh_token"],
        rotated["access_token"],
        rotated["refresh_token"],
        tenant.web.secret or "",
    ]
    log = stack.server.log()
    assert "/oauth/" in log, "requests are logged"
    assert "tta_…" in log
    for secret in secrets:
        assert secret not in log


def test_redirect_uris_are_checked_at_registration() -> None:
    for good in (CALLBACK, "https://app.example/cb", "com.example.tv:/oauth"):
        assert oauth.check_redirect_uri(good) == good
    for bad in ("http://app.example/cb", "https://app.example/cb#x", "javascript:alert(1)", "cb"):
        with pytest.raises(BadRequest):
            oauth.check_redirect_uri(bad)
    with pytest.raises(BadRequest):
        oauth.check_scopes(["profile", "admin"])


@dataclass
class Limited:
    """A server of its own for the start-limit tests: `LIMIT` flow starts per client address
    and window, behind a trusted proxy at 127.0.0.1 (a request without `X-Forwarded-For` is
    its own client), sharing the stack's database and services."""

    server: Server
    window: int


LIMIT = 5


@pytest.fixture(scope="module")
def limited(database_url: str) -> Iterator[Limited]:
    window = fresh_window(3600)
    env = tanktop_env(
        database_url,
        TANKTOP_RUN_WORKER="0",
        TANKTOP_OAUTH_START_RATE_LIMIT=str(LIMIT),
        TANKTOP_RATE_WINDOW_SECONDS=str(window),
    )
    with running_server(env, "--forwarded-allow-ips", "127.0.0.1") as server:
        yield Limited(server, window)


async def test_flows_started_from_one_address_are_limited(stack: Stack, limited: Limited) -> None:
    """Device codes and authorization requests are rows stored before anyone signs in: one
    machine may start only so many per window, and another machine is not held back."""
    tenant = stack.one
    base = limited.server.base_url

    async def devices() -> int:
        async with stack.db.read() as conn:
            count = await conn.scalar(sa.select(sa.func.count()).select_from(oauth_devices))
        return int(count or 0)

    def burst(local_address: str) -> list[httpx.Response]:
        transport = httpx.HTTPTransport(local_address=local_address)
        with httpx.Client(base_url=base, transport=transport) as client:
            url = f"/oauth/{tenant.name}/device/code"
            data = {"client_id": tenant.tv.client_id}
            return [client.post(url, data=data) for _ in range(LIMIT + 3)]

    before = await devices()
    answers = await asyncio.to_thread(burst, "127.0.0.1")
    codes = [r.status_code for r in answers]
    assert codes == [200] * LIMIT + [429] * 3, codes
    refused = answers[-1]
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(refused.headers["retry-after"]) <= limited.window
    assert await devices() == before + LIMIT, "a refused start stores nothing"
    authorize = await asyncio.to_thread(
        httpx.get, authorize_url(stack, tenant).replace(stack.base, base, 1)
    )
    assert authorize.status_code == 429, "authorize spends the same budget"
    elsewhere = await asyncio.to_thread(burst, "127.0.0.2")
    assert [r.status_code for r in elsewhere][:LIMIT] == [200] * LIMIT


async def test_behind_a_trusted_proxy_the_limit_is_per_forwarded_client(
    stack: Stack, limited: Limited
) -> None:
    tenant = stack.one

    def start_as(client: str) -> int:
        return httpx.post(
            f"{limited.server.base_url}/oauth/{tenant.name}/device/code",
            data={"client_id": tenant.tv.client_id},
            headers={"X-Forwarded-For": client},
        ).status_code

    first = [await asyncio.to_thread(start_as, "203.0.113.5") for _ in range(LIMIT + 1)]
    assert first == [200] * LIMIT + [429]
    assert await asyncio.to_thread(start_as, "203.0.113.6") == 200
