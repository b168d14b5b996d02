"""`recs evaluate`'s splits: which ratings are the test part under each."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tanktop.catalog.importer import parse_line
from tanktop.errors import BadRequest
from tanktop.recommendations.evaluate import (
    Rating,
    catalog_lines,
    item_genres,
    item_years,
    read_items,
    split,
    title_year,
)
from tanktop.recommendations.holdout import latest_per_user


def ratings(users: int = 30, seed: int = 5) -> list[Rating]:
    """Users with 2 to 40 ratings each, at times that interleave across users."""
    rng = random.Random(seed)
    found = []
    for user in range(users):
        times = rng.sample(range(1_000_000), rng.randint(2, 40))
        found += [(f"u{user}", f"m{rng.randrange(200)}", 4.0, at) for at in times]
    rng.shuffle(found)
    return found


def test_temporal_tests_each_users_latest_fifth() -> None:
    rows = ratings()
    train, test = split(rows, "temporal", seed=1)
    assert sorted(train + test) == sorted(rows), "every rating in exactly one part"
    users = {u for u, *_ in rows}
    for user in users:
        mine = sorted(r[3] for r in rows if r[0] == user)
        held = sorted(r[3] for r in test if r[0] == user)
        if len(mine) < 5:
            assert not held, "a user with under 5 ratings is only trained on"
            continue
        assert held == mine[len(mine) - max(1, round(len(mine) * 0.2)) :], "their latest 20%"
        assert max(r[3] for r in train if r[0] == user) <= held[0], "none of their future"
    assert len({u for u, *_ in test}) == sum(
        1 for u in users if sum(1 for r in rows if r[0] == u) >= 5
    ), "every user with a history is tested, not only those active after one moment"


def test_global_tests_the_latest_fifth_of_all() -> None:
    rows = ratings()
    train, test = split(rows, "global", seed=1)
    assert len(test) == len(rows) - int(len(rows) * 0.8)
    assert max(r[3] for r in train) <= min(r[3] for r in test), "nothing later is trained on"


def test_random_is_seeded() -> None:
    rows = ratings()
    assert split(rows, "random", seed=1) == split(rows, "random", seed=1)
    assert split(rows, "random", seed=1) != split(rows, "random", seed=2)


@pytest.mark.parametrize("holdout", [0.1, 0.5])
def test_the_holdout_share_and_its_floor(holdout: float) -> None:
    acts = [("a", n) for n in range(10)] + [("b", n) for n in range(3)] + [("c", 0)] * 5
    train, test = latest_per_user(acts, lambda act: act[0], holdout=holdout)
    assert [act for act in test if act[0] == "a"] == [("a", n) for n in range(10)][
        10 - round(10 * holdout) :
    ]
    assert not [act for act in test if act[0] == "b"], "3 acts: under the minimum"
    assert [act for act in test if act[0] == "c"] == [("c", 0)] * max(1, round(5 * holdout))
    assert len(train) + len(test) == len(acts)


@pytest.mark.parametrize(
    ("title", "year"),
    [
        ("Toy Story (1995)", 1995),
        ("Babylon 5 ", None),
        ("Hellboy (2004) ", 2004),
        ("2001: A Space Odyssey", None),
        ("Far Future (9999)", None),
        ("Babylon 5 (1994-1998)", None),
    ],
)
def test_a_titles_release_year(title: str, year: int | None) -> None:
    assert title_year(title) == year


def test_an_items_file_becomes_catalog_movies_with_genres(tmp_path: Path) -> None:
    path = tmp_path / "movies.csv"
    path.write_text(
        "movieId,title,genres\n"
        '1,"Heat, the film (1995)",Action|Crime|Thriller\n'
        "2,Nothing (2001),(no genres listed)\n"
    )
    items = read_items(path)
    assert item_genres(items) == {
        "movie:1": ("action", "crime", "thriller"),
        "movie:2": (),
    }
    assert item_years(items) == {"movie:1": 1995, "movie:2": 2001}
    entries = [parse_line(line) for line in catalog_lines(items)]
    assert [(e.item_type, e.item_id) for e in entries] == [("movie", "1"), ("movie", "2")]
    first = entries[0].item
    assert first is not None
    assert first.model_dump()["genres"] == ["Action", "Crime", "Thriller"]
    assert first.model_dump()["year"] == 1995, "the year the title ends with"
    path.write_text("movieId,title,genres\n3,Two columns\n")
    with pytest.raises(BadRequest, match="line 2: expected item,title,genres"):
        read_items(path)
