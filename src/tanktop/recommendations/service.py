"""Recommendations per service: train from the service's history, serve with the user's
current lists (so a new event counts at once), fall back to popularity for newcomers.

A programme stands for its episodes: what a user does with an episode counts for its programme,
and programmes, not single episodes, are what gets recommended (the bookmark row already says
which episode is next)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from tanktop.catalog import service as catalog
from tanktop.config import Settings
from tanktop.db import Database, utcnow
from tanktop.errors import NotFound
from tanktop.events import service as events
from tanktop.ids import json_id
from tanktop.metrics import MODEL_AGE
from tanktop.recommendations.model import Model, train, weight
from tanktop.recommendations.tables import rec_models
from tanktop.tenants.service import Service, list_services

SIGNALS = ["seen", "watchlist", "rated", "progress", "hide"]
WATCHED_OR_HIDDEN = frozenset({"seen", "rated", "hide"})
"""A rating means the user has watched it: never recommended again, like seen and hidden."""
CONTENT = ["movie", "programme", "episode"]
KEEP_VERSIONS = 3


async def programmes_of(db: Database, *, episode_ids: Iterable[str]) -> dict[str, str]:
    """Episode id -> its programme's model key, for the episodes the catalog knows."""
    keys = [("episode", i) for i in sorted(set(episode_ids))]
    if not keys:
        return {}
    async with db.read() as conn:
        found = await catalog.contents(conn, keys=keys)
    return {k[1]: f"programme:{c.programme_id}" for k, c in found.items() if c.programme_id}


def model_key(item_type: str, item_id: str, programmes: dict[str, str]) -> str | None:
    """The model's key for an item: an episode's programme (None if the catalog has no such
    episode), anything else itself."""
    if item_type == "episode":
        return programmes.get(item_id)
    return f"{item_type}:{item_id}"


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


async def train_service(db: Database, service_id: int) -> int:
    """Train on the service's whole history and store a new model version; returns it."""
    history = []
    count = 0
    async for event in events.stream_history(db, service_id):
        count += 1
        if event.event in SIGNALS and event.item_type in CONTENT:
            value = 0.0 if event.removed else weight(event.event, event.value)
            history.append((event.user_id, event.item_type, event.item_id, value))
    programmes = await programmes_of(
        db, episode_ids=(i for _, t, i, _ in history if t == "episode")
    )
    model = await asyncio.to_thread(train, fold_episodes(history, programmes))
    arrays = model.to_bytes()
    for _ in range(10):  # trainings racing for the same service take the next free version
        try:
            async with db.write() as conn:
                latest = await conn.scalar(
                    sa.select(sa.func.max(rec_models.c.version)).where(
                        rec_models.c.service_id == service_id
                    )
                )
                version = int(latest or 0) + 1
                await conn.execute(
                    sa.insert(rec_models).values(
                        service_id=service_id,
                        version=version,
                        created_at=utcnow(),
                        events=count,
                        arrays=arrays,
                    )
                )
                await conn.execute(
                    sa.delete(rec_models).where(
                        rec_models.c.service_id == service_id,
                        rec_models.c.version <= version - KEEP_VERSIONS,
                    )
                )
            break
        except sa.exc.IntegrityError:
            continue
    else:
        raise RuntimeError(f"could not store a model version for service {service_id}")
    return version


class ModelCache:
    """Each process keeps the newest model of each service, checking for a newer one every
    `refresh` seconds; the old model serves until the new one is loaded."""

    def __init__(self, db: Database, refresh: float = 30.0) -> None:
        self._db = db
        self._refresh = refresh
        self._models: dict[int, tuple[int, Model, dt.datetime]] = {}
        """Service id -> (version, model, created at) of the newest model loaded."""
        self._checked: dict[int, float] = {}

    async def get(self, service_id: int) -> Model | None:
        """The newest model, or None when there is none or it learnt no items (a history of
        nothing but removals): callers then serve as for a service not trained yet."""
        now = time.monotonic()
        if now - self._checked.get(service_id, -1e9) >= self._refresh:
            self._checked[service_id] = now
            async with self._db.read() as conn:
                version = await conn.scalar(
                    sa.select(sa.func.max(rec_models.c.version)).where(
                        rec_models.c.service_id == service_id
                    )
                )
                current = self._models.get(service_id)
                if version is not None and (current is None or current[0] != version):
                    row = (
                        await conn.execute(
                            sa.select(rec_models.c.arrays, rec_models.c.created_at).where(
                                rec_models.c.service_id == service_id,
                                rec_models.c.version == version,
                            )
                        )
                    ).one()
                    model = await asyncio.to_thread(Model.from_bytes, row.arrays)
                    self._models[service_id] = (int(version), model, row.created_at)
        found = self._models.get(service_id)
        if found is None:
            return None
        _, model, created = found
        MODEL_AGE.labels(str(service_id)).set((utcnow() - created).total_seconds())
        return model if model.items else None


