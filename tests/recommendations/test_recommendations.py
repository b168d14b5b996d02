"""Recommendations on a small synthetic service with a known answer."""

from __future__ import annotations

import asyncio
import io
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from tanktop.config import Settings
from tanktop.db import Database
from tanktop.recommendations.evaluate import evaluate, plot
from tanktop.recommendations.items import fold_episodes
from tanktop.recommendations.model import YEAR_WIDTH, Blend, Model, train
from tanktop.recommendations.service import ModelCache, RetrainSchedule, train_service
from tanktop.recommendations.tables import rec_models
from tests.conftest import Admin, Api, assert_problem, service_of, unique
from tests.servers import create_key, run_cli, tanktop_env


def dense(model: Model) -> np.ndarray:
    """The model's item-item matrix S, written out."""
    n = len(model.items)
    matrix = np.zeros((n, n), dtype=np.float32)
    for column in range(n):
        neighbours, weights = model.row(column)
        matrix[column, neighbours] = weights
    return matrix


def dense_sequence(model: Model) -> np.ndarray:
    """The model's sequence matrix Q, written out."""
    q = model.sequence
    matrix = np.zeros((len(model.items), len(model.items)), dtype=np.float32)
    for column in range(len(model.items)):
        start, end = q.indptr[column], q.indptr[column + 1]
        matrix[column, q.indices[start:end]] = q.weights[start:end]
    return matrix


def stored_without(model: Model, part: str) -> Model:
    """`model` as a release before `part` (its arrays: `part`, or its three `part_...`)
    existed would have stored it."""
    arrays = dict(np.load(io.BytesIO(model.to_bytes()), allow_pickle=False))
    for name in [n for n in arrays if n == part or n.startswith(f"{part}_")]:
        del arrays[name]
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return Model.from_bytes(buffer.getvalue())


def test_what_users_act_on_next_counts_beyond_co_occurrence() -> None:
    """Every user acts on a, b, four fillers, then c: a co-occurs with b and c alike, so
    EASE alone cannot tell them apart for a user of a; the sequence part ranks b, acted on
    right after a, first. Its recent part favours what follows the user's latest items."""
    interactions = [
        (f"u{u}", item, 1.0)
        for u in range(20)
        for item in ("a", "b", f"f{u % 5}", f"g{u % 5}", f"h{u % 5}", f"k{u % 5}", "c")
    ]
    model = train(interactions, regularisation=5.0)
    index = model.index()
    a, b, c = index["a"], index["b"], index["c"]
    one = np.array([1.0], dtype=np.float32)
    scores = model.scores(np.array([a]), one)  # no blend: S alone
    assert scores[b] == pytest.approx(scores[c]), "co-occurrence alone: a tie"
    overall = Blend(overall=1.0)
    scores = model.scores(np.array([a]), one, overall)
    assert scores[b] > scores[c]
    assert model.because(np.array([a]), one, np.array([b]), overall) == [a]
    recent = Blend(recent=1.0, recent_items=1.0)
    both = np.array([1.0, 1.0], dtype=np.float32)
    after_c = model.scores(np.array([a, c]), both, recent)  # a long ago, c latest
    after_a = model.scores(np.array([c, a]), both, recent)
    k0 = index["k0"]
    assert after_c[k0] - after_a[k0] > 0, "what comes before c, c being the latest"
    again = Model.from_bytes(model.to_bytes())
    assert (dense_sequence(again) == dense_sequence(model)).all()


def test_popularity_debiasing_lifts_the_less_known_of_two_near_scores() -> None:
    """a co-occurs with b (liked by 12) a little more than with c (liked by 4): b comes
    first; with the popularity power each positive score is divided by its item's
    popularity to that power, and c overtakes b. Scores of nothing or less stay."""
    interactions = [(f"u{u}", "a", 1.0) for u in range(8)]
    interactions += [(f"u{u}", "b", 1.0) for u in range(5)]
    interactions += [(f"w{u}", "b", 1.0) for u in range(7)]
    interactions += [(f"u{u}", "c", 1.0) for u in range(4)]
    interactions += [("x", "d", 1.0), ("x", "b", 1.0)]
    model = train(interactions, regularisation=5.0)
    index = model.index()
    a, b, c, d = index["a"], index["b"], index["c"], index["d"]
    one = np.array([1.0], dtype=np.float32)
    plain = model.scores(np.array([a]), one)
    assert plain[b] > plain[c] > 0
    debiased = model.scores(np.array([a]), one, Blend(popularity=0.5))
    positive = plain > 0
    assert debiased[positive] == pytest.approx(
        plain[positive] / np.sqrt(model.popularity[positive]), rel=1e-5
    )
    assert debiased[~positive].tolist() == plain[~positive].tolist()
    assert debiased[c] > debiased[b], "the less known first"
    assert model.top(debiased, excluded=[a], count=2).tolist() == [c, b]
    assert plain[d] <= 0


