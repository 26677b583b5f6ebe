"""Training the interest model: windows over each person's signed history, full softmax, early stopping.

`fit_interest_model` trains on a Split's training part and early-stops on validation NDCG@10 (full ranking,
history excluded). `train_interest_model` is what `tastebud train` and `tastebud setup` call: it reads the data
dir's interactions, trains, and writes `model/interest.pt` with the catalog hash and config.
`InterestRecommender` wraps the model in the baselines' Recommender protocol for the evaluation.
"""

from __future__ import annotations

import copy
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ranking.data import (
    LIKED, NEUTRAL, History, Split, cold_history, item_popularity, leave_last_out, load_interactions, split_fingerprint,
)
from ranking.metrics import mask_excluded, ndcg, target_ranks
from ranking.model import (
    CHECKPOINT, SIGN_CODES, InterestConfig, _torch, batch_histories, build_interest_model, read_catalog_hash,
    save_checkpoint,
)
from retrieval.types import Item, ModelUnavailable

log = logging.getLogger(__name__)

EmbedTexts = Callable[[list[str]], np.ndarray]  # texts -> (N, 384) normalised vectors


@dataclass(frozen=True)
class TrainReport:
    """What a training run did."""

    checkpoint: Path | None
    best_epoch: int
    epochs_run: int
    valid_ndcg10: float
    seconds: float
    n_users: int
    n_items: int
    history: tuple[tuple[int, float, float], ...] = ()  # (epoch, mean loss, validation NDCG@10)
    dropped: dict[str, int] = field(default_factory=dict)
    item_item: dict[str, float] = field(default_factory=dict)  # the layer's chosen penalty, recency, blend weights


def describe_taste(titles: Sequence[str], genres: Sequence[str]) -> str:
    """A profile written as words only (no ids): favourite genres and a few liked titles, as one sentence."""
    parts = []
    if genres:
        g = list(genres)
        parts.append("I love " + (", ".join(g[:-1]) + " and " + g[-1] if len(g) > 1 else g[0]) + " movies")
    if titles:
        t = list(titles)
        liked = ", ".join(t[:-1]) + " and " + t[-1] if len(t) > 1 else t[0]
        parts.append(("like " if parts else "I liked ") + liked)
    return (", ".join(parts) + ".") if parts else ""


def taste_sentence(liked: Sequence[int], items: Sequence[Item], n_titles: int = 3, n_genres: int = 3) -> str:
    """The words-only profile of liked item indices (oldest first): top genres overall + the latest titles."""
    counts = Counter(g for i in liked for g in items[i].genres)
    genres = [g for g, _ in counts.most_common(n_genres)]
    titles = []
    for i in list(liked)[-n_titles:]:
        it = items[i]
        titles.append(f"{it.title} ({it.year})" if it.year else it.title)
    return describe_taste(titles, genres)


def _windows(seq: History, max_len: int, shift: int, n_items: int, neutral_weight: float):
    """Training windows over one history: (items, signs, targets, weights) arrays, targets one step ahead."""
    n = len(seq.items)
    if n == 0:
        return []
    ends = sorted({n, *range(n - shift, 0, -max_len)})
    weights_of = np.where(seq.signs == LIKED, 1.0, np.where(seq.signs == NEUTRAL, neutral_weight, 0.0))
    out = []
    for e in ends:
        s = max(0, e - max_len)
        items = seq.items[s:e]
        signs = seq.signs[s:e]
        tgt = np.full(len(items) + 1, n_items, dtype=np.int64)  # (m+1,) target after each prefix
        w = np.zeros(len(items) + 1, dtype=np.float32)
        upto = min(e + 1, n)
        tgt[: upto - s] = seq.items[s:upto]
        w[: upto - s] = weights_of[s:upto]
        if w.sum() > 0:
            out.append((items, signs, tgt, w))
    return out


