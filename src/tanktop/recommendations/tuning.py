"""`tanktop recs tune`: search a service's event weights and model parameters on a
time-ordered holdout of its own history, with Optuna's TPE sampler, and compare the best
version found with the one in use.

The holdout is time-ordered per user: each user's latest 20% of events (users with 5 or
more) are what the rest must predict. Honest by construction: the search trains without
each user's latest 36% and scores each candidate on the 16% before their last 20%; the
comparison then trains the current and the tuned version alike without the last 20% and
scores both on it, which the search never saw. A test user's truth is what they did in the
holdout that the *current* version weighs positively (so the target does not move with the
weights being searched), less what they had already touched. Scores are at 10: NDCG,
recall and coverage (the share of the training part's items shown to some test user), each
with its spread over bootstrap resamples of the test users.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import optuna

from tanktop.db import Database
from tanktop.events import service as events
from tanktop.events.service import HistoryEvent
from tanktop.recommendations.holdout import HOLDOUT, MIN_EVENTS, latest_per_user
from tanktop.recommendations.items import (
    CONTENT,
    Taste,
    fold_episodes,
    model_genres,
    model_key,
    model_years,
    programmes_of,
)
from tanktop.recommendations.schemas import Params, RecommenderVersion
from tanktop.recommendations.settings import weight
from tanktop.recommendations.weighing import blend_of, fit, weigh

EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
K: Final = 10
BOOTSTRAP: Final = 200
MAX_EVENT_WEIGHT: Final = 3.0
LAMBDAS: Final = (1.0, 10_000.0)
HALF_LIVES: Final = (1.0, 3650.0)
BLEND_WEIGHTS: Final = ("sequence_weight", "recent_weight")
MAX_BLEND_WEIGHT: Final = 2.0
RECENT_ITEMS: Final = (1.0, 100.0)
GENRE_WEIGHTS: Final = (0.0, 0.5)
POPULARITY_POWERS: Final = (0.0, 0.5)
YEAR_WEIGHTS: Final = (0.0, 0.3)
GENRE_IDFS: Final = (0.0, 2.0)
GENRE_USERS: Final = (0.0, 20.0)
YEAR_USERS: Final = (0.0, 10.0)


@dataclass(frozen=True)
class Case:
    """What a version is scored on: the training part, and each test user's truth."""

    fit: list[HistoryEvent]
    truth: dict[str, set[str]]
    """Test user -> the model keys they went on to act on."""
    programmes: dict[str, str]
    """Episode id -> its programme's model key."""
    genres: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Model key -> the catalog's genres (the genre part's)."""
    years: Mapping[str, int] = field(default_factory=dict)
    """Model key -> the catalog's release year (the year part's)."""


def split_case(
    history: Sequence[HistoryEvent],
    current: RecommenderVersion,
    programmes: dict[str, str],
    *,
    holdout: float = HOLDOUT,
    genres: Mapping[str, Sequence[str]] | None = None,
    years: Mapping[str, int] | None = None,
) -> Case:
    """Each user's latest `holdout` of their events (at least one, for users with
    `MIN_EVENTS` or more) as the test of everything else."""
    ordered = sorted((e for e in history if e.item_type in CONTENT), key=lambda e: (e.at, e.id))
    train_part, test_part = latest_per_user(
        ordered, lambda e: e.user_id, holdout=holdout, min_events=MIN_EVENTS
    )
    touched: dict[str, set[str | None]] = defaultdict(set)
    for e in train_part:
        touched[e.user_id].add(model_key(e.item_type, e.item_id, programmes))
    truth: dict[str, set[str]] = defaultdict(set)
    for e in test_part:
        if (
            not e.removed
            and weight(current, e.event, e.value) > 0
            and (key := model_key(e.item_type, e.item_id, programmes)) is not None
            and key not in touched[e.user_id]
        ):
            truth[e.user_id].add(key)
    return Case(train_part, dict(truth), programmes, genres or {}, years or {})


def ratings_history(ratings: Sequence[tuple[str, str, float, int]]) -> list[HistoryEvent]:
    """A ratings file's (user, movie, rating, epoch seconds) as a service's `rated` events."""
    return [
        HistoryEvent(
            n,
            user,
            "rated",
            "movie",
            item,
            value,
            EPOCH + dt.timedelta(seconds=at),
            "batch",
            False,
            0,
        )
        for n, (user, item, value, at) in enumerate(ratings)
    ]


async def service_history(
    db: Database, service_id: int
) -> tuple[list[HistoryEvent], dict[str, str], dict[str, tuple[str, ...]], dict[str, int]]:
    """The service's history in time order (events in force: no superseded live-TV rows nor
    their corrections), the programme of each episode in it, and the catalog's genres and
    release years."""
    history = [e async for e in events.stream_history(db, service_id) if e.in_force]
    programmes = await programmes_of(
        db, episode_ids=(e.item_id for e in history if e.item_type == "episode")
    )
    return history, programmes, await model_genres(db), await model_years(db)


def recommend(case: Case, settings: RecommenderVersion) -> dict[str, list[str]]:
    """The top `K` model keys for each test user, as the served model under `settings` would
    answer from the training part: their weights times the model, popularity for a user with
    none the model knows, never an item they touched."""
    folded = fold_episodes(weigh(case.fit, settings, item_types=CONTENT), case.programmes)
    model = fit(folded, settings, case.genres, case.years)
    if not model.items:
        return {user: [] for user in case.truth}
    index = model.index()
    tastes: dict[str, dict[int, float]] = {user: {} for user in case.truth}
    for user, key, value in folded:
        column = index.get(key)
        if user in tastes and column is not None:
            tastes[user][column] = value
    answers = {}
    blend = blend_of(settings)
    for user, taste in tastes.items():
        top = model.top(Taste.of(taste, blend).scores(model), excluded=taste, count=K)
        answers[user] = [model.items[c] for c in top]
    return answers


@dataclass(frozen=True)
class Spread:
    mean: float
    std: float
    """Standard deviation over bootstrap resamples of the test users."""

    def __str__(self) -> str:
        return f"{self.mean:.4f} ± {self.std:.4f}"


@dataclass(frozen=True)
class Measured:
    ndcg: Spread
    recall: Spread
    coverage: Spread
    users: int


def measure(
    recommended: dict[str, list[str]], case: Case, *, seed: int = 0, samples: int = BOOTSTRAP
) -> Measured:
    """NDCG, recall and coverage at `K` over the test users, with bootstrap spreads."""
    users = sorted(case.truth)
    if not users:
        empty = Spread(0.0, 0.0)
        return Measured(empty, empty, empty, 0)
    ndcg = np.zeros(len(users))
    recall = np.zeros(len(users))
    discounts = 1.0 / np.log2(np.arange(K) + 2)
    for n, user in enumerate(users):
        relevant = case.truth[user]
        gained = np.array([1.0 if key in relevant else 0.0 for key in recommended[user][:K]])
        ideal = discounts[: min(len(relevant), K)].sum()
        ndcg[n] = float(gained @ discounts[: len(gained)]) / ideal
        recall[n] = gained.sum() / min(len(relevant), K)
    catalog = {key for key in _keys(case)}
    codes = {key: n for n, key in enumerate(sorted(catalog | _shown(recommended)))}
    shown = np.full((len(users), K), -1)
    for n, user in enumerate(users):
        picks = [codes[key] for key in recommended[user][:K]]
        shown[n, : len(picks)] = picks
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(users), size=(samples, len(users)))

    def coverage(rows: np.ndarray) -> float:
        distinct = np.unique(shown[rows])
        return float((distinct >= 0).sum()) / max(1, len(catalog))

    return Measured(
        _spread(ndcg, draws),
        _spread(recall, draws),
        Spread(
            coverage(np.arange(len(users))),
            float(np.std([coverage(d) for d in draws])),
        ),
        len(users),
    )


def _spread(values: np.ndarray, draws: np.ndarray) -> Spread:
    return Spread(float(values.mean()), float(values[draws].mean(axis=1).std()))


def _keys(case: Case) -> set[str]:
    """The model keys of the training part's content items (the catalog coverage counts)."""
    return {
        key
        for e in case.fit
        if e.item_type in CONTENT
        and (key := model_key(e.item_type, e.item_id, case.programmes)) is not None
    }


