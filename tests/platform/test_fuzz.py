"""Schemathesis against our own /openapi.json on a real server: no 5xx, no answer outside the
documented statuses, content types and schemas. Bounded here; `make fuzz` runs it longer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.servers import create_key, running_server, tanktop_env

pytestmark = pytest.mark.e2e

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    )
)


def fuzz(base_url: str, key: str, folder: Path, examples: int) -> subprocess.CompletedProcess[str]:
    """Run the schemathesis CLI with the key filled in for every `{apikey}`."""
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
        "--seed",
        "20261127",
    ]
    return subprocess.run(
        command, cwd=folder, capture_output=True, text=True, timeout=900, check=False
    )


def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    examples = int(os.environ.get("TANKTOP_FUZZ_EXAMPLES", "15"))
    env = tanktop_env(
        f"sqlite:///{tmp_path / 'fuzz.db'}", TANKTOP_ADMIN_TOKEN=ADMIN_TOKEN, TANKTOP_RUN_WORKER="0"
    )
    key = create_key(env, "fuzz")
    with running_server(env) as server:
        result = fuzz(server.base_url, key, tmp_path, examples)
    assert result.returncode == 0, result.stdout[-6000:]
    assert " passed" in result.stdout
