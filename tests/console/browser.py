"""Headless Debian Chromium driven by Playwright, and a console server with demo data.

Chromium is Debian's (`apt-get install chromium`, which `.ci/run` does); Playwright never
downloads a browser of its own here. The flags keep Chromium off the network (this machine's
only network is loopback) and out of the sandbox (tests run as root).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

from tanktop import migrations
from tanktop.db import Database
from tanktop.tenants import service as tenants
from tests.servers import Server, run_cli, running_server, tanktop_env

CHROMIUM = os.environ.get("TANKTOP_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_TOKEN = "console-admin-token"


def chromium_missing() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    if shutil.which(CHROMIUM) is None:
        return f"{CHROMIUM} not found (apt-get install chromium)"
    return None


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Console:
    """A running `tanktop serve` whose service `demo` has demo users."""

    server: Server
    env: dict[str, str]
    keys: dict[str, str]
    """API key of each service made: `demo` and the others asked for."""

    @property
    def key(self) -> str:
        return self.keys["demo"]

    @property
    def url(self) -> str:
        return self.server.base_url + "/console/"


@asynccontextmanager
async def demo_console(
    database: Path, others: Sequence[str] = (), **extra_env: str
) -> AsyncIterator[Console]:
    """Services `demo` and `others`, demo users for `demo` (`tanktop demo`), then serve."""
    url = f"sqlite:///{database}"
    env = tanktop_env(
        url,
        TANKTOP_ADMIN_TOKEN=ADMIN_TOKEN,
        TANKTOP_WEBHOOK_ALLOW_PRIVATE="1",
        TANKTOP_WORKER_IDLE_SECONDS="0.1",
        **extra_env,
    )
    db = Database(url)
    try:
        await migrations.upgrade(db)
        keys = {name: await tenants.create_key(db, name=name) for name in ("demo", *others)}
    finally:
        await db.dispose()
    result = await asyncio.to_thread(run_cli, env, "demo", "demo")
    assert result.returncode == 0, result.stderr
    with running_server(env) as server:
        yield Console(server, env, keys)


async def sign_in(page: Page, console: Console, credential: str) -> None:
    await page.goto(console.url + "sign-in")
    await page.fill("#credential", credential)
    await page.click("button[type=submit]")
    await page.wait_for_selector("aside.sidebar")