def _shown(recommended: dict[str, list[str]]) -> set[str]:
    return {key for keys in recommended.values() for key in keys}


@dataclass(frozen=True)
class Space:
    """What the search varies: the weights of the events the history has on content (`rated`
    and `hide` each with a range of its own), the neutral rating, EASE's λ, how much the
    sequence part weighs (the whole history, the latest items and how fast they age), the
    recency half-life, how much the genre and year parts add (and how much rare genres count),
    the popularity debiasing and how much EASE learns from the genres and years. The rating
    scale and the head size stay the current version's: facts about the service and a bound on
    cost, not tunables."""

    events: tuple[str, ...]
    rated: bool
    hidden: bool

    @classmethod
    def of(cls, history: Sequence[HistoryEvent]) -> Space:
        names = {e.event for e in history if e.item_type in CONTENT}
        return cls(tuple(sorted(names - {"rated", "hide"})), "rated" in names, "hide" in names)

    def suggest(
        self, trial: optuna.trial.BaseTrial, current: RecommenderVersion
    ) -> RecommenderVersion:
        """The candidate version a trial draws."""
        p = current.params
        weights = dict(current.weights)
        for name in self.events:
            weights[name] = trial.suggest_float(f"weight.{name}", 0.0, MAX_EVENT_WEIGHT)
        changes: dict[str, object] = {}
        if self.rated:
            weights["rated"] = trial.suggest_float("weight.rated", 0.05, MAX_EVENT_WEIGHT)
            changes["rating_neutral"] = trial.suggest_float(
                "rating_neutral", p.rating_min, _top_neutral(p)
            )
        if self.hidden:
            weights["hide"] = trial.suggest_float("weight.hide", -MAX_EVENT_WEIGHT, -0.05)
        changes["ease_lambda"] = trial.suggest_float("ease_lambda", *LAMBDAS, log=True)
        for name in BLEND_WEIGHTS:
            changes[name] = trial.suggest_float(name, 0.0, MAX_BLEND_WEIGHT)
        changes["recent_items"] = trial.suggest_float("recent_items", *RECENT_ITEMS, log=True)
        changes["genre_weight"] = trial.suggest_float("genre_weight", *GENRE_WEIGHTS)
        changes["popularity_power"] = trial.suggest_float("popularity_power", *POPULARITY_POWERS)
        changes["year_weight"] = trial.suggest_float("year_weight", *YEAR_WEIGHTS)
        decay = trial.suggest_categorical("decay", [False, True])
        changes["half_life_days"] = (
            trial.suggest_float("half_life_days", *HALF_LIVES, log=True) if decay else None
        )
        changes["genre_idf"] = trial.suggest_float("genre_idf", *GENRE_IDFS)
        changes["genre_users"] = trial.suggest_float("genre_users", *GENRE_USERS)
        changes["year_users"] = trial.suggest_float("year_users", *YEAR_USERS)
        params = Params.model_validate({**p.model_dump(), **changes})
        return RecommenderVersion(version=0, created_at=None, weights=weights, params=params)

    def start(self, current: RecommenderVersion) -> dict[str, object]:
        """The current version as a trial's values (clamped into the ranges), tried first so
        the search starts from what is served."""
        p = current.params
        point: dict[str, object] = {
            f"weight.{name}": _clamp(current.weights.get(name, 0.0), 0.0, MAX_EVENT_WEIGHT)
            for name in self.events
        }
        if self.rated:
            point["weight.rated"] = _clamp(current.weights["rated"], 0.05, MAX_EVENT_WEIGHT)
            neutral = p.rating_min if p.rating_neutral is None else p.rating_neutral
            point["rating_neutral"] = _clamp(neutral, p.rating_min, _top_neutral(p))
        if self.hidden:
            point["weight.hide"] = _clamp(current.weights["hide"], -MAX_EVENT_WEIGHT, -0.05)
        point["ease_lambda"] = _clamp(p.ease_lambda, *LAMBDAS)
        for name in BLEND_WEIGHTS:
            point[name] = _clamp(getattr(p, name), 0.0, MAX_BLEND_WEIGHT)
        point["recent_items"] = _clamp(p.recent_items, *RECENT_ITEMS)
        point["genre_weight"] = _clamp(p.genre_weight, *GENRE_WEIGHTS)
        point["popularity_power"] = _clamp(p.popularity_power, *POPULARITY_POWERS)
        point["year_weight"] = _clamp(p.year_weight, *YEAR_WEIGHTS)
        point["genre_idf"] = _clamp(p.genre_idf, *GENRE_IDFS)
        point["genre_users"] = _clamp(p.genre_users, *GENRE_USERS)
        point["year_users"] = _clamp(p.year_users, *YEAR_USERS)
        point["decay"] = p.half_life_days is not None
        if p.half_life_days is not None:
            point["half_life_days"] = _clamp(p.half_life_days, *HALF_LIVES)
        return point