async def user_programmes(db: Database, *, lists: list[events.ListItem]) -> dict[str, str]:
    """`programmes_of` the episodes in the user's lists."""
    return await programmes_of(
        db, episode_ids=(i.item_id for i in lists if i.item_type == "episode")
    )


def user_vector(
    model: Model, lists: list[events.ListItem], programmes: dict[str, str]
) -> npt.NDArray[np.float32]:
    """The user's current weight on each of the model's items (what they did, as of now); a
    programme takes the strongest of its episodes' weights."""
    index = model.index()
    vector = np.zeros(len(model.items), dtype=np.float32)
    for item in lists:
        key = model_key(item.item_type, item.item_id, programmes)
        column = index.get(key) if key else None
        if column is None:
            continue
        value = weight(item.event, item.value)
        if item.item_type == "episode":
            vector[column] = max(vector[column], value)
        else:
            vector[column] += value
    return vector


@dataclass(frozen=True)
class Recommendation:
    item_type: str
    item_id: str
    score: float
    reasons: list[dict[str, Any]]


async def recommend(
    db: Database,
    service: Service,
    *,
    cache: ModelCache,
    user_id: str,
    item_type: str | None,
    n: int,
    availability: catalog.Availability,
) -> list[Recommendation]:
    """Best first; never an item the user has seen or hidden."""
    user = await _for_user(db, service, cache=cache, user_id=user_id)
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
        return [Recommendation(kind, i, 0.0, [{"type": "available"}]) for i in fresh]
    index = model.index()
    ranked = user.scores.astype(np.float64)
    ranked[[index[key] for key in user.excluded if key in index]] = -np.inf
    if item_type is not None:
        ranked[~model.of_type(item_type)] = -np.inf
    order = np.argsort(-ranked, kind="stable")[: n * 5]
    wanted = [model.items[i] for i in order if ranked[i] > -np.inf]
    wanted = await _available(db, wanted, availability)
    return [user.recommendation(key) for key in wanted[:n]]


@dataclass(frozen=True)
class _UserScores:
    """A user's scores for every item of the service's model, and what never to recommend."""

    model: Model | None
    excluded: set[str]
    """Model keys of what the user has seen, rated or hidden."""
    vector: npt.NDArray[np.float32]
    personal: bool
    """Scored from the user's own lists (else by popularity)."""
    scores: npt.NDArray[np.float32]

    def recommendation(self, key: str) -> Recommendation:
        """The recommendation of a model key, with its score and why."""
        assert self.model is not None
        column = self.model.index()[key]
        kind, item_id = _pair(key)
        if self.personal:
            source_type, source_id = _pair(
                self.model.items[self.model.because(self.vector, column)]
            )
            reasons = [
                {"type": "similar_to", "item_type": source_type, "item_id": json_id(source_id)}
            ]
        else:
            reasons = [{"type": "popular"}]
        return Recommendation(kind, item_id, round(float(self.scores[column]), 6), reasons)


async def _for_user(
    db: Database, service: Service, *, cache: ModelCache, user_id: str
) -> _UserScores:
    model = await cache.get(service.id)
    lists = await events.user_items(
        db, service, user_id=user_id, events=SIGNALS, item_types=CONTENT
    )
    programmes = await user_programmes(db, lists=lists)
    excluded = {
        key
        for i in lists
        if i.event in WATCHED_OR_HIDDEN
        and (key := model_key(i.item_type, i.item_id, programmes)) is not None
    }
    empty = np.zeros(0, dtype=np.float32)
    if model is None:
        return _UserScores(None, excluded, empty, False, empty)
    vector = user_vector(model, lists, programmes)
    personal = bool(vector.any())
    scores = (
        model.scores(vector)
        if personal
        else model.popularity / max(1.0, float(model.popularity.max()))
    )
    return _UserScores(model, excluded, vector, personal, scores)


async def rank(
    db: Database,
    service: Service,
    *,
    cache: ModelCache,
    user_id: str,
    keys: Sequence[tuple[str, str]],
    n: int,
) -> list[Recommendation]:
    """The best `n` of `keys` (movies and programmes) for the user, never one they have seen,
    rated or hidden; those the model does not know follow in the order given."""
    user = await _for_user(db, service, cache=cache, user_id=user_id)
    fresh = [(p, k) for p, k in enumerate(keys) if f"{k[0]}:{k[1]}" not in user.excluded]
    if user.model is None:
        return [Recommendation(*key, 0.0, [{"type": "available"}]) for _, key in fresh[:n]]
    index = user.model.index()

    def order(entry: tuple[int, tuple[str, str]]) -> tuple[float, int]:
        column = index.get(f"{entry[1][0]}:{entry[1][1]}")
        return (-float(user.scores[column]) if column is not None else np.inf, entry[0])

    best = sorted(fresh, key=order)[:n]
    return [
        user.recommendation(f"{key[0]}:{key[1]}")
        if f"{key[0]}:{key[1]}" in index
        else Recommendation(*key, 0.0, [{"type": "available"}])
        for _, key in best
    ]


