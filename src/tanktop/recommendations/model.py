"""The recommender: EASE (Steck 2019), an item-item model learnt in closed form.

Training turns a service's history into a user x item matrix of implicit weights and solves
B = I - P / diag(P) with P = (XᵀX + λI)⁻¹ (diagonal zeroed). Serving needs no retrain for new
events: a user's scores are their current weights times B, so a new event counts at once.
Arrays are saved with `numpy.savez` (no pickle) and loaded with `allow_pickle=False`.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MAX_ITEMS = 2000
"""Items kept in a model (the most popular); B is MAX_ITEMS² floats."""
LAMBDA = 200.0
Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Model:
    items: list[str]
    """`item_type:item_id` of each column."""
    popularity: Floats
    similarity: Floats

    def index(self) -> dict[str, int]:
        """Column of each item (built once per model: it is asked on every request)."""
        cached: dict[str, int] | None = self.__dict__.get("_index")
        if cached is None:
            cached = {item: i for i, item in enumerate(self.items)}
            object.__setattr__(self, "_index", cached)
        return cached

    def of_type(self, item_type: str) -> npt.NDArray[np.bool_]:
        """Which columns are items of `item_type` (built once per model and type)."""
        masks: dict[str, npt.NDArray[np.bool_]] = self.__dict__.setdefault("_masks", {})
        if item_type not in masks:
            prefix = item_type + ":"
            masks[item_type] = np.array([i.startswith(prefix) for i in self.items], dtype=bool)
        return masks[item_type]

    def scores(self, vector: Floats) -> Floats:
        """`vector @ similarity`, reading only the rows of the items the user has touched: a
        few dozen of up to 2,000, where the full product reads all 16 MB of the matrix."""
        touched = np.flatnonzero(vector)
        return vector[touched] @ self.similarity[touched]

    def because(self, vector: Floats, column: int) -> int:
        """The user's item that contributes most to `column`'s score: the reason to show."""
        touched = np.flatnonzero(vector)
        return int(touched[np.argmax(vector[touched] * self.similarity[touched, column])])

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            items=np.array(self.items, dtype=np.str_),
            popularity=self.popularity,
            similarity=self.similarity,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Model:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return cls(
                [str(i) for i in arrays["items"]], arrays["popularity"], arrays["similarity"]
            )


def train(
    interactions: Iterable[tuple[str, str, float]],
    regularisation: float = LAMBDA,
    max_items: int = MAX_ITEMS,
) -> Model:
    """Fit EASE on (user, item, weight) triples (later ones for a pair replace earlier ones)."""
    latest: dict[tuple[str, str], float] = {}
    for user, item, value in interactions:
        latest[(user, item)] = value
    counts: dict[str, int] = {}
    for (_, item), value in latest.items():
        if value > 0:
            counts[item] = counts.get(item, 0) + 1
    items = sorted(counts, key=lambda i: (-counts[i], i))[:max_items]
    column = {item: i for i, item in enumerate(items)}
    users = sorted({user for user, _ in latest})
    row = {user: i for i, user in enumerate(users)}
    matrix = np.zeros((len(users), len(items)), dtype=np.float32)
    for (user, item), value in latest.items():
        if item in column and value > 0:
            matrix[row[user], column[item]] = value
    gram = matrix.T @ matrix + regularisation * np.eye(len(items), dtype=np.float32)
    inverse = np.linalg.inv(gram)
    similarity = (-inverse / np.diag(inverse)).astype(np.float32)
    np.fill_diagonal(similarity, 0.0)
    popularity = np.array([counts[i] for i in items], dtype=np.float32)
    return Model(items, popularity, similarity)
