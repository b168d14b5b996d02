"""What a newcomer gets from `openapi-python-client generate --url …/openapi.json`: a client
that builds, without warnings, with the short names of our operations and models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tanktop.app import create_app

GENERATOR = str(Path(sys.executable).with_name("openapi-python-client"))
PACKAGE = "tanktop_generated"


def test_a_generated_client_builds_with_short_names(tmp_path: Path) -> None:
    document = create_app().openapi()
    spec, config, out = tmp_path / "openapi.json", tmp_path / "config.yml", tmp_path / "out"
    spec.write_text(json.dumps(document))
    config.write_text(f"post_hooks: []\npackage_name_override: {PACKAGE}\n")
    command = [GENERATOR, "generate", "--path", str(spec), "--output-path", str(out)]
    generated = _run([*command, "--config", str(config)], tmp_path)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "WARNING" not in generated.stdout + generated.stderr, generated.stdout

    package = out / PACKAGE
    modules = {p.stem for p in (package / "api").rglob("*.py") if p.stem != "__init__"}
    operations = {
        operation["operationId"].replace(".", "_")
        for path in document["paths"].values()
        for operation in path.values()
    }
    assert modules == operations, "one module per operation, named by its short id"
    assert {"profiles_get", "events_post", "bookmarks_list", "recommendations_get"} <= modules
    models = {p.stem for p in (package / "models").glob("*.py")}
    named = {"profile", "bookmark", "recommendation", "notification", "delivery", "problem"}
    assert named <= models

    imports = "; ".join(
        f"import {PACKAGE}.{'.'.join(p.relative_to(package).with_suffix('').parts)}"
        for p in sorted(package.rglob("*.py"))
        if p.stem != "__init__"
    )
    built = _run([sys.executable, "-c", imports], out)
    assert built.returncode == 0, built.stderr


def _run(command: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=folder, capture_output=True, text=True, timeout=120, check=False
    )