async def _available(
    db: Database, keys: list[str], availability: catalog.Availability
) -> list[str]:
    pairs = [_pair(key) for key in keys]
    kept = set(await catalog.keep_available(db, keys=pairs, availability=availability))
    return [key for key, pair in zip(keys, pairs, strict=True) if pair in kept]


def _pair(key: str) -> tuple[str, str]:
    item_type, item_id = key.split(":", 1)
    return item_type, item_id


async def similar(
    db: Database,
    service: Service,
    *,
    cache: ModelCache,
    item_type: str,
    item_id: str,
    n: int,
) -> list[Recommendation]:
    """Items most like this one (an episode: like its programme)."""
    model = await cache.get(service.id)
    programmes = await programmes_of(db, episode_ids=[item_id] if item_type == "episode" else [])
    key = model_key(item_type, item_id, programmes)
    if model is None or key not in model.index():
        raise NotFound(f"No model knows {item_type} {item_id!r} yet.")
    column = model.index()[key]
    scores = model.similarity[column]
    result = []
    for i in np.argsort(-scores)[:n]:
        if i == column or scores[i] <= 0:
            continue
        kind, other = model.items[i].split(":", 1)
        result.append(
            Recommendation(
                kind,
                other,
                round(float(scores[i]), 6),
                [{"type": "similar_to", "item_type": item_type, "item_id": json_id(item_id)}],
            )
        )
    return result


def recommendation_json(rec: Recommendation) -> dict[str, Any]:
    return {
        "item_type": rec.item_type,
        "item_id": json_id(rec.item_id),
        "score": rec.score,
        "reasons": rec.reasons,
    }


_LAST_CHECK = {"at": float("-inf")}


async def retrain_due_models(db: Database, *, settings: Settings) -> int:
    """Worker task: retrain services whose model is old or behind by enough new events.

    Looks at most every `retrain_check_seconds` per process; returns models trained.
    """
    now = time.monotonic()
    if now - _LAST_CHECK["at"] < settings.retrain_check_seconds:
        return 0
    _LAST_CHECK["at"] = now
    async with db.read() as conn:
        latest = {
            row.service_id: (row.created_at, row.events)
            for row in await conn.execute(
                sa.select(
                    rec_models.c.service_id, rec_models.c.created_at, rec_models.c.events
                ).order_by(rec_models.c.version)
            )
        }
    trained = 0
    for service in await list_services(db):
        created, seen = latest.get(service.id, (None, 0))
        total = await events.count_history(db, service.id)
        stale = created is not None and (utcnow() - created).total_seconds() > (
            settings.retrain_max_age_seconds
        )
        if total - seen >= settings.retrain_after_events or (stale and total > seen):
            await train_service(db, service.id)
            trained += 1
    return trained


@dataclass(frozen=True)
class LivePick:
    channel_id: str
    start: dt.datetime
    end: dt.datetime
    item_type: str
    item_id: str
    score: float
    reasons: list[dict[str, Any]]


async def recommend_live(
    db: Database,
    service: Service,
    *,
    cache: ModelCache,
    user_id: str,
    at: dt.datetime,
    window: dt.timedelta,
    n: int,
) -> list[LivePick]:
    """What airs in the window on channels the user has not hidden, ranked for the user."""
    hidden = {
        i.item_id
        for i in await events.user_items(
            db, service, user_id=user_id, events=["hide"], item_types=["channel"]
        )
    }
    airing = [
        a
        for a in await catalog.airing_between(db, start=at, end=at + window)
        if a.channel_id not in hidden
    ]
    model = await cache.get(service.id)
    scored = [(0.0, a) for a in airing]
    personal = False
    if model is not None:
        lists = await events.user_items(
            db, service, user_id=user_id, events=SIGNALS, item_types=CONTENT
        )
        vector = user_vector(model, lists, await user_programmes(db, lists=lists))
        personal = bool(vector.any())
        values = model.scores(vector) if personal else model.popularity
        index = model.index()
        programmes = await programmes_of(
            db, episode_ids=(a.airing.item_id for a in airing if a.airing.item_type == "episode")
        )
        columns = [
            index.get(model_key(a.airing.item_type, a.airing.item_id, programmes) or "")
            for a in airing
        ]
        scored = [
            (0.0 if column is None else float(values[column]), a)
            for column, a in zip(columns, airing, strict=True)
        ]
    scored.sort(key=lambda pair: (-pair[0], pair[1].airing.start, pair[1].channel_id))
    reason = [{"type": "for_you" if personal else "popular" if model else "on_now"}]
    return [
        LivePick(
            a.channel_id,
            a.airing.start,
            a.airing.end,
            a.airing.item_type,
            a.airing.item_id,
            round(score, 6),
            reason,
        )
        for score, a in scored[:n]
    ]


def live_json(pick: LivePick) -> dict[str, Any]:
    return {
        "channel_id": json_id(pick.channel_id),
        "start": pick.start.isoformat(),
        "end": pick.end.isoformat(),
        "item_type": pick.item_type,
        "item_id": json_id(pick.item_id),
        "score": pick.score,
        "reasons": pick.reasons,
    }
