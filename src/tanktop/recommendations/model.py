"""The recommender: the whole catalog as sparse item-item neighbour lists.

Training turns a service's history into a sparse user x item matrix X of implicit weights. The
`head_items` most popular items get EASE (Steck 2019): B = I - P / diag(P) with P = (XᵀX + λI)⁻¹
over the head (diagonal zeroed), its cost cubic in the head; with the catalog's genres, XᵀX
gains each pair's genre cosine times `genre_users`, as if that many more users had acted on both
(MovieLens NDCG@10 over tuned EASE, validation splits carved from the training part: random
+4.7% -> +5.4% on average over four, temporal +6.8% -> +6.9%; at 3, the best of 1-20; every
genre alike, which beat weighing them by their IDF), and their closeness in release year (a
Gaussian of `YEAR_WIDTH` years) times `year_users` (at 1, over eight random validation splits
+5.2% -> +5.8%, 7 of 8 up; temporal +6.9% -> +7.4%). Every item also gets its item-kNN
neighbours (cosine of X's columns, shrunk), computed in blocks of items so memory stays bounded
whatever the catalog. The model is the dense EASE block over the head and a sparse matrix of
each item's `neighbours` nearest by kNN less those EASE gives (for a head item: those of its
nearest that are in the tail; giving it its nearest tail items instead, however far, let weak
tail items crowd the answers: MovieLens NDCG@10 0.339), scaled by the factor that best maps kNN
onto EASE where both exist (least squares over the head's pairs), so a head and a tail item
compete on one scale. Together they are one item-item matrix S (rows: an item a user acted on;
columns: what it recommends). EASE stays dense: keeping only its strongest entries per row cost
3-8% NDCG@10 on MovieLens.

Beside S, a sparse sequence matrix Q: items that users acted on within `SEQUENCE_WINDOW` acts
of each other (in the order of their first act on each), over the square root of the acted-on
item's popularity times the recommended item's to the power `SEQUENCE_POPULARITY` (plus a
shrinkage), each row's `neighbours` strongest. It carries what co-occurrence over a whole
history does not: what people go on to watch next, and the batches in which they discover
(MovieLens NDCG@10 on a validation part carved from the training part, tuned EASE against the
served model: random split 0.223 -> 0.232 with more coverage; temporal 0.181 -> 0.200). A
user's scores are their weights times S, plus their weights times Q scaled twice (`Blend`,
from the settings at serving): by `sequence_weight / sqrt(their item count)` (the whole
history, so a long one does not swamp EASE) and by `recent_weight * 0.5 ** (age /
recent_items)`, age being how many of their items they touched since (their latest acts say
most about what is next). A genre part adds to each item S or Q scores its genre cosine with
the genres of what the user likes (the catalog's, given at training), times `Blend.genres` of
the user's strongest score: MovieLens validation NDCG@10 against tuned EASE +4.1% -> +4.7%
(random split), +3.9% -> +5.3% (each user's latest 20%). Only a re-ranking: over every item
it scored the same there, and cost every column of a 100,000-item catalog at serving. Each
genre weighs its IDF (log of the items over those that have it) to the power `genre_idf`, so
a genre most items share says little: +0.6 to +0.8 points on each of four random validation
splits, +0.7 temporal. A year
part does the same with release years (the catalog's, given at training): each scored item's
closeness to the years of what the user likes (their likings summed by year, smoothed over
`YEAR_WIDTH` years, the busiest year 1), times `Blend.years` of the strongest score.

Serving needs no retrain for new events: a user's scores are sparse sums over the few rows of
their own items. Columns are in popularity order (most popular first), which is also the order
newcomers and fill-ups take. Arrays are saved with `numpy.savez` (no pickle) and loaded with
`allow_pickle=False`.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

HEAD_ITEMS = 2000
"""Items EASE is solved over (the most popular); its dense matrix is HEAD_ITEMS² floats."""
NEIGHBOURS = 100
"""Neighbours each item keeps from EASE, and as many again from item-kNN."""
LAMBDA = 200.0
SHRINK = 10.0
"""kNN's shrinkage: co-occurrence between rarely-seen items counts for less."""
SEQUENCE_WINDOW = 3
"""Acts this close in a user's order count as a sequence pair."""
SEQUENCE_SHRINK = 5.0
SEQUENCE_POPULARITY = 0.6
"""Q divides by the square root of the acted-on item's popularity and by the recommended
item's to this power: a little over cosine's 0.5 keeps the most popular from crowding out
the rest (MovieLens validation NDCG@10 +1.8% on the random split, +1% temporal; more
coverage)."""
YEAR_WIDTH = 5.0
"""The year part's smoothing, and the width of EASE's closeness in year: a year counts half
at about 1.2 times this many years from it (a Gaussian of this standard deviation)."""
SIDE_ROWS = 512
"""Rows of the head's Gram matrix that genres and years are added to at a time (a block's
temporaries: a few of 512 x head floats, 20 MiB each at a head of 10,000)."""
BLOCK_PRODUCTS = 20_000_000
"""About how many co-occurrence products one kNN block computes (bounds its memory)."""
Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Blend:
    """How a user's weights scale Q (the settings' `sequence_weight`, `recent_weight`,
    `recent_items`), the genre and year parts (`genre_weight`, `year_weight`) and the
    popularity debiasing (`popularity_power`); read at serving, like the half-life."""

    overall: float = 0.0
    recent: float = 0.0
    recent_items: float = 10.0
    genres: float = 0.0
    """How much the genre part adds, as a share of the user's strongest score."""
    popularity: float = 0.0
    """The power of an item's popularity its positive score is divided by."""
    years: float = 0.0
    """How much the year part adds, as a share of the user's strongest score."""

    def sequenced(self, values: Floats) -> Floats:
        """The weights Q takes from a user's weights (oldest act first): likings only, times
        `overall / sqrt(count)` plus `recent` halved every `recent_items` of their later
        items."""
        liked = np.maximum(values, 0.0)
        if not len(liked):
            return liked
        scale = np.full(len(liked), self.overall / np.sqrt(len(liked)), dtype=np.float32)
        if self.recent:
            age = np.arange(len(liked) - 1, -1, -1, dtype=np.float32)
            scale += self.recent * np.float32(0.5) ** (age / np.float32(self.recent_items))
        sequenced: Floats = (liked * scale).astype(np.float32)
        return sequenced


