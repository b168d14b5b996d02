"""A `tanktop` command imports what it uses: the web app, the console and scipy are for the
commands that serve or train, not for `--help` or `keys list` (whose start they would make
seconds long on a busy machine, for operators' scripts and for the tests running them); nor is
FastAPI, which only the routes use (`tanktop.dependencies`, `tanktop.handlers`,
`tanktop.parameters`, `tanktop.catalog.dependencies`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import SLOW_START, tanktop_env

PROBE = """
import json, sys
from tanktop.cli import app
sys.argv = ["tanktop", *sys.argv[1:]]
try:
    app()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

SERVING = ("tanktop.app", "tanktop.console", "uvicorn", "jinja2", "tanktop.worker")
TRAINING = ("scipy", "numpy", "implicit", "optuna", "matplotlib", "tanktop.recommendations.model")
OTHER_DOMAINS = ("authlib", "tanktop.oauth.service", "tanktop.analytics.rollup")
WEB = (
    "fastapi",
    "starlette",
    "tanktop.dependencies",
    "tanktop.handlers",
    "tanktop.parameters",
    "tanktop.catalog.dependencies",
)
"""The web framework: the routes' dependencies, path parameters and error handlers."""


def probe(tmp_path: Path, *args: str) -> tuple[int, set[str]]:
    """`tanktop ARGS`'s exit status and the modules it has imported once it is done."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env=tanktop_env(f"sqlite:///{tmp_path / 'cli.db'}"),
        capture_output=True,
        text=True,
        timeout=SLOW_START,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.splitlines()[-1])
    return answer["code"] or 0, set(answer["modules"])


@pytest.mark.parametrize(
    ("args", "unused"),
    [
        (("--help",), (*SERVING, *WEB, *TRAINING, *OTHER_DOMAINS, "sqlalchemy", "tanktop.db")),
        (
            ("keys", "--help"),
            (*SERVING, *WEB, *TRAINING, *OTHER_DOMAINS, "sqlalchemy", "tanktop.db"),
        ),
        (("keys", "list"), (*SERVING, *WEB, *TRAINING, *OTHER_DOMAINS)),
        (("keys", "create", "light"), (*SERVING, *WEB, *TRAINING, *OTHER_DOMAINS)),
        (("migrate",), (*SERVING, *WEB, *TRAINING, *OTHER_DOMAINS)),
    ],
)
def test_light_commands_import_no_heavy_module(
    tmp_path: Path, args: tuple[str, ...], unused: tuple[str, ...]
) -> None:
    code, loaded = probe(tmp_path, *args)
    assert code == 0
    assert not [m for m in unused if m in loaded]


@pytest.mark.parametrize(
    "args",
    [
        ("recs", "settings", "light"),
        ("oauth", "clients", "list", "light"),
        ("analytics", "zones", "--service", "light"),
    ],
)
def test_a_services_settings_load_no_web_framework(tmp_path: Path, args: tuple[str, ...]) -> None:
    """Commands that read a service's settings through its domain's service load its schemas
    and the catalog's facts, not the routes' path parameters and dependencies."""
    assert probe(tmp_path, "keys", "create", "light")[0] == 0
    code, loaded = probe(tmp_path, *args)
    assert code == 0
    assert not [m for m in (*SERVING, *WEB, *TRAINING) if m in loaded]


def test_a_database_at_head_is_not_migrated_again(tmp_path: Path) -> None:
    """A command on a database already at the head reads its revision and goes on: no alembic,
    no whole schema (`migrations.upgrade_if_behind`)."""
    code, loaded = probe(tmp_path, "migrate")
    assert code == 0
    assert {"alembic", "tanktop.schema"} <= loaded
    code, loaded = probe(tmp_path, "keys", "list")
    assert code == 0
    assert not [m for m in ("alembic", "tanktop.schema") if m in loaded]


def test_the_probe_sees_what_a_command_imports(tmp_path: Path) -> None:
    """The probe above would pass for a command that never ran: `oauth clients list` on a
    missing service fails after importing the OAuth service, and the probe sees it."""
    code, loaded = probe(tmp_path, "oauth", "clients", "list", "nobody")
    assert code == 1
    assert "tanktop.oauth.service" in loaded
