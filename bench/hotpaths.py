"""The hot paths beside their ceilings, measured with `wrk` in one run (issue 18's goals).

    python -m bench.hotpaths [--seconds 5] [--unix-socket /var/run/postgresql]

Needs `wrk` (`apt-get install wrk`) and `pgbench` (comes with PostgreSQL). One API process
(`tanktop serve --no-worker`) on PostgreSQL; each figure is printed beside its ceiling, measured
in the same run, because on a shared machine only ratios compare:

- `/healthz` (every middleware on) against a bare FastAPI hello-world app served by the same
  server (uvicorn, same options) — goal 80%;
- single-event `POST` at 8 and 64 connections against pgbench doing the bare durable write (the
  list upsert and the history insert on tables with only their primary keys) at the same
  concurrency — goal 70%; beside each, the same POSTs to 2 API processes (`serve --workers 2`,
  the production shape: pgbench runs on both cores, one process on one), printed apart;
- `GET` with 10 ids (200,000 events stored) against `/healthz`, alone (goal 40%), and its p99
  while 8 connections post events (goal < 5 ms);
- `GET /bookmark/<userid>` for a user with 500 items of history, 8 connections (goal p99 < 25 ms).

Beside the two latency goals, their bounds measured in the same run: the bare app's `/hello`
and our `/healthz` (no database) each beside the same 8 writers (what any request gets beside
them: the machine's scheduling, and the queue of one process serving the writes), and the bare
app's `/busy` spending the bookmarks' CPU per request at the same concurrency (the p99 of a
request of that cost with no database and none of our code).

Every measurement follows a second of the same load, not counted: the figures are of a process
past its first requests (connections opened, the catalog copy read), as a server lives.

With `--unix-socket DIR`, the API and pgbench reach PostgreSQL through its socket in DIR instead
of loopback TCP (what a server on the database's host can do).

Each line also gives the API process's CPU time per request, the figure least moved by
whatever else the machine is running, and the summary gives the ratios by it too (what the
throughput ratio would be with a core to itself).
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from tests.servers import create_key, free_port, run_cli, running_server, tanktop_env

from bench import wrk
from bench.bookmarks import catalog_lines, history
from bench.cpu import scheduler_note
from bench.databases import fresh_database, psql
from bench.events import ITEMS, PG_TRANSACTION, USERS, fill, pgbench_ceiling

BENCH_DB = "tanktop_bench_hotpaths"
STORED = 200_000
LIMITS = {
    "TANKTOP_KEY_CACHE_SECONDS": "60",
    "TANKTOP_RATE_LIMIT_READS": "1000000",
    "TANKTOP_RATE_LIMIT_WRITES": "1000000",
}

BARE_TABLES = """
CREATE TABLE bare_list_items (
    service_id int, user_id text, event text, item_type text, item_id text, value jsonb,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (service_id, user_id, event, item_type, item_id));
CREATE TABLE bare_event_history (
    id bigserial PRIMARY KEY, service_id int NOT NULL, user_id text NOT NULL,
    event text NOT NULL, item_type text NOT NULL, item_id text NOT NULL, value jsonb,
    at timestamptz NOT NULL, origin text NOT NULL, removed bool NOT NULL);
"""
BARE_TRANSACTION = PG_TRANSACTION.replace("list_items", "bare_list_items").replace(
    "event_history", "bare_event_history"
)
"""The durable write with nothing but primary keys to maintain: the floor of its cost."""


@contextmanager
def hello_server() -> Iterator[tuple[str, int]]:
    """The bare app under uvicorn with its default options (access log on, as ours)."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench.hello:app", "--port", str(port)],
            cwd=Path(__file__).resolve().parents[1],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    httpx.get(f"{base}/hello", timeout=1)
                    break
                except httpx.TransportError:
                    subprocess.run(["sleep", "0.1"], check=True)
            yield base, process.pid
        finally:
            process.terminate()
            process.wait(15)


def post_paths(key: str, rng: random.Random) -> list[str]:
    return [
        f"/api/1/{key}/event/u{rng.randint(1, USERS)}/watchlist/movie/{rng.randint(1, ITEMS)}/"
        for _ in range(20_000)
    ]


def get_paths(key: str, rng: random.Random) -> list[str]:
    """10 ids of the 40 a stored user may have (`fill` gives each of them 20)."""
    items = STORED // USERS
    return [
        f"/api/1/{key}/event/f{rng.randrange(USERS)}/watchlist/movie/?"
        + "&".join(f"id={rng.randrange(2 * items)}" for _ in range(10))
        for _ in range(5_000)
    ]


