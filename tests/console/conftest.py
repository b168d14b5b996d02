"""Console fixtures: httpx clients that keep the console's cookie and CSRF token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.notifications.conftest import hook_settings  # noqa: F401  (a fixture shared)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


class Browser:
    """An httpx client that keeps the console's cookie, like a browser would."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.csrf = ""

    async def get(self, path: str, **kwargs: object) -> httpx.Response:
        response = await self.http.get(path, **kwargs)  # type: ignore[arg-type]
        if 'name="csrf"' in response.text:
            self.csrf = csrf_of(response.text)
        return response

    async def post(self, path: str, data: dict[str, str], **kwargs: object) -> httpx.Response:
        return await self.http.post(path, data={"csrf": self.csrf, **data}, **kwargs)  # type: ignore[arg-type]

    async def sign_in(self, credential: str) -> httpx.Response:
        await self.get("/console/sign-in")
        response = await self.post("/console/sign-in", {"credential": credential})
        if response.status_code == 303:
            await self.get("/console/")
        return response


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[Browser]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield Browser(http)


@pytest.fixture
async def other_browser(app: FastAPI) -> AsyncIterator[Browser]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield Browser(http)