def test_the_genre_part_breaks_a_tie_co_occurrence_cannot() -> None:
    """b and c co-occur with a alike; c shares one of a's two genres, b none: with the
    genre part c comes first, by its genre cosine (each genre weighing its IDF) times a share
    of the user's strongest score; without it they tie."""
    interactions = [(f"u{u}", item, 1.0) for u in range(10) for item in ("a", "b", "c")]
    genres = {"a": ["Drama", "War"], "b": ["Comedy"], "c": ["War"]}
    model = train(interactions, regularisation=5.0, genres=genres)
    index = model.index()
    a, b, c = index["a"], index["b"], index["c"]
    one = np.array([1.0], dtype=np.float32)
    plain = model.scores(np.array([a]), one)
    assert plain[b] == pytest.approx(plain[c])
    blended = model.scores(np.array([a]), one, Blend(genres=0.5))
    drama, war = np.log(3 / 1), np.log(3 / 2)  # of the three items, one is a drama, two war
    cosine = war / np.hypot(drama, war)
    assert blended[c] - blended[b] == pytest.approx(0.5 * cosine * np.abs(plain).max(), rel=1e-5)
    assert model.genre_match(np.array([a]), one)[[a, b, c]] == pytest.approx([1.0, 0.0, cosine])
    assert model.genre_match(np.array([a]), -one).tolist() == [0.0] * 3, "a dislike: no taste"
    lone = train(
        [*interactions, ("v", "d", 1.0), ("v", "e", 1.0)],
        regularisation=5.0,
        genres={**genres, "e": ["War"]},
    )
    at = lone.index()
    liked = np.array([at["a"]])
    assert lone.scores(liked, one)[at["e"]] == pytest.approx(0, abs=1e-6), "only by genres"
    assert lone.scores(liked, one, Blend(genres=0.5))[at["e"]] == pytest.approx(0, abs=1e-6), (
        "the genre part re-ranks what the model scores; it adds no item of its own"
    )
    assert lone.because(liked, one, np.array([at["e"]]), Blend(genres=0.5)) == [at["a"]], (
        "nothing of theirs leads to it: like the liked item sharing its genres"
    )
    assert lone.because(liked, one, np.array([at["e"]])) == [None], "no genre part: none"
    again = Model.from_bytes(model.to_bytes())
    assert again.scores(np.array([a]), one, Blend(genres=0.5)).tolist() == blended.tolist()
    old = stored_without(model, "genre")
    assert old.scores(np.array([a]), one, Blend(genres=0.5)).tolist() == plain.tolist(), (
        "a model stored before the genre part serves without it"
    )


def test_a_genre_counts_by_its_idf() -> None:
    """A genre every item has says nothing (weighs 0); with `genre_idf` 0 every genre weighs
    alike (a's cosine with c, sharing one of its two genres, is 1/√2)."""
    interactions = [(f"u{u}", item, 1.0) for u in range(10) for item in ("a", "b", "c")]
    genres = {"a": ["Film", "War"], "b": ["Film"], "c": ["Film", "War"]}
    one = np.array([1.0], dtype=np.float32)
    model = train(interactions, genres=genres)
    at = model.index()
    match = model.genre_match(np.array([at["a"]]), one)
    assert match[[at["b"], at["c"]]] == pytest.approx([0.0, 1.0]), "Film says nothing"
    alike = train(interactions, genres={**genres, "c": ["War"]}, genre_idf=0.0)
    match = alike.genre_match(np.array([at["a"]]), one)
    assert match[[at["b"], at["c"]]] == pytest.approx([1 / np.sqrt(2)] * 2)


def test_ease_learns_from_genres_as_shared_users() -> None:
    """No user acted on both a and c, so plain EASE does not link them; with `genre_users`
    their shared genre counts as that many users who did, and a recommends c (not d, of
    another genre, which no one shares with a either)."""
    interactions = [
        *((f"u{u}", item, 1.0) for u in range(10) for item in ("a", "b")),
        *((f"w{u}", item, 1.0) for u in range(10) for item in ("c", "d")),
    ]
    genres = {"a": ["War"], "b": ["Comedy"], "c": ["War"], "d": ["Comedy"]}
    one = np.array([1.0], dtype=np.float32)
    plain = train(interactions, regularisation=5.0, genres=genres)
    at = plain.index()
    a, c, d = at["a"], at["c"], at["d"]
    assert plain.scores(np.array([a]), one)[[c, d]].tolist() == [0.0, 0.0]
    shared = train(interactions, regularisation=5.0, genres=genres, genre_users=3.0)
    assert shared.index() == at
    scores = shared.scores(np.array([a]), one)
    assert scores[c] > 0.01, "linked by their genre"
    assert scores[c] > scores[d]


def test_ease_learns_from_release_years_as_shared_users() -> None:
    """As with genres: no user acted on both a and c, but with `year_users` their release
    years a year apart count as that many users who did, and a recommends c over d (thirty
    years from it) and e (no known year)."""
    interactions = [
        *((f"u{u}", item, 1.0) for u in range(10) for item in ("a", "b")),
        *((f"w{u}", item, 1.0) for u in range(10) for item in ("c", "d", "e")),
    ]
    years = {"a": 1990, "b": 2021, "c": 1991, "d": 2020}
    one = np.array([1.0], dtype=np.float32)
    plain = train(interactions, regularisation=5.0, years=years)
    at = plain.index()
    a, c, d, e = at["a"], at["c"], at["d"], at["e"]
    assert plain.scores(np.array([a]), one)[[c, d, e]].tolist() == [0.0, 0.0, 0.0]
    scores = train(interactions, regularisation=5.0, years=years, year_users=3.0).scores(
        np.array([a]), one
    )
    assert scores[c] > 0.01, "linked by their years"
    assert scores[c] > max(scores[d], scores[e])


