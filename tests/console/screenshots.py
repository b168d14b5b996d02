"""`make screenshots`: a PNG of each console page, drawn from the demo data, for the README.

python -m tests.console.screenshots [OUTDIR]   (default docs/console)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from playwright.async_api import Browser, Page

from tests.console.browser import ADMIN_TOKEN, Console, chromium, demo_console, sign_in

WIDTH, HEIGHT = 1280, 860


async def _shoot(page: Page, out: Path, name: str, path: str | None = None) -> None:
    if path is not None:
        await page.goto(path)
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=str(out / f"{name}.png"), full_page=True)
    print(f"{out / name}.png  ({page.url})")


async def shoot_all(browser: Browser, console: Console, out: Path) -> None:
    base = console.url
    page = await browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
    await _shoot(page, out, "sign-in", base + "sign-in")
    await sign_in(page, console, console.key)
    await _shoot(page, out, "overview", base)
    await _shoot(page, out, "users", base + "users")
    await _shoot(page, out, "user", base + "users/1")
    await _shoot(page, out, "notifications", base + "notifications")
    await page.goto(base + "notifications?status=failed")
    await page.click('a[href^="/console/notifications/2/"]')  # the demo's flaky receiver
    await _shoot(page, out, "notification")
    await _shoot(page, out, "sections", base + "sections")
    await _shoot(page, out, "keys", base + "keys")
    operator = await browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
    await sign_in(operator, console, ADMIN_TOKEN)
    await operator.goto(base + "keys")
    await operator.fill("input[name=service]", "acme")
    await operator.click("text=Create key")
    await operator.wait_for_selector("#new-key")
    await _shoot(operator, out, "keys-operator")
    await operator.goto(base + "recommender")
    await operator.fill("textarea[name=settings]", '{"weights": {"like": 1.5, "share": 2}}')
    await operator.click("text=Store version")
    await operator.wait_for_selector(".flash")
    await _shoot(operator, out, "recommender")
    await operator.goto(base + "oauth")
    await operator.fill("input[name=login_url]", "https://demo.example/oauth/login")
    await operator.click("text=Enable OAuth")
    await operator.fill("input[name=name]", "Couch Companion")
    await operator.fill("textarea[name=redirect_uris]", "https://couch.example/callback")
    await operator.check("input[name='scope_profile']")
    await operator.check("input[name='scope_lists:read']")
    await operator.click("text=Register app")
    await operator.wait_for_selector("#new-client")
    await _shoot(operator, out, "oauth")


async def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with demo_console(Path(tmp) / "demo.db", ["acme"]) as console, chromium() as browser:
            await shoot_all(browser, console, out)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/console")
    target.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(target))
