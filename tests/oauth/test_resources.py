"""`/api/1/me/…` with bearer tokens: the service's own answers for the consenting user only,
scopes enforced, bad tokens refused with RFC 6750 headers, each app held to its rate limit."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tanktop.oauth import service as oauth
from tanktop.oauth.models import digest
from tanktop.oauth.tables import oauth_tokens
from tests.conftest import ADMIN_TOKEN, unique
from tests.oauth.conftest import Stack
from tests.oauth.flows import code_flow, new_public_app, new_user

pytestmark = pytest.mark.e2e

ALL_SCOPES = ["profile", "lists:read", "lists:write", "bookmarks", "recommendations"]


def me(stack: Stack, token: str, path: str, method: str = "GET", **kwargs: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"}
    return httpx.request(method, f"{stack.base}/api/1/me{path}", headers=headers, **kwargs)


def service_call(stack: Stack, path: str, method: str = "GET", **kwargs: Any) -> httpx.Response:
    return httpx.request(method, stack.api(stack.one, path), **kwargs)


def answer(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, response.json() if response.content else None


def test_same_answers_as_the_services_own_calls(stack: Stack) -> None:
    user, movie = new_user(), unique("m")
    admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    assert httpx.put(
        f"{stack.base}/admin/1/catalog/movie/{movie}/",
        json={"title": "Alien", "duration": 100},
        headers=admin,
    ).is_success
    assert service_call(stack, f"/user/{user}/", "PUT", json={"name": "Sam"}).status_code == 201
    for event in ("watchlist/movie/1/", "rated/movie/24/4.5/", f"progress/movie/{movie}/30/"):
        assert service_call(stack, f"/event/{user}/{event}", "POST").status_code == 204
    _session, token = code_flow(stack, stack.one, stack.one.tv, user, ALL_SCOPES)
    at = "2026-11-30T20:00:00Z"
    pairs = [
        ("/user/", f"/user/{user}/"),
        ("/event/watchlist/movie/", f"/event/{user}/watchlist/movie/"),
        ("/event/rated/movie/?id=24&id=99", f"/event/{user}/rated/movie/?id=24&id=99"),
        ("/event/nothing/movie/", f"/event/{user}/nothing/movie/"),
        ("/bookmark/", f"/bookmark/{user}/"),
        (f"/bookmark/movie/{movie}/", f"/bookmark/{user}/movie/{movie}/"),
        ("/bookmark/movie/absent/", f"/bookmark/{user}/movie/absent/"),
        ("/recommendation/?n=5", f"/recommendation/{user}/?n=5"),
        ("/recommendation/movie/?n=5", f"/recommendation/{user}/movie/?n=5"),
        (f"/recommendation/live/?at={at}", f"/recommendation/{user}/live/?at={at}"),
        ("/event/watchlist/movie/?limit=0", f"/event/{user}/watchlist/movie/?limit=0"),
    ]
    for mine, theirs in pairs:
        assert answer(me(stack, token["access_token"], mine)) == answer(
            service_call(stack, theirs)
        ), mine
    assert me(stack, token["access_token"], "/bookmark/").json()["bookmarks"][0]["item_id"] == movie


def test_writes_land_in_the_users_own_lists(stack: Stack) -> None:
    user = new_user()
    _session, token = code_flow(stack, stack.one, stack.one.tv, user, ALL_SCOPES)
    access = token["access_token"]
    assert me(stack, access, "/event/watchlist/movie/5/", "POST").status_code == 204
    assert me(stack, access, "/event/rated/movie/5/-2/", "POST").status_code == 204
    assert service_call(stack, f"/event/{user}/watchlist/movie/").json() == {
        "watchlist": {"5": None}
    }
    assert service_call(stack, f"/event/{user}/rated/movie/").json() == {"rated": {"5": -2}}
    assert me(stack, access, "/event/watchlist/movie/5/", "DELETE").status_code == 204
    assert service_call(stack, f"/event/{user}/watchlist/movie/").json() == {"watchlist": {}}
    bad = me(stack, access, "/event/rated/movie/5/lots/", "POST")
    assert bad.status_code == 400, "the service's own validation"

    assert service_call(stack, f"/user/{user}/", "PUT", json={"name": "Sam"}).status_code == 201
    patched = me(stack, access, "/user/", "PATCH", json={"language": "fr"})
    assert patched.json() == {"id": user, "name": "Sam", "language": "fr"}
    assert service_call(stack, f"/user/{user}/").json() == patched.json()


def test_a_token_reaches_only_its_own_user_and_service(stack: Stack) -> None:
    mine, other = new_user(), new_user()
    service_call(stack, f"/event/{other}/watchlist/movie/7/", "POST")
    _session, token = code_flow(stack, stack.one, stack.one.tv, mine, ALL_SCOPES)
    assert me(stack, token["access_token"], "/event/watchlist/movie/").json() == {"watchlist": {}}
    httpx.post(stack.api(stack.two, f"/event/{mine}/watchlist/movie/8/"))
    assert me(stack, token["access_token"], "/event/watchlist/movie/").json() == {"watchlist": {}}


def test_a_missing_scope_is_403_naming_it(stack: Stack) -> None:
    _session, token = code_flow(stack, stack.one, stack.one.tv, new_user(), ["profile"])
    for path, method, scope in (
        ("/event/watchlist/movie/", "GET", "lists:read"),
        ("/event/watchlist/movie/1/", "POST", "lists:write"),
        ("/event/watchlist/movie/1/", "DELETE", "lists:write"),
        ("/bookmark/", "GET", "bookmarks"),
        ("/recommendation/", "GET", "recommendations"),
    ):
        response = me(stack, token["access_token"], path, method)
        assert response.status_code == 403, path
        assert response.headers["content-type"] == "application/problem+json"
        assert scope in response.json()["detail"]
        assert response.json()["scope"] == scope
        assert f'scope="{scope}"' in response.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert me(stack, token["access_token"], "/user/").status_code == 404, "allowed; no profile"


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer tta_not-a-real-token-at-all", "Basic dXNlcjpwYXNz", "Bearer tt_a-key"],
)
def test_no_valid_token_is_401(stack: Stack, authorization: str | None) -> None:
    headers = {"authorization": authorization} if authorization else {}
    response = httpx.get(f"{stack.base}/api/1/me/user/", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer ")


def assert_refused(stack: Stack, token: str) -> None:
    response = me(stack, token, "/event/watchlist/movie/")
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_an_expired_token_is_401(stack: Stack) -> None:
    _session, token = await asyncio.to_thread(
        code_flow, stack, stack.one, stack.one.tv, new_user(), ALL_SCOPES
    )
    assert (await asyncio.to_thread(me, stack, token["access_token"], "/user/")).status_code == 404
    async with stack.db.write() as conn:  # an hour passes
        await conn.execute(
            sa.update(oauth_tokens)
            .where(oauth_tokens.c.access_hash == digest(token["access_token"]))
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    await asyncio.to_thread(assert_refused, stack, token["access_token"])


def test_a_deactivated_users_token_stops_at_once(stack: Stack) -> None:
    user = new_user()
    service_call(stack, f"/user/{user}/", "PUT", json={})
    _session, token = code_flow(stack, stack.one, stack.one.tv, user, ALL_SCOPES)
    assert me(stack, token["access_token"], "/user/").status_code == 200
    assert service_call(stack, f"/user/{user}/", "DELETE").status_code == 204
    assert_refused(stack, token["access_token"])


def test_a_disconnected_apps_token_stops_at_once(stack: Stack) -> None:
    user = new_user()
    _session, token = code_flow(stack, stack.one, stack.one.tv, user, ALL_SCOPES)
    gone = service_call(stack, f"/oauth/grants/{user}/{stack.one.tv.client_id}/", "DELETE")
    assert gone.status_code == 204
    assert_refused(stack, token["access_token"])


def test_a_revoked_access_token_stops_at_once(stack: Stack) -> None:
    _session, token = code_flow(stack, stack.one, stack.one.tv, new_user(), ALL_SCOPES)
    revoked = httpx.post(
        stack.oauth_url(stack.one, "revoke"),
        data={"token": token["access_token"], "client_id": stack.one.tv.client_id},
    )
    assert revoked.status_code == 200
    assert_refused(stack, token["access_token"])


async def test_a_revoked_apps_token_stops_at_once(stack: Stack) -> None:
    app = await new_public_app(stack, stack.one, "Short-lived")
    _session, token = await asyncio.to_thread(
        code_flow, stack, stack.one, app, new_user(), ALL_SCOPES
    )
    await oauth.revoke_client(stack.db, service_name=stack.one.name, client_id=app.client_id)
    await asyncio.to_thread(assert_refused, stack, token["access_token"])


async def test_each_app_has_its_own_rate_limit(stack: Stack) -> None:
    chatty = await new_public_app(stack, stack.one, "Chatty", rate_limit=3)
    _s, chatty_token = await asyncio.to_thread(
        code_flow, stack, stack.one, chatty, new_user(), ALL_SCOPES
    )
    _s, calm_token = await asyncio.to_thread(
        code_flow, stack, stack.one, stack.one.tv, new_user(), ALL_SCOPES
    )

    def burst() -> list[httpx.Response]:
        return [
            me(stack, chatty_token["access_token"], "/event/watchlist/movie/") for _ in range(20)
        ]

    answers = await asyncio.to_thread(burst)
    limited = [r for r in answers if r.status_code == 429]
    assert limited, "3 requests per second, 20 sent"
    assert int(limited[0].headers["retry-after"]) >= 1
    assert all(r.status_code in (200, 429) for r in answers)
    calm = await asyncio.to_thread(me, stack, calm_token["access_token"], "/event/watchlist/movie/")
    assert calm.status_code == 200, "another app is not held back"