def test_ease_side_information_matches_the_plain_formula() -> None:
    """Genres and years go into XᵀX in place, a block at a time; the fitted EASE block is
    still B = -P / diag(P) with P = (XᵀX + genre_users cos + year_users closeness + λI)⁻¹."""
    rng = np.random.default_rng(16)
    n, kinds = 30, ["War", "Comedy", "Drama", "Noir"]
    names = [f"i{i:02d}" for i in range(n)]
    interactions = [
        (f"u{u}", names[i], float(rng.integers(1, 4)))
        for u in range(60)
        for i in rng.choice(n, size=8, replace=False)
    ]
    genres = {i: list(rng.choice(kinds, size=rng.integers(1, 3), replace=False)) for i in names}
    genres[names[0]] = []
    years = {i: int(rng.integers(1980, 2000)) for i in names[1:]}
    model = train(
        interactions,
        regularisation=5.0,
        genres=genres,
        genre_users=3.0,
        years=years,
        year_users=2.0,
    )
    at = {item: names.index(item) for item in model.items}
    order = [at[item] for item in model.items]
    x = np.zeros((60, n))
    for user, item, value in interactions:
        x[int(user[1:]), at[item]] = value
    g = np.array([[kind in genres[i] for kind in kinds] for i in names], dtype=float)
    g /= np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
    y = np.array([years.get(i, 0) for i in names], dtype=float)
    close = np.exp(-0.5 * ((y[:, None] - y[None, :]) / YEAR_WIDTH) ** 2)
    close[y == 0] = close[:, y == 0] = 0.0
    gram = x.T @ x + 3.0 * g @ g.T + 2.0 * close + 5.0 * np.eye(n)
    inverse = np.linalg.inv(gram)
    expected = -inverse / np.diag(inverse)
    np.fill_diagonal(expected, 0.0)
    assert len(model.head) == n
    assert model.head == pytest.approx(expected[np.ix_(order, order)], abs=1e-5)


def test_the_year_part_favours_the_years_the_user_likes() -> None:
    """b and c co-occur with a alike; c was released two years from a, b thirty: with the
    year part c comes first, by its closeness (the Gaussian of `YEAR_WIDTH` at two years)
    times a share of the user's strongest score; without it they tie. An item of no known
    year, or a user liking nothing with one, gets nothing from it."""
    interactions = [(f"u{u}", item, 1.0) for u in range(10) for item in ("a", "b", "c", "d")]
    years = {"a": 1990, "b": 2020, "c": 1992}
    model = train(interactions, regularisation=5.0, years=years)
    index = model.index()
    a, b, c, d = index["a"], index["b"], index["c"], index["d"]
    one = np.array([1.0], dtype=np.float32)
    plain = model.scores(np.array([a]), one)
    assert plain[b] == pytest.approx(plain[c])
    dated = model.scores(np.array([a]), one, Blend(years=0.5))
    close = np.exp(-0.5 * (2 / YEAR_WIDTH) ** 2)
    assert dated[c] - plain[c] == pytest.approx(0.5 * close * np.abs(plain).max(), rel=1e-5)
    assert dated[b] - plain[b] == pytest.approx(0.0, abs=1e-4), "thirty years off: about none"
    assert dated[d] == pytest.approx(plain[d]), "no year: nothing from the year part"
    assert model.top(dated, excluded=[a], count=2).tolist() == [c, b]
    assert model.year_closeness(np.array([d]), one, np.array([a, c])).tolist() == [0.0, 0.0]
    assert model.year_closeness(np.array([a]), -one, np.array([c])).tolist() == [0.0]
    again = Model.from_bytes(model.to_bytes())
    assert again.scores(np.array([a]), one, Blend(years=0.5)).tolist() == dated.tolist()
    old = stored_without(model, "years")
    assert old.scores(np.array([a]), one, Blend(years=0.5)).tolist() == plain.tolist(), (
        "a model stored before the year part serves without it"
    )


async def test_training_reads_the_catalogs_genres_and_years(
    api: Api, admin: Admin, db: Database
) -> None:
    a, b = await seed(api, unique("g"))
    for item, year in zip(a, (1979, 1980, 2024), strict=True):
        body = {"title": item, "genres": ["Horror"], "year": year}
        assert (await admin.put(f"/catalog/movie/{item}/", json=body)).status_code in (200, 201)
    service = await service_of(db, api)
    await train_service(db, service.id)
    model = await ModelCache(db, refresh=3600).get(service.id)
    assert model is not None
    index = model.index()
    one = np.array([1.0], dtype=np.float32)
    match = model.genre_match(np.array([index[f"movie:{a[0]}"]]), one)
    assert [match[index[f"movie:{i}"]] for i in a] == pytest.approx([1.0] * len(a))
    assert [match[index[f"movie:{i}"]] for i in b] == [0.0] * len(b), "no genres: no match"
    assert [int(model.years[index[f"movie:{i}"]]) for i in a] == [1979, 1980, 2024]
    assert [int(model.years[index[f"movie:{i}"]]) for i in b] == [0] * len(b), "no year: 0"


