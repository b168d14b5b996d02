"""The operator's mistakes end a command with one clear line and status 1, never a traceback."""

from __future__ import annotations

import subprocess
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
        (
            ("recs", "evaluate", "--ratings", "/no/such.csv", "--items", "/no/such.csv"),
            "No such file or directory: /no/such.csv",
        ),
    ],
)
def test_domain_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], words: str) -> None:
    result = run_cli(tanktop_env(f"sqlite:///{tmp_path / 'cli.db'}"), *args)
    assert _one_error_line(result) == result.stderr.strip()
    assert words in result.stderr


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_a_file_with_a_bad_line_is_one_line(tmp_path: Path) -> None:
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("user,item,rating,timestamp\n1,10,4.5,1700000000\n2,11,good,1700000000\n")
    env = tanktop_env(f"sqlite:///{tmp_path / 'cli.db'}")
    for extra in ((), ("--tune",)):
        result = run_cli(env, "recs", "evaluate", "--ratings", str(ratings), "--items", "x", *extra)
        line = _one_error_line(result)
        assert f"{ratings} line 3: expected user,item,rating,timestamp" in line
        assert "'2,11,good,1700000000'" in line


@pytest.mark.parametrize(
    ("setting", "value", "words"),
    [
        ("TANKTOP_DATABASE_URL", "mysql://db", "must start with sqlite:// or postgresql://"),
        ("TANKTOP_RATE_LIMIT_READS", "many", "valid integer"),
    ],
)
def test_a_bad_setting_is_one_line(tmp_path: Path, setting: str, value: str, words: str) -> None:
    env = tanktop_env(f"sqlite:///{tmp_path / 'cli.db'}", **{setting: value})
    for args in (("keys", "list"), ("serve",)):
        line = _one_error_line(run_cli(env, *args))
        assert line.startswith(f"error: invalid configuration: {setting}: ")
        assert words in line


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
