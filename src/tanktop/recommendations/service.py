"""Recommendations per service, what other domains and the router call: train from the
service's history (`training`), serve with the user's current lists (`serving`, `live`) from
each process's model cache (`cache`), train a first model and retrain when due (`schedule`)."""

from tanktop.recommendations.apart import TrainingFailed, train_apart
from tanktop.recommendations.cache import ModelCache
from tanktop.recommendations.items import programmes_of
from tanktop.recommendations.live import recommend_live
from tanktop.recommendations.schedule import RetrainSchedule
from tanktop.recommendations.schemas import LiveRecommendation, Reason, Recommendation
from tanktop.recommendations.serving import rank, recommend, similar
from tanktop.recommendations.training import train_service

__all__ = [
    "LiveRecommendation",
    "ModelCache",
    "Reason",
    "Recommendation",
    "RetrainSchedule",
    "TrainingFailed",
    "programmes_of",
    "rank",
    "recommend",
    "recommend_live",
    "similar",
    "train_apart",
    "train_service",
]
