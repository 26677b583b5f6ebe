"""Metrics against cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ranking import metrics


def test_ranks_count_ties_against_the_target_and_respect_exclusions():
    scores = np.array([[0.9, 0.5, 0.5, 0.1],   # target 2 ties with item 1 -> rank 2 (pessimistic)
                       [0.2, 0.8, 0.3, 0.9]])  # target 1; item 3 excluded -> rank 0
    masked = metrics.mask_excluded(scores, [np.array([], dtype=int), np.array([3])])
    ranks = metrics.target_ranks(masked, np.array([2, 1]))
    assert ranks.tolist() == [2, 0]
    assert scores[1, 3] == 0.9  # the input is not modified


def test_hr_ndcg_mrr_by_hand():
    ranks = np.array([0, 2, 12])
    assert metrics.hit_rate(ranks, 10) == pytest.approx(2 / 3)
    assert metrics.ndcg(ranks, 10) == pytest.approx((1.0 + 1 / math.log2(4)) / 3)
    assert metrics.mrr(ranks) == pytest.approx((1 + 1 / 3 + 1 / 13) / 3)
    assert metrics.ndcg(np.array([], dtype=int), 10) == 0.0


def test_recall_counts_the_share_of_relevant_items_found():
    top = np.array([[4, 1, 7], [2, 3, 5]])
    assert metrics.recall(top, [[1, 9], [5]], 3) == pytest.approx((0.5 + 1.0) / 2)
    assert metrics.recall(top, [[1, 9], [5]], 1) == pytest.approx(0.0)


def test_top_k_orders_best_first():
    scores = np.array([[0.1, 0.7, 0.3, 0.9, -np.inf]])
    assert metrics.top_k(scores, 3).tolist() == [[3, 1, 2]]


def test_coverage_diversity_novelty_by_hand():
    top = np.array([[0, 1], [0, 2]])
    assert metrics.catalog_coverage(top, 10) == pytest.approx(0.3)
    vecs = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    # list 1: identical vectors -> diversity 0; list 2: orthogonal -> diversity 1
    assert metrics.intra_list_diversity(top, vecs) == pytest.approx(0.5)
    pop = np.array([3.0, 0.0, 1.0])  # liked by 3, 0 and 1 of 3 people
    expected = np.mean([-math.log2(4 / 4), -math.log2(1 / 4), -math.log2(4 / 4), -math.log2(2 / 4)])
    assert metrics.novelty(top, pop, n_users=3) == pytest.approx(expected)
