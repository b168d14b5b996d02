"""`tanktop recs evaluate`: the served recommender against simple baselines on one split.

The training part is loaded into a fresh database through the same service code the API uses
(batch events), a model is trained as the worker would, and every test user is asked for 10
recommendations as the API would answer. Popularity, EASE and `implicit` ALS are fitted on the
same training part in the same run. Seeded, so a run can be repeated exactly.
"""

from __future__ import annotations

import csv
import json
import math
import random
import re
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
from pydantic import JsonValue

from tanktop import migrations
from tanktop.catalog import service as catalog
from tanktop.catalog.importer import import_lines
from tanktop.db import Database
from tanktop.errors import BadRequest
from tanktop.events import service as events
from tanktop.recommendations import service as recs
from tanktop.recommendations.holdout import latest_per_user
from tanktop.tenants import service as tenants

K = 10
Rating = tuple[str, str, float, int]


@dataclass(frozen=True)
class Scores:
    name: str
    precision: float
    recall: float
    ndcg: float
    hit_rate: float
    coverage: float
    per_user: tuple[float, ...] = field(default=(), repr=False, compare=False)
    """Each test user's NDCG@10 (sorted by user), for the bootstrap of a comparison."""

    def row(self) -> str:
        return (
            f"{self.name:<22} {self.precision:9.3f} {self.recall:9.3f} {self.ndcg:9.3f} "
            f"{self.hit_rate:9.3f} {self.coverage:9.3f}"
        )


def read_ratings(path: Path) -> list[Rating]:
    """`user,item,rating,timestamp` rows after a header; a row that is not is a `BadRequest`
    naming its line (the CLI prints it as one line)."""
    ratings: list[Rating] = []
    with path.open(newline="") as f:
        reader = csv.reader(f)
        next(reader, None)
        for row in reader:
            try:
                user, item, rating, at = row
                ratings.append((user, item, float(rating), int(float(at))))
            except (ValueError, OverflowError):
                raise BadRequest(
                    f"{path} line {reader.line_num}: expected user,item,rating,timestamp "
                    f"with a numeric rating and Unix time, got {','.join(row)!r}"
                ) from None
    return ratings


SPLITS: Final = ("random", "temporal", "global")


NO_GENRES: Final = "(no genres listed)"


def read_items(path: Path) -> dict[str, tuple[str, str]]:
    """`item,title,genres` rows after a header (genres `|`-separated, MovieLens's
    `(no genres listed)` none): item -> (title, genres); a row that is not is a
    `BadRequest` naming its line."""
    found: dict[str, tuple[str, str]] = {}
    with path.open(newline="") as f:
        reader = csv.reader(f)
        next(reader, None)
        for row in reader:
            if len(row) != 3:
                raise BadRequest(
                    f"{path} line {reader.line_num}: expected item,title,genres, "
                    f"got {','.join(row)!r}"
                )
            item, title, genres = row
            found[item] = (title, "" if genres == NO_GENRES else genres)
    return found


