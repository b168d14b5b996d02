"""The console in a real browser: headless Debian Chromium against one real `tanktop serve`
(SQLite, worker inside, demo users loaded) for the whole module."""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    expect,
)

from tests.console.browser import (
    ADMIN_TOKEN,
    Console,
    chromium,
    chromium_missing,
    demo_console,
    sign_in,
)
from tests.receiver import Receiver

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def console(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Console]:
    missing = chromium_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    database = tmp_path_factory.mktemp("console") / "console.db"
    async with demo_console(
        database, ["other-service"], TANKTOP_WEBHOOK_RETRY_DELAYS="0.2"
    ) as running:
        yield running


@pytest.fixture(scope="module")
async def browser(console: Console) -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (no cookies) per test."""
    fresh = await browser.new_context(viewport={"width": 1280, "height": 860})
    yield fresh
    await fresh.close()


@pytest.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    """A page that fails the test on any script error, CSP violation or missing asset."""
    opened = await context.new_page()
    errors: list[str] = []

    def record(message: ConsoleMessage) -> None:
        # Answers' statuses are the tests' business (a refused sign-in is a 401 page).
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    def asset(response: Response) -> None:
        # Pages (boosted or not) may answer 4xx saying why; scripts, styles and images may not.
        if response.request.resource_type in ASSETS and response.status >= 400:
            errors.append(f"{response.status} for {response.url}")

    opened.on("console", record)
    opened.on("response", asset)
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on("dialog", lambda dialog: dialog.accept())
    yield opened
    assert errors == [], errors


ASSETS = {"script", "stylesheet", "image", "font"}


def api(console: Console, key: str, path: str) -> str:
    return f"{console.server.base_url}/api/1/{key}{path}"


async def test_sign_in_create_a_key_and_sign_out(page: Page, console: Console) -> None:
    await page.goto(console.url)
    await expect(page).to_have_url(console.url + "sign-in")
    await page.fill("#credential", "tt_not-a-real-key-at-all")
    await page.click("button[type=submit]")
    await expect(page.locator(".error")).to_contain_text("neither an active API key")
    await sign_in(page, console, ADMIN_TOKEN)
    await expect(page.locator(".who")).to_contain_text("Operator")
    await page.click("nav >> text=Keys")
    await page.fill("input[name=service]", "acme")
    await page.click("text=Create key")
    new_key = (await page.locator("#new-key-value").inner_text()).strip()
    assert new_key.startswith("tt_")
    assert new_key not in page.url
    async with httpx.AsyncClient() as http:
        answer = await http.get(api(console, new_key, "/user/nobody/"))
    assert answer.status_code == 404  # the key works: 404 for a user it does not have
    await expect(page.locator("#service-picker")).to_contain_text("acme")
    await page.click("text=Sign out")
    await expect(page).to_have_url(console.url + "sign-in")
    await page.goto(console.url + "keys")
    await expect(page).to_have_url(console.url + "sign-in")
    assert new_key not in console.server.log()


async def test_overview_draws_its_charts(page: Page, console: Console) -> None:
    """uPlot, shipped in the package, draws under the strict CSP (the page fixture fails the
    test on any console error); the demo's month of events is in the rollups."""
    await sign_in(page, console, console.key)
    await expect(page.locator("[data-chart] canvas")).to_have_count(3)
    await expect(page.locator(".chart .u-legend").first).to_contain_text("seen")
    await expect(page.locator("table.bars tbody tr")).to_have_count(10)


async def test_a_user_with_events_shows_bookmarks_and_recommendations(
    page: Page, console: Console
) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.post(api(console, console.key, "/event/1/progress/movie/80716/40/"))
    assert answer.status_code == 204
    await sign_in(page, console, console.key)
    await page.click("nav >> text=Users")
    await page.fill("#user", "1")
    await page.click("text=Look up")
    await expect(page).to_have_url(console.url + "users/1")
    await expect(page.locator("#profile")).to_contain_text('"name": "Sam"')
    bookmarks = page.locator("#bookmarks tbody tr")
    await expect(bookmarks.filter(has_text="Fame (1980)")).to_contain_text("40 of 94 min")
    recommendations = page.locator("#recommendations tbody tr")
    assert await recommendations.count() == 10
    await expect(recommendations.first).to_contain_text("because of")
    await expect(page.locator("#lists")).to_contain_text("progress")
    await expect(page.locator("#history tbody tr").first).to_contain_text("Fame (1980)")


