"""Schemathesis against our own /openapi.json on a real server, on SQLite and on PostgreSQL: no
5xx, no answer outside the documented statuses, content types and schemas, and no change stored
by a rejected request (fuzz_hooks.py). Each backend is fuzzed with a fixed seed (the same cases
every run) and then with a seed of this run's own, printed so a failure can be replayed
(`TANKTOP_FUZZ_SEED=<seed>`). Bounded here; `make fuzz` runs it longer."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, TEST_DATABASE
from tests.servers import create_key, run_cli, running_server, tanktop_env

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "rejected_request_stores_nothing",
    )
)


CONFIG = """
[parameters]
"path.apikey" = "{key}"

# Operations that answer 404 to made-up ids are pointed at what `seed` stored, so the fuzz
# reaches the code behind them too (their query parameters are still generated).
[[operations]]
include-path = "/api/1/{{apikey}}/similar/{{itemtype}}/{{itemid}}/"
parameters = {{ "path.itemtype" = "movie", "path.itemid" = "1" }}

[[operations]]
include-path = "/api/1/{{apikey}}/bookmark/{{userid}}/{{itemtype}}/{{itemid}}/"
parameters = {{ "path.userid" = "7", "path.itemtype" = "movie", "path.itemid" = "1" }}
"""


def seed(env: dict[str, str], base_url: str, key: str) -> None:
    """Movies 1-3 watched together by a few users, user 7 half-way through movie 1, a model."""
    admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=base_url, timeout=30) as http:
        for movie in ("1", "2", "3"):
            body = {"title": f"Film {movie}", "duration": 100}
            assert http.put(f"/admin/1/catalog/movie/{movie}/", json=body, headers=admin).is_success
        events: list[dict[str, str | int]] = [
            {"user_id": f"u{user}", "event": "seen", "item_type": "movie", "item_id": movie}
            for user in range(5)
            for movie in ("1", "2", "3")
        ]
        events.append(
            {"user_id": "7", "event": "progress", "item_type": "movie", "item_id": 1, "value": 30}
        )
        assert http.post(f"/api/1/{key}/events/", json=events).status_code == 204
    assert run_cli(env, "recs", "train").returncode == 0


FIXED_SEED = 20261127
ALL_PHASES = "examples,coverage,fuzzing,stateful"
GENERATED_PHASES = "fuzzing,stateful"


def run_seed() -> int:
    """This run's own seed: `TANKTOP_FUZZ_SEED` to replay one, else a new one."""
    given = os.environ.get("TANKTOP_FUZZ_SEED")
    return int(given) if given else random.SystemRandom().randrange(2**31)


def fuzz(
    base_url: str, key: str, database: str, folder: Path, examples: int, seed: int, phases: str
) -> subprocess.CompletedProcess[str]:
    """Run the schemathesis CLI, one request at a time, with the key filled in for every
    `{apikey}` and our hooks watching the server's database."""
    (folder / "schemathesis.toml").write_text(CONFIG.format(key=key))
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{base_url}/openapi.json",
        "-H",
        f"Authorization: Bearer {ADMIN_TOKEN}",
        "-n",
        str(examples),
        "--checks",
        CHECKS,
        "--workers",
        "1",
        "--seed",
        str(seed),
        "--phases",
        phases,
    ]
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "SCHEMATHESIS_HOOKS": "tests.platform.fuzz_hooks",
        "TANKTOP_FUZZ_DB": database,
    }
    return subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=900, check=False
    )


@pytest.fixture
def fuzz_database(database_url: str, tmp_path: Path) -> str:
    """An empty database of the fuzz's own on the backend under test: an SQLite file, or a
    new PostgreSQL database beside the suite's."""
    if database_url.startswith("sqlite"):
        return str(tmp_path / "fuzz.db")
    name = f"{TEST_DATABASE}_fuzz"

    async def create() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as thread:  # (the suite's event loop is running here)
        thread.submit(asyncio.run, create()).result()
    return database_url.rsplit("/", 1)[0] + "/" + name


def test_schemathesis_finds_nothing(fuzz_database: str, tmp_path: Path) -> None:
    examples = int(os.environ.get("TANKTOP_FUZZ_EXAMPLES", "15"))
    url = fuzz_database if "://" in fuzz_database else f"sqlite:///{fuzz_database}"
    env = tanktop_env(
        url,
        TANKTOP_ADMIN_TOKEN=ADMIN_TOKEN,
        TANKTOP_RUN_WORKER="0",
        TANKTOP_RATE_LIMIT_READS="0",
        TANKTOP_RATE_LIMIT_WRITES="0",
        TANKTOP_OAUTH_START_RATE_LIMIT="0",  # rate windows are rows: the check counts rows
        TANKTOP_MODEL_REFRESH_SECONDS="0",
        # Impressions are written in the background, after the answer: not the next call's write.
        TANKTOP_IMPRESSION_FLUSH_SECONDS="86400",
    )
    key = create_key(env, "fuzz")
    own = run_seed()
    print(f"fuzz seeds: {FIXED_SEED} (fixed), {own} (this run's; replay: TANKTOP_FUZZ_SEED={own})")
    # The run's own seed only generates cases (examples and coverage cases are the same for
    # every seed), a third as many, for CI's time.
    runs = ((FIXED_SEED, ALL_PHASES, examples), (own, GENERATED_PHASES, max(1, examples // 3)))
    with running_server(env) as server:
        seed(env, server.base_url, key)
        for number, phases, count in runs:
            result = fuzz(server.base_url, key, fuzz_database, tmp_path, count, number, phases)
            replay = f"seed {number}: TANKTOP_FUZZ_SEED={number} pytest {__file__}"
            assert result.returncode == 0, f"{replay}\n{result.stdout[-6000:]}"
            assert " passed" in result.stdout, replay
