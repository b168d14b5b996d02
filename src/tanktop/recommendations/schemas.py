"""The recommendations domain's request and answer shapes (one model per shape)."""

from __future__ import annotations

from typing import Annotated, Final, Self

from pydantic import (
    MISSING,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    model_validator,
)

from tanktop.ids import NAME_PATTERN, JsonId
from tanktop.timestamps import Timestamp

MAX_WEIGHT: Final = 100.0
MAX_WEIGHTS: Final = 64
"""Event names a version may weigh."""

Weight = Annotated[StrictFloat, Field(ge=-MAX_WEIGHT, le=MAX_WEIGHT)]
EventKey = Annotated[str, Field(pattern=NAME_PATTERN)]
Weights = Annotated[dict[EventKey, Weight], Field(max_length=MAX_WEIGHTS)]
Rating = Annotated[StrictFloat, Field(ge=-1e6, le=1e6)]


class Params(BaseModel):
    """The model's parameters and how a service's ratings read; every field has a default, so
    a version names only what it changes."""

    model_config = ConfigDict(extra="forbid")

    rating_min: Rating = 0.0
    """The lowest rating the service's users can give."""
    rating_max: Rating = 5.0
    """The highest: it weighs `weights.rated`."""
    rating_neutral: Rating | None = None
    """The rating that says nothing (weight 0); below it a rating is a dislike, down to
    `-weights.rated` at `rating_min`. None: `rating_min` (every rating a liking)."""
    ease_lambda: Annotated[StrictFloat, Field(gt=0, le=1e7)] = 200.0
    """EASE's L2 regularisation: larger trusts co-occurrence less."""
    head_items: Annotated[StrictInt, Field(ge=1, le=1_000_000)] = 2000
    """Most popular items EASE is solved over (its cost grows with the cube); every other
    item is recommended through its item-kNN neighbours."""
    neighbours: Annotated[StrictInt, Field(ge=1, le=1000)] = 100
    """Item-kNN neighbours each item keeps outside the EASE head."""
    sequence_weight: Annotated[StrictFloat, Field(ge=0, le=100)] = 0.3
    """How much what users act on next to each other (the sequence part) adds to a user's
    scores, over their whole history (scaled by one over the root of its length)."""
    recent_weight: Annotated[StrictFloat, Field(ge=0, le=100)] = 0.3
    """How much the sequence part adds from the user's latest items."""
    recent_items: Annotated[StrictFloat, Field(gt=0, le=100_000)] = 10.0
    """An item the user acted on this many items before their latest weighs half in the
    recent part."""
    genre_weight: Annotated[StrictFloat, Field(ge=0, le=100)] = 0.1
    """How much the genre part adds: each item's genre cosine with the genres of what the
    user likes, times this share of the user's strongest score (applies at serving)."""
    genre_idf: Annotated[StrictFloat, Field(ge=0, le=4)] = 1.0
    """How much a rare genre counts over a common one in the genre part: each genre weighs
    log(items / items with it) to this power (0: all alike; applies at training)."""
    genre_users: Annotated[StrictFloat, Field(ge=0, le=1e6)] = 3.0
    """How much EASE learns from the catalog's genres: two items' genre cosine times this is
    added to their co-occurrence, as if that many more users had acted on both (applies at
    training; 0: none)."""
    year_users: Annotated[StrictFloat, Field(ge=0, le=1e6)] = 1.0
    """How much EASE learns from the catalog's release years: two items' closeness in year (a
    Gaussian of 5 years) times this is added to their co-occurrence, as if that many more users
    had acted on both (applies at training; 0: none)."""
    year_weight: Annotated[StrictFloat, Field(ge=0, le=100)] = 0.0
    """How much the year part adds: each item's closeness in release year to what the user
    likes (the catalog's years), times this share of the user's strongest score (applies at
    serving; 0: none)."""
    popularity_power: Annotated[StrictFloat, Field(ge=0, le=2)] = 0.1
    """Popularity debiasing: a positive score is divided by the item's popularity (the users
    who like it) to this power, so the best-known items crowd out less (applies at
    serving; 0: none)."""
    half_life_days: Annotated[StrictFloat, Field(gt=0, le=36_500)] | None = None
    """Recency: an event this many days older than the service's newest weighs half (None:
    no decay)."""

    @model_validator(mode="after")
    def _scale(self) -> Self:
        if self.rating_min >= self.rating_max:
            raise ValueError("rating_min must be below rating_max")
        if self.rating_neutral is None:
            self.rating_neutral = self.rating_min
        if not self.rating_min <= self.rating_neutral < self.rating_max:
            raise ValueError("rating_neutral must be from rating_min to below rating_max")
        return self


class RecommenderBody(BaseModel):
    """`PUT /admin/1/service/<name>/recommender/`: what changes from the defaults."""

    model_config = ConfigDict(extra="forbid")

    weights: Weights = {}
    """Event name -> weight (any event, custom ones included; 0: ignored). Merged over the
    default weights; `hide` must stay negative."""
    params: Params = Params()


class RecommenderVersion(BaseModel):
    """One version of a service's recommender settings, complete (defaults filled in)."""

    version: int
    """0: the defaults, when the service has stored none."""
    created_at: Timestamp | None
    weights: dict[str, float]
    params: Params


class RecommenderVersions(BaseModel):
    """The service's stored versions, newest first."""

    versions: list[RecommenderVersion]


class Reason(BaseModel):
    """Why an item is recommended: `similar_to` (the item it is like, named by `item_type` and
    `item_id`), `popular`, `available` (no model trained yet), `for_you` or `on_now` (live)."""

    type: str
    item_type: str | MISSING = MISSING
    item_id: JsonId | MISSING = MISSING


class Recommendation(BaseModel):
    item_type: str
    item_id: JsonId
    score: float
    reasons: list[Reason]


class RecommendationList(BaseModel):
    """Best first."""

    recommendations: list[Recommendation]


class SimilarList(BaseModel):
    """Most similar first."""

    similar: list[Recommendation]


class LiveRecommendation(BaseModel):
    """An airing: which channel shows what when, and how well it suits the user."""

    channel_id: JsonId
    start: Timestamp
    end: Timestamp
    item_type: str
    item_id: JsonId
    score: float
    reasons: list[Reason]


class LiveRecommendationList(BaseModel):
    """Airings in the window, best first."""

    recommendations: list[LiveRecommendation]
