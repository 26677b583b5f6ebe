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


def test_discovery_places_go_to_the_closest_matches_however_little_known():
    # a well-known film that fits the words a little and three obscure ones that fit them best
    items = [Item(id=f"famous{i}", title=f"Famous {i}") for i in range(4)] + [
        Item(id=f"niche{i}", title=f"Niche {i}") for i in range(3)]
    rel = [0.50, 0.49, 0.48, 0.47, 0.90, 0.89, 0.88]
    pop = [5000.0, 4000.0, 3000.0, 2000.0, 3.0, 2.0, 1.0]
    cands = [Candidate(item=it, score=r, popularity=p) for it, r, p in zip(items, rel, pop)]
    vecs = np.eye(7)
    popular_first = Weights(relevance=0.1, interest=0.0, popularity=0.9)
    plain = [r.item.id for r in rerank(cands, None, vecs, popular_first, mmr_lambda=1.0, n=4)]
    assert plain == ["famous0", "famous1", "famous2", "famous3"]
    mixed = [r.item.id for r in rerank(cands, None, vecs, popular_first, mmr_lambda=1.0, n=4, discovery=2)]
    assert mixed == ["famous0", "famous1", "niche0", "niche1"]
    # more discovery places than items: every place follows the words
    only = [r.item.id for r in rerank(cands, None, vecs, popular_first, mmr_lambda=1.0, n=3, discovery=9)]
    assert only == ["niche0", "niche1", "niche2"]


def test_discovery_places_follow_what_the_interest_model_knows_of_the_person_when_it_knows_something():
    items = [Item(id=f"famous{i}", title=f"Famous {i}") for i in range(3)] + [
        Item(id="close", title="Closest to the words"), Item(id="theirs", title="Their kind of film")]
    cands = [Candidate(item=it, score=r, popularity=p)
             for it, r, p in zip(items, [0.5, 0.5, 0.5, 0.9, 0.6], [900.0, 800.0, 700.0, 1.0, 1.0])]
    interest = np.array([0.0, 0.0, 0.0, 0.0, 9.0])
    blend_w = Weights(relevance=0.1, interest=0.2, popularity=0.7)
    personal = [r.item.id for r in rerank(cands, interest, np.eye(5), blend_w, 1.0, n=3, discovery=1,
                                          discovery_interest=True)]
    assert personal == ["famous0", "famous1", "theirs"]
    # scores that only stand in for popularity (an empty profile) do not steer the discovery place
    words = [r.item.id for r in rerank(cands, interest, np.eye(5), blend_w, 1.0, n=3, discovery=1)]
    assert words[-1] == "close"