def test_a_model_stored_before_the_sequence_part_still_serves() -> None:
    model = train([(f"u{u}", item, 1.0) for u in range(5) for item in ("a", "b")])
    old = stored_without(model, "sequence")
    index = old.index()
    one = np.array([1.0], dtype=np.float32)
    assert not dense_sequence(old).any()
    assert old.scores(np.array([index["a"]]), one)[index["b"]] > 0


def test_ease_learns_co_occurrence_and_round_trips() -> None:
    interactions = [(f"u{u}", item, 1.0) for u in range(10) for item in ("a", "b")]
    interactions += [(f"v{u}", item, 1.0) for u in range(10) for item in ("c", "d")]
    model = train(interactions, regularisation=1.0)
    index = model.index()
    similarity = dense(model)
    assert similarity[index["a"], index["b"]] > 0.5
    assert similarity[index["a"], index["c"]] <= 0
    assert similarity[index["a"], index["a"]] == 0
    again = Model.from_bytes(model.to_bytes())
    assert again.items == model.items
    assert (dense(again) == similarity).all()


def test_the_tail_beyond_the_ease_head_is_recommended_through_its_neighbours() -> None:
    """Items outside the head keep kNN neighbours on EASE's scale: a user of a tail item
    gets its companion, and a head item's tail neighbour is reachable from the head."""
    interactions = [(f"u{u}", f"movie:h{u % 7}", 1.0) for u in range(200)]
    interactions += [(f"u{u}", f"movie:h{(u + 1) % 7}", 1.0) for u in range(200)]
    interactions += [(f"t{u}", item, 1.0) for u in range(3) for item in ("movie:x", "movie:y")]
    interactions += [("t0", "movie:h0", 1.0), ("t1", "movie:h0", 1.0)]
    model = train(interactions, regularisation=5.0, head_items=7, neighbours=3)
    assert len(model.items) == 9, "every item"
    assert len(model.head) == 7, "EASE on the head"
    index = model.index()
    x, y, h0 = index["movie:x"], index["movie:y"], index["movie:h0"]
    neighbours, weights = model.row(x)
    assert neighbours[np.argmax(weights)] == y
    assert all(len(model.row(c)[0]) <= 3 for c in (x, y)), "at most `neighbours` each"
    assert {x, y} & set(model.row(h0)[0].tolist()), "a head item reaches the tail"
    scores = model.scores(np.array([x]), np.array([1.0], dtype=np.float32))
    assert model.top(scores, excluded=[x], count=1)[0] == y


def test_scores_read_only_touched_rows_yet_equal_the_full_product() -> None:
    rng = np.random.default_rng(3)
    interactions = [(f"u{u}", f"movie:{i}", 1.0) for u in range(40) for i in rng.choice(30, 6)]
    interactions += [(f"u{u}", f"episode:{i}", 1.0) for u in range(40) for i in rng.choice(9, 2)]
    for head in (2000, 12):
        model = train(interactions, regularisation=5.0, head_items=head, neighbours=5)
        similarity, sequence = dense(model), dense_sequence(model)
        assert sequence.any(), "the sequence part is learnt too"
        touched = np.array([2, 7, 11, 20])
        values = np.array([1.0, 0.6, -1.0, 0.5], dtype=np.float32)
        vector = np.zeros(len(model.items), dtype=np.float32)
        vector[touched] = values
        sequenced = np.zeros(len(model.items), dtype=np.float32)
        blend = Blend(0.5, 0.7, 2.0)
        sequenced[touched] = blend.sequenced(values)
        full = vector @ similarity + sequenced @ sequence
        assert np.allclose(model.scores(touched, values, blend), full, atol=1e-6)
        columns = np.arange(len(model.items))
        parts = vector[:, None] * similarity + sequenced[:, None] * sequence
        reasons = model.because(touched, values, columns, blend)
        for column, found in zip(columns, reasons, strict=True):
            best = touched[np.argmax(parts[touched, column])]
            assert found == (best if parts[best, column] > 0 else None)
    episodes = model.of_type("episode")
    assert [model.items[i] for i in np.flatnonzero(episodes)] == [
        i for i in model.items if i.startswith("episode:")
    ]


def test_top_ranks_scored_items_then_the_popular_then_the_disliked() -> None:
    interactions = [(f"u{u}", f"movie:{i}", 1.0) for u in range(30) for i in range(u % 6 + 1)]
    model = train(interactions, regularisation=5.0)
    scores = np.zeros(len(model.items), dtype=np.float32)
    scores[[4, 2, 5]] = [0.5, 0.9, -0.3]
    assert model.top(scores, excluded=[2], count=4).tolist() == [4, 0, 1, 3]
    assert model.top(scores, excluded=[2], count=9).tolist() == [4, 0, 1, 3, 5], "never 2"
    assert model.top(scores, excluded=[], count=2, item_type="movie").tolist() == [2, 4]
    assert model.top(scores, excluded=[], count=2, item_type="programme").tolist() == []


