"""The served recommender against tuned EASE on validation splits only, to choose a setting
without looking at a test part.

    python -m bench.recs_validation [--data ../shared/data/ml-latest-small] [--set NAME=VALUE ...]

The splits are carved from the training parts of `recs evaluate --seed 1`: four random ones
(seeds 11-14) inside its random split's training part, and the temporal one (each user's
latest 20%) inside its temporal split's. On each, the model is fitted in process as `recs tune`
fits it (the training part in time order, as a service's history is read) with the default
settings and each `--set` param over them, and its NDCG@10 compared with EASE's at its best λ
on that same split. Prints each split's gain and coverage, and the random splits' mean.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from tanktop.recommendations import evaluate, tuning
from tanktop.recommendations.schemas import Params
from tanktop.recommendations.settings import DEFAULT

RANDOM_SEEDS = (11, 12, 13, 14)


def validation_splits(
    ratings: list[evaluate.Rating],
) -> dict[str, tuple[list[evaluate.Rating], list[evaluate.Rating]]]:
    """Name -> (fit part, validation part), all inside the outer splits' training parts."""
    outer_random, _ = evaluate.split(ratings, "random", 1)
    outer_temporal, _ = evaluate.split(ratings, "temporal", 1)
    found = {f"random {s}": evaluate.split(outer_random, "random", s) for s in RANDOM_SEEDS}
    found["temporal"] = evaluate.split(outer_temporal, "temporal", 2)
    return found


def served_case(
    fit: list[evaluate.Rating], test: list[evaluate.Rating], items: dict[str, tuple[str, str]]
) -> tuning.Case:
    """What `tuning.recommend` scores on: the fit part in time order as `rated` events, each
    user's validation items as truth (users the fit part has)."""
    ordered = sorted(fit, key=lambda r: r[3])
    users = {u for u, _, _, _ in ordered}
    truth: dict[str, set[str]] = defaultdict(set)
    for user, item, _, _ in test:
        if user in users:
            truth[user].add(f"movie:{item}")
    return tuning.Case(
        tuning.ratings_history(ordered),
        dict(truth),
        {},
        evaluate.item_genres(items),
        evaluate.item_years(items),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/ml-latest-small"))
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a param (JSON value)"
    )
    args = parser.parse_args()
    changes = {name: json.loads(value) for name, value in (a.split("=", 1) for a in args.set)}
    params = Params.model_validate({**DEFAULT.params.model_dump(), **changes})
    settings = DEFAULT.model_copy(update={"params": params})
    ratings = evaluate.read_ratings(args.data / "ratings.csv")
    items = evaluate.read_items(args.data / "movies.csv")
    gains = {}
    for name, (fit, test) in validation_splits(ratings).items():
        regularisation, ease = evaluate.best_ease(fit, test)
        case = served_case(fit, test, items)
        served = tuning.measure(tuning.recommend(case, settings), case, samples=1)
        gains[name] = served.ndcg.mean / ease.ndcg - 1
        print(
            f"{name:<10} NDCG@10 {served.ndcg.mean:.4f} against EASE's {ease.ndcg:.4f} "
            f"(λ {regularisation:g}): {gains[name]:+.2%}; coverage {served.coverage.mean:.3f} "
            f"(EASE {ease.coverage:.3f}; of the fit part's movies)",
            flush=True,
        )
    randoms = [gain for name, gain in gains.items() if name.startswith("random")]
    print(f"random splits' mean {sum(randoms) / len(randoms):+.2%}; {changes or 'the defaults'}")


if __name__ == "__main__":
    main()