def item_genres(items: dict[str, tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """Model key -> genres of each item (as the catalog keeps them: casefolded, sorted), for
    what trains without a catalog (`recs evaluate --tune`)."""
    return {
        f"movie:{item}": catalog.genre_names(_genres(genres)) for item, (_, genres) in items.items()
    }


TITLE_YEAR: Final = re.compile(r"\((\d{4})\)\s*$")
"""MovieLens's release year at a title's end: "Toy Story (1995)"."""
YEARS: Final = range(1870, 2201)
"""The years the catalog accepts (a title's outside them is not a year)."""


def title_year(title: str) -> int | None:
    """The release year a MovieLens title ends with, if any (and the catalog would take it)."""
    found = TITLE_YEAR.search(title)
    year = int(found.group(1)) if found else None
    return year if year in YEARS else None


def item_years(items: dict[str, tuple[str, str]]) -> dict[str, int]:
    """Model key -> the release year in each item's title, for those that have one (what
    `catalog_lines` gives the catalog, for what trains without one)."""
    return {
        f"movie:{item}": year
        for item, (title, _) in items.items()
        if (year := title_year(title)) is not None
    }


def _genres(text: str) -> list[str]:
    """An items file's `|`-separated genres."""
    return [g for g in text.split("|") if g]


def catalog_lines(items: dict[str, tuple[str, str]]) -> Iterator[str]:
    """The items as `tanktop catalog import` lines (movies with their titles, genres and the
    release year their titles end with)."""
    for item, (title, genres) in items.items():
        yield json.dumps(
            {
                "item_type": "movie",
                "item_id": item,
                "title": title[:500] or item,
                "genres": [g[:100] for g in _genres(genres)][:50],
                "year": title_year(title),
            }
        )


def split(ratings: list[Rating], how: str, seed: int) -> tuple[list[Rating], list[Rating]]:
    """80/20 three ways: `random` (seeded); `temporal`, each user's latest 20% of their own
    ratings (users with 5 or more; `holdout`: other users' later ratings are trained on);
    `global`, the latest 20% of all ratings (nothing later is trained on, but only the users
    active after the cut are tested)."""
    if how == "temporal":
        return latest_per_user(sorted(ratings, key=lambda r: r[3]), lambda r: r[0])
    if how == "global":
        ordered = sorted(ratings, key=lambda r: r[3])
        cut = int(len(ordered) * 0.8)
        return ordered[:cut], ordered[cut:]
    rng = random.Random(seed)
    train_part: list[Rating] = []
    test_part: list[Rating] = []
    for rating in ratings:
        (test_part if rng.random() < 0.2 else train_part).append(rating)
    return train_part, test_part


def score(
    name: str, recommended: dict[str, list[str]], truth: dict[str, set[str]], n_items: int
) -> Scores:
    precision = recall = ndcg = hits = 0.0
    shown: set[str] = set()
    users = sorted(u for u in truth if u in recommended)
    per_user = []
    for user in users:
        top = recommended[user][:K]
        shown.update(top)
        relevant = truth[user]
        gained = [1.0 if item in relevant else 0.0 for item in top]
        precision += sum(gained) / K
        recall += sum(gained) / min(len(relevant), K)
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gained))
        ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), K)))
        ndcg += dcg / ideal
        per_user.append(dcg / ideal)
        hits += 1.0 if any(gained) else 0.0
    count = max(1, len(users))
    return Scores(
        name,
        precision / count,
        recall / count,
        ndcg / count,
        hits / count,
        len(shown) / max(1, n_items),
        tuple(per_user),
    )


BOOTSTRAP: Final = 1000


@dataclass(frozen=True)
class Gain:
    """One recommender's NDCG@10 over another's on the same test users, with the 5th and
    95th percentiles of that ratio over bootstrap resamples of the users (paired: a resample
    draws the same users for both)."""

    ratio: float
    low: float
    high: float
    users: int

    def __str__(self) -> str:
        return (
            f"{self.ratio - 1:+.1%} NDCG@10 (90% bootstrap interval {self.low - 1:+.1%} to "
            f"{self.high - 1:+.1%}, {self.users} test users)"
        )


def gain(better: Scores, than: Scores, seed: int) -> Gain:
    mine, theirs = np.array(better.per_user), np.array(than.per_user)
    draws = np.random.default_rng(seed).integers(0, len(mine), (BOOTSTRAP, len(mine)))
    ratios = mine[draws].sum(axis=1) / np.maximum(theirs[draws].sum(axis=1), 1e-12)
    low, high = np.percentile(ratios, [5, 95])
    return Gain(float(mine.sum() / max(theirs.sum(), 1e-12)), float(low), float(high), len(mine))


EASE_LAMBDAS: Final = tuple(25.0 * 2**n for n in range(10))
"""The λ the baseline EASE is tuned over (25 to 12,800, each twice the last)."""


