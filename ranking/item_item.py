"""The interest model's item-to-item layer: solved in closed form after the transformer, chosen on validation.

As EASE does, a ridge regression of each watched item on the others (zero diagonal) over who watched what; the
ridge penalty, the recency scale, the blend with the transformer and a popularity prior, and how words-only
profiles link to their nearest films are each chosen on the validation split.

What the items share (the same author, director or actor, publisher, genre, country; `shared_values`) joins the
co-watch counts as side information, as in Jeunen, Van Balen & Goethals, "Closed-Form Models for Collaborative
Filtering with Side-Information" (RecSys 2020): each shared value is a pseudo-person who "watched" every item that
has it, weighted count^-1/2 so that broad values (a genre) say less than narrow ones (an author), and scaled by a
weight chosen on validation (0: none). On sparse data that is what ties a reader's book to the author's others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ranking.data import History, Split, cold_history, item_popularity
from retrieval.types import Item
from ranking.metrics import mask_excluded, ndcg, target_ranks
from ranking.model import _torch, batch_histories
from ranking.validation import validation_ndcg

log = logging.getLogger(__name__)

MAX_ITEM_ITEM_ITEMS = 20_000  # the closed form inverts an items x items matrix: above this the layer is skipped
MAX_SIDE_VALUE_CHARS = 80  # a text attribute longer than this is a description, not a value items share


def _scores_in_batches(fn: Callable[..., Any], tensors: tuple, batch: int = 256) -> np.ndarray:
    """Run fn over row batches of the (items, signs, text, has_text, lengths) tensors; (B, N) numpy."""
    out = [fn(*(t[s: s + batch] for t in tensors)).numpy() for s in range(0, int(tensors[0].shape[0]), batch)]
    return np.concatenate(out, axis=0)


def _best_mix(ii: np.ndarray, tf: np.ndarray, log_pop: np.ndarray, exclude: Sequence[np.ndarray],
              targets: np.ndarray, grid: Sequence[float], pop_grid: Sequence[float]) -> tuple[float, float, float]:
    """The transformer weight and popularity weight with the best NDCG@10 of ii + w * tf + p * log_pop;
    (w, p, ndcg)."""
    best = (float(grid[0]), float(pop_grid[0]), -1.0)
    for w in grid:
        for p in pop_grid:
            value = ndcg(target_ranks(mask_excluded(ii + w * tf + p * log_pop, exclude), targets), 10)
            if value > best[2]:
                best = (float(w), float(p), float(value))
    return best


def _watch_gram(train: Any, active: np.ndarray) -> np.ndarray:
    """(A, A) co-watch counts of the active items: how many people watched both (any rating)."""
    import scipy.sparse as sp

    _, rows = np.unique(train["user"].to_numpy(), return_inverse=True)
    cols = np.searchsorted(active, train["item"].to_numpy())
    x = sp.csr_matrix((np.ones(len(train), np.float32), (rows, cols)), shape=(int(rows.max()) + 1, len(active)))
    x.sum_duplicates()
    x.data[:] = 1.0  # watched (any rating): who chose to watch what is the strongest co-occurrence signal
    return (x.T @ x).toarray().astype(np.float64)  # (A, A)


def _norm(value: str) -> str:
    """A shared value compared without case or spacing ("STEPHEN KING" is "Stephen King")."""
    return " ".join(value.lower().split())


def shared_values(item: Item) -> list[str]:
    """The values an item can share with others: its people, genres, languages, countries and short text attributes."""
    out = [f"person:{_norm(p)}" for p in item.people]
    out += [f"{name}:{_norm(v)}" for name, values in (("genre", item.genres), ("language", item.languages),
                                                        ("country", item.countries)) for v in values]
    for name, value in item.attributes:
        values = value if isinstance(value, (list, tuple)) else [value]
        out += [f"{name}:{_norm(v)}" for v in values if isinstance(v, str) and 0 < len(v.strip()) <= MAX_SIDE_VALUE_CHARS
                and "://" not in v]
    return list(dict.fromkeys(v for v in out if not v.endswith(":")))


def side_gram(items: Sequence[Item] | None, active: np.ndarray) -> np.ndarray | None:
    """(A, A) side information of the active items: sum over values both have of count^-1/2; None if none shared."""
    import scipy.sparse as sp

    if not items:
        return None
    index: dict[str, int] = {}
    rows, cols = [], []
    for col, i in enumerate(active):
        for value in shared_values(items[int(i)]) if int(i) < len(items) else ():
            rows.append(index.setdefault(value, len(index)))
            cols.append(col)
    if not rows:
        return None
    t = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(index), len(active)))
    t.sum_duplicates()
    t.data[:] = 1.0
    count = np.asarray(t.sum(axis=1)).ravel()
    weight = np.where(count >= 2, count ** -0.25, 0.0).astype(np.float32)  # squared in T^T T: count^-1/2
    if not (weight > 0).any():
        return None
    t = sp.diags(weight) @ t
    return (t.T @ t).toarray().astype(np.float32)  # float32: the sum with the co-watch counts is float64


def _item_item_weights(gram: np.ndarray, l2: float, active: np.ndarray, k: int,
                       n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """The closed-form layer for one ridge penalty: (index, value), each (N, K), the K largest weights per item
    (`gram` is overwritten: the caller passes a copy it no longer needs, so 20,000 items stay within memory)."""
    g = gram
    g[np.diag_indices_from(g)] += l2
    p = np.linalg.inv(g)
    b = (-p / np.diag(p)[None, :]).astype(np.float32)  # (A, A) row j: weights of item j -> every item
    np.fill_diagonal(b, 0.0)
    del p, g
    top = np.argpartition(-np.abs(b), k - 1, axis=1)[:, :k]  # (A, K)
    index = np.zeros((n_items, k), np.int64)
    value = np.zeros((n_items, k), np.float32)
    index[active] = active[top]
    value[active] = np.take_along_axis(b, top, axis=1)
    return index, value


def _log_probs(model: Any, tensors: tuple) -> np.ndarray:
    """(B, N) log-probabilities of the transformer alone for batched histories (call under inference mode)."""
    torch = _torch()
    return np.asarray(torch.log_softmax(torch.from_numpy(_scores_in_batches(model.transformer_scores, tensors)), -1))


def _choose_penalty_and_recency(model: Any, grams: tuple[np.ndarray, np.ndarray | None],
                                candidates: Sequence[tuple[float, float]], active: np.ndarray, k: int, valid: tuple,
                                tf_valid: np.ndarray, log_pop: np.ndarray, exclude: list[np.ndarray],
                                targets: np.ndarray, progress: bool, best: dict[str, Any] | None = None) -> dict[str, Any]:
    """Try each (ridge penalty, side weight) and every recency scale on full validation histories; the best so far
    (`best`, when given, is kept unless beaten) with its blend and weights."""
    torch = _torch()
    from tqdm.auto import tqdm

    cfg = model.config
    gram, side = grams
    best = best or {"valid_ndcg10": -1.0}
    bar = tqdm(list(candidates), desc="item-to-item layer", unit="solve", disable=not progress)
    for l2, alpha in bar:
        solved = gram + alpha * side if alpha and side is not None else gram.copy()
        index, value = _item_item_weights(solved, l2, active, k, cfg.n_items)
        del solved
        model.set_item_item(torch.from_numpy(index), torch.from_numpy(value))
        for tau in cfg.ii_tau_grid:
            cfg.ii_tau = float(tau)
            with torch.inference_mode():
                ii = _scores_in_batches(lambda it, sg, _t, _h, ln: model.item_item(it, sg, ln), valid)
            mix, pop, value_ndcg = _best_mix(ii, tf_valid, log_pop, exclude, targets, cfg.mix_grid, cfg.pop_grid)
            if value_ndcg > best["valid_ndcg10"]:
                best = {"valid_ndcg10": value_ndcg, "ii_l2": float(l2), "ii_side": float(alpha), "ii_tau": float(tau),
                        "mix": mix, "pop": pop, "index": index, "value": value}
            bar.set_postfix(l2=l2, side=alpha, tau=tau, ndcg10=f"{value_ndcg:.4f}")
    bar.close()
    return best


def _choose_text_links(model: Any, text: tuple, tf_text: np.ndarray, log_pop: np.ndarray,
                       exclude: list[np.ndarray], targets: np.ndarray) -> float:
    """Choose how many nearest films (and at what temperature) feed words-only profiles; their validation NDCG@10.

    The transformer alone comes first: linking films must beat it on validation.
    """
    torch = _torch()
    cfg = model.config
    cfg.text_link_k = 0
    cfg.mix_text, cfg.pop_weight_text, text_ndcg = _best_mix(np.zeros_like(tf_text), tf_text, log_pop, exclude,
                                                             targets, (1.0,), cfg.pop_grid)
    chosen = (0, cfg.text_link_temp, cfg.mix_text, cfg.pop_weight_text)
    for k_link in cfg.text_link_k_grid:
        for temp in cfg.text_link_temp_grid:
            cfg.text_link_k, cfg.text_link_temp = int(k_link), float(temp)
            with torch.inference_mode():
                linked = _scores_in_batches(lambda _i, _s, t, h, ln: model.text_links(t, h, ln), text)
            mix, pop, value_ndcg = _best_mix(linked, tf_text, log_pop, exclude, targets, cfg.mix_grid,
                                             cfg.pop_grid)
            if value_ndcg > text_ndcg:
                text_ndcg, chosen = value_ndcg, (int(k_link), float(temp), mix, pop)
    cfg.text_link_k, cfg.text_link_temp, cfg.mix_text, cfg.pop_weight_text = chosen
    return text_ndcg


def fit_item_item(model: Any, split: Split, progress: bool = True, text_sets: Sequence[History] = (),
                  short_sets: Sequence[History] | None = None, items: Sequence[Item] | None = None) -> dict[str, float]:
    """Solve the item-to-item layer in closed form and choose its penalty, side information, recency and the blend on
    validation (`items`, aligned with the split's item index, give the values items share)."""
    torch = _torch()
    cfg = model.config
    active = np.unique(split.train["item"].to_numpy())
    if len(active) == 0 or len(active) > MAX_ITEM_ITEM_ITEMS:
        log.warning("item-to-item layer skipped: %d items with interactions (limit %d)", len(active),
                    MAX_ITEM_ITEM_ITEMS)
        return {"valid_ndcg10": validation_ndcg(model, split.valid_histories, split.valid_targets)}
    gram = _watch_gram(split.train, active)
    k = min(cfg.ii_top_k, len(active) - 1) if len(active) > 1 else 1
    valid = batch_histories(split.valid_histories, cfg.n_items, cfg.max_len, cfg.content_dim)
    cold_h = short_sets if short_sets is not None else [
        cold_history(h, 1 + u % cfg.short_profile, recent=cfg.short_recent) for u, h in enumerate(split.valid_histories)]
    cold = batch_histories(cold_h, cfg.n_items, cfg.max_len, cfg.content_dim)
    text = batch_histories(text_sets, cfg.n_items, cfg.max_len, cfg.content_dim) if text_sets else None
    exclude = [h.items for h in split.valid_histories]
    log_pop = np.log1p(item_popularity(split)).astype(np.float32)  # (N,)
    with torch.inference_mode():
        tf_valid, tf_cold = _log_probs(model, valid), _log_probs(model, cold)
        tf_text = _log_probs(model, text) if text is not None else None
    side = side_gram(items, active) if cfg.ii_side_grid else None
    choose = (model, (gram, side))
    rest = (active, k, valid, tf_valid, log_pop, exclude, split.valid_targets, progress)
    best = _choose_penalty_and_recency(*choose, [(float(l2), 0.0) for l2 in cfg.ii_l2_grid], *rest)
    if side is not None:  # the side weight at the chosen penalty (coordinate search: one solve per weight)
        best = _choose_penalty_and_recency(*choose, [(best["ii_l2"], float(a)) for a in cfg.ii_side_grid], *rest,
                                           best=best)
    cfg.ii_l2, cfg.ii_side, cfg.ii_tau = best["ii_l2"], best["ii_side"], best["ii_tau"]
    cfg.mix, cfg.pop_weight = best["mix"], best["pop"]
    model.set_item_item(torch.from_numpy(best["index"]), torch.from_numpy(best["value"]), torch.from_numpy(log_pop))
    with torch.inference_mode():
        ii_cold = _scores_in_batches(lambda it, sg, _t, _h, ln: model.item_item(it, sg, ln), cold)
    cfg.mix_short, cfg.pop_weight_short, cold_ndcg = _best_mix(ii_cold, tf_cold, log_pop, exclude,
                                                               split.valid_targets, cfg.mix_grid, cfg.pop_grid)
    text_ndcg = float("nan")
    if tf_text is not None:
        text_ndcg = _choose_text_links(model, text, tf_text, log_pop, exclude, split.valid_targets)
    log.info("item-to-item layer: l2 %s, side %s, tau %s, mix %s, pop %s (validation NDCG@10 %.4f); short profiles: "
             "mix %s, pop %s (%.4f); words only: %s linked films (temperature %s), mix %s, pop %s (%.4f)", cfg.ii_l2,
             cfg.ii_side, cfg.ii_tau, cfg.mix, cfg.pop_weight, best["valid_ndcg10"], cfg.mix_short, cfg.pop_weight_short, cold_ndcg,
             cfg.text_link_k, cfg.text_link_temp, cfg.mix_text, cfg.pop_weight_text, text_ndcg)
    return {"valid_ndcg10": best["valid_ndcg10"], "ii_l2": cfg.ii_l2, "ii_side": cfg.ii_side, "ii_tau": cfg.ii_tau,
            "mix": cfg.mix, "pop_weight": cfg.pop_weight, "mix_short": cfg.mix_short, "pop_weight_short": cfg.pop_weight_short,
            "valid_short_ndcg10": cold_ndcg, "pop_weight_text": cfg.pop_weight_text, "mix_text": cfg.mix_text,
            "text_link_k": cfg.text_link_k, "text_link_temp": cfg.text_link_temp, "valid_text_ndcg10": text_ndcg}
