"""A service's recommender settings (API.md "Recommender settings"): how much each event says
about a user's taste, how the service's ratings read, and the model's parameters.

Every change is a new version and all are kept; the newest is the one training and serving
use, and a service that stored none uses `DEFAULT` (version 0, the constants the recommender
had before settings existed). A version is stored complete, defaults filled in, so putting an
old version's `weights` and `params` back restores it exactly.
"""

from __future__ import annotations

import math
from typing import Any, Final

import sqlalchemy as sa
from pydantic import JsonValue, ValidationError

from tanktop.db import Database, utcnow
from tanktop.errors import BadRequest, NotFound, describe_validation_errors
from tanktop.recommendations import queries
from tanktop.recommendations.schemas import Params, RecommenderBody, RecommenderVersion
from tanktop.tenants.service import Service

DEFAULT_WEIGHTS: Final = {
    "seen": 1.0,
    "watchlist": 0.7,
    "progress": 0.6,
    "rated": 1.0,
    "hide": -1.0,
}
DEFAULT: Final = RecommenderVersion(
    version=0, created_at=None, weights=DEFAULT_WEIGHTS, params=Params()
)
"""What a service uses until its operator stores a version."""


def parse_settings(raw: JsonValue) -> tuple[dict[str, float], Params]:
    """Complete weights and params from a `PUT` body (400 for anything unknown or not a
    number): the body's weights over the defaults, its params with defaults for the rest."""
    if not isinstance(raw, dict):
        raise BadRequest(
            f'Recommender settings are a JSON object {{"weights": …, "params": …}}, '
            f"not {type(raw).__name__}."
        )
    try:
        body = RecommenderBody.model_validate(raw)
    except ValidationError as exc:
        summary, _ = describe_validation_errors(exc.errors())
        raise BadRequest(f"Invalid recommender settings: {summary}.") from None
    weights = {**DEFAULT_WEIGHTS, **body.weights}
    if weights["hide"] >= 0:
        raise BadRequest("weights.hide must stay negative: a hidden item is a dislike.")
    if weights["rated"] < 0:
        raise BadRequest(
            "weights.rated must be 0 or more: it is the weight of the top of the rating scale "
            "(ratings below params.rating_neutral weigh negative)."
        )
    return weights, body.params


def weight(settings: RecommenderVersion, event: str, value: object) -> float:
    """How much an event says the user likes the item (negative: dislikes)."""
    if event == "rated":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return 0.0
        return settings.weights.get("rated", 0.0) * rating_position(settings.params, value)
    return settings.weights.get(event, 0.0)


def rating_position(params: Params, value: float) -> float:
    """Where a rating sits on the service's scale: 1 at the top, 0 at the neutral rating, -1
    at the bottom (when the neutral rating is above it); out-of-scale ratings are clamped."""
    low, high = params.rating_min, params.rating_max
    neutral = low if params.rating_neutral is None else params.rating_neutral
    value = min(high, max(low, float(value))) if math.isfinite(value) else neutral
    if value >= neutral:
        return (value - neutral) / (high - neutral)
    return -(neutral - value) / (neutral - low)


def signals(settings: RecommenderVersion) -> list[str]:
    """The events that count (a non-zero weight), `hide` always among them."""
    return sorted({event for event, w in settings.weights.items() if w} | {"hide"})


def _version(row: sa.Row[Any]) -> RecommenderVersion:
    """A stored version; params a later release no longer has are dropped, new ones take
    their defaults."""
    known = {k: v for k, v in row.params.items() if k in Params.model_fields}
    return RecommenderVersion(
        version=row.version,
        created_at=row.created_at,
        weights=row.weights,
        params=Params.model_validate(known),
    )


async def current_settings(db: Database, service_id: int) -> RecommenderVersion:
    """The version in use: the newest stored, or `DEFAULT`."""
    async with db.read() as conn:
        rows = await queries.select_settings(conn, service_id, limit=1)
    return _version(rows[0]) if rows else DEFAULT


async def settings_versions(db: Database, service: Service) -> list[RecommenderVersion]:
    """Every stored version, newest first (none: the service uses `DEFAULT`)."""
    async with db.read() as conn:
        return [_version(row) for row in await queries.select_settings(conn, service.id)]


async def put_settings(db: Database, service: Service, *, body: JsonValue) -> RecommenderVersion:
    """Store `body` as the service's next version (a 400 stores nothing) and return it."""
    weights, params = parse_settings(body)
    return await store_settings(db, service, weights=weights, params=params)


async def restore_settings(db: Database, service: Service, *, version: int) -> RecommenderVersion:
    """Store an earlier version again, as the newest."""
    for old in await settings_versions(db, service):
        if old.version == version:
            return await store_settings(db, service, weights=old.weights, params=old.params)
    raise NotFound(f"{service.name} has no recommender settings version {version}.")


async def store_settings(
    db: Database, service: Service, *, weights: dict[str, float], params: Params
) -> RecommenderVersion:
    """Store a complete, valid version (a tuned one, an old one) as the newest."""
    stored = params.model_dump()
    for _ in range(10):  # a concurrent PUT took the number: take the next one
        now = utcnow()
        try:
            async with db.write() as conn:
                version = await queries.insert_settings(conn, service.id, weights, stored, now)
        except sa.exc.IntegrityError:
            continue
        return RecommenderVersion(version=version, created_at=now, weights=weights, params=params)
    raise RuntimeError(f"could not store a settings version for service {service.id}")