NO_BLEND = Blend()


@dataclass(frozen=True)
class Model:
    items: list[str]
    """`item_type:item_id` of each column, most popular first."""
    popularity: Floats
    """Users with a positive weight on each item."""
    head: Floats
    """S over the first `len(head)` columns: EASE's B."""
    indptr: Ints
    """Row `i` of S outside the head block is `indices[indptr[i]:indptr[i+1]]` with
    `weights[...]`."""
    indices: npt.NDArray[np.int32]
    weights: Floats
    sequence: Sparse
    """Q, the sequence matrix (rows like S's)."""
    genres: Sparse
    """Each column's genres (rows: columns; indices: genre numbers), each weighing its IDF to
    the power `genre_idf`, scaled so a row's length is 1 and a product of two rows is their
    genres' cosine."""
    years: npt.NDArray[np.int32]
    """Each column's release year (0: not known)."""

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
            masks[item_type] = np.char.startswith(
                np.array(self.items, dtype=np.str_), item_type + ":"
            )
        return masks[item_type]

    def row(self, column: int) -> tuple[npt.NDArray[np.int32], Floats]:
        """What `column` recommends: its neighbours' columns and weights (its head row's
        non-zero entries first)."""
        start, end = self.indptr[column], self.indptr[column + 1]
        columns, weights = self.indices[start:end], self.weights[start:end]
        if column < len(self.head):
            near = np.flatnonzero(self.head[column]).astype(np.int32)
            columns = np.concatenate([near, columns])
            weights = np.concatenate([self.head[column, near], weights])
        return columns, weights

    def scores(self, touched: Ints, values: Floats, blend: Blend = NO_BLEND) -> Floats:
        """Σ values[t] · S[touched[t]] + Σ sequenced[t] · Q[touched[t]] as a dense vector over
        the columns (`touched` oldest act first; `sequenced` as `blend` says): only the rows
        of the user's own items are read (a few hundred sparse entries each, the head block's
        rows for head items); zero where none of them recommends an item. Then, on the items
        scored, as `blend` says: the genre and year parts add a share of the strongest score
        by closeness to the user's items, and a positive score is divided by the item's
        popularity to a power (the parts re-rank what the model scores; they add no items)."""
        summed = np.zeros(len(self.items), dtype=np.float32)
        self.rows().add(touched, values, summed)
        self.sequence.add(touched, blend.sequenced(values), summed)
        in_head = touched < len(self.head)
        if in_head.any():
            summed[: len(self.head)] += values[in_head] @ self.head[touched[in_head]]
        if blend.genres and len(self.genres.weights):
            _add_part(
                summed, blend.genres, lambda scored: self.genre_match(touched, values, scored)
            )
        if blend.years and self.years.any():
            _add_part(
                summed, blend.years, lambda scored: self.year_closeness(touched, values, scored)
            )
        if blend.popularity:
            liked = np.flatnonzero(summed > 0)
            summed[liked] *= self._debiasing(blend.popularity)[liked]
        return summed

    def _debiasing(self, power: float) -> Floats:
        """popularity ** -power (kept per model for the last power asked: a pass of `**`
        over a large catalog costs more than the multiplication)."""
        kept: tuple[float, Floats] | None = self.__dict__.get("_debiasing_")
        if kept is None or kept[0] != power:
            factors = np.maximum(self.popularity, 1.0) ** np.float32(-power)
            kept = (power, factors.astype(np.float32))
            object.__setattr__(self, "_debiasing_", kept)
        return kept[1]

    def genre_match(self, touched: Ints, values: Floats, columns: Ints | None = None) -> Floats:
        """Each of `columns`' (default: all) genre cosine with the user's genre profile (the
        genres of the items they like, summed by their weights), over their few entries."""
        if columns is None:
            columns = np.arange(len(self.items))
        found: Floats = np.zeros(len(columns), dtype=np.float32)
        profile = np.zeros(self._genre_count(), dtype=np.float32)
        self.genres.add(touched, np.maximum(values, 0.0), profile)
        norm = float(np.linalg.norm(profile))
        if norm > 0:
            owners, genres, weights = self.genres.entries(columns)
            weighted = weights * profile[genres]
            found = (np.bincount(owners, weighted, len(columns)) / norm).astype(np.float32)
        return found

    def year_closeness(self, touched: Ints, values: Floats, columns: Ints) -> Floats:
        """Each of `columns`' closeness in release year to what the user likes: their likings
        summed by year and smoothed over `YEAR_WIDTH` years, read at the column's year and
        scaled so the user's busiest year is 1 (0 for a column of no known year, or a user
        who likes nothing with one)."""
        found: Floats = np.zeros(len(columns), dtype=np.float32)
        mine = self.years[touched]
        known = (mine > 0) & (values > 0)
        if not known.any():
            return found
        reach = int(3 * YEAR_WIDTH)
        first = int(mine[known].min()) - reach
        profile = np.bincount(
            mine[known] - first, values[known], int(mine[known].max()) - first + reach + 1
        )
        offsets = np.arange(-reach, reach + 1)
        profile = np.convolve(profile, np.exp(-0.5 * (offsets / YEAR_WIDTH) ** 2), mode="same")
        theirs = self.years[columns] - first
        inside = (self.years[columns] > 0) & (theirs >= 0) & (theirs < len(profile))
        found[inside] = profile[theirs[inside]] / profile.max()
        return found

    def _genre_count(self) -> int:
        """How many genres the model numbers (found once per model)."""
        count: int | None = self.__dict__.get("_genre_count_")
        if count is None:
            count = int(self.genres.indices.max(initial=-1)) + 1
            object.__setattr__(self, "_genre_count_", count)
        return count

    def _genre_rows(self, columns: Ints) -> npt.NDArray[np.float32]:
        """The genre rows of a few `columns`, dense (columns x genres)."""
        rows = np.zeros((len(columns), self._genre_count()), dtype=np.float32)
        owners, genres, weights = self.genres.entries(columns)
        rows[owners, genres] = weights
        return rows

    def rows(self) -> Sparse:
        """S outside the head block, as a `Sparse`."""
        return Sparse(self.indptr, self.indices, self.weights)

    def because(
        self, touched: Ints, values: Floats, columns: Ints, blend: Blend = NO_BLEND
    ) -> list[int | None]:
        """For each of `columns`, the user's item that contributes most to its score: the
        reason to show (None: none of them adds to it). One pass over the user's rows for
        all the columns asked; a column none of them adds to, which the genre part lifted, is
        like the item the user likes that shares most of its genres."""
        if not len(touched):
            return [None] * len(columns)
        contributions = np.zeros((len(touched), len(columns)))
        self.rows().contribute(touched, values, columns, contributions)
        self.sequence.contribute(touched, blend.sequenced(values), columns, contributions)
        head = len(self.head)
        rows, cols = np.flatnonzero(touched < head), np.flatnonzero(columns < head)
        if len(rows) and len(cols):
            block = self.head[np.ix_(touched[rows], columns[cols])]
            contributions[np.ix_(rows, cols)] += values[rows, None] * block
        unexplained = contributions.max(axis=0) <= 0
        if blend.genres and len(self.genres.weights) and unexplained.any():
            # scored by the genre part alone: the liked item sharing most of its genres
            shares = self._genre_rows(touched) @ self._genre_rows(columns[unexplained]).T
            contributions[:, unexplained] = np.maximum(values, 0.0)[:, None] * shares
        best = np.argmax(contributions, axis=0)
        return [
            int(touched[b]) if contributions[b, n] > 0 else None
            for n, b in enumerate(best.tolist())
        ]

    def top(
        self,
        scores: Floats,
        *,
        excluded: Iterable[int],
        count: int,
        item_type: str | None = None,
    ) -> Ints:
        """The best `count` columns (of `item_type`, if given) by `scores`: those with a
        positive score best first, then the most popular of those with none, then those the
        user's items score negatively; never an excluded one. No sort of all the columns:
        a large catalog costs a few of numpy's passes over them."""
        allowed = np.ones(len(self.items), dtype=bool)
        if item_type is not None:
            allowed &= self.of_type(item_type)
        allowed[np.fromiter(excluded, dtype=np.int64)] = False
        best = _best(np.flatnonzero(allowed & (scores > 0)), scores, count)
        if len(best) < count:
            unscored = np.flatnonzero(allowed & (scores == 0))[: count - len(best)]
            best = np.concatenate([best, unscored])
        if len(best) < count:
            disliked = _best(np.flatnonzero(allowed & (scores < 0)), scores, count - len(best))
            best = np.concatenate([best, disliked])
        return best

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            items=np.array(self.items, dtype=np.str_),
            popularity=self.popularity,
            head=self.head,
            indptr=self.indptr,
            indices=self.indices,
            weights=self.weights,
            sequence_indptr=self.sequence.indptr,
            sequence_indices=self.sequence.indices,
            sequence_weights=self.sequence.weights,
            genre_indptr=self.genres.indptr,
            genre_indices=self.genres.indices,
            genre_weights=self.genres.weights,
            years=self.years,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Model:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            sequenced = "sequence_indptr" in arrays.files
            return cls(
                arrays["items"].tolist(),
                arrays["popularity"],
                arrays["head"],
                arrays["indptr"],
                arrays["indices"],
                arrays["weights"],
                Sparse(
                    arrays["sequence_indptr"],
                    arrays["sequence_indices"],
                    arrays["sequence_weights"],
                )
                if sequenced  # a model stored before Q existed: no sequence part
                else Sparse.empty(len(arrays["items"])),
                Sparse(arrays["genre_indptr"], arrays["genre_indices"], arrays["genre_weights"])
                if "genre_indptr" in arrays.files  # stored before the genre part: none
                else Sparse.empty(len(arrays["items"])),
                arrays["years"]
                if "years" in arrays.files  # stored before the year part: none known
                else np.zeros(len(arrays["items"]), dtype=np.int32),
            )


