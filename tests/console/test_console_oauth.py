"""Console OAuth pages over HTTP (both backends): the operator enables a service's authorization
server and registers and revokes apps; a user's connected apps, and disconnecting one."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from tanktop.db import Database
from tanktop.oauth import service as oauth
from tests.conftest import ADMIN_TOKEN, Api, service_of
from tests.console.conftest import Browser

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


async def as_operator_on(browser: Browser, db: Database, api: Api) -> str:
    """Sign the operator in with `api`'s service in view; returns the service's name."""
    service = await service_of(db, api)
    await browser.sign_in(ADMIN_TOKEN)
    await browser.post("/console/service", {"service_id": str(service.id)})
    return service.name


async def test_operator_enables_oauth_registers_and_revokes_apps(
    browser: Browser, api: Api, db: Database
) -> None:
    name = await as_operator_on(browser, db, api)
    page = await browser.get("/console/oauth")
    assert "Not enabled" in page.text
    bad = await browser.post("/console/oauth/enable", {"login_url": "ftp://x"})
    assert bad.status_code == 400
    assert "Not enabled" in bad.text
    on = await browser.post("/console/oauth/enable", {"login_url": "https://tv.example/login"})
    assert on.status_code == 303
    assert (await oauth.oauth_service(db, name=name)).login_url == "https://tv.example/login"
    refused = await browser.post(
        "/console/oauth/clients", {"name": "Bad", "redirect_uris": "http://evil.example/cb"}
    )
    assert refused.status_code == 400
    made = await browser.post(
        "/console/oauth/clients",
        {
            "name": "Web app",
            "redirect_uris": "https://app.example/cb\nhttps://app.example/cb2",
            "scope_profile": "on",
            "scope_lists:read": "on",
        },
    )
    assert made.status_code == 200
    client_id = re.search(r'id="new-client-id">([^<]+)<', made.text)
    secret = re.search(r'id="new-client-secret">([^<]+)<', made.text)
    assert client_id
    assert secret
    (client,) = await oauth.list_clients(db, service_name=name)
    assert (client.client_id, client.public, client.scope) == (
        client_id.group(1),
        False,
        "profile lists:read",
    )
    assert client.redirect_uris == ("https://app.example/cb", "https://app.example/cb2")
    listed = await browser.get("/console/oauth")
    assert secret.group(1) not in listed.text
    assert "https://app.example/cb2" in listed.text
    revoked = await browser.post("/console/oauth/clients/revoke", {"client_id": client.client_id})
    assert revoked.status_code == 303
    assert (await oauth.list_clients(db, service_name=name))[0].revoked


async def test_a_service_key_cannot_open_the_oauth_page(browser: Browser, api: Api) -> None:
    await browser.sign_in(api.key)
    assert "OAuth apps" not in (await browser.get("/console/")).text
    assert (await browser.get("/console/oauth")).status_code == 403
    enable = await browser.post("/console/oauth/enable", {"login_url": "https://x.example/"})
    assert enable.status_code == 403


async def test_connected_apps_are_listed_and_disconnected(
    browser: Browser, api: Api, db: Database, app: FastAPI
) -> None:
    name = (await service_of(db, api)).name
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
        await oauth.enable(db, name=name, login_url="https://tv.example/login")
        tv = await oauth.create_client(
            db, service_name=name, name="Couch TV", redirect_uris=[], public=True
        )
        device = await client.post(f"/oauth/{name}/device/code", data={"client_id": tv.client_id})
        assert device.status_code == 200, device.text
        started = device.json()
        approved = await api.post(
            "/oauth/device/approve", json={"user_code": started["user_code"], "user_id": "o1"}
        )
        assert approved.status_code == 200, approved.text
        token = await client.post(
            f"/oauth/{name}/token",
            data={
                "grant_type": DEVICE_GRANT,
                "device_code": started["device_code"],
                "client_id": tv.client_id,
            },
        )
        assert token.status_code == 200, token.text
    await browser.sign_in(api.key)
    page = await browser.get("/console/users/o1")
    assert "Couch TV" in page.text
    gone = await browser.post("/console/users/o1/apps/disconnect", {"client_id": tv.client_id})
    assert gone.status_code == 303
    assert (await api.get("/oauth/grants/o1/")).json()["grants"] == []
    assert "No app connected" in (await browser.get("/console/users/o1")).text
    again = await browser.post("/console/users/o1/apps/disconnect", {"client_id": tv.client_id})
    assert again.status_code == 404
