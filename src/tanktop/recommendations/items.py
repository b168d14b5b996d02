"""What the model's columns stand for: catalog items, an episode counted for its programme.

A programme stands for its episodes: what a user does with an episode counts for its programme,
and programmes, not single episodes, are what gets recommended (the bookmark row already says
which episode is next)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tanktop.catalog import service as catalog
from tanktop.catalog.facts import CatalogFacts
from tanktop.db import Database, utcnow
from tanktop.events import service as events
from tanktop.recommendations.model import NO_BLEND, Blend, Model
from tanktop.recommendations.schemas import RecommenderVersion
from tanktop.recommendations.settings import weight
from tanktop.recommendations.weighing import blend_of

WATCHED_OR_HIDDEN = frozenset({"seen", "rated", "hide"})
"""A rating means the user has watched it: never recommended again, like seen and hidden."""
CONTENT = ["movie", "programme", "episode"]
GENRES = ("movie", "programme")
"""The item types with genres (recommended by the genre part, answered by `similar`)."""


async def programmes_of(
    db: Database, *, episode_ids: Iterable[str], facts: CatalogFacts | None = None
) -> dict[str, str]:
    """Episode id -> its programme's model key, for the episodes the catalog knows: from the
    process's copy of catalog `facts` when given. Looked up once per section page: its rows
    that rank for the user ask the same, at once."""
    keys = [("episode", i) for i in sorted(set(episode_ids))]
    if not keys:
        return {}
    return await events.once_per_snapshot(
        ("programmes_of", tuple(keys)), lambda: _programmes(db, keys, facts)
    )


async def _programmes(
    db: Database, keys: list[tuple[str, str]], facts: CatalogFacts | None
) -> dict[str, str]:
    async with db.read() as conn:
        if facts is None:
            found = await catalog.contents(conn, keys=keys)
        else:
            found = await facts.contents(conn, keys)
    return {k[1]: f"programme:{c.programme_id}" for k, c in found.items() if c.programme_id}


async def model_genres(db: Database) -> dict[str, tuple[str, ...]]:
    """Model key -> genres of every movie and programme in the catalog (the genre part's)."""
    async with db.read() as conn:
        found = await catalog.item_genres(conn, item_types=GENRES)
    return {f"{item_type}:{item_id}": names for (item_type, item_id), names in found.items()}


async def model_years(db: Database) -> dict[str, int]:
    """Model key -> release year of every movie and programme in the catalog that has one (the
    year part's)."""
    async with db.read() as conn:
        found = await catalog.item_years(conn, item_types=GENRES)
    return {f"{item_type}:{item_id}": year for (item_type, item_id), year in found.items()}


def model_key(item_type: str, item_id: str, programmes: dict[str, str]) -> str | None:
    """The model's key for an item: an episode's programme (None if the catalog has no such
    episode), anything else itself."""
    if item_type == "episode":
        return programmes.get(item_id)
    return f"{item_type}:{item_id}"


def pair(key: str) -> tuple[str, str]:
    """(item type, item id) of a model key."""
    item_type, item_id = key.split(":", 1)
    return item_type, item_id


def fold_episodes(
    history: Iterable[tuple[str, str, str, float]], programmes: dict[str, str]
) -> list[tuple[str, str, float]]:
    """(user, model key, weight) from (user, item type, item id, weight) in time order: the
    latest weight of each item, an episode's going to its programme, which keeps the
    strongest of its own and its episodes'."""
    latest: dict[tuple[str, str, str], float] = {}
    for user, item_type, item_id, value in history:
        latest[(user, item_type, item_id)] = value
    folded: dict[tuple[str, str], float] = {}
    for (user, item_type, item_id), value in latest.items():
        key = model_key(item_type, item_id, programmes)
        if key is not None:
            folded[(user, key)] = max(value, folded.get((user, key), value))
    return [(user, key, value) for (user, key), value in folded.items()]


async def user_programmes(
    db: Database, *, lists: list[events.ListItem], facts: CatalogFacts | None = None
) -> dict[str, str]:
    """`programmes_of` the episodes in the user's lists."""
    return await programmes_of(
        db, episode_ids=(i.item_id for i in lists if i.item_type == "episode"), facts=facts
    )


@dataclass(frozen=True)
class Taste:
    """A user's current weights on the model's items they acted on (sparse: a few dozen
    columns of a catalog of any size), in the order they first acted on them."""

    columns: npt.NDArray[np.int64]
    values: npt.NDArray[np.float32]
    blend: Blend = NO_BLEND

    @classmethod
    def of(cls, weights: dict[int, float], blend: Blend = NO_BLEND) -> Taste:
        """From column -> weight (in the order of the user's first act on each)."""
        return cls(
            np.fromiter(weights.keys(), dtype=np.int64, count=len(weights)),
            np.fromiter(weights.values(), dtype=np.float32, count=len(weights)),
            blend,
        )

    @property
    def personal(self) -> bool:
        """Something of theirs the model knows, with a weight."""
        return bool(self.values.any())

    def scores(self, model: Model) -> npt.NDArray[np.float32]:
        """Each column's score for the user; by popularity (scaled to at most 1) for a user
        with nothing the model knows."""
        if self.personal:
            return model.scores(self.columns, self.values, self.blend)
        return model.popularity / max(1.0, float(model.popularity.max()))

    def because(self, model: Model, columns: npt.NDArray[np.int64]) -> list[int | None]:
        """`Model.because` for the user's items (None for each column when not personal)."""
        if not self.personal:
            return [None] * len(columns)
        return model.because(self.columns, self.values, columns, self.blend)


def user_taste(
    model: Model,
    lists: list[events.ListItem],
    programmes: dict[str, str],
    settings: RecommenderVersion,
) -> Taste:
    """The user's current weight on each of the model's items they acted on (what they did,
    as of now, an older act weighing less under the settings' half-life, as in training); a
    programme takes the strongest of its episodes' weights."""
    index = model.index()
    half_life = settings.params.half_life_days
    now = utcnow()
    taste: dict[int, float] = {}
    for item in sorted(lists, key=lambda i: i.at):  # in the order of their acts, as trained
        key = model_key(item.item_type, item.item_id, programmes)
        column = index.get(key) if key else None
        if column is None:
            continue
        value = weight(settings, item.event, item.value)
        if half_life is not None:
            value *= 0.5 ** max(0.0, (now - item.at).total_seconds() / (half_life * 86400.0))
        if item.item_type == "episode":
            taste[column] = max(taste.get(column, 0.0), value)
        else:
            taste[column] = taste.get(column, 0.0) + value
    return Taste.of(taste, blend_of(settings))
