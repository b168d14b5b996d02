"""A service's history as the model learns it under one settings version: each event that
counts turned into a signed weight (its event's weight, a rating read on the service's
scale), a removal into 0, and with a half-life an older event into less; then the model
fitted with the version's parameters.

Training (`train_service`) and tuning (`tuning`) both go through here, so what a tuned
version scores offline is what the served model learns."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from tanktop.events.service import HistoryEvent
from tanktop.recommendations.model import Blend, Model, train
from tanktop.recommendations.schemas import RecommenderVersion
from tanktop.recommendations.settings import signals, weight

Weighed = tuple[str, str, str, float]
"""(user id, item type, item id, weight), in time order."""


def weigh(
    history: Iterable[HistoryEvent],
    settings: RecommenderVersion,
    *,
    item_types: Collection[str],
) -> list[Weighed]:
    """The events of `history` (in time order) that count, weighed by `settings`."""
    counted = frozenset(signals(settings))
    kept = [
        (
            e.user_id,
            e.item_type,
            e.item_id,
            0.0 if e.removed else weight(settings, e.event, e.value),
            e.at,
        )
        for e in history
        if e.event in counted and e.item_type in item_types
    ]
    half_life = settings.params.half_life_days
    if half_life is None or not kept:
        return [(user, kind, item, value) for user, kind, item, value, _ in kept]
    newest = max(at for *_, at in kept)
    scale = half_life * 86400.0
    return [
        (user, kind, item, value * 0.5 ** ((newest - at).total_seconds() / scale))
        for user, kind, item, value, at in kept
    ]


def fit(
    folded: Iterable[tuple[str, str, float]],
    settings: RecommenderVersion,
    genres: Mapping[str, Sequence[str]] | None = None,
    years: Mapping[str, int] | None = None,
) -> Model:
    """The model of (user, model key, weight) triples under the version's parameters
    (`genres`, `years`: model key -> the catalog's genres and release year, for the genre
    and year parts)."""
    params = settings.params
    return train(
        folded,
        regularisation=params.ease_lambda,
        head_items=params.head_items,
        neighbours=params.neighbours,
        genres=genres,
        years=years,
        genre_idf=params.genre_idf,
        genre_users=params.genre_users,
        year_users=params.year_users,
    )


def blend_of(settings: RecommenderVersion) -> Blend:
    """How serving weighs the model's sequence, genre and year parts and the popularity
    debiasing under the version's parameters."""
    params = settings.params
    return Blend(
        overall=params.sequence_weight,
        recent=params.recent_weight,
        recent_items=params.recent_items,
        genres=params.genre_weight,
        popularity=params.popularity_power,
        years=params.year_weight,
    )