def test_episodes_fold_into_their_programme() -> None:
    history = [
        ("u", "episode", "e1", 1.0),
        ("u", "episode", "e2", 0.6),
        ("u", "episode", "e1", 0.0),  # later: removed; the programme keeps e2's weight
        ("u", "episode", "lost", 1.0),  # not in the catalog: dropped
        ("u", "movie", "m", 0.7),
        ("v", "programme", "p", -1.0),
        ("v", "episode", "e1", 1.0),
    ]
    folded = fold_episodes(history, {"e1": "programme:p", "e2": "programme:p"})
    assert sorted(folded) == [
        ("u", "movie:m", 0.7),
        ("u", "programme:p", 0.6),
        ("v", "programme:p", 1.0),
    ]


async def test_programmes_stand_for_their_episodes(api: Api, admin: Admin, db: Database) -> None:
    prefix = unique("tv")
    film = f"{prefix}-film"
    await admin.put(f"/catalog/movie/{film}/", json={"title": "Film"})
    episodes: dict[str, list[str]] = {}
    for show in (f"{prefix}-a", f"{prefix}-b"):
        await admin.put(f"/catalog/programme/{show}/", json={"title": show})
        episodes[show] = [f"{show}-e{n}" for n in range(1, 4)]
        for n, episode in enumerate(episodes[show], start=1):
            body = {"programme_id": show, "season": 1, "number": n}
            await admin.put(f"/catalog/episode/{episode}/", json=body)
    show_a, show_b = episodes
    batch: list[dict[str, Any]] = []
    for u in range(10):  # fans of show A also watch the film; fans of show B do not
        batch += [
            {"user_id": f"a{u}", "event": "seen", "item_type": "episode", "item_id": e}
            for e in episodes[show_a][: 1 + u % 3]
        ]
        batch.append({"user_id": f"a{u}", "event": "seen", "item_type": "movie", "item_id": film})
        batch += [
            {"user_id": f"b{u}", "event": "seen", "item_type": "episode", "item_id": e}
            for e in episodes[show_b]
        ]
    assert (await api.post("/events/", json=batch)).status_code == 204
    await train_service(db, (await service_of(db, api)).id)

    await api.post(f"/event/new/progress/episode/{episodes[show_a][0]}/10/")
    body = (await api.get("/recommendation/new/?n=5")).json()["recommendations"]
    assert body[0]["item_id"] == film
    assert body[0]["reasons"] == [
        {"type": "similar_to", "item_type": "programme", "item_id": show_a}
    ]
    assert "episode" not in {r["item_type"] for r in body}, "programmes, never single episodes"
    await api.post(f"/event/new/seen/episode/{episodes[show_a][0]}/")
    assert show_a not in await ids(api, "/recommendation/new/?n=5"), "already watching it"
    similar = (await api.get(f"/similar/episode/{episodes[show_a][1]}/")).json()["similar"]
    assert [(s["item_type"], s["item_id"]) for s in similar][:1] == [("movie", film)]


async def seed(api: Api, prefix: str) -> tuple[list[str], list[str]]:
    """Ten users watch the a-films together, ten others the b-films."""
    a = [f"{prefix}a{i}" for i in range(3)]
    b = [f"{prefix}b{i}" for i in range(3)]
    batch: list[dict[str, Any]] = []
    for group, films in (("g", a), ("h", b)):
        for user in range(10):
            batch += [
                {
                    "user_id": f"{group}{user}",
                    "event": "seen",
                    "item_type": "movie",
                    "item_id": film,
                }
                for film in films
            ]
    assert (await api.post("/events/", json=batch)).status_code == 204
    return a, b


async def ids(api: Api, path: str) -> list[Any]:
    response = await api.get(path)
    assert response.status_code == 200, response.text
    return [r["item_id"] for r in response.json()["recommendations"]]


async def test_personal_exclusions_reasons_and_immediate_effect(api: Api, db: Database) -> None:
    a, b = await seed(api, unique("r"))
    await train_service(db, (await service_of(db, api)).id)
    await api.post(f"/event/new/seen/movie/{a[0]}/")
    await api.post(f"/event/new/hide/movie/{a[2]}/")
    body = (await api.get("/recommendation/new/movie/?n=3")).json()["recommendations"]
    assert body[0]["item_id"] == a[1], "the film watched with the one they saw"
    assert body[0]["reasons"] == [{"type": "similar_to", "item_type": "movie", "item_id": a[0]}]
    assert a[0] not in [r["item_id"] for r in body], "never what they have seen"
    assert a[2] not in [r["item_id"] for r in body], "never what they hid"
    await api.post(f"/event/new/rated/movie/{b[0]}/5/")
    await api.post(f"/event/new/seen/movie/{a[1]}/")
    top = await ids(api, "/recommendation/new/?n=2")
    assert set(top) == {b[1], b[2]}, "a new event counts without retraining"