@dataclass(frozen=True)
class Setup:
    """A served app with the data every hot path needs."""

    base: str
    pid: int
    key: str
    sid: int
    database_url: str


def socket_url(folder: str, database: str = BENCH_DB) -> str:
    """The bench database through PostgreSQL's Unix socket in `folder`."""
    return f"postgresql://postgres@/{database}?host={folder}"


@contextmanager
def prepared(
    socket: str | None = None,
    *,
    database: str = BENCH_DB,
    serve_env: dict[str, str] | None = None,
) -> Iterator[Setup]:
    """A fresh `database` (bare tables for pgbench, the bookmarks catalog, `STORED` events, a
    user with 500 items of history) served by one `tanktop serve --no-worker` (reaching the
    database through the Unix socket in `socket` if given; `serve_env` added to its
    environment)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database("postgresql", database, tmp)
        env = tanktop_env(url, **LIMITS)
        key = create_key(env, "bench-hotpaths")
        sid = int(psql(database, "SELECT id FROM services WHERE name = 'bench-hotpaths'"))
        psql(database, BARE_TABLES)
        catalog = Path(tmp) / "catalog.jsonl"
        catalog.write_text("\n".join(catalog_lines()) + "\n")
        assert run_cli(env, "catalog", "import", str(catalog)).returncode == 0
        fill(url, sid, STORED, database=database)
        served = socket_url(socket, database) if socket else url
        serving = tanktop_env(served, **LIMITS, **(serve_env or {}))
        with running_server(serving, "--no-worker") as server:
            events = history()
            for start in range(0, len(events), 250):
                response = httpx.post(
                    f"{server.base_url}/api/1/{key}/events/",
                    json=events[start : start + 250],
                    timeout=30,
                )
                assert response.status_code == 204, response.text
            # What autovacuum would have done by now (it is off on the shared test server): the
            # freshly loaded tables' visibility map set, so index-only scans skip the heap (the
            # bookmarks stamp fetched its 500 rows from the heap too: 18% more PostgreSQL CPU).
            psql(database, "VACUUM ANALYZE")
            yield Setup(server.base_url, server.process.pid, key, sid, served)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--unix-socket", metavar="DIR", help="reach PostgreSQL through it")
    args = parser.parse_args()
    wrk.require_wrk()
    seconds = args.seconds
    rng = random.Random(18)
    results: list[wrk.WrkResult] = []
    with (
        prepared(args.unix_socket) as setup,
        hello_server() as (hello, hello_pid),
        running_server(
            tanktop_env(setup.database_url, **LIMITS), "--no-worker", "--workers", "2"
        ) as pair,
    ):
        base, pid, key, sid = setup.base, setup.pid, setup.key, setup.sid
        reach = f"Unix socket in {args.unix_socket}" if args.unix_socket else "loopback TCP"
        print(
            f"PostgreSQL ({reach}), one API process, wrk, {seconds:.0f} s per measurement; "
            f"{scheduler_note()}",
            flush=True,
        )

        def measure(
            name: str, paths: list[str], *, at: tuple[str, int] | None = None, **options: object
        ) -> wrk.WrkResult:
            where, server = at or (base, pid)
            wrk.run(name, where, paths, server_pid=server, seconds=1, **options)  # type: ignore[arg-type]
            found = wrk.run(name, where, paths, server_pid=server, seconds=seconds, **options)  # type: ignore[arg-type]
            print(found.row(), flush=True)
            results.append(found)
            return found

        def beside_writers(name: str, paths: list[str], at: tuple[str, int]) -> wrk.WrkResult:
            """`paths` measured while 8 connections post events to our app."""
            writers = wrk.start(
                base, post_paths(key, rng), method="POST", connections=8, seconds=seconds + 3
            )
            found = measure(name, paths, at=at)
            print(wrk.finish("(the 8 posting beside it)", writers).row(), flush=True)
            return found

        bare, healthz = [], []
        for _ in range(2):  # alternated, so both see the same machine
            bare.append(measure("bare FastAPI hello", ["/hello"], at=(hello, hello_pid)))
            healthz.append(measure("GET /healthz", ["/healthz"]))
        posts, paired, ceilings = {}, {}, {}
        for level in (8, 64):
            ceilings[level] = pgbench_ceiling(
                sid,
                seconds,
                level,
                database=BENCH_DB,
                transaction=BARE_TRANSACTION,
                url=setup.database_url,
            )
            print(f"{'pgbench, bare tables, -c ' + str(level):<44} {ceilings[level]:>8,.0f} tx/s")
            posts[level] = measure(
                f"POST /event/… ({level} connections)",
                post_paths(key, rng),
                method="POST",
                connections=level,
            )
            paired[level] = measure(
                "  the same, 2 API processes (--workers 2)",
                post_paths(key, rng),
                at=(pair.base_url, pair.process.pid),
                method="POST",
                connections=level,
            )
        reads = measure("GET 10 ids", get_paths(key, rng))
        loaded = beside_writers(
            "GET 10 ids, 8 connections posting", get_paths(key, rng), (base, pid)
        )
        hello_loaded = beside_writers(
            "bare hello, 8 posting to our app", ["/hello"], (hello, hello_pid)
        )
        healthz_loaded = beside_writers("GET /healthz, 8 posting", ["/healthz"], (base, pid))
        marks = measure("GET /bookmark/ (500 items of history)", [f"/api/1/{key}/bookmark/u/"])
        bare_cpu = min(r.cpu_ms for r in bare)
        spend = max(0.0, marks.cpu_ms - bare_cpu)
        trial = wrk.run("", hello, [f"/busy?ms={spend:.2f}"], server_pid=hello_pid, seconds=1)
        spend *= spend / max(0.01, trial.cpu_ms - bare_cpu)  # its own overhead taken off
        busy = measure(
            f"bare /busy, {spend:.1f} ms of CPU", [f"/busy?ms={spend:.2f}"], at=(hello, hello_pid)
        )

    best_bare = max(r.throughput for r in bare)
    best_healthz = max(r.throughput for r in healthz)
    healthz_cpu = min(r.cpu_ms for r in healthz)
    print()
    print(
        f"/healthz: {best_healthz / best_bare:.0%} of a bare FastAPI hello-world "
        f"({best_healthz:,.0f} vs {best_bare:,.0f}/s; goal 80%); by CPU per request "
        f"{bare_cpu / healthz_cpu:.0%} ({healthz_cpu:.3f} vs {bare_cpu:.3f} ms)"
    )
    for level, post in posts.items():
        two = paired[level]
        print(
            f"single POST at {level} connections: {post.throughput / ceilings[level]:.0%} of "
            f"pgbench on bare tables ({post.throughput:,.0f} vs {ceilings[level]:,.0f}/s; "
            f"goal 70%), p99 {post.p99_ms:.1f} ms; with 2 API processes "
            f"{two.throughput / ceilings[level]:.0%} ({two.throughput:,.0f}/s, "
            f"{two.cpu_ms:.2f} ms of CPU each)"
        )
    print(
        f"GET 10 ids: {reads.throughput / best_healthz:.0%} of /healthz "
        f"({reads.throughput:,.0f}/s; goal 40%), by CPU per request "
        f"{healthz_cpu / reads.cpu_ms:.0%} ({reads.cpu_ms:.2f} ms); p99 with 8 writers "
        f"{loaded.p99_ms:.1f} ms (goal < 5 ms)"
    )
    print(
        f"  its bounds beside the same writers: p99 of the bare app's /hello "
        f"{hello_loaded.p99_ms:.1f} ms (the machine's scheduling), of our /healthz "
        f"{healthz_loaded.p99_ms:.1f} ms (the queue of the process serving the writes)"
    )
    print(
        f"bookmarks, 500 items of history, 8 connections: p99 {marks.p99_ms:.1f} ms "
        f"(goal < 25 ms), p50 {marks.p50_ms:.1f} ms, {marks.throughput:,.0f}/s, "
        f"{marks.cpu_ms:.1f} ms of CPU each"
    )
    print(
        f"  its bound: a bare route of the same CPU at 8 connections: p99 {busy.p99_ms:.1f} ms, "
        f"p50 {busy.p50_ms:.1f} ms ({busy.cpu_ms:.1f} ms of CPU each; 8 in flight on one "
        f"process wait about 8 x {marks.cpu_ms:.1f} = {8 * marks.cpu_ms:.0f} ms)"
    )
    errors = sum(r.errors for r in results)
    if errors:
        print(f"{errors} requests answered with an error: the figures above are not valid")


if __name__ == "__main__":
    main()
