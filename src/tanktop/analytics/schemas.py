"""Answers of the analytics endpoints (one model per shape).

The rows of a series, a cohort or a top list are frozen dataclasses the service builds and
returns as they are (a thousand buckets are a thousand rows; a model's validation on building
would cost more than writing them); pydantic writes and documents them as it does a model.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from tanktop.ids import JsonId
from tanktop.timestamps import Timestamp


@dataclass(frozen=True, slots=True)
class EventPoint:
    start: Timestamp
    events: int
    users: int


@dataclass(frozen=True, slots=True)
class EventSeries:
    event: str
    item_type: str
    points: list[EventPoint]


class EventsAnswer(BaseModel):
    interval: str
    series: list[EventSeries]


@dataclass(frozen=True, slots=True)
class UsersPoint:
    start: Timestamp
    active: int
    new: int


class UsersAnswer(BaseModel):
    interval: str
    points: list[UsersPoint]


@dataclass(frozen=True, slots=True)
class TopItem:
    item_id: JsonId
    events: int
    users: int


class TopAnswer(BaseModel):
    item_type: str
    event: str
    items: list[TopItem]


@dataclass(frozen=True, slots=True)
class Cohort:
    start: Timestamp
    users: int
    retained: list[int]


class RetentionAnswer(BaseModel):
    interval: str
    cohorts: list[Cohort]


class SurfaceEngagement(BaseModel):
    impressions: int
    clicks: int
    engaged: int


class SectionEngagement(SurfaceEngagement):
    section_id: str


class EngagementAnswer(BaseModel):
    recommendations: SurfaceEngagement
    sections: list[SectionEngagement]


class EventCount(BaseModel):
    event: str
    item_type: str
    count: int


class Ratings(BaseModel):
    count: int
    mean: float | None
    distribution: dict[str, int]


class UserStatsAnswer(BaseModel):
    user_id: str
    events: list[EventCount]
    minutes_watched: float
    ratings: Ratings
    first_activity: Timestamp | None
    last_activity: Timestamp | None
