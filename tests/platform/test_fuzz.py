"""Schemathesis against our own /openapi.json on a real server: no 5xx, no answer outside the
documented statuses, content types and schemas, and no change stored by a rejected request
(fuzz_hooks.py). Bounded here; `make fuzz` runs it longer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN
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


def fuzz(
    base_url: str, key: str, database: Path, folder: Path, examples: int
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
        "20261127",
    ]
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "SCHEMATHESIS_HOOKS": "tests.platform.fuzz_hooks",
        "TANKTOP_FUZZ_DB": str(database),
    }
    return subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=900, check=False
    )


def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    examples = int(os.environ.get("TANKTOP_FUZZ_EXAMPLES", "15"))
    database = tmp_path / "fuzz.db"
    env = tanktop_env(
        f"sqlite:///{database}",
        TANKTOP_ADMIN_TOKEN=ADMIN_TOKEN,
        TANKTOP_RUN_WORKER="0",
        TANKTOP_RATE_LIMIT_READS="0",
        TANKTOP_RATE_LIMIT_WRITES="0",
        TANKTOP_MODEL_REFRESH_SECONDS="0",
        # Impressions are written in the background, after the answer: not the next call's write.
        TANKTOP_IMPRESSION_FLUSH_SECONDS="86400",
    )
    key = create_key(env, "fuzz")
    with running_server(env) as server:
        seed(env, server.base_url, key)
        result = fuzz(server.base_url, key, database, tmp_path, examples)
    assert result.returncode == 0, result.stdout[-6000:]
    assert " passed" in result.stdout
