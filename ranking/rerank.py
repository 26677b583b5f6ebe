"""The final list: blend query relevance, interest and a popularity prior; then MMR diversity; then exclusions.

Each part is min-max scaled to [0, 1] within the candidate list, then blended with the weights
(`w_relevance`, `w_interest`, `w_popularity` in Settings; without interest scores its weight is shared out
to the other two in proportion). MMR then picks items one at a time maximising
`lambda * blended - (1 - lambda) * max cosine similarity to the items already picked`, so `mmr_lambda = 1`
keeps the blended order and lower values trade accuracy for variety. The last `discovery` places (Settings'
`discovery_slots`) follow the same blend without its popularity prior, so a little-known item that fits the
words (or the person, once the interest model reads them) still gets a place. Items already shown or rejected in
the session (`exclude_ids`) never come back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from retrieval.types import Candidate, Item


@dataclass(frozen=True)
class Weights:
    """Blend weights of the three parts (need not sum to 1; they are normalised)."""

    relevance: float = 0.1  # the defaults are Settings' (chosen by `tastebud simulate --tune` on validation users)
    interest: float = 0.6
    popularity: float = 0.3


@dataclass(frozen=True)
class RankedItem:
    """One item of the final list with its blended score and the scaled parts it came from."""

    item: Item
    score: float
    parts: dict[str, float] = field(default_factory=dict)  # relevance, interest, popularity in [0, 1]


def scale_unit(values: np.ndarray) -> np.ndarray:
    """Min-max scale to [0, 1]; non-finite values go to 0 below every finite one; a constant array becomes 0.5."""
    v = np.asarray(values, dtype=np.float64).copy()
    finite = np.isfinite(v)
    if not finite.any():
        return np.full(v.shape, 0.5)
    lo, hi = v[finite].min(), v[finite].max()
    if not finite.all():  # unknown / impossible items go below everything else
        lo = lo - max(hi - lo, 1.0)
        v[~finite] = lo
    if hi - lo < 1e-12:
        return np.full(v.shape, 0.5)
    return (v - lo) / (hi - lo)


def as_weights(weights: Weights | Mapping[str, float] | Sequence[float] | None) -> Weights:
    """Weights from a Weights, a mapping {relevance, interest, popularity} or a 3-sequence in that order."""
    if weights is None:
        return Weights()
    if isinstance(weights, Weights):
        return weights
    if isinstance(weights, Mapping):
        return Weights(**{k: float(v) for k, v in weights.items()})
    r, i, p = (float(x) for x in weights)
    return Weights(r, i, p)


def blend(relevance: np.ndarray, interest: np.ndarray | None, popularity: np.ndarray,
          weights: Weights) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Blended scores (C,) and the scaled parts; without interest its weight goes to the other parts."""
    parts = {"relevance": scale_unit(relevance), "popularity": scale_unit(popularity)}
    w = {"relevance": max(weights.relevance, 0.0), "popularity": max(weights.popularity, 0.0)}
    if interest is not None:
        parts["interest"] = scale_unit(interest)
        w["interest"] = max(weights.interest, 0.0)
    total = sum(w.values())
    if total <= 0:
        w = {k: 1.0 for k in w}
        total = float(len(w))
    score = sum(w[k] / total * parts[k] for k in parts)
    return np.asarray(score, dtype=np.float64), parts


def _without_popularity(parts: dict[str, np.ndarray], weights: Weights, with_interest: bool) -> np.ndarray:
    """The blend of the scaled parts with the popularity prior left out (relevance alone when nothing else counts)."""
    w_rel = max(weights.relevance, 0.0)
    w_int = max(weights.interest, 0.0) if with_interest and "interest" in parts else 0.0
    if w_rel + w_int <= 0:
        return parts["relevance"]
    score = w_rel * parts["relevance"] + (w_int * parts["interest"] if w_int else 0.0)
    return np.asarray(score / (w_rel + w_int), dtype=np.float64)


def mmr_order(scores: np.ndarray, vectors: np.ndarray, mmr_lambda: float, n: int,
              then: tuple[np.ndarray, int] | None = None) -> list[int]:
    """Indices of `n` picks by maximal marginal relevance over unit-normalised `vectors` (C, D); with `then =
    (other_scores, k)` the last k picks follow `other_scores` instead, still kept apart from the earlier ones."""
    c = len(scores)
    n = min(n, c)
    if n <= 0:
        return []
    v = np.asarray(vectors, dtype=np.float64)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    lam = float(np.clip(mmr_lambda, 0.0, 1.0))
    picked: list[int] = []
    max_sim = np.full(c, 0.0)  # (C,) similarity to the closest picked item
    free = np.ones(c, dtype=bool)
    switch = n - min(max(then[1], 0), n) if then is not None else n
    for step in range(n):
        if step == switch and then is not None:
            scores = np.asarray(then[0], dtype=np.float64)
        value = lam * scores - (1.0 - lam) * max_sim if picked else scores.astype(np.float64)
        value = np.where(free, value, -np.inf)
        best = int(np.argmax(value))
        picked.append(best)
        free[best] = False
        max_sim = np.maximum(max_sim, v @ v[best])
    return picked


def rerank(candidates: list[Candidate], interest: np.ndarray | None,
           item_vectors: Mapping[str, np.ndarray] | np.ndarray,
           weights: Weights | Mapping[str, float] | Sequence[float] | None = None, mmr_lambda: float = 0.7,
           n: int = 5, exclude_ids: frozenset[str] | set[str] | Sequence[str] = frozenset(),
           discovery: int = 0, discovery_interest: bool = False) -> list[RankedItem]:
    """The top `n` of `candidates`: blend relevance/interest/popularity, diversify with MMR, drop excluded ids.

    `interest` is aligned with `candidates` (or None); `item_vectors` is a mapping id -> vector or an array
    aligned with `candidates`. The last `discovery` of the n places leave the popularity prior out: they go to the
    best matches to the words (and to the interest scores when `discovery_interest`, i.e. they read the person), so
    that a little-known item that fits what was said is not always crowded out by well-known ones.
    """
    excluded = set(exclude_ids)
    keep = [i for i, c in enumerate(candidates) if c.item.id not in excluded]
    seen: set[str] = set()
    keep = [i for i in keep if not (candidates[i].item.id in seen or seen.add(candidates[i].item.id))]
    if not keep:
        return []
    cands = [candidates[i] for i in keep]
    interest_kept = None if interest is None else np.asarray(interest, dtype=np.float64)[keep]
    if isinstance(item_vectors, Mapping):
        dim = len(next(iter(item_vectors.values()))) if item_vectors else 1
        vectors = np.stack([np.asarray(item_vectors.get(c.item.id, np.zeros(dim)), dtype=np.float64)
                            for c in cands])
    else:
        vectors = np.asarray(item_vectors, dtype=np.float64)[keep]
    score, parts = blend(np.array([c.score for c in cands]), interest_kept,
                         np.array([c.popularity for c in cands]), as_weights(weights))
    then = (_without_popularity(parts, as_weights(weights), discovery_interest), discovery) if discovery > 0 else None
    order = mmr_order(score, vectors, mmr_lambda, n, then=then)
    return [RankedItem(cands[i].item, float(score[i]), {k: float(p[i]) for k, p in parts.items()}) for i in order]