async def test_cold_start_and_similar(api: Api, db: Database) -> None:
    a, b = await seed(api, unique("s"))
    cold = (await api.get("/recommendation/stranger/movie/?n=3")).json()["recommendations"]
    assert all(r["reasons"] == [{"type": "available"}] for r in cold), "no model yet"
    await train_service(db, (await service_of(db, api)).id)
    popular = (await api.get("/recommendation/stranger/?n=6")).json()["recommendations"]
    assert {r["item_id"] for r in popular} == set(a + b)
    assert all(r["reasons"] == [{"type": "popular"}] for r in popular)
    similar = (await api.get(f"/similar/movie/{a[0]}/?n=5")).json()["similar"]
    assert {s["item_id"] for s in similar[:2]} == {a[1], a[2]}
    assert {s["item_id"] for s in similar[2:]} <= set(b), "then the most popular"
    assert all(s["reasons"] == [{"type": "popular"}] for s in similar[2:])
    assert_problem(await api.get("/similar/movie/unknown-film/"), 404)


async def test_similar_answers_for_every_catalog_item(api: Api, admin: Admin, db: Database) -> None:
    """An item no model knows is answered from the catalog: what shares most of its genres
    (an episode: its programme's), then the most popular; only an item neither the model nor
    the catalog knows is a 404."""
    prefix, space, horror = unique("c"), unique("space"), unique("horror")
    genres = {
        "new": [space, horror],
        "both": [horror, space],
        "space": [space],
        "other": [unique("drama")],
    }
    show = f"{prefix}-show"
    episode = {"title": "Pilot", "programme_id": show, "season": 1, "number": 1}
    for path, body in [
        *((f"movie/{prefix}-{name}", {"title": name, "genres": g}) for name, g in genres.items()),
        (f"programme/{show}", {"title": "Show", "genres": [horror]}),
        (f"episode/{show}-e1", episode),
    ]:
        assert (await admin.put(f"/catalog/{path}/", json=body)).status_code in (200, 201)

    async def similar(path: str) -> list[tuple[str, str, str]]:
        response = await api.get(f"/similar/{path}/?n=6")
        assert response.status_code == 200, response.text
        return [
            (s["item_type"], s["item_id"], s["reasons"][0]["type"])
            for s in response.json()["similar"]
        ]

    found = await similar(f"movie/{prefix}-new")  # no model yet
    assert found[:1] == [("movie", f"{prefix}-both", "similar_to")], "both genres shared"
    assert set(found[1:3]) == {
        ("movie", f"{prefix}-space", "similar_to"),
        ("programme", show, "similar_to"),
    }
    assert ("movie", f"{prefix}-other", "similar_to") not in found
    a, b = await seed(api, unique("s"))
    await api.post(f"/event/fan/seen/movie/{prefix}-space/")
    await train_service(db, (await service_of(db, api)).id)
    found = await similar(f"movie/{prefix}-new")  # the model does not know it
    assert found[0] == ("movie", f"{prefix}-both", "similar_to")
    assert found[1] == ("movie", f"{prefix}-space", "similar_to"), "ties: the popular first"
    assert found[2] == ("programme", show, "similar_to")
    assert {item for kind, item, why in found[3:] if why == "popular"} <= set(a + b)
    assert len(found) == 6, "filled up with the most popular"
    by_episode = await similar(f"episode/{show}-e1")
    assert by_episode[:2] == [
        ("movie", f"{prefix}-both", "similar_to"),
        ("movie", f"{prefix}-new", "similar_to"),
    ], "an episode: like its programme"
    assert_problem(await api.get(f"/similar/movie/{prefix}-nowhere/"), 404)


async def test_a_newcomer_gets_what_shares_the_genres_of_what_they_did(
    api: Api, admin: Admin, db: Database
) -> None:
    """A user the model can say little about is answered like `/similar`: after what the
    model finds, the catalog's items sharing the genres of what they acted on (`similar_to`
    it, before and after any model), then the most popular."""
    prefix, noir = unique("n"), unique("noir")
    genres = {"new": [noir], "alike": [noir], "half": [noir, unique("x")], "far": [unique("y")]}
    for name, g in genres.items():
        body = {"title": name, "genres": g}
        assert (await admin.put(f"/catalog/movie/{prefix}-{name}/", json=body)).status_code in (
            200,
            201,
        )

    async def answer(user: str) -> list[tuple[str, str | None]]:
        response = await api.get(f"/recommendation/{user}/?n=5")
        assert response.status_code == 200, response.text
        return [
            (r["item_id"], r["reasons"][0].get("item_id"))
            for r in response.json()["recommendations"]
        ]

    await api.post(f"/event/newbie/seen/movie/{prefix}-new/")
    new = f"{prefix}-new"
    found = await answer("newbie")  # no model yet
    assert found[:2] == [(f"{prefix}-alike", new), (f"{prefix}-half", new)]
    a, b = await seed(api, unique("s"))
    await train_service(db, (await service_of(db, api)).id)
    found = await answer("newbie")  # the model does not know what they saw
    assert found[:2] == [(f"{prefix}-alike", new), (f"{prefix}-half", new)]
    assert {item for item, why in found[2:]} <= set(a + b), "then the most popular"
    assert all(why is None for _, why in found[2:])
    await api.post(f"/event/mixed/seen/movie/{a[0]}/")
    await api.post(f"/event/mixed/seen/movie/{new}/")
    found = await answer("mixed")
    assert found[:2] in ([(a[1], a[0]), (a[2], a[0])], [(a[2], a[0]), (a[1], a[0])])
    assert found[2:4] == [(f"{prefix}-alike", new), (f"{prefix}-half", new)]
    assert found[4][0] in b
    stranger = await answer("stranger")
    assert all(why is None for _, why in stranger), "nothing done: the most popular"