def _text_examples(sequences: Sequence[History], items: Sequence[Item] | None, embed_texts: EmbedTexts | None,
                   per_user: int, rng: np.random.Generator, progress: bool):
    """Synthetic 'what I said' examples: (text vectors (M, C), targets (M,), owner (M,) sequence index)."""
    if embed_texts is None or items is None or per_user <= 0:
        return np.zeros((0, 384), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)
    texts, targets, owners = [], [], []
    for u, seq in enumerate(sequences):
        liked = seq.liked
        if len(liked) < 4:
            continue
        for j in rng.choice(np.arange(3, len(liked)), size=min(per_user, len(liked) - 3), replace=False):
            texts.append(taste_sentence(liked[:j], items))
            targets.append(int(liked[j]))
            owners.append(u)
    if not texts:
        return np.zeros((0, 384), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)
    vecs = np.asarray(embed_texts(texts), dtype=np.float32)
    return vecs, np.asarray(targets, np.int64), np.asarray(owners, np.int64)


def _collate(examples: list[tuple], n_items: int, content_dim: int):
    """Pad examples (items, signs, targets, weights, text or None) into model tensors."""
    torch = _torch()
    b = len(examples)
    length = max([len(e[0]) for e in examples] + [1])
    items = np.full((b, length), n_items, np.int64)  # (B, L)
    signs = np.zeros((b, length), np.int64)
    targets = np.full((b, length + 1), n_items, np.int64)  # (B, L+1)
    weights = np.zeros((b, length + 1), np.float32)
    text = np.zeros((b, content_dim), np.float32)
    has_text = np.zeros(b, bool)
    for r, (it, sg, tg, w, tv) in enumerate(examples):
        items[r, : len(it)] = it
        signs[r, : len(sg)] = [SIGN_CODES[int(s)] for s in sg]
        targets[r, : len(tg)] = tg
        weights[r, : len(w)] = w
        if tv is not None:
            text[r] = tv
            has_text[r] = True
    return tuple(torch.from_numpy(a) for a in (items, signs, text, has_text, targets, weights))


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


def _validation_profiles(split: Split, items: Sequence[Item] | None, embed_texts: EmbedTexts | None,
                         short: int) -> tuple[list[list[History]], list[np.ndarray]]:
    """The profiles the transformer early-stops on: full histories, short ones (first 1..short likes) and,
    when texts can be embedded, words only; plus what each person's ranking excludes (their whole history).

    The transformer's own job beside the item-to-item layer is short and words-only profiles, so its
    stopping point weighs them as much as full histories.
    """
    hist = list(split.valid_histories)
    sets = [hist, [cold_history(h, 1 + u % short) for u, h in enumerate(hist)]]
    if embed_texts is not None and items is not None and hist:
        vecs = np.asarray(embed_texts([taste_sentence(h.liked, items) for h in hist]), dtype=np.float32)
        sets.append([History(np.zeros(0, np.int64), np.zeros(0, np.int8), v) for v in vecs])
    return sets, [h.items for h in hist]


