"""Scoring histories with a trained interest model, and the validation metric training stops on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ranking.data import History
from ranking.metrics import mask_excluded, ndcg, target_ranks
from ranking.model import _torch, batch_histories


def score_histories(model: Any, histories: Sequence[History], batch: int = 256) -> np.ndarray:
    """(B, N) scores of every item for each history with a trained model (eval mode, no gradients)."""
    torch = _torch()
    cfg = model.config
    model.eval()
    out = []
    with torch.inference_mode():
        for s in range(0, len(histories), batch):
            tensors = batch_histories(histories[s: s + batch], cfg.n_items, cfg.max_len, cfg.content_dim)
            out.append(model.score_all(*tensors).numpy())
    return np.concatenate(out, axis=0) if out else np.zeros((0, cfg.n_items), np.float32)


def validation_ndcg(model: Any, histories: Sequence[History], targets: np.ndarray,
                    exclude: Sequence[np.ndarray] | None = None) -> float:
    """NDCG@10 of the held-out items with each history (or `exclude`) removed from the ranking."""
    scores = score_histories(model, histories)
    scores = mask_excluded(scores, exclude if exclude is not None else [h.items for h in histories])
    return ndcg(target_ranks(scores, targets), 10)