@dataclass(frozen=True)
class Sparse:
    """Item-item rows in CSR form: row `i` is `indices[indptr[i]:indptr[i+1]]` with
    `weights[...]`."""

    indptr: Ints
    indices: npt.NDArray[np.int32]
    weights: Floats

    @classmethod
    def empty(cls, n: int) -> Sparse:
        return cls(np.zeros(n + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32))

    @classmethod
    def of(cls, matrix: sp.csr_matrix) -> Sparse:
        return cls(
            matrix.indptr.astype(np.int64),
            matrix.indices.astype(np.int32),
            matrix.data.astype(np.float32),
        )

    def positions(self, touched: Ints) -> tuple[Ints, Ints]:
        """Where the rows of `touched` are in `indices`/`weights`, and their lengths."""
        starts = self.indptr[touched]
        lengths = self.indptr[touched + 1] - starts
        return _ranges(starts, lengths), lengths

    def entries(self, touched: Ints) -> tuple[Ints, npt.NDArray[np.int32], Floats]:
        """The rows of `touched` as (owner, index, weight) triples, `owner` being the
        position in `touched` of the row an entry is in."""
        positions, lengths = self.positions(touched)
        owners = np.repeat(np.arange(len(touched)), lengths)
        return owners, self.indices[positions], self.weights[positions]

    def add(self, touched: Ints, values: Floats, into: Floats) -> None:
        """into += Σ values[t] · row(touched[t])."""
        positions, lengths = self.positions(touched)
        if len(positions):
            weighted = self.weights[positions] * np.repeat(values, lengths)
            into += np.bincount(self.indices[positions], weighted, minlength=len(into)).astype(
                np.float32
            )

    def contribute(
        self, touched: Ints, values: Floats, columns: Ints, contributions: npt.NDArray[np.float64]
    ) -> None:
        """contributions[t, n] += values[t] · row(touched[t])[columns[n]]."""
        positions, lengths = self.positions(touched)
        wanted = np.isin(self.indices[positions], columns)
        if wanted.any():
            found = positions[wanted]
            sources = np.repeat(np.arange(len(touched)), lengths)[wanted]
            order = np.argsort(columns)
            targets = order[np.searchsorted(columns, self.indices[found], sorter=order)]
            np.add.at(contributions, (sources, targets), values[sources] * self.weights[found])


