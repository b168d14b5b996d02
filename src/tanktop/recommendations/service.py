"""Recommendations per service, what other domains and the router call: train from the
service's history (`training`), serve with the user's current lists (`serving`, `live`) from
each process's model cache (`cache`), retrain when due (`schedule`)."""

from tanktop.recommendations.apart import TrainingFailed, train_apart
from tanktop.recommendations.cache import ModelCache
from tanktop.recommendations.items import programmes_of
from tanktop.recommendations.live import LivePick, live_json, recommend_live
from tanktop.recommendations.schedule import RetrainSchedule
from tanktop.recommendations.serving import (
    Recommendation,
    rank,
    recommend,
    recommendation_json,
    similar,
)
from tanktop.recommendations.training import train_service

__all__ = [
    "LivePick",
    "ModelCache",
    "Recommendation",
    "RetrainSchedule",
    "TrainingFailed",
    "live_json",
    "programmes_of",
    "rank",
    "recommend",
    "recommend_live",
    "recommendation_json",
    "similar",
    "train_apart",
    "train_service",
]