async def test_resend_a_failed_webhook(page: Page, console: Console, hook: Receiver) -> None:
    hook.statuses = [500, 500]  # both attempts (TANKTOP_WEBHOOK_RETRY_DELAYS=0.2) fail
    async with httpx.AsyncClient() as http:
        made = await http.post(
            api(console, console.key, "/notification/hooked/movie/82288/"), json={"url": hook.url}
        )
        assert made.status_code == 204
        deadline = time.monotonic() + 30
        while (await http.get(api(console, console.key, "/notification/hooked/"))).json()[
            "notifications"
        ][0]["status"] != "failed":
            assert time.monotonic() < deadline, "the webhook did not fail twice in time"
            await page.wait_for_timeout(100)
    await sign_in(page, console, console.key)
    await page.click("nav >> text=Notifications")
    await page.click(".tabs >> text=Failed")
    await expect(page).to_have_url(console.url + "notifications?status=failed")  # swapped in
    row = page.locator("tbody tr", has_text="hooked")
    await row.locator("text=Deliveries").click()
    await expect(page).to_have_url(console.url + "notifications/hooked/movie/82288")
    await expect(page.locator(".attempts tbody tr")).to_have_count(2)
    await expect(page.locator(".attempts")).to_contain_text("answer 500")
    await page.click("text=Resend failed webhook")
    await expect(page.locator("#deliveries .flash")).to_have_text("1 webhook queued again.")
    deadline = time.monotonic() + 30  # the worker sends it, then records the answer
    while "notified" not in await page.locator("dl.facts").inner_text():
        assert time.monotonic() < deadline, "the resent webhook was not recorded as delivered"
        await page.wait_for_timeout(200)
        await page.reload()
    await expect(page.locator(".attempts tbody tr").last).to_contain_text("200")
    assert len(hook.received) == 3


async def test_hide_a_section_for_a_user_and_see_the_page_change(
    page: Page, console: Console
) -> None:
    await sign_in(page, console, console.key)
    await page.goto(console.url + "users/3")
    order = page.locator("#sections ol.section-order > li")
    before = await order.evaluate_all("items => items.map(i => i.dataset.section)")
    assert "recommended" in before
    await order.filter(has_text="Recommended for you").get_by_role("button", name="Hide").click()
    await expect(page.locator("#sections ul.hidden")).to_contain_text("Recommended for you")
    await expect(order).to_have_count(len(before) - 1)
    await page.reload()
    after = await order.evaluate_all("items => items.map(i => i.dataset.section)")
    assert after == [s for s in before if s != "recommended"]
    async with httpx.AsyncClient() as http:
        listed = await http.get(api(console, console.key, "/list/3/section/"))
    assert "recommended" not in listed.json()["items"]


async def test_another_services_key_cannot_open_the_first_ones_users(
    page: Page, console: Console
) -> None:
    await sign_in(page, console, console.keys["other-service"])
    await page.goto(console.url + "users")
    await expect(page.locator("main")).to_contain_text("No user has sent an event yet.")
    await page.goto(console.url + "users/1")
    await expect(page.locator("main")).to_contain_text("has nothing on user 1")
    await expect(page.locator("#profile")).not_to_contain_text("Sam")
    assert await page.locator("#history tbody tr").count() == 0
    answer = await page.request.post(console.url + "service", form={"service_id": "1"})
    assert answer.status == 403


def test_the_server_log_holds_no_key_or_token(console: Console) -> None:
    log = console.server.log()
    assert "/console/" in log  # the console's requests are logged...
    assert console.key not in log  # ...but no key
    assert ADMIN_TOKEN not in log


async def test_operator_tunes_the_recommender_rolls_back_and_trains(
    page: Page, console: Console
) -> None:
    await sign_in(page, console, ADMIN_TOKEN)
    await page.click("nav >> text=Recommender")
    newest = page.locator("#models tbody tr td").first
    newest_before = await newest.inner_text() if await newest.count() else ""
    for like in ("2.5", "0.5"):
        await page.fill("textarea[name=settings]", json.dumps({"weights": {"like": float(like)}}))
        await page.click("text=Store version")
        await expect(page.locator(".flash")).to_contain_text("stored")
    await expect(page.locator("#current")).to_contain_text("version 2")
    await page.click("#versions >> text=Roll back to this")
    await expect(page.locator(".flash")).to_contain_text("Version 1 put back as version 3")
    await expect(page.locator("#current tbody").first).to_contain_text("2.5")
    await page.fill("textarea[name=settings]", '{"weights": {"like": "lots"}}')
    await page.click("text=Store version")
    await expect(page.locator(".error")).to_contain_text("weights.like")
    await page.click("text=Train now")
    await expect(page.locator(".flash")).to_contain_text("Training")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        await page.reload()
        if await newest.count() and await newest.inner_text() != newest_before:
            break
        await page.wait_for_timeout(250)
    assert await newest.inner_text() != newest_before, "the new model is listed first"