def _best(columns: Ints, scores: Floats, count: int) -> Ints:
    """The `count` of `columns` with the highest scores, best first."""
    if len(columns) > count:
        columns = columns[np.argpartition(-scores[columns], count)[:count]]
    return columns[np.argsort(-scores[columns], kind="stable")]


def _ranges(starts: Ints, lengths: Ints) -> Ints:
    """The concatenation of range(start, start + length) for each pair, without a loop."""
    total = int(lengths.sum())
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    return offsets + np.arange(total, dtype=np.int64)


def train(
    interactions: Iterable[tuple[str, str, float]],
    regularisation: float = LAMBDA,
    head_items: int = HEAD_ITEMS,
    neighbours: int = NEIGHBOURS,
    genres: Mapping[str, Sequence[str]] | None = None,
    years: Mapping[str, int] | None = None,
    genre_idf: float = 1.0,
    genre_users: float = 0.0,
    year_users: float = 0.0,
) -> Model:
    """Fit on (user, item, weight) triples in time order (later ones for a pair replace
    earlier ones; a user's items are in sequence in the order of their first triple);
    `genres` and `years`: the catalog's genres and release years of items (by the same keys),
    for the genre and year parts (a genre weighing its IDF to the power `genre_idf`), and for
    EASE: two head items' genre cosine times `genre_users`, and their closeness in release year
    times `year_users`, are added to their co-occurrence."""
    latest: dict[tuple[str, str], float] = {}
    for user, item, value in interactions:
        latest[(user, item)] = value
    counts: dict[str, int] = {}
    for (_, item), value in latest.items():
        if value > 0:
            counts[item] = counts.get(item, 0) + 1
    items = sorted(counts, key=lambda i: (-counts[i], i))
    column = {item: i for i, item in enumerate(items)}
    rows: dict[str, int] = {}
    coo = [
        (rows.setdefault(user, len(rows)), column[item], value)
        for (user, item), value in latest.items()
        if value > 0
    ]
    popularity = np.array([counts[i] for i in items], dtype=np.float32)
    if not coo:
        empty = np.zeros(0, dtype=np.float32)
        square = np.zeros((0, 0), dtype=np.float32)
        return Model(
            [],
            empty,
            square,
            np.zeros(1, np.int64),
            np.zeros(0, np.int32),
            empty,
            Sparse.empty(0),
            Sparse.empty(0),
            np.zeros(0, np.int32),
        )
    r, c, v = zip(*coo, strict=True)
    matrix = sp.csr_matrix(
        (np.array(v, dtype=np.float32), (np.array(r), np.array(c))),
        shape=(len(rows), len(items)),
    )
    head = min(head_items, len(items))
    alike = _genre_rows(items[:head], genres) if genre_users and genres else None
    item_years = np.array([(years or {}).get(i, 0) for i in items], dtype=np.int32)
    known = item_years[:head].astype(np.float32) if year_users and years else None
    ease = _ease(matrix[:, :head], regularisation, alike, genre_users, known, year_users)
    tail, pairs = _knn(matrix, head, neighbours)
    similarity = _scaled(ease, tail, pairs)
    return Model(
        items,
        popularity,
        ease,
        similarity.indptr.astype(np.int64),
        similarity.indices.astype(np.int32),
        similarity.data.astype(np.float32),
        Sparse.of(_sequence(np.array(r), np.array(c), popularity, neighbours)),
        _genres(items, genres or {}, genre_idf),
        item_years,
    )