@dataclass(frozen=True)
class _Binary:
    """A training part as a binary user x item matrix, and the top `K` unseen per user."""

    items: list[str]
    row: dict[str, int]
    matrix: np.ndarray
    seen: dict[str, list[int]]

    @classmethod
    def of(cls, train_part: list[Rating]) -> _Binary:
        items = sorted({i for _, i, _, _ in train_part})
        row = {u: n for n, u in enumerate(sorted({u for u, _, _, _ in train_part}))}
        col = {i: n for n, i in enumerate(items)}
        matrix = np.zeros((len(row), len(items)), dtype=np.float32)
        seen: dict[str, list[int]] = defaultdict(list)
        for user, item, _, _ in train_part:
            matrix[row[user], col[item]] = 1.0
            seen[user].append(col[item])
        return cls(items, row, matrix, seen)

    def top(
        self, users: list[str], scores_for: Callable[[str], np.ndarray]
    ) -> dict[str, list[str]]:
        result = {}
        for user in users:
            if user in self.row:
                values = scores_for(user).astype(np.float64).copy()
                values[self.seen[user]] = -np.inf
                result[user] = [self.items[i] for i in np.argsort(-values)[:K]]
        return result

    def ease(self) -> Callable[[float], np.ndarray]:
        """EASE's scores (users x items) for any λ. With fewer users than items, through the
        SVD X = U s Vᵀ, computed once: (XᵀX + λI)⁻¹ = (I - V diag(s²/(s²+λ)) Vᵀ) / λ, so a
        λ costs a product of the users' size and no items x items inverse (MovieLens: the
        whole λ search in less time than one inverse)."""
        matrix = self.matrix.astype(np.float64)
        if matrix.shape[0] >= matrix.shape[1]:
            gram = matrix.T @ matrix

            def inverted(regularisation: float) -> np.ndarray:
                inverse = np.linalg.inv(gram + regularisation * np.eye(len(gram)))
                weights: np.ndarray = -inverse / np.diag(inverse)
                np.fill_diagonal(weights, 0.0)
                found: np.ndarray = matrix @ weights
                return found

            return inverted
        u, s, vt = np.linalg.svd(matrix, full_matrices=False)

        def scores(regularisation: float) -> np.ndarray:
            kept = s**2 / (s**2 + regularisation)
            diagonal = (1.0 - (vt**2 * kept[:, None]).sum(axis=0)) / regularisation
            products = (matrix - (u * (s * kept)) @ vt) / regularisation  # X (XᵀX + λI)⁻¹
            found: np.ndarray = matrix - products / diagonal  # X B, B's diagonal zero
            return found

        return scores


def ease_lambda(train_part: list[Rating], how: str, seed: int) -> float:
    """The baseline EASE's λ: the best of `EASE_LAMBDAS` at NDCG@10 on a split of the training
    part made as the outer one was (the test part is never looked at)."""
    return best_ease(*split(train_part, how, seed + 1))[0]


def best_ease(fit_part: list[Rating], test_part: list[Rating]) -> tuple[float, Scores]:
    """EASE fitted on `fit_part` at the best of `EASE_LAMBDAS` on `test_part`: that λ and its
    scores there (users `fit_part` has)."""
    fitted = _Binary.of(fit_part)
    truth: dict[str, set[str]] = defaultdict(set)
    for user, item, _, _ in test_part:
        if user in fitted.row:
            truth[user].add(item)
    users = sorted(truth)
    ease = fitted.ease()

    def scored(regularisation: float) -> Scores:
        scores = ease(regularisation)
        found = fitted.top(users, lambda u: scores[fitted.row[u]])
        return score("EASE", found, truth, len(fitted.items))

    return max(((lam, scored(lam)) for lam in EASE_LAMBDAS), key=lambda found: found[1].ndcg)


