"""Baseline recommenders behind one small protocol: popularity, item-kNN, EASE, ALS (implicit), SASRec-CE, content.

Every model is a *fold-in* model: it is fitted once on the training split, then scores any history (liked /
disliked item indices, optional text vector) against every item. That is what lets the same evaluation run
known users, cold profiles and text-only profiles through every model. Models that cannot use a signal
(e.g. EASE given only text) fall back to popularity, through a tiny popularity tie-breaker added to every score.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from ranking.data import History, Split, item_popularity, positive_matrix
from ranking.metrics import mask_excluded, ndcg, target_ranks

TIE_BREAK = 1e-6  # weight of the normalised popularity added to every model's scores, to break ties sensibly


class Recommender(Protocol):
    """A model that is fitted on a split and then scores every item for any history."""

    name: str

    def fit(self, split: Split, item_vectors: np.ndarray) -> None:
        """Learn from the training part of `split`; `item_vectors` (N, 384) are the items' content vectors."""
        ...

    def score(self, histories: Sequence[History]) -> np.ndarray:
        """(B, N) scores of every item for each history; higher is better."""
        ...


def _liked_matrix(histories: Sequence[History], n_items: int):
    """(B, N) CSR matrix with 1.0 where a history liked an item."""
    import scipy.sparse as sp

    rows, cols = [], []
    for r, h in enumerate(histories):
        liked = np.unique(h.liked)
        rows.extend([r] * len(liked))
        cols.extend(liked.tolist())
    data = np.ones(len(rows), dtype=np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(len(histories), n_items))


class _PopularityTieBreak:
    """Mixin: remembers normalised popularity and adds it, tiny, to scores."""

    _pop: np.ndarray

    def _remember_popularity(self, split: Split) -> None:
        pop = item_popularity(split)
        self._pop = (pop / max(pop.max(), 1.0)).astype(np.float32)  # (N,)

    def _with_tie_break(self, scores: np.ndarray) -> np.ndarray:
        return np.asarray(scores, dtype=np.float32) + TIE_BREAK * self._pop[None, :]


class Popularity(_PopularityTieBreak):
    """Most-liked items first, the same list for everyone."""

    name = "popularity"

    def fit(self, split: Split, item_vectors: np.ndarray) -> None:
        """Count training positives per item."""
        self._remember_popularity(split)

    def score(self, histories: Sequence[History]) -> np.ndarray:
        """Popularity for every history."""
        return np.repeat(self._pop[None, :], len(histories), axis=0)


class ItemKNN(_PopularityTieBreak):
    """Item-based kNN: cosine similarity of item columns, the `neighbours` most similar kept per item."""

    name = "item-knn"

    def __init__(self, neighbours: int = 100, shrink: float = 10.0) -> None:
        self.neighbours = neighbours  # similar items kept per item
        self.shrink = shrink  # added to the cosine denominator, damps pairs with little support

    def fit(self, split: Split, item_vectors: np.ndarray) -> None:
        """Compute the pruned item-item cosine similarity matrix."""
        import scipy.sparse as sp

        self._remember_popularity(split)
        x = positive_matrix(split).tocsc()  # (U, N)
        co = (x.T @ x).toarray().astype(np.float32)  # (N, N) co-occurrence
        norms = np.sqrt(np.diag(co)).astype(np.float32)  # (N,)
        sim = co / (np.outer(norms, norms) + self.shrink + 1e-9)
        np.fill_diagonal(sim, 0.0)
        k = min(self.neighbours, sim.shape[0] - 1)
        if k > 0:
            drop = np.argpartition(-sim, k, axis=1)[:, k:]  # (N, N-k) everything but the top k per row
            np.put_along_axis(sim, drop, 0.0, axis=1)
        self._sim = sp.csr_matrix(sim)  # (N, N), row i = neighbours of item i

    def score(self, histories: Sequence[History]) -> np.ndarray:
        """Sum of similarities to the liked items."""
        liked = _liked_matrix(histories, self._sim.shape[0])  # (B, N)
        return self._with_tie_break((liked @ self._sim).toarray())