def _add_part(summed: Floats, share: float, closeness: Callable[[Ints], Floats]) -> None:
    """A content part on the items scored: `closeness` of each (0-1) times `share` of the
    strongest score, added in place (it re-ranks what the model scores; it adds no items)."""
    scored = np.flatnonzero(summed != 0)  # of a bool array: many times faster
    summed[scored] += (share * float(np.abs(summed).max())) * closeness(scored)


def _genres(items: list[str], genres: Mapping[str, Sequence[str]], idf: float) -> Sparse:
    """Each of `items`' genres (numbered in name order), weighing log(items / items with it)
    to the power `idf` (0: all alike), each item's scaled to length 1 (a genre every item has
    weighs 0; an item with only such genres, none)."""
    names = {
        name: n for n, name in enumerate(sorted({g for i in items for g in genres.get(i, ())}))
    }
    lengths = np.array([len(set(genres.get(i, ()))) for i in items], dtype=np.int64)
    indices = np.array(
        [names[g] for i in items for g in sorted(set(genres.get(i, ())))], dtype=np.int32
    )
    having = np.bincount(indices, minlength=len(names)).astype(np.float64)
    informative = np.log(len(items) / np.maximum(having, 1.0)) ** idf
    weighed = informative[indices]
    owners = np.repeat(np.arange(len(items)), lengths)
    norms = np.sqrt(np.bincount(owners, weighed**2, len(items)))[owners]
    weights = np.divide(weighed, norms, out=np.zeros_like(weighed), where=norms > 0)
    return Sparse(
        np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        indices,
        weights.astype(np.float32),
    )