def baselines(
    train_part: list[Rating], users: list[str], seed: int, *, regularisation: float
) -> dict[str, dict[str, list[str]]]:
    """Popularity, EASE (λ `regularisation`) and ALS recommendations (seen items excluded)
    for `users`."""
    fitted = _Binary.of(train_part)
    matrix, row = fitted.matrix, fitted.row
    popularity = matrix.sum(axis=0)
    ease = fitted.ease()(regularisation)
    from implicit.als import AlternatingLeastSquares
    from scipy.sparse import csr_matrix

    als = AlternatingLeastSquares(factors=64, iterations=15, regularization=0.05, random_state=seed)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):  # implicit's own threads do the work
        als.fit(csr_matrix(matrix), show_progress=False)
    return {
        "popularity": fitted.top(users, lambda u: popularity),
        f"EASE (tuned, λ={regularisation:g})": fitted.top(users, lambda u: ease[row[u]]),
        "implicit ALS": fitted.top(users, lambda u: als.user_factors[row[u]] @ als.item_factors.T),
    }


async def served(
    train_part: list[Rating], users: list[str], items: dict[str, tuple[str, str]]
) -> dict[str, list[str]]:
    """Load the items into the catalog and the training part through the API's service code,
    and ask the served recommender."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'evaluate.db'}")
        try:
            await migrations.upgrade(db)
            key = await tenants.create_key(db, name="evaluation")
            service = await tenants.find_service(db, key=key)
            assert service is not None
            report = await import_lines(db, catalog_lines(items))
            if report.rejected:
                number, reason = report.rejected[0]
                raise BadRequest(f"items line {number + 1}: {reason}")
            for start in range(0, len(train_part), 1000):
                chunk: list[JsonValue] = [
                    {
                        "user_id": u,
                        "event": "rated",
                        "item_type": "movie",
                        "item_id": i,
                        "value": r,
                        "at": t,
                    }
                    for u, i, r, t in train_part[start : start + 1000]
                ]
                async with db.write() as conn:
                    await events.write_ops(conn, ops=events.batch_ops(service, body=chunk))
            await recs.train_service(db, service.id)
            cache = recs.ModelCache(db, refresh=3600)
            answers = {}
            for user in users:
                found = await recs.recommend(
                    db,
                    service,
                    cache=cache,
                    user_id=user,
                    item_type="movie",
                    n=K,
                    availability=catalog.Availability(),
                )
                answers[user] = [r.item_id for r in found]
            return answers
        finally:
            await db.dispose()


async def evaluate(ratings_path: Path, items_path: Path, how: str, seed: int) -> list[Scores]:
    ratings = read_ratings(ratings_path)
    items = read_items(items_path)
    n_items = len(items)
    train_part, test_part = split(ratings, how, seed)
    trained_users = {u for u, _, _, _ in train_part}
    truth: dict[str, set[str]] = defaultdict(set)
    for user, item, _, _ in test_part:
        if user in trained_users:
            truth[user].add(item)
    users = sorted(truth)
    results = [score("served (tanktop)", await served(train_part, users, items), truth, n_items)]
    regularisation = ease_lambda(train_part, how, seed)
    for name, answers in baselines(train_part, users, seed, regularisation=regularisation).items():
        results.append(score(name, answers, truth, n_items))
    return results


HEADER = "recommender               prec@10 recall@10   ndcg@10    hit@10  coverage"


def plot(results: list[Scores], path: Path) -> None:
    """A grouped bar chart of every metric for every recommender (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = ["precision", "recall", "ndcg", "hit_rate", "coverage"]
    figure, axes = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(results)
    for n, result in enumerate(results):
        values = [getattr(result, m) for m in metrics]
        axes.bar([i + n * width for i in range(len(metrics))], values, width, label=result.name)
    axes.set_xticks([i + width * (len(results) - 1) / 2 for i in range(len(metrics))])
    axes.set_xticklabels([f"{m}@10" if m != "coverage" else m for m in metrics])
    axes.set_ylabel("score")
    axes.set_title("Recommenders on the same split")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
