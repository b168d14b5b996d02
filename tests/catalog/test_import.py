"""`tanktop catalog import` and the demo catalog."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
from pathlib import Path

import sqlalchemy as sa

from tanktop.catalog.demo import load_demo, schedule_lines
from tanktop.catalog.importer import import_lines
from tanktop.catalog.service import demo_lines
from tanktop.catalog.tables import catalog_changes
from tanktop.db import Database
from tests.conftest import Admin, unique
from tests.servers import TANKTOP, tanktop_env


def lines_for(prefix: str) -> list[str]:
    show = f"{prefix}p"
    return [
        json.dumps(
            {
                "item_type": "programme",
                "item_id": show,
                "title": "Show",
                "sport": "football",
                "teams": ["A", "B"],
            }
        ),
        json.dumps(
            {
                "item_type": "episode",
                "item_id": f"{prefix}e1",
                "programme_id": show,
                "season": 1,
                "number": 1,
                "duration": 45,
                "offers": [{"source_id": 1, "price": 0}],
            }
        ),
        "{not json",
        json.dumps(
            {
                "item_type": "episode",
                "item_id": f"{prefix}e2",
                "programme_id": "nope",
                "season": 1,
                "number": 2,
            }
        ),
        json.dumps(
            {
                "item_type": "movie",
                "item_id": f"{prefix}m",
                "title": "Film",
                "offers": [{"source_id": 2, "price": -1}],
            }
        ),
        "",
        json.dumps({"item_type": "channel", "item_id": f"{prefix}c", "name": "Chan"}),
        json.dumps(
            {
                "item_type": "channel",
                "item_id": f"{prefix}c",
                "schedule": [
                    {
                        "start": "2026-11-27T20:00:00Z",
                        "end": "2026-11-27T21:00:00Z",
                        "item_type": "episode",
                        "item_id": f"{prefix}e1",
                    }
                ],
            }
        ),
        json.dumps({"item_type": "movie", "item_id": f"{prefix}m2", "title": "Film 2"}),
    ]


async def test_good_lines_kept_bad_lines_reported(db: Database, admin: Admin) -> None:
    prefix = unique("i")
    report = await import_lines(db, lines_for(prefix))
    assert report.lines == 9
    assert [number for number, _ in sorted(report.rejected)] == [3, 4, 5]
    reasons = dict(report.rejected)
    assert "not JSON" in reasons[3]
    assert "nope" in reasons[4]
    assert "price" in reasons[5]
    assert report.created == 4
    assert report.changes == 2, "one offer set, one new slot"
    episode = (await admin.get(f"/catalog/episode/{prefix}e1/")).json()
    assert episode["offers"][0]["source_id"] == 1
    assert (await admin.get(f"/catalog/movie/{prefix}m2/")).status_code == 200
    assert (await admin.get(f"/catalog/movie/{prefix}m/")).status_code == 404

    again = await import_lines(db, lines_for(prefix))
    assert again.created == 0
    assert again.changes == 0, "importing the same file twice changes nothing"
    async with db.read() as conn:
        count = await conn.scalar(
            sa.select(sa.func.count()).where(catalog_changes.c.item_id == f"{prefix}e1")
        )
    assert count == 2


def test_cli_import_from_file_and_stdin(database_url: str, tmp_path: Path) -> None:
    env = tanktop_env(database_url)
    prefix = unique("cli")
    path = tmp_path / "catalog.jsonl"
    path.write_text("\n".join(lines_for(prefix)) + "\n")
    result = subprocess.run(
        [TANKTOP, "catalog", "import", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, "rejected lines make the exit status 1"
    assert "9 lines" in result.stdout
    assert "3 rejected" in result.stdout
    assert "line 3:" in result.stderr
    assert "line 5:" in result.stderr
    assert "100%" in result.stderr, "a progress bar is shown"

    good = "\n".join(
        json.dumps({"item_type": "movie", "item_id": f"{prefix}s{i}", "title": "x"})
        for i in range(3)
    )
    result = subprocess.run(
        [TANKTOP, "catalog", "import", "-"],
        env=env,
        input=good,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "3 items (3 new)" in result.stdout


def test_demo_schedule_covers_the_day() -> None:
    lines = demo_lines()
    assert len(lines) > 300
    day = dt.date(2026, 11, 27)
    for line in schedule_lines(lines, day):
        slots = json.loads(line)["schedule"]
        assert slots[0]["start"] == "2026-11-27T06:00:00+00:00"
        assert slots[-1]["end"] >= "2026-11-28T06:00:00+00:00"
        for before, after in itertools.pairwise(slots):
            assert before["end"] == after["start"]


async def test_demo_loads_cleanly(db: Database) -> None:
    report = await load_demo(db, dt.date(2030, 1, 1))
    assert report.rejected == []
    assert report.items >= 380
