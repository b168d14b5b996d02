"""Redis, holding the rate-limit counters, going away under write load: requests are served
unmetered meanwhile (fail open: a rate limit is not worth an outage), the server says so once
and once more when Redis is back, counts it, and meters through Redis again after."""

from __future__ import annotations

import re

import httpx
import pytest
import redis

from tests.clusters import PrivatePostgres, PrivateRedis
from tests.outage import lost_events, redis_limited_env, redis_outage, write_through_outage
from tests.servers import create_key, running_server

pytestmark = pytest.mark.e2e


async def test_rate_limits_fail_open_while_redis_is_away(
    private_pg: PrivatePostgres, private_redis_server: PrivateRedis
) -> None:
    url = await private_pg.create_database("redis")
    env = redis_limited_env(url, private_redis_server.url)
    key = create_key(env, "redis-outage")
    outage = redis_outage(private_redis_server, down=1.0)
    with running_server(env) as server:
        run = await write_through_outage(server.base_url, key, outage, settle=2.0)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            metrics = (await http.get("/metrics")).text
        log = server.log()

    assert run.rate(0, run.outage_at) > 0, "no load before the outage"
    assert set(run.statuses) == {204}, run.statuses
    assert await lost_events(url, run) == []
    counted = re.search(r"^tanktop_redis_errors_total (\S+)$", metrics, re.MULTILINE)
    assert counted, metrics
    assert float(counted.group(1)) > 0, metrics
    assert len(re.findall(r"rate limits unmetered", log)) == 1, log[-3000:]
    assert len(re.findall(r"rate limits metered again: Redis", log)) == 1, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    # Redis came back empty (no persistence): counters in it again mean the server reconnected.
    back = redis.Redis.from_url(private_redis_server.url)
    try:
        assert back.keys("tanktop:rate:*"), "metering did not go back to Redis"
    finally:
        back.close()
