"""SASRec-CE: it learns an order popularity cannot see, and no future item leaks into a prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from ranking.baselines import make_baseline  # noqa: E402
from ranking.data import leave_last_out  # noqa: E402
from ranking.metrics import mask_excluded, ndcg, target_ranks  # noqa: E402
from ranking.sasrec import SASRecCE, training_windows  # noqa: E402
from ranking.sasrec_network import SASRecConfig, SASRecModel  # noqa: E402

N_ITEMS = 30


def _cycle_interactions(n_users: int = 90, seed: int = 5) -> pd.DataFrame:
    """Each person likes items in the order start, start+1, ... (mod 30): the next like is fixed by the last."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        start = int(rng.integers(0, N_ITEMS))
        for step in range(int(rng.integers(8, 14))):
            rows.append((f"u:{u}", f"it:{(start + step) % N_ITEMS}", 5.0, 1_000 + step))
    return pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])


@pytest.fixture(scope="module")
def cycle_split():
    return leave_last_out(_cycle_interactions(), [f"it:{i}" for i in range(N_ITEMS)])


@pytest.fixture(scope="module")
def sasrec(cycle_split):
    cfg = SASRecConfig(epochs=40, patience=40, batch_size=32, lr=5e-3, threads=1, time_limit_s=1e6)
    rec = SASRecCE(cfg, grid=((32, 12, 0.0), (16, 12, 0.1)))
    rec.fit(cycle_split, np.zeros((N_ITEMS, 4), np.float32))
    return rec


def _test_ndcg(model, split) -> float:
    scores = mask_excluded(model.score(split.test_histories), [h.items for h in split.test_histories])
    return ndcg(target_ranks(scores, split.test_targets), 10)


def test_learns_the_next_item_of_a_sequence_far_above_popularity(sasrec, cycle_split):
    popularity = make_baseline("popularity")
    popularity.fit(cycle_split, np.zeros((N_ITEMS, 4), np.float32))
    assert _test_ndcg(sasrec, cycle_split) > 0.8
    assert _test_ndcg(sasrec, cycle_split) > 3 * _test_ndcg(popularity, cycle_split)


def test_knobs_are_chosen_on_validation_and_reported(sasrec):
    report = sasrec.report.to_json()
    assert len(report["grid"]) == 2
    best = max(report["grid"], key=lambda r: r["valid_ndcg@10"])
    assert report["chosen"]["dim"] == best["dim"] and report["chosen"]["valid_ndcg@10"] == best["valid_ndcg@10"]
    assert report["seconds"] > 0


def test_a_future_item_never_changes_an_earlier_prediction():
    torch.manual_seed(0)
    model = SASRecModel(SASRecConfig(n_items=20, dim=16, max_len=8, dropout=0.0)).eval()
    seq = torch.tensor([[3, 7, 1, 9, 4, 12]])
    changed = seq.clone()
    changed[0, 4:] = torch.tensor([15, 2])  # only positions 4 and 5 differ
    with torch.inference_mode():
        a, b = model(seq), model(changed)
    torch.testing.assert_close(a[:, :4], b[:, :4])  # positions 0..3 see nothing of 4..5
    assert not torch.allclose(a[:, 4:], b[:, 4:])  # and the changed positions do change
    with torch.inference_mode():  # padding after the last real item does not change its scores either
        short = model.score_all(torch.tensor([[3, 7, 1, 20, 20]]), torch.tensor([3]))
        longer = model.score_all(torch.tensor([[3, 7, 1, 9, 4]]), torch.tensor([3]))
    torch.testing.assert_close(short, longer)


def test_training_windows_make_every_like_a_target_once():
    rng = np.random.default_rng(0)
    seq = np.arange(23)
    windows = training_windows([seq], max_len=5, rng=rng)
    targets = np.concatenate([w[1:] for w in windows])
    assert sorted(targets.tolist()) == list(range(1, 23))
    assert all(len(w) <= 6 for w in windows)


def test_empty_history_ranks_by_popularity(sasrec, cycle_split):
    from ranking.data import History

    scores = sasrec.score([History(np.zeros(0, np.int64), np.zeros(0, np.int8))])
    assert scores.shape == (1, N_ITEMS) and np.isfinite(scores).all()
    assert np.unique(scores).size > 1
