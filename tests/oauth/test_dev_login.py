"""The development login page: the whole code and device flows in a "browser", loopback only."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tanktop.app import create_app
from tanktop.config import Settings
from tanktop.oauth import service as oauth
from tanktop.tenants import service as tenants
from tests.servers import run_cli, tanktop_env

DEV_CALLBACK = "http://127.0.0.1:8000/oauth/dev/callback"


@pytest.fixture(scope="module")
async def dev_app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings.model_copy(update={"oauth_dev_login": True}))
    async with application.router.lifespan_context(application):
        yield application


def browser(app: FastAPI, host: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(host, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")


async def dev_service(app: FastAPI) -> tuple[str, oauth.NewClient]:
    name = f"demo-{uuid.uuid4().hex[:8]}"
    db = app.state.db
    await tenants.create_key(db, name=name)
    await oauth.enable(db, name=name, login_url=f"http://127.0.0.1:8000/oauth/dev/{name}/login")
    app_client = await oauth.create_client(
        db, service_name=name, name="Try-out app", redirect_uris=[DEV_CALLBACK], public=False
    )
    return name, app_client


async def test_code_flow_in_a_browser(dev_app: FastAPI) -> None:
    name, app = await dev_service(dev_app)
    async with browser(dev_app) as http:
        start = await http.get(
            f"/oauth/{name}/authorize",
            params={"response_type": "code", "client_id": app.client_id, "state": "xyz"},
        )
        assert start.status_code == 302
        login = await http.get(start.headers["location"])
        assert login.status_code == 200
        assert "Try-out app wants access" in login.text
        request_id = start.headers["location"].split("request=")[1]
        done = await http.post(
            f"/oauth/dev/{name}/login",
            data={"request": request_id, "user_id": "7", "decision": "approve"},
        )
        assert done.status_code == 303
        assert done.headers["location"].startswith(DEV_CALLBACK + "?code=ttc_")
        shown = await http.get(done.headers["location"])
        assert "xyz" in shown.text


async def test_device_flow_in_a_browser(dev_app: FastAPI) -> None:
    name, app = await dev_service(dev_app)
    async with browser(dev_app) as http:
        started = (
            await http.post(
                f"/oauth/{name}/device/code", auth=(app.client_id, app.client_secret or "")
            )
        ).json()
        assert started["verification_uri"].endswith(f"/oauth/dev/{name}/login")
        page = await http.get(started["verification_uri_complete"])
        assert started["user_code"] in page.text
        done = await http.post(
            f"/oauth/dev/{name}/login",
            data={"user_code": started["user_code"], "user_id": "7", "decision": "approve"},
        )
        assert "Try-out app is connected" in done.text


async def test_only_loopback_callers(dev_app: FastAPI) -> None:
    name, _app = await dev_service(dev_app)
    async with browser(dev_app, host="203.0.113.9") as http:
        response = await http.get(f"/oauth/dev/{name}/login")
    assert response.status_code == 403


async def test_off_by_default(client: httpx.AsyncClient) -> None:
    assert (await client.get("/oauth/dev/callback")).status_code == 404


def test_serve_refuses_it_on_a_public_host() -> None:
    env = tanktop_env("sqlite:///unused.db", TANKTOP_OAUTH_DEV_LOGIN="1")
    result = run_cli(env, "serve", "--host", "0.0.0.0", "--port", "1")
    assert result.returncode == 2
    assert "loopback" in result.stderr