def _top_neutral(p: Params) -> float:
    """The highest neutral rating tried: a twentieth of the scale below its top."""
    return p.rating_max - (p.rating_max - p.rating_min) / 20


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


@dataclass(frozen=True)
class Tuned:
    version: RecommenderVersion
    """The best version found (`version` 0: not stored)."""
    current: Measured
    tuned: Measured
    study: optuna.Study


def tune(
    history: Sequence[HistoryEvent],
    current: RecommenderVersion,
    programmes: dict[str, str],
    *,
    trials: int,
    seed: int = 1,
    genres: Mapping[str, Sequence[str]] | None = None,
    years: Mapping[str, int] | None = None,
    on_trial: Callable[[int, float], None] | None = None,
) -> Tuned:
    """Search on the inner split, then compare on the outer one (see the module's doc)."""
    outer = split_case(history, current, programmes, genres=genres, years=years)
    inner = split_case(outer.fit, current, programmes, genres=genres, years=years)
    space = Space.of(outer.fit)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial(space.start(current))

    def objective(trial: optuna.Trial) -> float:
        candidate = space.suggest(trial, current)
        return measure(recommend(inner, candidate), inner, samples=1).ndcg.mean

    def progress(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if on_trial is not None:
            on_trial(trial.number + 1, study.best_value)

    study.optimize(objective, n_trials=trials, callbacks=[progress])
    best = space.suggest(optuna.trial.FixedTrial(study.best_params), current)
    return Tuned(
        best,
        measure(recommend(outer, current), outer, seed=seed),
        measure(recommend(outer, best), outer, seed=seed),
        study,
    )


HEADER: Final = f"{'version':<10} {'NDCG@10':>17} {'recall@10':>17} {'coverage@10':>17}"


def table(result: Tuned) -> list[str]:
    """Tuned against current, one line each, then what the tuned version changes."""
    lines = [HEADER]
    for name, scores in (("current", result.current), ("tuned", result.tuned)):
        lines.append(
            f"{name:<10} {scores.ndcg!s:>17} {scores.recall!s:>17} {scores.coverage!s:>17}"
        )
    lines.append(
        f"({result.current.users} test users; ± is the spread over {BOOTSTRAP} bootstrap "
        f"resamples of them; {len(result.study.trials)} trials)"
    )
    return lines


def report(result: Tuned, current: RecommenderVersion) -> dict[str, Any]:
    """The run as JSON to keep (`stored.save_tuning_report`): both versions' measures, the
    users they were measured on, and what the tuned version changes."""
    return {
        "current": asdict(result.current),
        "tuned": asdict(result.tuned),
        "changes": changes(current, result.version),
    }


def changes(current: RecommenderVersion, tuned: RecommenderVersion) -> list[str]:
    """What the tuned version sets differently, one `name: old -> new` line each."""
    lines = []
    for name in sorted(set(current.weights) | set(tuned.weights)):
        old, new = current.weights.get(name, 0.0), tuned.weights.get(name, 0.0)
        if not math.isclose(old, new):
            lines.append(f"weights.{name}: {old:g} -> {new:.3g}")
    old_params, new_params = current.params.model_dump(), tuned.params.model_dump()
    for name, new_value in new_params.items():
        if old_params[name] != new_value:
            lines.append(f"params.{name}: {_show(old_params[name])} -> {_show(new_value)}")
    return lines


def _show(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def plot_history(study: optuna.Study, path: Path) -> None:
    """The optimisation history (each trial's NDCG on the inner split, and the best so far)
    as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization.matplotlib import plot_optimization_history

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        axes = plot_optimization_history(study)
    axes.set_ylabel("NDCG@10 (inner holdout)")
    figure = axes.get_figure(root=True)
    assert figure is not None
    figure.set_size_inches(8, 4.5)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
