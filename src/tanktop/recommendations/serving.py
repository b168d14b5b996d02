"""Serving: a user's recommendations from the service's model and their current lists (so a
new event counts at once), popularity for newcomers, the catalog's offer before any model."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tanktop.catalog import service as catalog
from tanktop.catalog.facts import CatalogFacts
from tanktop.db import Database
from tanktop.errors import NotFound
from tanktop.events import service as events
from tanktop.recommendations.cache import ModelCache
from tanktop.recommendations.items import (
    CONTENT,
    GENRES,
    WATCHED_OR_HIDDEN,
    Taste,
    model_key,
    pair,
    programmes_of,
    user_programmes,
    user_taste,
)
from tanktop.recommendations.model import Model
from tanktop.recommendations.schemas import Reason, Recommendation
from tanktop.recommendations.settings import signals, weight
from tanktop.tenants.service import Service

_AVAILABLE = Reason(type="available")
_POPULAR = Reason(type="popular")


def _recommendation(
    item_type: str, item_id: str, score: float, reason: Reason = _AVAILABLE
) -> Recommendation:
    return Recommendation(item_type=item_type, item_id=item_id, score=score, reasons=[reason])


async def recommend(
    db: Database,
    service: Service,
    *,
    cache: ModelCache,
    user_id: str,
    item_type: str | None,
    n: int,
    availability: catalog.Availability,
    facts: CatalogFacts | None = None,
    content: CatalogFacts | None = None,
) -> list[Recommendation]:
    """Best first; never an item the user has seen or hidden. `facts`: the process's copy of
    the catalog's facts, for a caller that reads it for more (a section page, see
    `user_scores`). Given the catalog's `content` (`GET /recommendation` gives it), what the
    model cannot say for the user (a newcomer, items it does not know yet) is filled with
    what shares the genres of what they did act on, before the most popular."""
    user = await user_scores(db, service, cache=cache, user_id=user_id, facts=facts)
    model = user.model
    if model is None:  # nothing trained yet: what the catalog has on offer
        kind = item_type or "movie"
        ids = await catalog.catalog_candidates(
            db,
            item_type=kind,
            availability=availability,
            after=None,
            limit=n + len(user.excluded),
        )
        fresh = [i for i in ids if f"{kind}:{i}" not in user.excluded][:n]
        found = [_recommendation(kind, i, 0.0) for i in fresh]
    else:
        index = model.index()
        excluded = (index[key] for key in user.excluded if key in index)
        order = model.top(user.scores, excluded=excluded, count=n * 5, item_type=item_type)
        wanted = await _available(db, [model.items[i] for i in order], availability)
        found = user.recommendations(wanted[:n])
    if content is None or not user.liked:
        return found
    personal = [r for r in found if r.reasons[0].type == "similar_to"]
    if len(personal) == n:
        return personal
    floor = min((r.score for r in personal), default=1.0)
    taken = user.excluded | {f"{r.item_type}:{r.item_id}" for r in personal}
    alike = await _sharing_genres(
        db, content, user, taken, item_type=item_type, floor=floor, limit=n * 5
    )
    kept = set(await _available(db, [f"{r.item_type}:{r.item_id}" for r in alike], availability))
    filled = personal + [r for r in alike if f"{r.item_type}:{r.item_id}" in kept]
    shown = {(r.item_type, r.item_id) for r in filled}
    return (filled + [r for r in found if (r.item_type, r.item_id) not in shown])[:n]


CONTENT_SOURCES = 3
"""A user's latest items (at most) whose genres fill their answer: each costs a pass over
the catalog items sharing a genre with it, as one `/similar` call does."""


async def _sharing_genres(
    db: Database,
    content: CatalogFacts,
    user: UserScores,
    taken: set[str],
    *,
    item_type: str | None,
    floor: float,
    limit: int,
) -> list[Recommendation]:
    """The `limit` movies and programmes (of `item_type`, if given) sharing genres with the user's
    latest liked items, not in `taken`: most shared (summed over those items) first, then
    the most popular, each `similar_to` the item it shares most with; scored below `floor`
    in proportion."""
    kinds = [k for k in GENRES if item_type in (None, k)]
    shared: dict[tuple[str, str], float] = {}
    source: dict[tuple[str, str], tuple[float, str]] = {}
    async with db.read() as conn:
        for key in user.liked[:CONTENT_SOURCES]:
            for other, share in await content.sharing_genres(conn, pair(key), kinds):
                if f"{other[0]}:{other[1]}" in taken:
                    continue
                shared[other] = shared.get(other, 0.0) + share
                if share > source.get(other, (0.0, ""))[0]:
                    source[other] = (share, key)
    if not shared:
        return []
    popularity = _popularity(user.model)
    top = max(shared.values())
    ranked = heapq.nsmallest(
        limit,
        shared,
        key=lambda k: (-shared[k], -popularity.get(f"{k[0]}:{k[1]}", 0.0), k),
    )
    found = []
    for kind, item_id in ranked:
        why_type, why_id = pair(source[(kind, item_id)][1])
        reason = Reason(type="similar_to", item_type=why_type, item_id=why_id)
        score = round(floor * 0.5 * shared[(kind, item_id)] / top, 6)
        found.append(_recommendation(kind, item_id, score, reason))
    return found


@dataclass(frozen=True)
class UserScores:
    """A user's scores for every item of the service's model, and what never to recommend."""

    model: Model | None
    excluded: set[str]
    """Model keys of what the user has seen, rated or hidden."""
    taste: Taste
    scores: npt.NDArray[np.float32]
    liked: list[str]
    """Model keys of the movies and programmes the user likes (a positive weight), latest
    first, whether the model knows them or not."""

    def recommendations(self, keys: list[str]) -> list[Recommendation]:
        """The recommendations of model keys, with their scores and why (`popular` for one
        none of the user's items recommends)."""
        assert self.model is not None
        index = self.model.index()
        columns = np.array([index[key] for key in keys], dtype=np.int64)
        found = []
        reasons: dict[int | None, Reason] = {None: _POPULAR}  # a user has a few items only
        for key, column, source in zip(
            keys, columns.tolist(), self.taste.because(self.model, columns), strict=True
        ):
            reason = reasons.get(source)
            if reason is None and source is not None:
                source_type, source_id = pair(self.model.items[source])
                reason = Reason(type="similar_to", item_type=source_type, item_id=source_id)
                reasons[source] = reason
            assert reason is not None
            score = round(float(self.scores[column]), 6)
            found.append(_recommendation(*pair(key), score, reason))
        return found


async def user_scores(
    db: Database,
    service: Service,
    *,
    cache: ModelCache,
    user_id: str,
    facts: CatalogFacts | None = None,
) -> UserScores:
    """The user's scores; once per section page, whose rows (recommended, genre, live) all
    score the same user. The programmes of the user's episodes come from `facts` when given:
    a page checks that copy once for all its rows (`catalog_moment`), while alone a check
    and a read of what it lacks would cost a round trip more than one read of the catalog."""
    return await events.once_per_snapshot(
        ("user_scores", service.id, user_id),
        lambda: _scores_for_user(db, service, cache=cache, user_id=user_id, facts=facts),
    )


async def _scores_for_user(
    db: Database,
    service: Service,
    *,
    cache: ModelCache,
    user_id: str,
    facts: CatalogFacts | None,
) -> UserScores:
    settings = await cache.settings(service.id)
    model = await cache.get(service.id)
    lists = await events.user_items(
        db, service, user_id=user_id, events=signals(settings), item_types=CONTENT
    )
    programmes = await user_programmes(db, lists=lists, facts=facts)
    excluded = {
        key
        for i in lists
        if i.event in WATCHED_OR_HIDDEN
        and (key := model_key(i.item_type, i.item_id, programmes)) is not None
    }
    liked = list(
        dict.fromkeys(
            key
            for i in sorted(lists, key=lambda i: i.at, reverse=True)
            if weight(settings, i.event, i.value) > 0
            and (key := model_key(i.item_type, i.item_id, programmes)) is not None
        )
    )
    empty = np.zeros(0, dtype=np.float32)
    if model is None:
        return UserScores(None, excluded, Taste(np.zeros(0, np.int64), empty), empty, liked)
    taste = user_taste(model, lists, programmes, settings)
    return UserScores(model, excluded, taste, taste.scores(model), liked)


async def rank(
    db: Database,
    service: Service,
    *,
    cache: ModelCache,
    user_id: str,
    keys: Sequence[tuple[str, str]],
    n: int,
    facts: CatalogFacts | None = None,
) -> list[Recommendation]:
    """The best `n` of `keys` (movies and programmes) for the user, never one they have seen,
    rated or hidden; those the model does not know follow in the order given (`facts`: as
    for `recommend`)."""
    user = await user_scores(db, service, cache=cache, user_id=user_id, facts=facts)
    if user.model is None:
        unranked = [k for k in keys if f"{k[0]}:{k[1]}" not in user.excluded]
        return [_recommendation(*key, 0.0) for key in unranked[:n]]
    names, columns = _columns_of(user.model, keys)
    index = user.model.index()
    excluded = np.fromiter((index[k] for k in user.excluded if k in index), np.int64)
    unknown = np.flatnonzero(columns < 0).tolist()
    fresh = np.flatnonzero(~np.isin(columns, excluded))
    fresh = fresh[~np.isin(fresh, [p for p in unknown if names[p] in user.excluded])]
    scores = np.where(columns[fresh] >= 0, -user.scores[columns[fresh]], np.inf)
    best: list[int] = fresh[np.argsort(scores, kind="stable")[:n]].tolist()  # ties: given order
    known = iter(user.recommendations([names[b] for b in best if columns[b] >= 0]))
    return [next(known) if columns[b] >= 0 else _recommendation(*keys[b], 0.0) for b in best]


COLUMN_LISTS = 64
"""Key lists whose columns a model keeps (a service's genre rows rank the same lists)."""


def _columns_of(
    model: Model, keys: Sequence[tuple[str, str]]
) -> tuple[list[str], npt.NDArray[np.int64]]:
    """The model keys of `keys` and their columns (-1: unknown to the model), kept per model
    for the last few lists asked: a genre row ranks the same thousands of items each time."""
    kept: dict[tuple[tuple[str, str], ...], tuple[list[str], npt.NDArray[np.int64]]] = (
        model.__dict__.setdefault("_columns_of", {})
    )
    asked = tuple(keys)
    found = kept.get(asked)
    if found is None:
        names = [f"{item_type}:{item_id}" for item_type, item_id in asked]
        index = model.index()
        columns = np.fromiter((index.get(name, -1) for name in names), np.int64, len(names))
        if len(kept) >= COLUMN_LISTS:
            kept.clear()
        found = kept[asked] = (names, columns)
    return found


async def _available(
    db: Database, keys: list[str], availability: catalog.Availability
) -> list[str]:
    pairs = [pair(key) for key in keys]
    kept = set(await catalog.keep_available(db, keys=pairs, availability=availability))
    return [key for key, p in zip(keys, pairs, strict=True) if p in kept]


async def similar(
    db: Database,
    service: Service,
    *,
    cache: ModelCache,
    item_type: str,
    item_id: str,
    n: int,
    content: CatalogFacts | None = None,
) -> list[Recommendation]:
    """Items most like this one (an episode: like its programme): the model's neighbours;
    then, given the catalog's `content`, the movies and programmes sharing most of its genres
    and the most popular, so that every catalog item has an answer. NotFound: neither the
    model nor (given `content`) the catalog knows the item."""
    model = await cache.get(service.id)
    programmes = await programmes_of(db, episode_ids=[item_id] if item_type == "episode" else [])
    key = model_key(item_type, item_id, programmes)
    known = model is not None and key is not None and key in model.index()
    if not known and (content is None or not await _in_catalog(db, (item_type, item_id))):
        raise NotFound(f"No model knows {item_type} {item_id!r} yet.")
    like = Reason(type="similar_to", item_type=item_type, item_id=item_id)
    result = []
    if model is not None and key is not None and known:
        neighbours, weights = model.row(model.index()[key])
        for i in np.argsort(-weights, kind="stable")[:n]:
            if weights[i] <= 0:
                break
            kind, other = pair(model.items[neighbours[i]])
            result.append(_recommendation(kind, other, round(float(weights[i]), 6), like))
    if content is not None and len(result) < n:
        taken = {key or f"{item_type}:{item_id}"} | {f"{r.item_type}:{r.item_id}" for r in result}
        floor = result[-1].score if result else 1.0
        async with db.read() as conn:
            sharing = await content.sharing_genres(conn, pair(key) if key else ("", ""), GENRES)
        popularity = _popularity(model)
        ranked = heapq.nsmallest(
            n + len(taken),
            sharing,
            key=lambda s: (-s[1], -popularity.get(f"{s[0][0]}:{s[0][1]}", 0.0), s[0]),
        )
        for (kind, other), share in ranked:
            if len(result) < n and f"{kind}:{other}" not in taken:
                taken.add(f"{kind}:{other}")
                result.append(_recommendation(kind, other, round(share * floor, 6), like))
        for kind, other in await _popular(db, model, n + len(taken)):
            if len(result) < n and f"{kind}:{other}" not in taken:
                taken.add(f"{kind}:{other}")
                result.append(_recommendation(kind, other, 0.0, _POPULAR))
    return result


async def _in_catalog(db: Database, key: tuple[str, str]) -> bool:
    async with db.read() as conn:
        return bool(await catalog.contents(conn, keys=[key]))


def _popularity(model: Model | None) -> dict[str, float]:
    """Model key -> its popularity (built once per model)."""
    if model is None:
        return {}
    found: dict[str, float] | None = model.__dict__.get("_popularity_of")
    if found is None:
        found = dict(zip(model.items, model.popularity.tolist(), strict=True))
        object.__setattr__(model, "_popularity_of", found)
    return found


async def _popular(db: Database, model: Model | None, count: int) -> list[tuple[str, str]]:
    """The `count` most popular movies and programmes: the model's, or before any model the
    catalog's first movies in id order."""
    if model is None:
        ids = await catalog.catalog_candidates(
            db, item_type="movie", availability=catalog.Availability(), after=None, limit=count
        )
        return [("movie", i) for i in ids]
    found = []
    for key in model.items:  # most popular first
        kind, item_id = pair(key)
        if kind in GENRES:
            found.append((kind, item_id))
            if len(found) == count:
                break
    return found
