"""When something is finished, started or next (Jellyfin's thresholds, which users know).

Pure functions over what the user did (latest progress and seen per item) and the catalog.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from tanktop.bookmarks.schemas import Bookmark
from tanktop.catalog.service import Content

STARTED: Final = 0.05
FINISHED: Final = 0.90


@dataclass(slots=True)
class Watch:
    """What the user did with one movie or episode: latest progress (minutes) and seen."""

    progress: float | None = None
    progress_at: dt.datetime | None = None
    seen_at: dt.datetime | None = None

    @property
    def last_at(self) -> dt.datetime:
        progress_at, seen_at = self.progress_at, self.seen_at
        if progress_at is None or (seen_at is not None and seen_at > progress_at):
            assert seen_at is not None
            return seen_at
        return progress_at


def finished(watch: Watch, duration: float | None) -> bool:
    """Seen (and not re-started since), or watched to 90% of its duration."""
    if watch.seen_at is not None and (
        watch.progress_at is None or watch.progress_at <= watch.seen_at
    ):
        return True
    return bool(duration and watch.progress is not None and watch.progress >= FINISHED * duration)


def in_progress(watch: Watch, duration: float | None) -> bool:
    """Part-way: past 5% of the duration (any progress when the duration is unknown)."""
    if finished(watch, duration) or watch.progress is None or watch.progress <= 0:
        return False
    return duration is None or watch.progress >= STARTED * duration


def movie_bookmark(movie_id: str, watch: Watch, duration: float | None) -> Bookmark | None:
    if not in_progress(watch, duration):
        return None
    assert watch.progress is not None
    assert watch.progress_at is not None
    return Bookmark(
        item_type="movie",
        item_id=movie_id,
        position=watch.progress,
        duration=duration,
        updated_at=watch.progress_at,
    )


def programme_bookmark(
    programme_id: str, guide: list[Content], watches: dict[str, Watch]
) -> Bookmark | None:
    """The episode to show: the one being watched, else the next after the furthest finished.

    `guide` is the programme's episodes in season/number order; season 0 (specials) is never
    "next"; seeing an earlier episode again never moves the pointer backwards.
    """
    watched = [(e, watches[e.item_id]) for e in guide if e.item_id in watches]
    if not watched:
        return None
    latest_episode, latest = max(watched, key=lambda pair: pair[1].last_at)
    if in_progress(latest, latest_episode.duration):
        assert latest.progress is not None
        return Bookmark(
            item_type="programme",
            item_id=programme_id,
            position=latest.progress,
            duration=latest_episode.duration,
            updated_at=latest.last_at,
            episode_id=latest_episode.item_id,
            season=latest_episode.season,
            number=latest_episode.number,
            status="in_progress",
        )
    done = [
        i
        for i, e in enumerate(guide)
        if e.item_id in watches and finished(watches[e.item_id], e.duration)
    ]
    if not done:
        return None
    for episode in guide[max(done) + 1 :]:
        if episode.season == 0:
            continue
        watch = watches.get(episode.item_id)
        if watch is None or not finished(watch, episode.duration):
            return Bookmark(
                item_type="programme",
                item_id=programme_id,
                position=0.0,
                duration=episode.duration,
                updated_at=latest.last_at,
                episode_id=episode.item_id,
                season=episode.season,
                number=episode.number,
                status="next",
            )
    return None


def some_finished(guide: list[Content], watches: dict[str, Watch]) -> bool:
    """The user finished some of the programme's episodes: with nothing in progress or next
    in it (no `programme_bookmark`), the programme is done."""
    return any(finished(watches[e.item_id], e.duration) for e in guide if e.item_id in watches)
