"""Workers forget what can no longer be used, a day after it expired; nothing live goes."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from tanktop.config import Settings
from tanktop.db import Database
from tanktop.oauth import service as oauth
from tanktop.oauth.models import digest
from tanktop.oauth.tables import oauth_codes, oauth_devices, oauth_requests, oauth_tokens
from tanktop.tenants import service as tenants

CALLBACK = "https://app.example/cb"


@pytest.fixture
async def https(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as http:
        yield http


async def test_expired_rows_are_swept_and_live_ones_kept(
    db: Database, https: httpx.AsyncClient, settings: Settings
) -> None:
    name = f"sweep-{uuid.uuid4().hex[:8]}"
    key = await tenants.create_key(db, name=name)
    await oauth.enable(db, name=name, login_url="https://tv.example/login")
    app = await oauth.create_client(
        db, service_name=name, name="Web", redirect_uris=[CALLBACK], public=False
    )
    secret = app.client_secret or ""

    async def tokens() -> dict[str, str]:
        start = await https.get(
            f"/oauth/{name}/authorize", params={"response_type": "code", "client_id": app.client_id}
        )
        request = start.headers["location"].split("request=")[1]
        approved = await https.post(
            f"/api/1/{key}/oauth/requests/{request}/approve", json={"user_id": "7"}
        )
        code = approved.json()["redirect_to"].split("code=")[1]
        answer = await https.post(
            f"/oauth/{name}/token",
            data={"grant_type": "authorization_code", "code": code},
            auth=(app.client_id, secret),
        )
        token: dict[str, str] = answer.json()
        return token

    old, live = await tokens(), await tokens()
    device = await https.post(f"/oauth/{name}/device/code", auth=(app.client_id, secret))
    assert device.status_code == 200

    service = await tenants.service_by_name(db, name=name)
    assert service is not None
    mine = [
        (table, table.c.service_id == service.id)
        for table in (oauth_requests, oauth_codes, oauth_devices)
    ]
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    async with db.write() as conn:
        for table, where in mine:
            await conn.execute(sa.update(table).where(where).values(expires_at=long_ago))
        await conn.execute(
            sa.update(oauth_tokens)
            .where(oauth_tokens.c.access_hash == digest(old["access_token"]))
            .values(expires_at=long_ago, refresh_expires_at=long_ago)
        )
    assert await oauth.sweep_expired(db, settings=settings) >= 4
    assert await oauth.sweep_expired(db, settings=settings) == 0, "nothing left to do"

    async with db.read() as conn:
        for table, where in mine:
            assert (
                await conn.scalar(sa.select(sa.func.count()).select_from(table).where(where)) == 0
            )
        hashes = set(await conn.scalars(sa.select(oauth_tokens.c.access_hash)))
    assert digest(old["access_token"]) not in hashes
    assert digest(live["access_token"]) in hashes
    refreshed = await https.post(
        f"/oauth/{name}/token",
        data={"grant_type": "refresh_token", "refresh_token": live["refresh_token"]},
        auth=(app.client_id, secret),
    )
    assert refreshed.status_code == 200