class EASE(_PopularityTieBreak):
    """EASE (Steck 2019): closed-form item-item weights B = I - P / diag(P), P = (X^T X + lambda I)^-1.

    The ridge penalty is chosen on the split's validation targets from `l2_grid` (the same care the interest
    model gets), so the baseline is as strong as its own tuning makes it.
    """

    name = "ease"

    def __init__(self, l2: float | None = None, l2_grid: Sequence[float] = (50.0, 100.0, 300.0, 1000.0)) -> None:
        self.l2_grid = (float(l2),) if l2 is not None else tuple(l2_grid)  # ridge penalties lambda tried
        self.l2 = self.l2_grid[0]  # the chosen penalty

    def fit(self, split: Split, item_vectors: np.ndarray) -> None:
        """Solve for the item-item weights over the items that have any training positive; pick lambda on validation."""
        self._remember_popularity(split)
        x = positive_matrix(split)  # (U, N)
        active = np.flatnonzero(np.asarray(x.sum(axis=0)).ravel() > 0)  # items with a positive
        xa = x[:, active]
        gram = (xa.T @ xa).toarray().astype(np.float64)  # (A, A)
        self._active = active
        self._n = split.n_items
        best = -1.0
        chosen = None
        for l2 in self.l2_grid:
            g = gram.copy()
            g[np.diag_indices_from(g)] += l2
            p = np.linalg.inv(g)
            b = -p / np.diag(p)[None, :]
            np.fill_diagonal(b, 0.0)
            self._b = b.astype(np.float32)  # (A, A)
            if len(self.l2_grid) == 1 or not split.valid_histories:
                chosen = (l2, self._b)
                break
            scores = mask_excluded(self.score(split.valid_histories), [h.items for h in split.valid_histories])
            value = ndcg(target_ranks(scores, split.valid_targets), 10)
            if value > best:
                best, chosen = value, (l2, self._b)
        self.l2, self._b = chosen

    def score(self, histories: Sequence[History]) -> np.ndarray:
        """Liked-item vector times the EASE weights."""
        liked = _liked_matrix(histories, self._n)[:, self._active]  # (B, A)
        out = np.zeros((len(histories), self._n), dtype=np.float32)
        out[:, self._active] = liked @ self._b
        return self._with_tie_break(out)


class ALS(_PopularityTieBreak):
    """Implicit-feedback matrix factorisation from the `implicit` library; histories are folded in."""

    name = "als"

    def __init__(self, factors: int = 64, regularization: float = 0.05, alpha: float = 2.0,
                 iterations: int = 15, seed: int = 7) -> None:
        self.factors = factors  # latent dimensions
        self.regularization = regularization  # L2 on the factors
        self.alpha = alpha  # confidence weight of a positive
        self.iterations = iterations  # ALS sweeps
        self.seed = seed  # factor initialisation

    def fit(self, split: Split, item_vectors: np.ndarray) -> None:
        """Factorise the training positives."""
        from implicit.cpu.als import AlternatingLeastSquares

        self._remember_popularity(split)
        self._model = AlternatingLeastSquares(
            factors=self.factors, regularization=self.regularization, alpha=self.alpha,
            iterations=self.iterations, random_state=self.seed, num_threads=2,
        )
        self._model.fit(positive_matrix(split), show_progress=False)
        self._n = split.n_items

    def score(self, histories: Sequence[History]) -> np.ndarray:
        """Fold each history in (recalculate its user factors), then dot with the item factors."""
        liked = _liked_matrix(histories, self._n)
        users = self._model.recalculate_user(np.arange(len(histories)), liked)  # (B, F)
        scores = users @ self._model.item_factors.T  # (B, N)
        empty = np.asarray(liked.sum(axis=1)).ravel() == 0
        scores[empty] = 0.0
        return self._with_tie_break(scores)


class ContentOnly(_PopularityTieBreak):
    """MiniLM similarity between a person's (recent) liked items plus what they said, and every item."""

    name = "content"

    def __init__(self, recent: int = 20) -> None:
        self.recent = recent  # how many of the latest liked items form the taste vector

    def fit(self, split: Split, item_vectors: np.ndarray) -> None:
        """Keep the normalised item vectors."""
        self._remember_popularity(split)
        v = np.asarray(item_vectors, dtype=np.float32)
        self._vectors = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)  # (N, D)

    def score(self, histories: Sequence[History]) -> np.ndarray:
        """Cosine of the taste vector with every item."""
        taste = np.zeros((len(histories), self._vectors.shape[1]), dtype=np.float32)  # (B, D)
        for r, h in enumerate(histories):
            liked = h.liked[-self.recent:]
            if len(liked):
                taste[r] += self._vectors[liked].mean(axis=0)
            if h.text_vector is not None:
                taste[r] += np.asarray(h.text_vector, dtype=np.float32)
        return self._with_tie_break(taste @ self._vectors.T)


def _sasrec_ce() -> Recommender:
    """SASRec trained with full cross-entropy (`ranking.sasrec`, torch imported on first fit)."""
    from ranking.sasrec import SASRecCE

    return SASRecCE()


BASELINES: dict[str, Callable[[], Recommender]] = {
    "popularity": Popularity,
    "item-knn": ItemKNN,
    "ease": EASE,
    "als": ALS,
    "sasrec-ce": _sasrec_ce,
    "content": ContentOnly,
}


def make_baseline(name: str) -> Recommender:
    """A fresh, unfitted baseline by name (one of BASELINES)."""
    try:
        return BASELINES[name]()
    except KeyError:
        raise ValueError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}") from None
