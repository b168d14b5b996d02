"""Schemathesis against our own /openapi.json on a real server: no 5xx, no answer outside the
documented statuses, content types and schemas, and no change stored by a rejected request
(fuzz_hooks.py). Bounded here; `make fuzz` runs it longer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.servers import create_key, running_server, tanktop_env

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


def fuzz(
    base_url: str, key: str, database: Path, folder: Path, examples: int
) -> subprocess.CompletedProcess[str]:
    """Run the schemathesis CLI, one request at a time, with the key filled in for every
    `{apikey}` and our hooks watching the server's database."""
    (folder / "schemathesis.toml").write_text(f'[parameters]\n"path.apikey" = "{key}"\n')
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
    )
    key = create_key(env, "fuzz")
    with running_server(env) as server:
        result = fuzz(server.base_url, key, database, tmp_path, examples)
    assert result.returncode == 0, result.stdout[-6000:]
    assert " passed" in result.stdout