def fit_interest_model(split: Split, item_vectors: np.ndarray, items: Sequence[Item] | None = None,
                       embed_texts: EmbedTexts | None = None, config: InterestConfig | None = None,
                       progress: bool = True) -> tuple[Any, TrainReport]:
    """Train on `split.train`, early-stop on validation NDCG@10; returns the best model and a report."""
    from ranking.data import train_sequences

    torch = _torch()
    from tqdm.auto import tqdm

    start = time.monotonic()
    cfg = copy.deepcopy(config) if config else InterestConfig()
    cfg.n_items = split.n_items
    cfg.content_dim = int(np.asarray(item_vectors).shape[1])
    torch.manual_seed(cfg.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, cfg.threads))
    rng = np.random.default_rng(cfg.seed)
    model = build_interest_model(cfg, item_vectors)
    sequences = train_sequences(split)
    text_vecs, text_targets, text_owner = _text_examples(
        sequences, items, embed_texts, cfg.text_examples_per_user, rng, progress)
    owner_texts: dict[int, list[int]] = {}
    for m, u in enumerate(text_owner):
        owner_texts.setdefault(int(u), []).append(m)
    valid_sets, exclude = _validation_profiles(split, items, embed_texts, cfg.short_profile)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    best, best_epoch, best_state, bad, history = -1.0, 0, None, 0, []
    bar = tqdm(range(1, cfg.epochs + 1), desc="training interest model", unit="epoch", disable=not progress)
    epoch = 0
    for epoch in bar:
        model.train()
        examples: list[tuple] = []
        for u, seq in enumerate(sequences):
            shift = int(rng.integers(0, cfg.max_len))
            for win in _windows(seq, cfg.max_len, shift, cfg.n_items, cfg.neutral_weight):
                tv = None
                if owner_texts.get(u) and rng.random() < cfg.text_prefix_share:
                    tv = text_vecs[int(rng.choice(owner_texts[u]))]
                examples.append((*win, tv))
        for m in range(len(text_targets)):  # text-only examples: the prefix alone predicts a liked item
            examples.append((np.zeros(0, np.int64), np.zeros(0, np.int8), np.array([text_targets[m]]),
                             np.array([1.0], np.float32), text_vecs[m]))
        order = rng.permutation(len(examples))
        losses = []
        steps = tqdm(range(0, len(order), cfg.batch_size), desc=f"epoch {epoch}", unit="step", leave=False,
                     disable=not progress)
        for s in steps:
            batch = _collate([examples[i] for i in order[s: s + cfg.batch_size]], cfg.n_items, cfg.content_dim)
            neg = None
            if 0 < cfg.negatives < cfg.n_items:
                neg = torch.from_numpy(rng.integers(0, cfg.n_items, size=cfg.negatives))
            loss = model.loss(*batch, negatives=neg)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(float(loss.detach()))
        score = float("nan")
        if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
            score = float(np.mean([validation_ndcg(model, h, split.valid_targets, exclude) for h in valid_sets]))
            if score > best:
                best, best_epoch, bad = score, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad += 1
        history.append((epoch, float(np.mean(losses)) if losses else 0.0, score))
        bar.set_postfix(loss=f"{history[-1][1]:.3f}", ndcg10=f"{score:.4f}", best=f"{best:.4f}@{best_epoch}")
        if bad >= cfg.patience:
            break
        if time.monotonic() - start > cfg.time_limit_s:
            log.warning("training stopped at its time limit (%.0f s) after epoch %d", cfg.time_limit_s, epoch)
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    item_item: dict[str, float] = {}
    if cfg.ii_top_k > 0:
        item_item = fit_item_item(model, split, progress=progress, short_sets=valid_sets[1],
                                  text_sets=valid_sets[2] if len(valid_sets) > 2 else ())
        best = item_item["valid_ndcg10"]
    torch.set_num_threads(threads)
    report = TrainReport(None, best_epoch, epoch, best, time.monotonic() - start, len(split.users),
                         split.n_items, tuple(history), dict(split.dropped), item_item)
    return model, report


MAX_ITEM_ITEM_ITEMS = 20_000  # the closed form inverts an items x items matrix: above this the layer is skipped


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


