"""`tanktop recs tune` and `recs evaluate --tune`: a search over a service's weights and
params on a time-ordered holdout of its own history, small and seeded so it runs in seconds."""

from __future__ import annotations

import datetime as dt
import random
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tanktop.db import Database
from tanktop.events.service import HistoryEvent
from tanktop.recommendations import tuning
from tanktop.recommendations.schemas import RecommenderVersion
from tanktop.recommendations.settings import DEFAULT
from tanktop.recommendations.stored import tuning_reports
from tanktop.recommendations.tables import rec_models
from tests.conftest import Admin, Api, service_of
from tests.servers import run_cli, tanktop_env

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
PNG = b"\x89PNG\r\n\x1a\n"


def taste_history(users: int = 60, seed: int = 3) -> list[dict[str, Any]]:
    """Four groups of ten movies. Each user `seen`s movies of their group only and `click`s
    at random: `seen` is the signal, `click` noise that `WRONG` weighs twice as much."""
    rng = random.Random(seed)
    events = []
    for user in range(users):
        for n in range(24):
            at = (START + dt.timedelta(hours=user + n * 100)).isoformat()
            own = f"{user % 4}-{rng.randrange(10)}"
            noise = f"{rng.randrange(4)}-{rng.randrange(10)}"
            for event, item in (("seen", own), ("click", noise)):
                events.append(
                    {
                        "user_id": f"u{user}",
                        "event": event,
                        "item_type": "movie",
                        "item_id": item,
                        "at": at,
                    }
                )
    return events


NO_SEQUENCE = {"sequence_weight": 0.0, "recent_weight": 0.0}
WRONG_BODY = {"weights": {"click": 2.0}, "params": NO_SEQUENCE}
WRONG = RecommenderVersion(
    version=1,
    created_at=None,
    weights={**DEFAULT.weights, "click": 2.0},
    params=DEFAULT.params.model_copy(update=NO_SEQUENCE),
)
"""Noise weighed over the signal, and no sequence part (which alone makes up for some of
the noise: NDCG@10 0.29 -> 0.33 here)."""


def as_history(events: list[dict[str, Any]]) -> list[HistoryEvent]:
    return [
        HistoryEvent(
            n,
            e["user_id"],
            e["event"],
            e["item_type"],
            e["item_id"],
            None,
            dt.datetime.fromisoformat(e["at"]),
            "batch",
            False,
            1,
        )
        for n, e in enumerate(events)
    ]


def test_the_holdout_is_each_users_latest_events() -> None:
    history = as_history(taste_history(users=8))
    case = tuning.split_case(history, DEFAULT, {})
    for user, wanted in case.truth.items():
        mine = [e for e in history if e.user_id == user]
        last_trained = max(e.at for e in case.fit if e.user_id == user)
        later = {f"movie:{e.item_id}" for e in mine if e.at > last_trained}
        assert wanted <= later, "the truth comes after everything trained on"
        assert not wanted & {f"movie:{e.item_id}" for e in case.fit if e.user_id == user}
    assert len(case.fit) == len(history) - sum(max(1, round(24 * 2 * 0.2)) for _ in range(8)), (
        "20% of each user's events held out"
    )


def test_the_search_finds_the_signal_the_defaults_miss(tmp_path: Path) -> None:
    result = tuning.tune(as_history(taste_history()), WRONG, {}, trials=4, seed=1)
    weights = result.version.weights
    assert weights["click"] < weights["seen"], weights
    assert result.tuned.ndcg.mean > result.current.ndcg.mean + 2 * result.current.ndcg.std
    first = result.study.trials[0]
    assert first.params["weight.click"] == 2.0, "the search starts from the current version"
    assert first.params["genre_weight"] == WRONG.params.genre_weight
    assert len({t.params["genre_weight"] for t in result.study.trials}) > 1, "searched"
    assert first.params["popularity_power"] == WRONG.params.popularity_power
    assert len({t.params["popularity_power"] for t in result.study.trials}) > 1, "searched"
    assert first.params["year_weight"] == WRONG.params.year_weight
    assert first.params["genre_idf"] == WRONG.params.genre_idf
    assert len({t.params["genre_idf"] for t in result.study.trials}) > 1, "searched"
    assert first.params["genre_users"] == WRONG.params.genre_users
    assert len({t.params["genre_users"] for t in result.study.trials}) > 1, "searched"
    assert first.params["year_users"] == WRONG.params.year_users
    assert len({t.params["year_users"] for t in result.study.trials}) > 1, "searched"
    assert len({t.params["year_weight"] for t in result.study.trials}) > 1, "searched"
    assert first.value is not None
    assert result.study.best_value >= first.value
    lines = tuning.table(result)
    assert lines[0].split() == ["version", "NDCG@10", "recall@10", "coverage@10"]
    assert lines[1].startswith("current")
    assert "±" in lines[1]
    assert any(c.startswith("weights.click: 2 ->") for c in tuning.changes(WRONG, result.version))
    tuning.plot_history(result.study, tmp_path / "history.png")
    assert (tmp_path / "history.png").read_bytes().startswith(PNG)


