"""The operator's mistakes end a command with one clear line and status 1, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers import run_cli, tanktop_env

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("keys", "secret", "no-such-service"), "no service named 'no-such-service'"),
        (("keys", "create", " "), "service name must be 1-100 characters"),
        (("recs", "train", "--service", "no-such-service"), "no service named"),
        (("catalog", "import", "/no/such/file.jsonl"), "cannot read /no/such/file.jsonl"),
    ],
)
def test_domain_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], words: str) -> None:
    result = run_cli(tanktop_env(f"sqlite:///{tmp_path / 'cli.db'}"), *args)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert words in lines[0]


def test_a_database_that_cannot_be_reached_is_one_line() -> None:
    env = tanktop_env(
        "postgresql://postgres@127.0.0.1:9/nowhere", TANKTOP_DB_POOL_TIMEOUT_SECONDS="1"
    )
    result = run_cli(env, "keys", "list")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: the database is unavailable (unreachable")
    assert "ConnectionRefusedError" in lines[0]