def fit_item_item(model: Any, split: Split, progress: bool = True, text_sets: Sequence[History] = (),
                  short_sets: Sequence[History] | None = None) -> dict[str, float]:
    """Solve the item-to-item layer in closed form and choose its penalty, recency and the blend on validation."""
    import scipy.sparse as sp
    from tqdm.auto import tqdm

    torch = _torch()
    cfg = model.config
    train = split.train
    active = np.unique(train["item"].to_numpy())
    if len(active) == 0 or len(active) > MAX_ITEM_ITEM_ITEMS:
        log.warning("item-to-item layer skipped: %d items with interactions (limit %d)", len(active),
                    MAX_ITEM_ITEM_ITEMS)
        return {"valid_ndcg10": validation_ndcg(model, split.valid_histories, split.valid_targets)}
    _, rows = np.unique(train["user"].to_numpy(), return_inverse=True)
    cols = np.searchsorted(active, train["item"].to_numpy())
    x = sp.csr_matrix((np.ones(len(train), np.float32), (rows, cols)), shape=(int(rows.max()) + 1, len(active)))
    x.sum_duplicates()
    x.data[:] = 1.0  # watched (any rating): who chose to watch what is the strongest co-occurrence signal
    gram = (x.T @ x).toarray().astype(np.float64)  # (A, A)
    k = min(cfg.ii_top_k, len(active) - 1) if len(active) > 1 else 1
    valid = batch_histories(split.valid_histories, cfg.n_items, cfg.max_len, cfg.content_dim)
    cold_h = short_sets if short_sets is not None else [
        cold_history(h, 1 + u % cfg.short_profile) for u, h in enumerate(split.valid_histories)]
    cold = batch_histories(cold_h, cfg.n_items, cfg.max_len, cfg.content_dim)
    exclude = [h.items for h in split.valid_histories]
    log_pop = np.log1p(item_popularity(split)).astype(np.float32)  # (N,)
    with torch.inference_mode():
        tf_valid = np.asarray(torch.log_softmax(torch.from_numpy(_scores_in_batches(model.transformer_scores, valid)), -1))
        tf_cold = np.asarray(torch.log_softmax(torch.from_numpy(_scores_in_batches(model.transformer_scores, cold)), -1))
        tf_text = None
        if text_sets:
            text = batch_histories(text_sets, cfg.n_items, cfg.max_len, cfg.content_dim)
            tf_text = np.asarray(torch.log_softmax(torch.from_numpy(_scores_in_batches(model.transformer_scores, text)), -1))
    best: dict[str, Any] = {"valid_ndcg10": -1.0}
    bar = tqdm(list(cfg.ii_l2_grid), desc="item-to-item layer", unit="penalty", disable=not progress)
    for l2 in bar:
        g = gram.copy()
        g[np.diag_indices_from(g)] += l2
        p = np.linalg.inv(g)
        b = (-p / np.diag(p)[None, :]).astype(np.float32)  # (A, A) row j: weights of item j -> every item
        np.fill_diagonal(b, 0.0)
        del p, g
        top = np.argpartition(-np.abs(b), k - 1, axis=1)[:, :k]  # (A, K)
        index = np.zeros((cfg.n_items, k), np.int64)
        value = np.zeros((cfg.n_items, k), np.float32)
        index[active] = active[top]
        value[active] = np.take_along_axis(b, top, axis=1)
        del b
        model.set_item_item(torch.from_numpy(index), torch.from_numpy(value))
        for tau in cfg.ii_tau_grid:
            cfg.ii_tau = float(tau)
            with torch.inference_mode():
                ii = _scores_in_batches(lambda it, sg, _t, _h, ln: model.item_item(it, sg, ln), valid)
            mix, pop, value_ndcg = _best_mix(ii, tf_valid, log_pop, exclude, split.valid_targets, cfg.mix_grid,
                                             cfg.pop_grid)
            if value_ndcg > best["valid_ndcg10"]:
                best = {"valid_ndcg10": value_ndcg, "ii_l2": float(l2), "ii_tau": float(tau), "mix": mix,
                        "pop": pop, "index": index, "value": value}
            bar.set_postfix(l2=l2, tau=tau, ndcg10=f"{value_ndcg:.4f}")
    bar.close()
    cfg.ii_l2, cfg.ii_tau, cfg.mix, cfg.pop_weight = best["ii_l2"], best["ii_tau"], best["mix"], best["pop"]
    model.set_item_item(torch.from_numpy(best["index"]), torch.from_numpy(best["value"]), torch.from_numpy(log_pop))
    with torch.inference_mode():
        ii_cold = _scores_in_batches(lambda it, sg, _t, _h, ln: model.item_item(it, sg, ln), cold)
    cfg.mix_short, cfg.pop_weight_short, cold_ndcg = _best_mix(ii_cold, tf_cold, log_pop, exclude,
                                                               split.valid_targets, cfg.mix_grid, cfg.pop_grid)
    text_ndcg = float("nan")
    if tf_text is not None:
        cfg.text_link_k = 0  # the transformer alone first: linking films must beat it on validation
        cfg.mix_text, cfg.pop_weight_text, text_ndcg = _best_mix(np.zeros_like(tf_text), tf_text, log_pop, exclude,
                                                                 split.valid_targets, (1.0,), cfg.pop_grid)
        chosen = (0, cfg.text_link_temp, cfg.mix_text, cfg.pop_weight_text)
        for k_link in cfg.text_link_k_grid:
            for temp in cfg.text_link_temp_grid:
                cfg.text_link_k, cfg.text_link_temp = int(k_link), float(temp)
                with torch.inference_mode():
                    linked = _scores_in_batches(lambda _i, _s, t, h, ln: model.text_links(t, h, ln), text)
                mix, pop, value_ndcg = _best_mix(linked, tf_text, log_pop, exclude, split.valid_targets,
                                                 (0.0, *cfg.mix_grid), cfg.pop_grid)
                if value_ndcg > text_ndcg:
                    text_ndcg, chosen = value_ndcg, (int(k_link), float(temp), mix, pop)
        cfg.text_link_k, cfg.text_link_temp, cfg.mix_text, cfg.pop_weight_text = chosen
    log.info("item-to-item layer: l2 %s, tau %s, mix %s, pop %s (validation NDCG@10 %.4f); short profiles: mix %s, "
             "pop %s (%.4f); words only: %s linked films (temperature %s), mix %s, pop %s (%.4f)", cfg.ii_l2, cfg.ii_tau,
             cfg.mix, cfg.pop_weight, best["valid_ndcg10"], cfg.mix_short, cfg.pop_weight_short, cold_ndcg,
             cfg.text_link_k, cfg.text_link_temp, cfg.mix_text, cfg.pop_weight_text, text_ndcg)
    return {"valid_ndcg10": best["valid_ndcg10"], "ii_l2": cfg.ii_l2, "ii_tau": cfg.ii_tau, "mix": cfg.mix,
            "pop_weight": cfg.pop_weight, "mix_short": cfg.mix_short, "pop_weight_short": cfg.pop_weight_short,
            "valid_short_ndcg10": cold_ndcg, "pop_weight_text": cfg.pop_weight_text, "mix_text": cfg.mix_text,
            "text_link_k": cfg.text_link_k, "text_link_temp": cfg.text_link_temp, "valid_text_ndcg10": text_ndcg}


