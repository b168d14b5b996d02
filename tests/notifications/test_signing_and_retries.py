"""Secret rotation keeps old receivers verifying; retry timing honours Retry-After."""

from __future__ import annotations

import datetime as dt

from standardwebhooks.webhooks import Webhook

from tanktop.config import Settings
from tanktop.db import Database
from tanktop.notifications.delivery import Outcome, next_attempt
from tanktop.notifications.signing import webhook_headers
from tanktop.tenants import service as tenants
from tests.conftest import Api, service_of


async def test_rotation_signs_with_old_and_new_secret(api: Api, db: Database) -> None:
    name = (await service_of(db, api)).name
    (old,) = await tenants.show_secrets(db, name=name)
    new = await tenants.rotate_secret(db, name=name, overlap=dt.timedelta(hours=1))
    secrets = await tenants.show_secrets(db, name=name)
    assert secrets == [new, old]
    now = int(dt.datetime.now(dt.UTC).timestamp())
    headers = webhook_headers(secrets, "msg_1", now, "user_id=7")
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify("user_id=7", headers, json_parse=False)
    await tenants.rotate_secret(db, name=name, overlap=dt.timedelta(0))
    assert old not in await tenants.show_secrets(db, name=name), (
        "an overlap of 0 retires old secrets"
    )


def test_retry_schedule(settings: Settings) -> None:
    config = settings.model_copy(update={"webhook_retry_delays": "10,100"})
    now = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    first = next_attempt(config, 1, Outcome(500, 1.0), now)
    assert first is not None
    assert 8 <= (first - now).total_seconds() <= 12, "jittered by at most 20%"
    second = next_attempt(config, 2, Outcome(None, 1.0, error="refused"), now)
    assert second is not None
    assert 80 <= (second - now).total_seconds() <= 120
    assert next_attempt(config, 3, Outcome(500, 1.0), now) is None, "out of retries"
    assert next_attempt(config, 1, Outcome(410, 1.0), now) is None, "410 stops at once"
    later = next_attempt(config, 1, Outcome(429, 1.0, retry_after=3600), now)
    assert later is not None
    assert (later - now).total_seconds() == 3600, "Retry-After is honoured"
