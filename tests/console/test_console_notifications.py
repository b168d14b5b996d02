"""Console notifications pages over HTTP (both backends): the request list, a request's
deliveries with every attempt, and resending a failed webhook."""

from __future__ import annotations

import re

from tanktop.config import Settings
from tanktop.db import Database
from tests.conftest import Admin, Api
from tests.console.conftest import Browser
from tests.notifications.conftest import run_worker_once
from tests.notifications.test_notifications import movie_with_offers
from tests.receiver import Receiver


async def test_requests_list_filters_and_pages(
    browser: Browser, api: Api, other_api: Api, admin: Admin
) -> None:
    waiting = await movie_with_offers(admin)
    for user in range(55):
        await api.post(f"/notification/u{user}/movie/{waiting}/", json={"url": "https://h.test/"})
    await other_api.post(f"/notification/theirs/movie/{waiting}/", json={"url": "https://h.test/"})
    await browser.sign_in(api.key)
    page = await browser.get("/console/notifications")
    users = re.findall(r'<td><a href="/console/users/([^"]+)">', page.text)
    assert len(users) == 50
    assert "theirs" not in page.text
    more = re.search(r'cursor=([^"]+)">Older requests', page.text)
    assert more
    rest = await browser.get(f"/console/notifications?cursor={more.group(1)}")
    rest_users = re.findall(r'<td><a href="/console/users/([^"]+)">', rest.text)
    assert len(rest_users) == 5
    assert set(users + rest_users) == {f"u{i}" for i in range(55)}
    failed = await browser.get("/console/notifications?status=failed")
    assert "No notification requests in this state" in failed.text
    waiting_page = await browser.get("/console/notifications?status=waiting")
    assert len(re.findall(r'<span class="pill waiting">', waiting_page.text)) == 50
    assert (await browser.get("/console/notifications?status=bogus")).status_code == 400
    assert (await browser.get("/console/notifications?cursor=bogus")).status_code == 400


async def test_deliveries_show_attempts_and_resend_sends_again(
    browser: Browser,
    api: Api,
    admin: Admin,
    db: Database,
    hook: Receiver,
    hook_settings: Settings,
) -> None:
    hook.statuses = [500, 500, 500, 500]
    movie = await movie_with_offers(admin, [{"source_id": 1, "price": 0, "hd": True}])
    await api.post(f"/notification/n1/movie/{movie}/", json={"url": hook.url})
    await run_worker_once(db, hook_settings)
    await browser.sign_in(api.key)
    listed = await browser.get("/console/notifications?status=failed")
    assert f"/console/notifications/n1/movie/{movie}" in listed.text
    page = await browser.get(f"/console/notifications/n1/movie/{movie}")
    assert page.status_code == 200
    assert page.text.count('<span class="code bad">500</span>') == 4
    assert "answer 500" in page.text
    assert "Resend failed webhook" in page.text
    resent = await browser.post(
        f"/console/notifications/n1/movie/{movie}/resend", {}, headers={"hx-request": "true"}
    )
    assert resent.status_code == 200
    assert "1 webhook queued again." in resent.text
    assert resent.text.startswith('<section class="card" id="deliveries">')
    await run_worker_once(db, hook_settings)
    after = await browser.get(f"/console/notifications/n1/movie/{movie}")
    assert '<span class="code ok">200</span>' in after.text
    assert '<span class="pill notified">notified</span>' in after.text
    assert "Resend failed webhook" not in after.text
    nothing = await browser.post(f"/console/notifications/n1/movie/{movie}/resend", {})
    assert "No failed delivery" in nothing.text
    assert len(hook.received) == 5


async def test_another_services_request_is_not_found(
    browser: Browser, api: Api, other_api: Api, admin: Admin
) -> None:
    movie = await movie_with_offers(admin)
    await other_api.post(f"/notification/x1/movie/{movie}/", json={"url": "https://h.test/"})
    await browser.sign_in(api.key)
    page = await browser.get(f"/console/notifications/x1/movie/{movie}")
    assert page.status_code == 404
    resend = await browser.post(f"/console/notifications/x1/movie/{movie}/resend", {})
    assert resend.status_code == 404