def train_interest_model(data_dir: Path, item_ids: Sequence[str], item_vectors: np.ndarray,
                         embed_texts: EmbedTexts | None, items: Sequence[Item] | None = None,
                         config: InterestConfig | None = None, progress: bool = True) -> TrainReport:
    """`tastebud train`: fit on the data dir's interactions (catalog order = item_ids) and save model/interest.pt.

    `items` (aligned with item_ids) supply titles/genres for the synthetic text profiles; without them (or
    without `embed_texts`) the text pathway is not trained.
    """
    item_ids = list(item_ids)
    vectors = np.asarray(item_vectors, dtype=np.float32)
    if vectors.shape[0] != len(item_ids):
        raise ModelUnavailable(f"{len(item_ids)} item ids but {vectors.shape[0]} item vectors; rebuild the index")
    df = load_interactions(Path(data_dir))
    split = leave_last_out(df, item_ids)
    if len(split.users) < 2:
        raise ModelUnavailable("too few people with three or more liked items to train the interest model")
    model, report = fit_interest_model(split, vectors, items, embed_texts, config, progress)
    path = Path(data_dir) / CHECKPOINT
    save_checkpoint(path, model, item_ids, item_popularity(split), read_catalog_hash(Path(data_dir)),
                    extra={"split": split_fingerprint(split), "valid_ndcg10": report.valid_ndcg10, "best_epoch": report.best_epoch,
                           "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    return TrainReport(path, *list(asdict(report).values())[1:])


class InterestRecommender:
    """The interest model behind the baselines' Recommender protocol (for the evaluation)."""

    name = "interest"

    def __init__(self, items: Sequence[Item] | None = None, embed_texts: EmbedTexts | None = None,
                 config: InterestConfig | None = None, progress: bool = True) -> None:
        self.items = items  # item metadata aligned with the split's item index (for text profiles)
        self.embed_texts = embed_texts  # batch text embedder, MiniLM in production
        self.config = config
        self.progress = progress
        self.report: TrainReport | None = None

    def fit(self, split: Split, item_vectors: np.ndarray) -> None:
        """Train on the split (early stopping on its validation part)."""
        self.model, self.report = fit_interest_model(split, item_vectors, self.items, self.embed_texts,
                                                     self.config, self.progress)

    def score(self, histories: Sequence[History]) -> np.ndarray:
        """(B, N) scores from the trained model."""
        return score_histories(self.model, list(histories))
