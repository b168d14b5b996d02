"""`make run`'s demo: the demo service gets example sections, so user 7's first page is real."""

from __future__ import annotations

from pathlib import Path

from tanktop.catalog.demo import load_demo
from tanktop.db import Database
from tanktop.sections.demo import EXAMPLES, define_examples
from tests.conftest import Api, service_of
from tests.sections.helpers import rows
from tests.servers import create_key, run_cli, tanktop_env


async def test_example_sections_fill_a_first_page(api: Api, db: Database) -> None:
    await load_demo(db)
    service = await service_of(db, api)
    assert await define_examples(db, service) == len(EXAMPLES)
    assert await define_examples(db, service) == 0, "never over a service's own sections"
    got = await rows(api, user="7")
    assert {"live_now", "recommended", "new", "staff-picks", "series", "comedy"} <= set(got)
    assert got["series"] == [1001, 1003, 1002, 1004]


def test_tanktop_demo_gives_the_service_its_sections(tmp_path: Path) -> None:
    env = tanktop_env(f"sqlite:///{tmp_path / 'demo.db'}")
    create_key(env, "demo")
    filled = run_cli(env, "demo", "demo")
    assert filled.returncode == 0, filled.stderr
    assert f"demo: {len(EXAMPLES)} example sections" in filled.stdout
    again = run_cli(env, "demo", "demo")
    assert again.returncode == 0, again.stderr
    assert "example sections" not in again.stdout, "never over the service's own"