def _sequence(users: Ints, columns: Ints, popularity: Floats, k: int) -> sp.csr_matrix:
    """Q: how often two items are acted on within `SEQUENCE_WINDOW` acts of each other by
    one user (`users`/`columns`: each user's acts in order), over the geometric mean of their
    popularity plus `SEQUENCE_SHRINK`; each row's `k` strongest."""
    n = len(popularity)
    order = np.argsort(users, kind="stable")  # each user's acts together, still in order
    users, columns = users[order], columns[order]
    sources, targets = [], []
    for offset in range(1, SEQUENCE_WINDOW + 1):
        same = users[:-offset] == users[offset:]
        sources += [columns[:-offset][same], columns[offset:][same]]
        targets += [columns[offset:][same], columns[:-offset][same]]
    rows, cols = np.concatenate(sources), np.concatenate(targets)
    counted = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n), dtype=np.float32
    )
    counted.sum_duplicates()
    counted.setdiag(0)
    counted.eliminate_zeros()
    seen = popularity.astype(np.float64)
    at = np.repeat(np.arange(n), np.diff(counted.indptr))
    scale = np.sqrt(seen[at]) * seen[counted.indices] ** SEQUENCE_POPULARITY + SEQUENCE_SHRINK
    counted.data = (counted.data / scale).astype(np.float32)
    kept = _top(counted, k)
    kept.sort_indices()
    return kept


