"""Ranking metrics in pure numpy: HR@K, NDCG@K, Recall@K, MRR, coverage, intra-list diversity, novelty.

Conventions: `ranks` are 0-based positions of the held-out item in a full ranking (0 = first). A target that
ties with other items is ranked after all of them (pessimistic), so a model that scores everything equal
gets no credit. Excluded items (a person's own history) are removed from the ranking before counting.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mask_excluded(scores: np.ndarray, exclude: Sequence[np.ndarray]) -> np.ndarray:
    """Copy of `scores` (B, N) with each row's excluded item indices set to -inf."""
    out = np.array(scores, dtype=np.float64, copy=True)
    for row, items in enumerate(exclude):
        if len(items):
            out[row, np.asarray(items, dtype=np.int64)] = -np.inf
    return out


def target_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(B,) 0-based rank of each row's target among all items; ties count against the target."""
    scores = np.asarray(scores, dtype=np.float64)
    rows = np.arange(scores.shape[0])
    t = scores[rows, targets][:, None]  # (B, 1)
    greater_or_equal = (scores >= t).sum(axis=1)  # includes the target itself
    return (greater_or_equal - 1).astype(np.int64)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """(B, k) item indices of the k best scores per row, best first (ties by lower index)."""
    scores = np.asarray(scores, dtype=np.float64)
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (B, k) unordered
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    return np.take_along_axis(part, order, axis=1)


def hit_rate(ranks: np.ndarray, k: int) -> float:
    """HR@K: share of people whose held-out item is in their top K."""
    ranks = np.asarray(ranks)
    return float(np.mean(ranks < k)) if len(ranks) else 0.0


def ndcg(ranks: np.ndarray, k: int) -> float:
    """NDCG@K with one relevant item per person: 1/log2(rank+2) inside the top K, else 0."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if not len(ranks):
        return 0.0
    gains = np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)
    return float(np.mean(gains))


def mrr(ranks: np.ndarray) -> float:
    """Mean reciprocal rank over the full ranking (no cut-off)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return float(np.mean(1.0 / (ranks + 1.0))) if len(ranks) else 0.0


def recall(top: np.ndarray, relevant: Sequence[Sequence[int]], k: int) -> float:
    """Recall@K: per person, the share of their relevant items found in their top K; averaged."""
    values = []
    for row, rel in zip(top, relevant):
        rel = set(int(r) for r in rel)
        if rel:
            values.append(len(rel.intersection(int(i) for i in row[:k])) / len(rel))
    return float(np.mean(values)) if values else 0.0


def catalog_coverage(top: np.ndarray, n_items: int) -> float:
    """Share of the catalog that appears in at least one person's top list."""
    if n_items <= 0:
        return 0.0
    return float(len(np.unique(np.asarray(top).ravel())) / n_items)


def intra_list_diversity(top: np.ndarray, vectors: np.ndarray) -> float:
    """1 - mean pairwise cosine similarity of the content vectors inside each list, averaged over lists."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms == 0, 1.0, norms)
    values = []
    for row in np.asarray(top):
        if len(row) < 2:
            continue
        v = unit[row]  # (k, D)
        sim = v @ v.T  # (k, k)
        n = len(row)
        values.append(1.0 - (sim.sum() - np.trace(sim)) / (n * (n - 1)))
    return float(np.mean(values)) if values else 0.0


def novelty(top: np.ndarray, popularity: np.ndarray, n_users: int) -> float:
    """Mean self-information -log2 p(i) of recommended items, p(i) = (people who liked i + 1) / (people + 1)."""
    popularity = np.asarray(popularity, dtype=np.float64)
    p = (popularity + 1.0) / (max(n_users, 0) + 1.0)
    info = -np.log2(np.clip(p, 1e-12, 1.0))
    top = np.asarray(top)
    return float(info[top].mean()) if top.size else 0.0
