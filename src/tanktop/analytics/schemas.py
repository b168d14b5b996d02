"""Answers of the analytics endpoints (one model per shape)."""

from __future__ import annotations

from pydantic import BaseModel

from tanktop.ids import JsonId
from tanktop.timestamps import Timestamp


class EventPoint(BaseModel):
    start: Timestamp
    events: int
    users: int


class EventSeries(BaseModel):
    event: str
    item_type: str
    points: list[EventPoint]


class EventsAnswer(BaseModel):
    interval: str
    series: list[EventSeries]


class UsersPoint(BaseModel):
    start: Timestamp
    active: int
    new: int


class UsersAnswer(BaseModel):
    interval: str
    points: list[UsersPoint]


class TopItem(BaseModel):
    item_id: JsonId
    events: int
    users: int


class TopAnswer(BaseModel):
    item_type: str
    event: str
    items: list[TopItem]


class Cohort(BaseModel):
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