def _genre_rows(items: list[str], genres: Mapping[str, Sequence[str]]) -> Floats:
    """Each of `items`' genres (every genre alike), a dense item x genre row of length 1:
    few genres, so one BLAS product gives the pairs' cosines with no sparse temporaries."""
    alike = _genres(items, genres, 0.0)
    rows = np.zeros((len(items), int(alike.indices.max(initial=-1)) + 1), dtype=np.float32)
    rows[np.repeat(np.arange(len(items)), np.diff(alike.indptr)), alike.indices] = alike.weights
    return rows


def _ease(
    head: sp.csr_matrix,
    regularisation: float,
    genres: Floats | None = None,
    genre_users: float = 0.0,
    years: Floats | None = None,
    year_users: float = 0.0,
) -> npt.NDArray[np.float32]:
    """EASE's B over the head's columns (dense: the head is bounded). Side information is
    added to the co-occurrence as if that many more users had acted on both items (as SSLIM
    does for SLIM: Ning and Karypis 2012), so EASE can also link items few users share:
    `genre_users` times the genre cosine of each pair (`genres`: `_genre_rows`) and
    `year_users` times their closeness in release year (a Gaussian of `YEAR_WIDTH` years; 0
    for an item of no known year): films of one era are watched together beyond their
    genres. Both go straight into the Gram matrix, `SIDE_ROWS` rows at a time (a separate
    dense matrix built from sparse products peaked at about four times its size: 1.5 GiB at
    a head of 10,000)."""
    gram = (head.T @ head).toarray().astype(np.float32, copy=False)
    # a contiguous transpose: BLAS is 9x as fast as with the view `genres.T` (measured)
    across = np.ascontiguousarray((genres if genres is not None else gram[:0]).T)
    for start in range(0, len(gram) if genre_users or year_users else 0, SIDE_ROWS):
        rows = slice(start, start + SIDE_ROWS)
        if genres is not None:
            gram[rows] += np.float32(genre_users) * (genres[rows] @ across)
        if years is not None:
            apart = (years[rows, None] - years[None, :]) / np.float32(YEAR_WIDTH)
            close = np.float32(year_users) * np.exp(np.float32(-0.5) * apart**2)
            close[years[rows] == 0] = 0.0
            close[:, years == 0] = 0.0
            gram[rows] += close
    gram[np.diag_indices_from(gram)] += regularisation
    inverse: Floats = np.linalg.inv(gram)
    del gram
    inverse /= -np.diag(inverse).copy()  # in place: B is the head's largest array
    np.fill_diagonal(inverse, 0.0)
    return inverse