async def test_a_model_of_nothing_serves_like_no_model(api: Api, db: Database) -> None:
    """Found by the isolation property: a history of nothing but removals trained an empty
    model, and serving it was a 500."""
    film = unique("gone")
    await api.delete(f"/event/u/watchlist/movie/{film}/")
    await train_service(db, (await service_of(db, api)).id)
    response = await api.get("/recommendation/u/?n=3")
    assert response.status_code == 200, response.text
    assert all(r["reasons"] == [{"type": "available"}] for r in response.json()["recommendations"])
    live = await api.get("/recommendation/u/live/")
    assert live.status_code == 200, live.text
    assert_problem(await api.get(f"/similar/movie/{film}/"), 404)


async def test_services_never_influence_each_other(api: Api, other_api: Api, db: Database) -> None:
    a, b = await seed(api, unique("t"))
    other_films = [unique("o") for _ in range(3)]
    batch = [
        {"user_id": f"x{u}", "event": "seen", "item_type": "movie", "item_id": f}
        for u in range(10)
        for f in [a[0], *other_films]
    ]
    assert (await other_api.post("/events/", json=batch)).status_code == 204
    await train_service(db, (await service_of(db, api)).id)
    await train_service(db, (await service_of(db, other_api)).id)
    await api.post(f"/event/new/seen/movie/{a[0]}/")
    mine = await ids(api, "/recommendation/new/?n=10")
    assert not set(mine) & set(other_films), "another service's events never count here"
    assert set(mine) == {a[1], a[2], *b}
    theirs = await ids(other_api, "/recommendation/new/?n=10")
    assert set(theirs) <= {a[0], *other_films}


def test_cli_trains_a_new_version(database_url: str) -> None:
    env = tanktop_env(database_url)
    name = unique("cli")
    create_key(env, name)
    first = run_cli(env, "recs", "train", "--service", name)
    second = run_cli(env, "recs", "train", "--service", name)
    assert first.returncode == 0, first.stderr
    assert f"{name}: model version 1" in first.stdout
    assert f"{name}: model version 2" in second.stdout
    assert "100%" in first.stderr, "a progress bar is shown"
    assert run_cli(env, "recs", "train", "--service", "no-such-service").returncode != 0


async def test_worker_retrains_after_enough_new_events(
    api: Api, db: Database, settings: Settings
) -> None:
    config = settings.model_copy(update={"retrain_check_seconds": 0, "retrain_after_events": 30})
    service = await service_of(db, api)

    async def version() -> int | None:
        async with db.read() as conn:
            found: int | None = await conn.scalar(
                sa.select(sa.func.max(rec_models.c.version)).where(
                    rec_models.c.service_id == service.id
                )
            )
            return found

    a, _ = await seed(api, unique("w"))
    schedule = RetrainSchedule(services=[service.id])  # other tests' services are due too

    async def retrain_due_models(db: Database, *, settings: Settings) -> None:
        """A round that finds work due starts a training apart; wait for it."""
        await schedule(db, settings=settings)
        await schedule.idle()
        await schedule(db, settings=settings)

    await retrain_due_models(db, settings=config)
    assert await version() == 1
    await retrain_due_models(db, settings=config)
    assert await version() == 1, "nothing new: no retraining"
    batch = [
        {"user_id": f"z{i}", "event": "seen", "item_type": "movie", "item_id": a[0]}
        for i in range(30)
    ]
    await api.post("/events/", json=batch)
    await retrain_due_models(db, settings=config)
    assert await version() == 2


async def test_live_respects_hidden_channels_and_ranks_for_the_user(
    api: Api, admin: Admin, db: Database
) -> None:
    a, b = await seed(api, unique("l"))
    for film in (*a, *b):
        await admin.put(f"/catalog/movie/{film}/", json={"title": film, "duration": 60})
    one, two = unique("c"), unique("c")
    for channel in (one, two):
        await admin.put(f"/catalog/channel/{channel}/", json={"name": channel})
    evening = "2031-03-03T20:00:00+00:00"
    await admin.put(
        f"/schedule/{one}/",
        json=[
            {
                "start": evening,
                "end": "2031-03-03T21:00:00Z",
                "item_type": "movie",
                "item_id": b[1],
            },
            {
                "start": "2031-03-03T21:00:00Z",
                "end": "2031-03-03T22:00:00Z",
                "item_type": "movie",
                "item_id": a[1],
            },
        ],
    )
    await admin.put(
        f"/schedule/{two}/",
        json=[
            {"start": evening, "end": "2031-03-03T22:00:00Z", "item_type": "movie", "item_id": a[2]}
        ],
    )
    await train_service(db, (await service_of(db, api)).id)
    await api.post(f"/event/fan/seen/movie/{a[0]}/")
    query = "/recommendation/fan/live/?at=2031-03-03T20:00:00Z&window=180"
    picks = (await api.get(query)).json()["recommendations"]
    assert [p["item_id"] for p in picks][:2] in ([a[1], a[2]], [a[2], a[1]]), picks
    assert picks[-1]["item_id"] == b[1], "what they like first"
    await api.post(f"/event/fan/hide/channel/{two}/")
    picks = (await api.get(query)).json()["recommendations"]
    assert {p["channel_id"] for p in picks} == {one}, "hidden channels never appear"
    assert [p["item_id"] for p in picks] == [a[1], b[1]]
    assert_problem(await api.get("/recommendation/fan/live/?window=0"), 400, "window")