async def test_cli_tunes_a_service_and_applies_the_result(
    api: Api, admin: Admin, db: Database, database_url: str, tmp_path: Path
) -> None:
    events = taste_history(users=40)
    for start in range(0, len(events), 1000):
        batch = events[start : start + 1000]
        assert (await api.post("/events/", json=batch)).status_code == 204
    service = await service_of(db, api)
    path = f"/service/{service.name}/recommender/"
    assert (await admin.put(path, json=WRONG_BODY)).status_code == 201
    env = tanktop_env(database_url)
    plot = tmp_path / "tune.png"
    args = ["recs", "tune", "--service", service.name, "--trials", "4", "--plot", str(plot)]
    shown = run_cli(env, *args)
    assert shown.returncode == 0, shown.stderr
    assert "4/4 trials" in shown.stderr, "a progress bar"
    assert [line.split()[0] for line in shown.stdout.splitlines()[1:3]] == ["current", "tuned"]
    assert plot.read_bytes().startswith(PNG)
    assert (await admin.get(path)).json()["version"] == 1, "without --apply nothing is stored"

    applied = run_cli(env, *args[:-2], "--apply")
    assert applied.returncode == 0, applied.stderr
    assert "stored as settings version 2; model version 1" in applied.stdout
    stored = (await admin.get(path)).json()
    assert stored["version"] == 2
    assert stored["weights"]["click"] < 2
    async with db.read() as conn:
        models = await conn.scalar(
            sa.select(sa.func.count()).where(rec_models.c.service_id == service.id)
        )
    assert models == 1
    reports = await tuning_reports(db, service.id)
    assert [r.applied_version for r in reports] == [2, None], "each run kept, newest first"
    assert reports[0].trials == 4
    assert set(reports[0].measured) == {"current", "tuned", "changes"}
    assert 0 <= reports[0].measured["tuned"]["ndcg"]["mean"] <= 1
    assert any(change.startswith("weights.click") for change in reports[0].measured["changes"])

    missing = run_cli(env, "recs", "tune", "--service", "no-such-service-here", "--trials", "1")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: ")


def test_evaluate_tune_on_a_ratings_file(tmp_path: Path) -> None:
    ratings = tmp_path / "ratings.csv"
    rng = random.Random(5)
    lines = ["userId,movieId,rating,timestamp"]
    for user in range(50):
        group = user % 3
        for n in range(15):
            movie = group * 10 + rng.randrange(10)
            lines.append(
                f"{user},{movie},{rng.choice([3.5, 4, 5])},{1_000_000 + user * 10 + n * 1000}"
            )
    ratings.write_text("\n".join(lines) + "\n")
    items = tmp_path / "movies.csv"
    items.write_text("movieId,title,genres\n" + "".join(f"{m},M{m},Drama\n" for m in range(30)))
    result = run_cli(
        tanktop_env("sqlite:///unused.db"),
        "recs",
        "evaluate",
        "--ratings",
        str(ratings),
        "--items",
        str(items),
        "--tune",
        "--trials",
        "3",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert out[0].split() == ["version", "NDCG@10", "recall@10", "coverage@10"]
    assert out[1].startswith("current")
    assert out[2].startswith("tuned")
    tested = re.match(r"\((\d+) test users", out[3])
    assert tested is not None
    assert 20 <= int(tested[1]) <= 50
