"""PostgreSQL crashing and restarting under write load (and other calls beside: profiles, lists,
recommendations, pages, notifications, analytics): only 204 or 503, every 204 stored,
full service again within 5 s of the database's return, `/readyz` following it, and a log with
one summary per fault kind instead of a traceback per request."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.clusters import PrivatePostgres
from tests.outage import count_tracebacks, log_lines, lost_events, write_through_outage
from tests.servers import create_key, running_server, tanktop_env

pytestmark = pytest.mark.e2e


async def test_restart_under_write_load(private_pg: PrivatePostgres) -> None:
    url = await private_pg.create_database("restart")
    env = tanktop_env(url, TANKTOP_RATE_LIMIT_WRITES="0", TANKTOP_RATE_LIMIT_READS="0")
    key = create_key(env, "restart")

    def crash_and_restart() -> None:
        private_pg.stop("immediate")
        private_pg.start()

    with running_server(env) as server:
        run = await write_through_outage(server.base_url, key, crash_and_restart, browsers=3)
        log = server.log()

    assert run.rate(0, run.outage_at) > 0, "no load before the outage"
    assert set(run.statuses) <= {204, 503}, run.statuses
    other_answers = {status for _, status in run.others}
    assert other_answers <= {200, 201, 204, 404, 503}, run.others
    assert 503 in other_answers, run.others
    assert run.statuses[503] > 0, "the outage was not seen"
    assert await lost_events(url, run) == []
    assert run.recovery <= 5.0, f"failures went on {run.recovery:.1f} s after the restart"
    assert run.ready[503] > 0, run.ready
    assert run.ready[200] > 0, run.ready
    assert "unhandled error" not in log
    kinds = set(re.findall(r"database fault (\w+):", log))
    assert kinds, log[-3000:]
    assert count_tracebacks(log) <= len(kinds), log[-8000:]
    # Start-up lines, then a line or two per fault kind: not one per failed request.
    assert len(log_lines(log)) <= 20, "\n".join(log_lines(log))


async def test_metrics_count_faults_by_kind(private_pg: PrivatePostgres) -> None:
    url = await private_pg.create_database("metrics")
    env = tanktop_env(url, TANKTOP_RUN_WORKER="0")
    key = create_key(env, "metrics")
    with running_server(env) as server:
        import httpx

        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            assert (await http.get(f"/api/1/{key}/event/7/seen/movie/")).status_code == 200
            await asyncio.to_thread(private_pg.stop, "fast")
            try:
                down = await http.get(f"/api/1/{key}/event/7/seen/movie/")
            finally:
                await asyncio.to_thread(private_pg.start)
            metrics = (await http.get("/metrics")).text
    assert down.status_code == 503
    assert down.headers["retry-after"] == "1"
    counted = re.findall(r'tanktop_db_errors_total\{kind="(\w+)"\} (\d+)', metrics)
    assert counted, metrics
    assert all(int(n) > 0 for _, n in counted), metrics