async def test_model_age_is_exported(api: Api, db: Database) -> None:
    await seed(api, unique("age"))
    service = await service_of(db, api)
    await train_service(db, service.id)
    await api.get("/recommendation/someone/")
    metrics = (await api.http.get("/metrics")).text
    line = next(
        m
        for m in metrics.splitlines()
        if m.startswith(f'tanktop_model_age_seconds{{service_id="{service.id}"}}')
    )
    assert 0 <= float(line.split()[-1]) < 60


async def test_evaluation_harness_on_a_known_answer(tmp_path: Path) -> None:
    """Two taste groups: the served recommender finds each user's group; popularity cannot."""
    rng = random.Random(3)
    rows = ["user,item,rating,timestamp"]
    groups = {"a": [f"a{i}" for i in range(8)], "b": [f"b{i}" for i in range(8)]}
    for user in range(60):
        group = "a" if user % 3 else "b"
        for item in groups[group]:
            if rng.random() < 0.8:
                rows.append(f"u{user},{item},{rng.choice([4, 5])},{1_700_000_000 + user}")
    ratings, items = tmp_path / "ratings.csv", tmp_path / "items.csv"
    ratings.write_text("\n".join(rows) + "\n")
    items.write_text(
        "item,title,genres\n" + "".join(f"{i},{i},Drama\n" for g in groups.values() for i in g)
    )
    results = {r.name: r for r in await evaluate(ratings, items, "random", seed=1)}
    served, popular = results["served (tanktop)"], results["popularity"]
    ease = [name for name in results if name.startswith("EASE (tuned, λ=")]
    assert set(results) == {"served (tanktop)", "popularity", *ease, "implicit ALS"}
    assert len(ease) == 1, "one EASE, its λ chosen on the training part"
    for result in results.values():
        for value in (
            result.precision,
            result.recall,
            result.ndcg,
            result.hit_rate,
            result.coverage,
        ):
            assert 0.0 <= value <= 1.0
    assert served.ndcg > popular.ndcg, "the b-group is found only by a personal model"
    again = {r.name: r for r in await evaluate(ratings, items, "random", seed=1)}
    assert again["served (tanktop)"] == served, "seeded: the same run gives the same figures"
    picture = tmp_path / "figures.png"
    plot(list(results.values()), picture)
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_model_swap_without_a_failed_request(api: Api, db: Database) -> None:
    a, _ = await seed(api, unique("swap"))
    service = await service_of(db, api)
    await train_service(db, service.id)
    await api.post(f"/event/viewer/seen/movie/{a[0]}/")
    statuses: list[int] = []

    async def keep_asking() -> None:
        for _ in range(40):
            statuses.append((await api.get("/recommendation/viewer/?n=5")).status_code)
            await asyncio.sleep(0)

    await asyncio.gather(keep_asking(), *(train_service(db, service.id) for _ in range(3)))
    assert statuses == [200] * 40
    assert (await ids(api, "/recommendation/viewer/?n=1")) == [a[1]] or (
        await ids(api, "/recommendation/viewer/?n=2")
    )[0] in (a[1], a[2])


async def test_serving_weighs_older_acts_less_under_the_half_life(
    api: Api, admin: Admin, db: Database
) -> None:
    """What a user did long ago counts for less at serving too, as in training."""
    a, b = await seed(api, unique("d"))
    await train_service(db, (await service_of(db, api)).id)
    month_ago = int(time.time()) - 30 * 86400
    batch: list[dict[str, Any]] = [
        {
            "user_id": "back",
            "event": "seen",
            "item_type": "movie",
            "item_id": a[0],
            "at": month_ago,
        },
        {"user_id": "back", "event": "seen", "item_type": "movie", "item_id": b[0]},
    ]
    assert (await api.post("/events/", json=batch)).status_code == 204

    async def scores() -> dict[str, float]:
        found = (await api.get("/recommendation/back/?n=4")).json()["recommendations"]
        return {r["item_id"]: r["score"] for r in found}

    name = (await service_of(db, api)).name
    latest_first = {"params": {"recent_weight": 0.0}}  # the user's latest acts: no more weight
    assert (await admin.put(f"/service/{name}/recommender/", json=latest_first)).status_code == 201
    level = await scores()
    assert level[a[1]] == pytest.approx(level[b[1]], rel=1e-3), "no half-life: alike"
    settings = {"params": {"half_life_days": 3, "recent_weight": 0.0}}
    assert (await admin.put(f"/service/{name}/recommender/", json=settings)).status_code == 201
    decayed = await scores()
    assert decayed[a[1]] < decayed[b[1]] / 500, "ten half-lives ago: about 1/1024"
