"""PostgreSQL crashing and restarting under write load: what clients see and what is kept.

    python -m bench.faults [--clients 8] [--before 5] [--down 2] [--redis]

Starts a private PostgreSQL cluster (initdb, fsync on) and `tanktop serve` on it; `--clients`
clients post events without pause; after `--before` seconds the cluster is stopped in
immediate mode (a crash: no checkpoint, connections cut), kept down `--down` seconds and
started again (crash recovery). Prints requests, answers by status, events acknowledged but
not stored (must be 0), the time from the database's return to the last failed answer, and the
write rate after recovery as a ratio of the rate before the crash (same run, same clients).

`--redis`: the same load with rate limits kept in a private `redis-server` (a budget the load
stays under), and Redis killed instead, kept down `--down` seconds and started again: the
answers, and the write rate while it was away and after, as ratios of the rate before.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from rich.console import Console
from tests.clusters import PrivatePostgres, PrivateRedis, private_postgres, private_redis
from tests.outage import (
    count_tracebacks,
    log_lines,
    lost_events,
    redis_limited_env,
    redis_outage,
    write_through_outage,
)
from tests.servers import create_key, running_server, tanktop_env


async def scenario(cluster: PrivatePostgres, clients: int, before: float, down: float) -> None:
    console = Console()
    url = await cluster.create_database("bench_faults")
    env = tanktop_env(url, TANKTOP_RATE_LIMIT_WRITES="0", TANKTOP_RATE_LIMIT_READS="0")
    key = create_key(env, "bench-faults")

    def crash() -> None:
        cluster.stop("immediate")
        time.sleep(down)
        cluster.start()

    with (
        running_server(env) as server,
        console.status(f"{clients} clients posting; crash after {before:.0f} s, down {down:.0f} s"),
    ):
        run = await write_through_outage(
            server.base_url, key, crash, clients=clients, before=before, settle=before
        )
        log = server.log()
    lost = await lost_events(url, run)
    steady = run.rate(0.5, run.outage_at)
    after = run.rate(run.back_at + run.recovery, run.ended_at)
    away = run.back_at - run.outage_at
    print(f"clients {clients}; database away {away:.1f} s (immediate stop, {down:.0f} s, start)")
    print(
        f"requests {run.requests:,}: " + ", ".join(f"{k}: {v:,}" for k, v in run.statuses.items())
    )
    print(f"acknowledged (204) {run.statuses[204]:,}, lost {len(lost)}")
    print(f"last failure {run.recovery:.2f} s after the database was back")
    print("/readyz answers: " + ", ".join(f"{k}: {v}" for k, v in sorted(run.ready.items())))
    print(
        f"server log: {len(log_lines(log))} lines besides access lines, "
        f"{count_tracebacks(log)} tracebacks"
    )
    ratio = after / steady if steady else 0.0
    print(f"writes/s before the crash {steady:,.0f}, after recovery {after:,.0f} ({ratio:.0%})")


async def redis_scenario(
    cluster: PrivatePostgres, redis: PrivateRedis, clients: int, before: float, down: float
) -> None:
    url = await cluster.create_database("bench_redis")
    env = redis_limited_env(url, redis.url)
    key = create_key(env, "bench-redis")
    outage = redis_outage(redis, down)
    with running_server(env) as server, Console().status(f"Redis killed after {before:.0f} s"):
        run = await write_through_outage(
            server.base_url, key, outage, clients=clients, before=before, settle=before
        )
        log = server.log()
    lost = await lost_events(url, run)
    steady = run.rate(0.5, run.outage_at)
    away = run.rate(run.outage_at, run.back_at)
    after = run.rate(run.back_at, run.ended_at)
    print(f"clients {clients}; Redis away {run.back_at - run.outage_at:.1f} s (killed, started)")
    print(
        f"requests {run.requests:,}: " + ", ".join(f"{k}: {v:,}" for k, v in run.statuses.items())
    )
    print(f"acknowledged (204) {run.statuses[204]:,}, lost {len(lost)}")
    print(f"server log: {len(log_lines(log))} lines besides access lines")
    print(
        f"writes/s before {steady:,.0f}, while Redis was away {away:,.0f} "
        f"({away / steady if steady else 0:.0%}), after {after:,.0f} "
        f"({after / steady if steady else 0:.0%})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--before", type=float, default=5)
    parser.add_argument("--down", type=float, default=2)
    parser.add_argument("--redis", action="store_true", help="kill Redis instead")
    args = parser.parse_args()
    with private_postgres() as cluster:
        if args.redis:
            with private_redis() as redis:
                asyncio.run(redis_scenario(cluster, redis, args.clients, args.before, args.down))
        else:
            asyncio.run(scenario(cluster, args.clients, args.before, args.down))


if __name__ == "__main__":
    main()
