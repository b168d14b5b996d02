"""The bookmarks domain's answers (one model per shape)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import MISSING, BaseModel, TypeAdapter

from tanktop.ids import JsonId
from tanktop.timestamps import Timestamp


# A dataclass, not a `BaseModel`: the bookmark rules build one per item the user has watched,
# from values they have just checked, and a model's validation on building cost more than
# writing the answer (`bench.serialisation`). Pydantic writes and documents it as it does a
# model; `BOOKMARK` reads one from JSON.
@dataclass(slots=True)
class Bookmark:
    """Where the user is in a movie or programme. A programme's bookmark names the episode
    (`episode_id`, `season`, `number`, `status`); a movie's has none of those fields."""

    item_type: Literal["movie", "programme"]
    item_id: JsonId
    position: float
    """Minutes."""
    duration: float | None
    """Minutes, when the catalog knows them."""
    updated_at: Timestamp
    episode_id: JsonId | MISSING = MISSING
    season: int | MISSING | None = MISSING
    number: int | MISSING | None = MISSING
    status: Literal["in_progress", "next"] | MISSING = MISSING


BOOKMARK = TypeAdapter(Bookmark)


class BookmarkList(BaseModel):
    """The user's bookmarks, most recent activity first."""

    bookmarks: list[Bookmark]