def _knn(matrix: sp.csr_matrix, head: int, k: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Item-kNN (shrunk cosine of the columns), computed a block of items at a time: a
    block's co-occurrence products are bounded (`BLOCK_PRODUCTS`), so a popular item, which
    co-occurs with most of the catalog, gets a block of its own size. Of each item's `k`
    nearest, returns those EASE does not give it (for a head item: those outside the head),
    and each head item's in the head (to put kNN on EASE's scale)."""
    n = matrix.shape[1]
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
    by_item = matrix.T.tocsr()
    per_user = np.diff(matrix.indptr).astype(np.float64)
    work = (by_item != 0).astype(np.float64) @ per_user
    tails: list[sp.csr_matrix] = []
    pairs: list[sp.csr_matrix] = []
    start = 0
    while start < n:
        end = start + 1
        budget = work[start]
        while end < n and end != head and budget + work[end] <= BLOCK_PRODUCTS:
            budget += work[end]
            end += 1
        co = sp.csr_matrix(by_item[start:end] @ matrix)
        co.setdiag(0, k=start)
        co.eliminate_zeros()
        rows = np.repeat(np.arange(start, end), np.diff(co.indptr))
        co.data = (co.data / (norms[rows] * norms[co.indices] + SHRINK)).astype(np.float32)
        nearest = _top(co, k)
        if start < head:  # blocks never straddle the head's end
            pairs.append(_columns(nearest, 0, head))
            tails.append(_columns(nearest, head, n))
        else:
            tails.append(nearest)
        start = end
    return sp.csr_matrix(sp.vstack(tails)), sp.csr_matrix(sp.vstack(pairs))


def _columns(block: sp.csr_matrix, start: int, end: int) -> sp.csr_matrix:
    """`block` with only its columns in [start, end) (the shape kept)."""
    kept = block.copy()
    outside = (kept.indices < start) | (kept.indices >= end)
    kept.data[outside] = 0
    kept.eliminate_zeros()
    return kept


def _top(block: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Each row's `k` entries of largest magnitude."""
    lengths = np.diff(block.indptr)
    if lengths.max(initial=0) <= k:
        return block
    keep = np.ones(block.nnz, dtype=bool)
    for i in np.flatnonzero(lengths > k):
        start, end = block.indptr[i], block.indptr[i + 1]
        weakest = np.argpartition(-np.abs(block.data[start:end]), k)[k:]
        keep[start + weakest] = False
    rows = np.repeat(np.arange(block.shape[0]), lengths)[keep]
    return sp.csr_matrix(
        (block.data[keep], (rows, block.indices[keep])), shape=block.shape, dtype=np.float32
    )


def _scaled(
    ease: npt.NDArray[np.float32], tail: sp.csr_matrix, pairs: sp.csr_matrix
) -> sp.csr_matrix:
    """The kNN entries EASE does not give, put on EASE's scale: times the least-squares
    factor from kNN to EASE over the head pairs both have."""
    pairs = pairs.tocoo()
    measured = pairs.data.astype(np.float64)
    fitted = ease[pairs.row, pairs.col].astype(np.float64)
    denominator = float(measured @ measured)
    scale = float(fitted @ measured) / denominator if denominator > 0 else 1.0
    scaled = sp.csr_matrix(tail * (scale if scale > 0 else 1.0), dtype=np.float32)
    scaled.sort_indices()
    return scaled
