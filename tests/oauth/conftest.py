"""One real `tanktop serve` per test module and backend, with two OAuth services and their apps.

The flows are driven by requests-oauthlib (oauthlib's client: an implementation independent of
the Authlib one the server runs), the service's side by plain HTTP calls with its key.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tanktop.db import Database
from tanktop.oauth import service as oauth
from tanktop.tenants import service as tenants
from tests.conftest import ADMIN_TOKEN
from tests.servers import Server, running_server, tanktop_env

# The test server listens on plain http on loopback; oauthlib insists on https unless told.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

LOGIN = "https://tv.example/login"
CALLBACK = "http://127.0.0.1:9/callback"
WEB_CALLBACK = "https://web.example/oauth/callback"


@dataclass
class App:
    client_id: str
    secret: str | None
    redirect_uri: str


@dataclass
class Tenant:
    """A service with OAuth on: its key, its public (TV) app and its confidential (web) app."""

    name: str
    key: str
    tv: App
    web: App


@dataclass
class Stack:
    server: Server
    db: Database
    one: Tenant
    two: Tenant

    @property
    def base(self) -> str:
        return self.server.base_url

    def oauth_url(self, tenant: Tenant, endpoint: str) -> str:
        return f"{self.base}/oauth/{tenant.name}/{endpoint}"

    def api(self, tenant: Tenant, path: str) -> str:
        return f"{self.base}/api/1/{tenant.key}{path}"


async def new_tenant(db: Database) -> Tenant:
    name = f"tv-{uuid.uuid4().hex[:8]}"
    key = await tenants.create_key(db, name=name)
    await oauth.enable(db, name=name, login_url=LOGIN)
    tv = await oauth.create_client(
        db, service_name=name, name="Couch TV", redirect_uris=[CALLBACK], public=True
    )
    web = await oauth.create_client(
        db,
        service_name=name,
        name="Web app",
        redirect_uris=[WEB_CALLBACK],
        public=False,
        scopes=["profile", "lists:read"],
    )
    return Tenant(
        name,
        key,
        App(tv.client_id, None, CALLBACK),
        App(web.client_id, web.client_secret, WEB_CALLBACK),
    )


@pytest.fixture(scope="module")
async def stack(database_url: str) -> AsyncIterator[Stack]:
    env = tanktop_env(database_url, TANKTOP_RUN_WORKER="0", TANKTOP_ADMIN_TOKEN=ADMIN_TOKEN)
    db = Database(database_url, pool_size=2)
    try:
        server_context = running_server(env)
        server = server_context.__enter__()
        try:
            yield Stack(server, db, await new_tenant(db), await new_tenant(db))
        finally:
            server_context.__exit__(None, None, None)
    finally:
        await db.dispose()
