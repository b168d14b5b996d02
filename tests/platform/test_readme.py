"""The README's configuration table names every setting the server reads."""

from __future__ import annotations

from pathlib import Path

from tanktop.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_configuration_table() -> None:
    rows = [line for line in README.read_text().splitlines() if line.startswith("| `TANKTOP_")]
    documented = {row.split("`")[1] for row in rows}
    expected = {f"TANKTOP_{name.upper()}" for name in Settings.model_fields}
    assert expected - documented == set(), "settings missing from the README"
    assert documented - expected == set(), "README rows for settings that do not exist"
