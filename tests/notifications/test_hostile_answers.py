"""A webhook receiver's answer is stored whatever bytes it holds: text a database would refuse
(NUL, what decodes to an unpaired surrogate) is stored as U+FFFD, and the delivery recorded
once, not sent again and again because its outcome could not be written."""

from __future__ import annotations

from tanktop.config import Settings
from tanktop.db import Database
from tests.conftest import Admin, Api, unique
from tests.notifications.conftest import run_worker_once
from tests.receiver import Receiver


async def test_a_webhook_answer_with_nul_is_stored_made_safe(
    api: Api, admin: Admin, db: Database, hook: Receiver, hook_settings: Settings
) -> None:
    hook.answer = b"ok\x00\xed\xa0\x80 done"
    movie = unique("n")
    await admin.put(f"/catalog/movie/{movie}/", json={"title": "Film"})
    await admin.put(f"/catalog/movie/{movie}/offers/", json=[{"source_id": 1}])
    await api.post(f"/notification/7/movie/{movie}/", json={"url": hook.url})
    await run_worker_once(db, hook_settings)
    log = (await api.get(f"/notification/7/movie/{movie}/deliveries/")).json()["deliveries"]
    assert log[0]["status"] == "succeeded"
    (attempt,) = log[0]["attempts"]
    assert attempt["response"].startswith("ok\ufffd")
    assert attempt["response"].endswith(" done")
    assert len(hook.received) == 1
