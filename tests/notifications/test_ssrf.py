"""Webhooks never reach the server's own networks unless the operator allows it."""

from __future__ import annotations

import ipaddress

import pytest

from tanktop.config import Settings
from tanktop.db import Database
from tanktop.notifications.delivery import post_webhook, webhook_client
from tanktop.notifications.ssrf import BlockedAddress, blocked, resolve_checked
from tests.conftest import Admin, Api
from tests.notifications.conftest import run_worker_once
from tests.receiver import Receiver

REFUSED = [
    "127.0.0.1",
    "127.255.0.1",
    "10.1.2.3",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "198.18.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",
    "2002:a9fe:a9fe::1",
    "2001:0:4136:e378::1",
    "::127.0.0.1",
]
ALLOWED = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "1.1.1.1"]


@pytest.mark.parametrize("address", REFUSED)
def test_blocked_ranges(address: str) -> None:
    assert blocked(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address: str) -> None:
    assert not blocked(ipaddress.ip_address(address))


async def test_names_are_resolved_then_checked() -> None:
    with pytest.raises(BlockedAddress):
        await resolve_checked("localhost", 80, allow_private=False)
    with pytest.raises(BlockedAddress):
        await resolve_checked("[::ffff:10.0.0.1]", 80, allow_private=False)
    assert await resolve_checked("localhost", 80, allow_private=True) in ("127.0.0.1", "::1")


async def test_delivery_to_loopback_is_refused_without_the_setting(hook: Receiver) -> None:
    async with webhook_client() as client:
        outcome = await post_webhook(client, hook.url, "a=1", {}, allow_private=False)
        assert outcome.status_code is None
        assert outcome.error is not None
        assert "refused" in outcome.error
        assert hook.received == []
        allowed = await post_webhook(client, hook.url, "a=1", {}, allow_private=True)
    assert allowed.status_code == 200


async def test_refused_attempts_are_logged(
    api: Api, admin: Admin, db: Database, hook: Receiver, settings: Settings
) -> None:
    strict = settings.model_copy(update={"webhook_retry_delays": "0"})
    movie = "ssrf-" + hook.url.rsplit(":", 1)[1].split("/")[0]
    await admin.put(f"/catalog/movie/{movie}/", json={"title": "x"})
    await admin.put(f"/catalog/movie/{movie}/offers/", json=[{"source_id": 1}])
    await api.post(f"/notification/7/movie/{movie}/", json={"url": hook.url})
    await run_worker_once(db, strict)
    assert hook.received == []
    log = (await api.get(f"/notification/7/movie/{movie}/deliveries/")).json()["deliveries"]
    assert all("refused" in a["error"] for a in log[0]["attempts"])
    assert log[0]["status"] == "failed"


async def test_redirects_are_not_followed(hook: Receiver) -> None:
    hook.statuses = [302]
    async with webhook_client() as client:
        outcome = await post_webhook(client, hook.url, "a=1", {}, allow_private=True)
    assert outcome.status_code == 302
    assert len(hook.received) == 1
