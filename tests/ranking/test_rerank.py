"""The final list: blend weights behave, MMR trades order for variety, exclusions always hold."""

from __future__ import annotations

import numpy as np

from ranking.rerank import Weights, rerank
from retrieval.types import Candidate, Item


def _cands():
    # four near-identical comedies with the best relevance, then two different films
    items = [Item(id=f"c{i}", title=f"Comedy {i}") for i in range(4)] + [Item(id="d1", title="Drama"),
                                                                         Item(id="h1", title="Horror")]
    rel = [0.95, 0.94, 0.93, 0.92, 0.80, 0.70]
    pop = [1.0, 1.0, 1.0, 1.0, 5.0, 0.1]
    cands = [Candidate(item=it, score=r, popularity=p) for it, r, p in zip(items, rel, pop)]
    vecs = {f"c{i}": np.array([1.0, 0.02 * i, 0.0]) for i in range(4)}
    vecs["d1"] = np.array([0.0, 1.0, 0.0])
    vecs["h1"] = np.array([0.0, 0.0, 1.0])
    return cands, vecs


def test_relevance_only_keeps_retrieval_order():
    cands, vecs = _cands()
    out = rerank(cands, None, vecs, Weights(1.0, 0.0, 0.0), mmr_lambda=1.0, n=4)
    assert [r.item.id for r in out] == ["c0", "c1", "c2", "c3"]
    assert out[0].parts["relevance"] == 1.0 and "interest" not in out[0].parts


def test_interest_weight_reorders_by_interest():
    cands, vecs = _cands()
    interest = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 5.0])
    out = rerank(cands, interest, vecs, Weights(0.0, 1.0, 0.0), mmr_lambda=1.0, n=3)
    assert [r.item.id for r in out] == ["h1", "d1", "c3"]
    assert out[0].parts["interest"] == 1.0
    # popularity weight alone puts the most popular first
    out = rerank(cands, interest, vecs, {"relevance": 0, "interest": 0, "popularity": 1}, mmr_lambda=1.0, n=1)
    assert out[0].item.id == "d1"


def test_mmr_moves_different_items_up():
    cands, vecs = _cands()
    plain = [r.item.id for r in rerank(cands, None, vecs, Weights(1, 0, 0), mmr_lambda=1.0, n=3)]
    diverse = [r.item.id for r in rerank(cands, None, vecs, Weights(1, 0, 0), mmr_lambda=0.5, n=3)]
    assert plain == ["c0", "c1", "c2"]
    assert diverse[0] == "c0" and set(diverse[1:]) == {"d1", "h1"}

    def sim(ids):
        v = np.stack([vecs[i] / np.linalg.norm(vecs[i]) for i in ids])
        s = v @ v.T
        return (s.sum() - np.trace(s)) / 6

    assert sim(diverse) < sim(plain)


def test_excluded_and_duplicate_items_never_come_back():
    cands, vecs = _cands()
    out = rerank(cands + [cands[0]], np.arange(7.0), vecs, n=10, exclude_ids={"c0", "h1"})
    ids = [r.item.id for r in out]
    assert "c0" not in ids and "h1" not in ids
    assert len(ids) == len(set(ids)) == 4
    assert rerank(cands, None, vecs, n=3, exclude_ids=[c.item.id for c in cands]) == []


def test_non_finite_interest_scores_rank_last_without_crashing():
    cands, vecs = _cands()
    interest = np.array([-np.inf, 0.0, 0.0, 0.0, 0.0, 0.0])
    out = rerank(cands, interest, np.stack([vecs[c.item.id] for c in cands]), Weights(0, 1, 0), 1.0, n=6)
    assert out[-1].item.id == "c0" and all(np.isfinite(r.score) for r in out)
